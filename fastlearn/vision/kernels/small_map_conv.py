"""Convolutions whose kernel is wider than their feature map, faster on the CPU.

Small images make small maps: Lite0 at 64 px ends on 2x2 and 4x4 maps under 3x3 and 5x5
kernels. oneDNN's backward pass for a depthwise convolution padded inside the call is then
2-17x slower than for the same convolution on an input padded beforehand, with the kernel cut
to the taps that can reach the map (a 5x5 kernel on a 2x2 map only ever multiplies its central
3x3 by anything but padding). Dense convolutions gain from that only when taps are cut (3x3 on
a 1x1 map: 7x; on 2x2 maps it lost up to 20% below 512 channels); see below for 2x2 maps. A
forward pass alone is faster the usual way than padded beforehand, and so are maps at least as
wide as the kernel, so only training steps on the CPU take that route. The result is the same convolution (same
outputs and gradients up to float rounding; the cut taps get the zero gradient they always
got), with the same parameters under the same names.
Dense convolutions on maps with fewer pixels than the kernel has taps (3x3 on 2x2) train and
evaluate as one matrix product per (output pixel, input pixel) pair instead: 16 channel-matrix
products where the convolution does 36, and no oneDNN backward pass (512 channels, 64 images:
training step 85 -> 36 ms, evaluation 16.6 -> 12.7 ms; on a 1x1 map 9.2 -> 1.2 ms).
Measured on 2 cores (bench/RESULTS.md): Lite0's training step at 64 px 1.2-1.8x faster;
resnet18's at 64 px 810/862 -> 666/714 ms (two alternating pairs). The per-tap weights are then
used as they lie in a channels_last weight, not copied (512 channels: training 26.6 -> 14.8 ms
a layer, evaluation 7.9 -> 4.6 ms; resnet18's step 3-7% faster, four alternating pairs).
Strided dense convolutions whose output has fewer pixels than the kernel has taps take the same
route (resnet18's 256 -> 512 channels, 4x4 -> 2x2 at 64 px: 25 of the 36 products meet real
pixels; training step 30.4 -> 14.3 ms, through a frozen weight 13.4 -> 10.0, evaluation 5.7 ->
5.2 ms; 8x8 -> 4x4 has more output pixels than taps and was slower so, 3.5 -> 5.0 ms forward).
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from fastlearn.vision.kernels.swap_convs import swap_convs

__all__ = ["SmallMapConv2d", "use_small_map_convs"]


class SmallMapConv2d(nn.Conv2d):
    """`nn.Conv2d` (zero padding) that, in a training step (train mode, gradients on) on the CPU
    on a map narrower than its kernel, pads the input itself and drops the kernel taps that only
    meet padding (depthwise, stride 1 convolutions always; others when taps are dropped), or,
    dense with an output of fewer pixels than taps, multiplies pixel pairs by matrices (training
    and evaluation, any stride)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel_size
        h, w = x.shape[-2:]
        if x.device.type != "cpu" or torch.jit.is_tracing():
            return super().forward(x)  # exports (ONNX needs the static kernel), other devices
        if self.stride != (1, 1):
            # strided: only the pixel-pair route, for outputs of fewer pixels than the kernel has
            # taps (resnet18's 4x4 -> 2x2 at 64 px); on larger outputs the convolution was faster
            (ph, pw), (sh, sw) = self.padding, self.stride
            ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            if ho * wo < kh * kw and self._pairs_pay(x):  # before listing pairs: h * w * ho * wo of them
                pairs, _, _ = _pairs(h, w, kh, kw, ph, pw, sh, sw)
                if len(pairs) < ho * wo * kh * kw:
                    return _TapMatmul.apply(x, self.weight, self.bias, pairs, ho, wo)
            return super().forward(x)
        if h >= kh and w >= kw:
            return super().forward(x)  # larger maps
        (top, bottom, r0, r1), (left, right, c0, c1) = _cut(h, kh, self.padding[0]), _cut(w, kw, self.padding[1])
        step = self.training and torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad)
        if self._pairs_pay(x):
            pairs, ho, wo = _pairs(h, w, kh, kw, *self.padding)
            # against what would run otherwise: the cut kernel in a training step, the whole one else
            if len(pairs) < ho * wo * ((r1 - r0) * (c1 - c0) if step else kh * kw):
                return _TapMatmul.apply(x, self.weight, self.bias, pairs, ho, wo)
        if not step or (self.groups != self.in_channels and (r1 - r0, c1 - c0) == (kh, kw)):
            return super().forward(x)
        weight = self.weight[:, :, r0:r1, c0:c1]
        return F.conv2d(F.pad(x, (left, right, top, bottom)), weight, self.bias, 1, 0, 1, self.groups)

    def _pairs_pay(self, x: torch.Tensor) -> bool:
        """Dense, enough channels, and the weight's own precision (no autocast)."""
        return (self.groups == 1 and self.in_channels * self.out_channels >= _MATMUL_MIN_CHANNELS ** 2
                and x.dtype == self.weight.dtype and not torch.is_autocast_enabled("cpu"))


# Below 64 x 64 channels, issuing one matrix product per pixel pair costs more than the
# convolution (3x3 on 2x2, 64 images: 16 channels 0.54 -> 0.84 ms a training step, 32: 0.81 ->
# 0.88; 64: 1.97 -> 1.31, and evaluation breaks even there).
_MATMUL_MIN_CHANNELS = 64


def _cut(size: int, k: int, pad: int) -> tuple[int, int, int, int]:
    """For one axis of a stride-1 convolution: (pad before, pad after, first tap, end tap) of the
    same convolution with only the taps that reach the map."""
    out = size + 2 * pad - k + 1
    first, last = max(0, pad - (out - 1)), min(k - 1, pad + size - 1)
    before = pad - first
    after = (out - 1) - pad + last - (size - 1)
    return before, after, first, last + 1


@functools.lru_cache(maxsize=256)
def _pairs(h: int, w: int, kh: int, kw: int, ph: int, pw: int, sh: int = 1,
           sw: int = 1) -> tuple[tuple[tuple[int, int, int], ...], int, int]:
    """Every (output pixel, input pixel, kernel tap) that a convolution with strides (sh, sw)
    multiplies without padding, pixels and taps numbered row by row; and the output's height
    and width."""
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    pairs = [(oy * wo + ox, iy * w + ix, (iy - oy * sh + ph) * kw + (ix - ox * sw + pw))
             for oy in range(ho) for ox in range(wo) for iy in range(h) for ix in range(w)
             if 0 <= iy - oy * sh + ph < kh and 0 <= ix - ox * sw + pw < kw]
    return tuple(pairs), ho, wo


class _TapMatmul(torch.autograd.Function):
    """A dense convolution on a map of fewer pixels than its kernel has taps, as one
    matrix product per (output pixel, input pixel) pair: the convolution multiplies every tap at
    every output pixel, padding included (3x3 on 2x2: 36 products of a channel matrix, 16 of
    them by real pixels), and oneDNN's backward pass is slow there besides."""

    @staticmethod
    def forward(ctx, x, weight, bias, pairs, ho, wo):
        n, cin, h, w = x.shape
        cout, _, kh, kw = weight.shape
        xf = x.permute(0, 2, 3, 1).reshape(n, h * w, cin)  # a view for channels_last input
        # (cin, cout) views: with a channels_last weight each is a BLAS operand as it lies (a
        # leading dimension of kh*kw*cin), so no tap is copied; 4 ms per 512x512 3x3 weight it was
        taps = {t: weight[:, :, t // kw, t % kw].t() for t in {t for _, _, t in pairs}}
        out = x.new_zeros(n, ho * wo, cout)
        for o, i, t in pairs:
            out[:, o].addmm_(xf[:, i], taps[t])
        if bias is not None:
            out += bias
        ctx.save_for_backward(xf, weight)
        ctx.pairs, ctx.taps, ctx.in_hw, ctx.has_bias = pairs, taps, (h, w), bias is not None
        return out.view(n, ho, wo, cout).permute(0, 3, 1, 2)  # channels_last, as the model

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        xf, weight = ctx.saved_tensors
        n, hw, cin = xf.shape
        cout, _, kh, kw = weight.shape
        gf = grad.permute(0, 2, 3, 1).reshape(n, -1, cout)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = xf.new_zeros(n, hw, cin)
            for o, i, t in ctx.pairs:
                gx[:, i].addmm_(gf[:, o], ctx.taps[t].t())
            gx = gx.view(n, *ctx.in_hw, cin).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            # laid out as the weight (cout, kh, kw, cin when channels_last), so that neither the
            # return nor the accumulation into .grad copies it
            cl = weight.is_contiguous(memory_format=torch.channels_last)
            gw = xf.new_zeros(cout, kh, kw, cin).permute(0, 3, 1, 2) if cl else xf.new_zeros(cout, cin, kh, kw)
            for o, i, t in ctx.pairs:
                gw[:, :, t // kw, t % kw].addmm_(gf[:, o].t(), xf[:, i])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = gf.sum((0, 1))
        return gx, gw, gb, None, None, None


def use_small_map_convs(module: nn.Module) -> nn.Module:
    """Turn every plain, zero-padded `nn.Conv2d` inside `module` into a `SmallMapConv2d` sharing
    its parameters (names and state dict unchanged); returns `module`."""
    return swap_convs(
        module,
        lambda c: (type(c) is nn.Conv2d and c.dilation == (1, 1)
                   and c.padding_mode == "zeros" and not isinstance(c.padding, str)),
        lambda c: SmallMapConv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, 1, c.groups,
                                 c.bias is not None, device="meta"))
