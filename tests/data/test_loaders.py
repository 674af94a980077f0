"""Device batches: shapes, normalisation, shuffling, augmentation only in training."""
import torch

from fastlearn.data import ImageData


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
