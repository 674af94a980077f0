"""Data augmentation on whole batches, on the training device.

Every geometric transform contributes one 3x3 matrix per image; the matrices are multiplied
and applied in a single `grid_sample` per batch (reflection padding), so flips, turns,
rotation, zoom and translation cost one resampling. Lighting then works on the result.
Matrices map output coordinates to input coordinates in [-1, 1] (`affine_grid`'s convention).

    augment = BatchAugment.preset("side_on", max_zoom=1.1)
    x = augment(x_uint8_nchw_as_float01, out_size=224)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "Flip", "Dihedral", "Rotate", "Zoom", "Lighting",
    "BatchAugment", "PRESETS", "resize_batch",
]


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _apply_mask(n: int, p: float, g: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def _eye(n: int) -> torch.Tensor:
    return torch.eye(3).repeat(n, 1, 1)


@dataclass
class Flip:
    """Mirror left-right with probability `p` (side-on photos)."""
    p: float = 0.5

    def matrices(self, n: int, g: torch.Generator) -> torch.Tensor:
        m = _eye(n)
        m[_apply_mask(n, self.p, g), 0, 0] = -1
        return m


@dataclass
class Dihedral:
    """One of the 8 dihedral turns (4 rotations by 90 degrees, each optionally mirrored), uniformly.

    For top-down images (satellite, microscopy) where there is no "up".
    """

    def matrices(self, n: int, g: torch.Generator) -> torch.Tensor:
        k = torch.randint(0, 8, (n,), generator=g)
        angle = (k % 4).float() * (math.pi / 2)
        m = _eye(n)
        c, s = torch.cos(angle).round(), torch.sin(angle).round()
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
        mirror = k >= 4
        m[mirror, :, 0] *= -1
        return m


@dataclass
class Rotate:
    """Rotate by a uniform angle in [-max_deg, max_deg] with probability `p`."""
    max_deg: float = 10.0
    p: float = 0.75

    def matrices(self, n: int, g: torch.Generator) -> torch.Tensor:
        angle = _uniform(n, -self.max_deg, self.max_deg, g) * (math.pi / 180)
        angle = torch.where(_apply_mask(n, self.p, g), angle, torch.zeros_like(angle))
        m = _eye(n)
        c, s = torch.cos(angle), torch.sin(angle)
        m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
        return m


@dataclass
class Zoom:
    """Zoom in by a uniform factor in [1, max_zoom] on a random window that stays inside the image."""
    max_zoom: float = 1.1
    p: float = 0.75

    def matrices(self, n: int, g: torch.Generator) -> torch.Tensor:
        z = _uniform(n, 1.0, max(1.0, self.max_zoom), g)
        z = torch.where(_apply_mask(n, self.p, g), z, torch.ones_like(z))
        room = 1 - 1 / z  # how far the window's centre may move and stay inside
        m = _eye(n)
        m[:, 0, 0] = m[:, 1, 1] = 1 / z
        m[:, 0, 2] = _uniform(n, -1, 1, g) * room
        m[:, 1, 2] = _uniform(n, -1, 1, g) * room
        return m


@dataclass
class Lighting:
    """Random brightness and contrast, each up to `max_lighting`, with probability `p`."""
    max_lighting: float = 0.2
    p: float = 0.75

    def pixels(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n, d = x.shape[0], self.max_lighting
        on = _apply_mask(n, self.p, g)
        brightness = torch.where(on, _uniform(n, -d, d, g), torch.zeros(n))
        log_c = torch.where(on, _uniform(n, math.log(1 - d), -math.log(1 - d), g), torch.zeros(n))
        shape = (n, 1, 1, 1)
        b = brightness.to(x.device, x.dtype).view(shape)
        c = log_c.exp().to(x.device, x.dtype).view(shape)
        return ((x - 0.5) * c + 0.5 + b).clamp_(0, 1)


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """Deterministic resize of square images to `size` (the validation transform)."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class BatchAugment:
    """Applies a list of transforms to a float batch (N, C, H, W) in [0, 1].

    Geometric transforms (those with `matrices`) are fused into one warp; pixel transforms
    (those with `pixels`) run after it, in order. An empty list just resizes.
    """

    def __init__(self, transforms: Sequence = ()):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not (hasattr(t, "matrices") or hasattr(t, "pixels")):
                raise TypeError(
                    f"augmentation {t!r} has neither matrices(n, generator) nor pixels(x, generator); "
                    "use Flip, Dihedral, Rotate, Zoom, Lighting or an object with one of those methods."
                )

    @classmethod
    def preset(cls, name: str | Sequence | None, max_zoom: float = 1.1) -> "BatchAugment":
        """`side_on`, `top_down`, `none` (or None), or a list of transforms."""
        if name is None:
            return cls([])
        if not isinstance(name, str):
            return cls(name)
        if name not in PRESETS:
            raise ValueError(f"augment must be one of {', '.join(PRESETS)} or a list of transforms, got {name!r}")
        return cls(PRESETS[name](max_zoom))

    def __repr__(self) -> str:
        return f"BatchAugment({self.transforms!r})"

    def __call__(self, x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        g = generator if generator is not None else torch.default_generator
        n = x.shape[0]
        geometric = [t for t in self.transforms if hasattr(t, "matrices")]
        if geometric:
            m = _eye(n)
            for t in geometric:
                m = m @ t.matrices(n, g)
            theta = m[:, :2, :].to(x.device, x.dtype)
            grid = F.affine_grid(theta, [n, x.shape[1], size, size], align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        else:
            x = resize_batch(x, size)
        for t in self.transforms:
            if hasattr(t, "pixels"):
                x = t.pixels(x, g)
        return x


PRESETS = {
    "side_on": lambda max_zoom: [Flip(), Rotate(10.0), Zoom(max_zoom), Lighting(0.2)],
    "top_down": lambda max_zoom: [Dihedral(), Rotate(10.0), Zoom(max_zoom), Lighting(0.2)],
    "none": lambda max_zoom: [],
}
