"""Convolutions whose kernel is wider than their feature map, trained faster on the CPU.

Small images make small maps: Lite0 at 64 px ends on 2x2 and 4x4 maps under 3x3 and 5x5
kernels. oneDNN's backward pass for a depthwise convolution padded inside the call is then
2-17x slower than for the same convolution on an input padded beforehand, with the kernel cut
to the taps that can reach the map (a 5x5 kernel on a 2x2 map only ever multiplies its central
3x3 by anything but padding). Dense convolutions gain only when taps are cut (3x3 on a 1x1 map:
7x); on 2x2 maps they lose up to 20% below 512 channels, so they keep the usual route then. The
forward pass alone is fastest the usual way, and so are maps at least as wide as the kernel, so
only training steps on the CPU take the other route. The result is the same convolution (same
outputs and gradients up to float rounding; the cut taps get the zero gradient they always
got), with the same parameters under the same names.
Measured on 2 cores (bench/RESULTS.md): Lite0's training step at 64 px 1.2-1.8x faster.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SmallMapConv2d", "use_small_map_convs"]


class SmallMapConv2d(nn.Conv2d):
    """`nn.Conv2d` (stride 1, zero padding) that, in a training step (train mode, gradients on)
    on the CPU on a map narrower than its kernel, pads the input itself and drops the kernel
    taps that only meet padding (depthwise convolutions always; others when taps are dropped)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        h, w = x.shape[-2:]
        if (not self.training or x.device.type != "cpu" or (h >= kh and w >= kw) or not torch.is_grad_enabled()
                or not (x.requires_grad or self.weight.requires_grad) or torch.jit.is_tracing()):
            return super().forward(x)  # evaluation, exports (ONNX needs the static kernel), other devices
        (top, bottom, r0, r1), (left, right, c0, c1) = _cut(h, kh, self.padding[0]), _cut(w, kw, self.padding[1])
        if self.groups != self.in_channels and (r1 - r0, c1 - c0) == (kh, kw):
            return super().forward(x)
        weight = self.weight[:, :, r0:r1, c0:c1]
        return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, self.bias, 1, 0, 1, self.groups)


def _cut(size: int, k: int, pad: int) -> tuple[int, int, int, int]:
    """For one axis of a stride-1 convolution: (pad before, pad after, first tap, end tap) of the
    same convolution with only the taps that reach the map."""
    out = size + 2 * pad - k + 1
    first, last = max(0, pad - (out - 1)), min(k - 1, pad + size - 1)
    before = pad - first
    after = (out - 1) - pad + last - (size - 1)
    return before, after, first, last + 1


def use_small_map_convs(module: nn.Module) -> nn.Module:
    """Turn every plain stride-1, zero-padded `nn.Conv2d` inside `module` into a `SmallMapConv2d`
    sharing its parameters (names and state dict unchanged); returns `module`."""
    for name, child in module.named_children():
        if (type(child) is nn.Conv2d and child.stride == (1, 1) and child.dilation == (1, 1)
                and child.padding_mode == "zeros" and not isinstance(child.padding, str)):
            fast = SmallMapConv2d(child.in_channels, child.out_channels, child.kernel_size, 1, child.padding,
                                  1, child.groups, child.bias is not None, device="meta")
            fast.weight, fast.bias = child.weight, child.bias
            fast.train(child.training)
            setattr(module, name, fast)
        else:
            use_small_map_convs(child)
    return module
