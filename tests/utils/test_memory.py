import platform
from pathlib import Path

import pytest
import torch

from fastlearn import ImageData, Learner
from fastlearn.utils.memory import reuse_freed_memory, reusing_freed_memory

glibc_only = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the setting talks to glibc's malloc")
MB = 1024 * 1024


def resident_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / MB


def rss_after_freeing(mb: int) -> float:
    """Resident memory right after a `mb` MB tensor was written and freed."""
    t = torch.ones(mb * MB // 4)
    del t
    return resident_mb()


@glibc_only
def test_freed_blocks_stay_inside_and_go_back_to_the_system_on_leaving():
    base = rss_after_freeing(24)  # outside: a large block is unmapped as soon as it is freed
    with reuse_freed_memory():
        assert reusing_freed_memory()
        kept = rss_after_freeing(24)
        with reuse_freed_memory():  # nested blocks (fit -> validation) keep the outer setting
            pass
        assert reusing_freed_memory(), "leaving an inner block must not end the outer one"
    assert kept - base > 20, f"inside, the freed 24 MB stay for reuse (resident {base:.0f} -> {kept:.0f} MB)"
    after = resident_mb()
    assert not reusing_freed_memory()
    assert kept - after > 20, f"on leaving, the memory goes back (resident {kept:.0f} -> {after:.0f} MB)"
    assert rss_after_freeing(24) - after < 4, "and large blocks are unmapped again when freed"


def test_disabled_changes_nothing():
    with reuse_freed_memory(enabled=False):
        assert not reusing_freed_memory()


@glibc_only
@pytest.mark.filterwarnings("ignore:lr_find")  # 3 iterations: the suggestion means nothing, and is not the point
def test_learner_reuses_memory_while_it_trains_and_predicts_on_the_cpu(mnist_root):
    seen = []
    data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False).sample(64)
    learn = Learner.pretrained("tf_efficientnet_lite0", data, progress=False)
    learn.model.register_forward_hook(lambda *_: seen.append(reusing_freed_memory()))
    learn.lr_find(num_it=3)
    learn.fit_one_cycle(1, 1e-3)
    learn.predict()
    assert seen and all(seen), "lr_find, training, validation and prediction keep freed memory"
    assert not reusing_freed_memory(), "and the process's allocator is back to its defaults after each"
    seen.clear()
    learn.reuse_memory = False
    learn.fit_one_cycle(1, 1e-3)
    assert seen and not any(seen)
