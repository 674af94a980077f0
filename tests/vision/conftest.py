import pytest

from fastlearn import ImageData


@pytest.fixture(scope="module")
def digits(mnist_root):
    """A few hundred real digits at 32 px: enough to see training work, quick on a CPU."""
    data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False)
    return data.sample(320)
