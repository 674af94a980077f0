"""TensorFlow's "same" padding for depthwise convolutions without a padded copy of the input.

TensorFlow-ported networks (timm's `tf_` models: the EfficientNet-Lite family) pad a strided
convolution's input by one pixel more after than before, which `F.conv2d` cannot express, so
timm's `Conv2dSame` pads a copy of the input first: a fill and a copy of the whole activation,
and in training a slice of its gradient that later layers copy again. One pixel more after is
the same as a kernel one tap wider with a zero first tap, centred: padding `after` on both sides
(the extra tap before only ever meets the zero weight). The convolution then pads inside
oneDNN. Each of Lite0's strided depthwise layers alone (2 cores, 64 images, CPU):

| layer (Lite0 at 64 px) | training step: padded copy -> wider kernel | evaluation |
|---|---|---|
| 96 ch, 3x3 / 2 on 32x32 | 44.7 -> 16.1 ms | 6.1 -> 2.8 ms |
| 144 ch, 5x5 / 2 on 16x16 | 11.2 -> 10.0 ms | 2.0 -> 1.3 ms |
| 240 ch, 3x3 / 2 on 8x8 | 2.0 -> 3.6 ms (slower) | 0.50 -> 0.34 ms |
| 672 ch, 5x5 / 2 on 4x4 | 5.8 -> 34.7 ms (slower) | 0.64 -> 0.30 ms |

In a whole network the training step gained nothing (Lite0 at 64 px, 16 alternating pairs:
median ratio 1.0; oneDNN's depthwise backward pass with padding inside is slow on small maps,
see small_map_conv.py), so only evaluation (no gradients) takes the wider kernel; training
keeps timm's padded copy. Dense convolutions (the 3-channel stem) were slower with the wider
kernel in both and keep it too. The result is the same convolution: the same outputs up to
float rounding, the same parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from torch import nn

from fastlearn.vision.kernels.swap_convs import swap_convs

__all__ = ["SamePadConv2d", "use_same_pad_convs"]


def _same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding of one axis: (before, after); after - before is 0 or 1."""
    total = max((-(-size // stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


class SamePadConv2d(Conv2dSame):
    """timm's `Conv2dSame` that, evaluating a depthwise convolution on the CPU without
    gradients, pads inside the convolution with a kernel one tap wider instead of padding a
    copy of the input; elsewhere exactly `Conv2dSame`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type != "cpu" or self.groups != self.in_channels or self.dilation != (1, 1)
                or torch.is_grad_enabled() or torch.jit.is_tracing()):
            return super().forward(x)  # training, exports, other devices, dense convolutions
        h, w = x.shape[-2:]
        (top, bottom), (left, right) = (_same_pads(h, self.kernel_size[0], self.stride[0]),
                                        _same_pads(w, self.kernel_size[1], self.stride[1]))
        weight = self.weight
        if (top, left) != (bottom, right):  # a zero first tap on each axis padded one more after
            weight = F.pad(weight, (right - left, 0, bottom - top, 0))
        return F.conv2d(x, weight, self.bias, self.stride, (bottom, right), 1, self.groups)


def use_same_pad_convs(module: nn.Module) -> nn.Module:
    """Turn every timm `Conv2dSame` inside `module` into a `SamePadConv2d` sharing its
    parameters (names and state dict unchanged); returns `module`."""
    return swap_convs(module, lambda c: type(c) is Conv2dSame,
                      lambda c: SamePadConv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, 0,
                                              c.dilation, c.groups, c.bias is not None, device="meta"))
