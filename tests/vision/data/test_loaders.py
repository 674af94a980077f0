"""Device batches: shapes, normalisation, shuffling, augmentation only in training, and the
same batches from a cache kept on the device."""
import numpy as np
import pytest
import torch

from fastlearn.vision.data import ImageData
from fastlearn.vision.data.loaders import DeviceLoader


def test_batches_are_normalised_float_on_the_device(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8, stats=((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)))
    x, y = next(iter(data.valid_dl))
    assert x.shape == (8, 3, 32, 32) and x.dtype == torch.float32 and x.device.type == data.device.type
    raw = torch.from_numpy(data.cache.pixels[data.valid_idx[:8]]).permute(0, 3, 1, 2).float() / 255
    raw = torch.nn.functional.interpolate(raw, size=(32, 32), mode="bilinear", antialias=True)
    assert torch.allclose(x.cpu(), (raw - 0.5) / 0.25, atol=1 / 255 / 0.25)  # uint8 resize rounds
    data.set_stats((0, 0, 0), (1, 1, 1))
    assert next(iter(data.valid_dl))[0].min() >= 0


def test_train_is_shuffled_and_augmented_valid_is_fixed(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8)
    v1 = torch.cat([x for x, _ in data.valid_dl])
    v2 = torch.cat([x for x, _ in data.valid_dl])
    assert torch.equal(v1, v2)
    t1 = [y for _, y in data.train_dl]
    t2 = [y for _, y in data.train_dl]
    assert len(t1) == 36 // 8  # last partial batch dropped in training
    assert any(not torch.equal(a, b) for a, b in zip(t1, t2))  # a new order each epoch
    plain = data.loader("train", augment=False, shuffle=False)
    aug = data.loader("train", augment=True, shuffle=False)
    assert not torch.equal(next(iter(plain))[0], next(iter(aug))[0])


def test_breaking_out_of_an_epoch_early_is_safe(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=2)
    for _ in range(3):
        for i, _ in enumerate(data.train_dl):
            if i == 1:
                break
    assert len(list(data.train_dl)) == 18


def _epochs(data, n=2):
    """Every batch of `n` shuffled, augmented training epochs, then the validation batches."""
    train = data.loader("train", seed=7)
    batches = [b for _ in range(n) for b in train]
    return batches + list(data.loader("valid"))


def test_a_resident_cache_gives_the_same_batches_as_the_memory_mapped_one(shapes_root):
    mapped = ImageData.from_folder(shapes_root, size=32, bs=8, resident=False)
    resident = ImageData.from_folder(shapes_root, size=32, bs=8, resident=True)
    loader = resident.loader("train")
    assert loader.resident is not None and mapped.loader("train").resident is None
    assert torch.equal(loader.resident.cpu(), torch.from_numpy(np.array(resident.cache.pixels)))
    a, b = _epochs(mapped), _epochs(resident)
    assert len(a) == len(b) == 2 * (36 // 8) + 2
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(ya, yb.cpu()) and torch.equal(xa, xb.cpu())
    # the copy is made once and shared by every loader and every sample of the same cache
    assert resident.sample(16).loader("valid").resident is loader.resident


def test_resident_pixels_that_are_not_the_cache_are_refused(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8)
    wrong = torch.zeros(3, 8, 8, 3, dtype=torch.uint8)
    with pytest.raises(ValueError, match="ImageCache.on_device"):
        DeviceLoader(data.cache.pixels, data.valid_idx, torch.zeros(len(data.valid_idx)), 32, 8,
                     (0.5,) * 3, (0.25,) * 3, data.device, resident=wrong)
    with pytest.raises(ValueError, match="resident must be"):
        ImageData.from_folder(shapes_root, size=32, resident="yes")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_a_small_cache_is_resident_by_default(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8, device="cuda")
    loader = data.loader("train")
    assert loader.resident is not None and loader.resident.device.type == "cuda"
    mapped = ImageData.from_folder(shapes_root, size=32, bs=8, device="cuda", resident=False)
    for (xa, ya), (xb, yb) in zip(_epochs(mapped), _epochs(data)):
        assert torch.equal(ya, yb) and torch.equal(xa, xb)
