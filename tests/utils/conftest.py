import pytest

from fastlearn import ImageData, Learner


@pytest.fixture
def tiny_learner(mnist_root):
    """A Lite0 learner on 64 of the digits at 32 px, unaugmented: enough to run every loop once."""
    data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False).sample(64)
    return Learner.pretrained("tf_efficientnet_lite0", data, progress=False)
