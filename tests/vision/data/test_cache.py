"""The decode-once cache: reused across runs, rebuilt on change, no decoding after the first epoch."""
import os
import time

import numpy as np

from fastlearn.vision.data import ImageData
from fastlearn.vision.data.cache import ImageCache
from tests.conftest import draw_shape


def test_cache_is_reused_then_rebuilt_when_a_file_changes(shapes_root, tmp_path):
    first = ImageData.from_folder(shapes_root, size=32, cache_dir=tmp_path / "c")
    again = ImageData.from_folder(shapes_root, size=32, cache_dir=tmp_path / "c")
    assert first.cache.built and not again.cache.built
    np.testing.assert_array_equal(first.cache.pixels, again.cache.pixels)
    changed = shapes_root / "train" / "circle" / "circle_0.png"
    draw_shape("square", seed=999).save(changed)
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    rebuilt = ImageData.from_folder(shapes_root, size=32, cache_dir=tmp_path / "c")
    assert rebuilt.cache.built
    i = rebuilt.paths_of("train").index(changed)
    assert not np.array_equal(rebuilt.cache.pixels[rebuilt.train_idx[i]], first.cache.pixels[first.train_idx[i]])
    other_size = ImageData.from_folder(shapes_root, size=40, cache_dir=tmp_path / "c")
    assert other_size.cache.built and other_size.cache.pixels.shape[1] == 44  # 40 * max_zoom 1.1
    leftovers = [p.name for p in (tmp_path / "c").iterdir() if ".tmp" in p.name]
    assert leftovers == []  # written atomically


def test_epochs_read_the_cache_not_the_files(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8)
    first = [x.clone() for x, _ in data.loader("valid")]
    for p in shapes_root.rglob("*.png"):
        p.unlink()  # the images are gone; the cache alone must serve every epoch
    second = [x for x, _ in data.loader("valid")]
    assert len(first) == len(second) and all((a == b).all() for a, b in zip(first, second))
    assert sum(len(x) for x, _ in data.train_dl) > 0


def test_bad_files_are_remembered_by_a_warm_cache(shapes_root, tmp_path):
    (shapes_root / "train" / "circle" / "zero.jpg").write_bytes(b"")
    paths = sorted(shapes_root.rglob("*.*"))
    cold = ImageCache.open(paths, 16, cache_dir=tmp_path)
    warm = ImageCache.open(paths, 16, cache_dir=tmp_path)
    assert cold.built and not warm.built and cold.bad == warm.bad
    assert list(warm.bad.values()) == ["empty file (0 bytes)"]


def test_the_same_files_reached_by_another_path_reuse_the_cache(shapes_root, tmp_path, monkeypatch):
    paths = sorted(shapes_root.rglob("*.png"))
    first = ImageCache.open(paths, 16, cache_dir=tmp_path / "c")
    monkeypatch.chdir(shapes_root)  # relative paths
    relative = ImageCache.open([p.relative_to(shapes_root) for p in paths], 16, cache_dir=tmp_path / "c")
    (tmp_path / "via").symlink_to(shapes_root, target_is_directory=True)  # through a linked folder
    linked = ImageCache.open([tmp_path / "via" / p.relative_to(shapes_root) for p in paths], 16,
                             cache_dir=tmp_path / "c")
    assert first.built and not relative.built and not linked.built
    assert relative.key == linked.key == first.key
    # a linked file is its target: the cache follows the target's changes
    (tmp_path / "one.png").symlink_to(paths[0])
    swapped = ImageCache.open([tmp_path / "one.png", *paths[1:]], 16, cache_dir=tmp_path / "c")
    assert not swapped.built and swapped.key == first.key
