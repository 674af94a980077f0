import pytest

from fastlearn import ImageData, Learner


@pytest.fixture
def tiny_learner(mnist_root):
    """A Lite0 learner on 64 of the digits at 32 px, unaugmented, on the CPU (whose settings the
    tests here check, on a machine with a GPU too): enough to run every loop once."""
    data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False,
                                 device="cpu").sample(64)
    return Learner.pretrained("tf_efficientnet_lite0", data, progress=False)


def modes_during(learn, probe, *calls) -> list:
    """What `probe()` answered at every forward pass of `learn.model` while the `calls` (each
    taking the learner) ran."""
    seen = []
    hook = learn.model.register_forward_hook(lambda *_: seen.append(probe()))
    try:
        for call in calls:
            call(learn)
    finally:
        hook.remove()
    return seen
