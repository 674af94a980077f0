"""Batch augmentation: each transform does what it says, in one warp."""
import pytest
import torch

from fastlearn.vision.data.augment import BatchAugment, Dihedral, Flip, Lighting, Rotate, Zoom


def asymmetric(n=1, size=16):
    x = torch.zeros(n, 3, size, size)
    x[:, :, :4, :8] = 1.0  # a bar in the top-left
    x[:, 0, -2:, -2:] = 0.5
    return x


def test_flip_mirrors_exactly():
    x = asymmetric(4)
    out = BatchAugment([Flip(p=1.0)])(x, 16)
    assert torch.allclose(out, x.flip(-1), atol=1e-5)


def test_dihedral_produces_all_eight_turns():
    x = asymmetric(200)
    out = BatchAugment([Dihedral()])(x, 16, torch.Generator().manual_seed(0))
    expected = [torch.rot90(asymmetric()[0], k, (1, 2)) for k in range(4)]
    expected += [e.flip(-1) for e in expected]
    seen = {next(i for i, e in enumerate(expected) if torch.allclose(o, e, atol=1e-4)) for o in out}
    assert seen == set(range(8))


def test_rotation_is_within_bounds_and_uses_reflection_padding():
    x = torch.rand(1, 3, 32, 32).repeat(8, 1, 1, 1)
    out = BatchAugment([Rotate(10, p=1.0)])(x, 32, torch.Generator().manual_seed(1))
    assert not torch.allclose(out[0], x[0])
    assert (out.amin(dim=(1, 2, 3)) > -1e-6).all()  # reflection: no black zero corners ...
    assert (out[:, :, 0, 0] > 0).float().mean() > 0.9  # ... (a zero pad would leave corners 0)


def test_zoom_window_stays_inside_the_image():
    x = torch.zeros(50, 1, 40, 40)
    x[:, :, 18:22, 18:22] = 1  # a centre mark: a zoom of at most 2x keeps most of it in view
    out = BatchAugment([Zoom(2.0, p=1.0)])(x, 40, torch.Generator().manual_seed(2))
    assert (out.sum(dim=(1, 2, 3)) > 0).all()


def test_lighting_changes_brightness_within_limits():
    x = torch.full((100, 3, 8, 8), 0.5)
    out = BatchAugment([Lighting(0.2, p=1.0)])(x, 8, torch.Generator().manual_seed(3))
    means = out.mean(dim=(1, 2, 3))
    assert means.min() >= 0.3 - 1e-6 and means.max() <= 0.7 + 1e-6 and means.std() > 0.05


def test_presets_and_custom_lists():
    assert [type(t) for t in BatchAugment.preset("side_on").transforms] == [Flip, Rotate, Zoom, Lighting]
    assert [type(t) for t in BatchAugment.preset("top_down").transforms] == [Dihedral, Rotate, Zoom, Lighting]
    assert BatchAugment.preset("none").transforms == []
    custom = BatchAugment.preset([Rotate(5), Lighting(0.1)])
    assert custom(torch.rand(2, 3, 20, 20), 10).shape == (2, 3, 10, 10)
    with pytest.raises(ValueError, match="side_on, top_down, none"):
        BatchAugment.preset("sideways")
    with pytest.raises(TypeError, match="neither matrices"):
        BatchAugment([lambda x: x])
    inverted = BatchAugment([Invert()])(torch.zeros(1, 3, 4, 4), 4)
    assert torch.equal(inverted, torch.ones(1, 3, 4, 4))


class Invert:
    """A custom pixel transform, as a user would write one."""

    def pixels(self, x, g):
        return 1 - x


def test_fast_grid_matches_torch_affine_grid():
    from fastlearn.vision.data.augment import affine_grid
    theta = torch.randn(5, 2, 3)
    expected = torch.nn.functional.affine_grid(theta, [5, 3, 17, 17], align_corners=False)
    assert torch.allclose(affine_grid(theta, 17), expected, atol=1e-5)


def test_loader_with_custom_pixel_transform_still_normalises(shapes_root):
    from fastlearn.vision.data import ImageData
    data = ImageData.from_folder(shapes_root, size=16, augment=[Invert()], max_zoom=1.0,
                                 stats=((0, 0, 0), (1, 1, 1)))
    plain = data.loader("train", augment=False, shuffle=False)
    aug = data.loader("train", augment=True, shuffle=False)
    assert torch.allclose(next(iter(aug))[0], 1 - next(iter(plain))[0], atol=1e-5)
