"""3x3 convolutions computed with Winograd's minimal filtering, F(4x4, 3x3), on the CPU.

A dense 3x3, stride-1 convolution multiplies 9 channel matrices per output pixel. Winograd's
algorithm (Lavin & Gray, 2015; cuDNN's and oneDNN's AVX-512 "winograd" kernels) computes each
4x4 block of outputs from the 6x6 block of inputs around it with 36 channel-matrix products
instead of 144: the input tiles and the kernel go through small fixed linear transforms, the
channel matrices multiply elementwise in the transformed space (36 batched matrix products), and
one more transform brings 4x4 outputs back. oneDNN has no Winograd kernels for AVX2 CPUs, and
its direct convolutions already run near this machine's peak (bench/RESULTS.md), so fewer
multiplications is what is left to gain. The backward pass is the same three steps transposed,
also in the transformed space (the weight gradient from the saved transformed input).

Same convolution, same parameters under the same names; results differ from the direct
convolution by float rounding only (about 1e-5 of the largest output: the transforms scale
by up to 8 and 1/24). Maps whose sides are not multiples of 4 are padded to a whole number of
tiles and the extra outputs dropped.

Measured on 2 cores (AVX2), 64 images, channels_last, forward + backward against oneDNN:
64 channels on 16x16 maps 23.3 -> 16.5 ms, 128 on 8x8 21.1 -> 12.4, 256 on 4x4 21.3 -> 13.3,
256 on 14x14 265 -> 142, 512 on 7x7 271 -> 127. The transforms are memory-bound, so with few
channels an evaluation or a frozen layer's pass (one or two products saved, not three) lost:
64 channels on 16x16 evaluate in 6.2 ms directly and 6.5 ms here. resnet18's training step at
64 px: 387 -> 316 ms, the frozen-body step 224 -> 211 ms (three alternating pairs).
It costs memory: the transformed input (2.25x the layer's input) is kept for the weight's
gradient, and the transforms' temporaries are as large. resnet18 training on 64 images at
224 px: peak RSS 3.2-3.8 -> 4.1-4.7 GB under the Learner's allocator setting (step 5.0 -> 3.4-3.7
s), 2.5 -> 3.5 GB without it; at 64 px 1.15 -> 1.27 GB. Transforming the input again in the
backward pass instead of keeping it (above 32 MB) brought the 3.5 GB to 3.2 and cost 20-25% of
the step at 224 px (8-10% at 64 px, transforming every layer again), so it is kept.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fastlearn.vision.kernels.small_map_conv import SmallMapConv2d
from fastlearn.vision.kernels.swap_convs import swap_convs

__all__ = ["WinogradConv2d", "use_winograd_convs"]

# F(4x4, 3x3) with interpolation points 0, +-1, +-2 (Lavin & Gray): output = A^T [(G g G^T) * (B^T d B)] A
_BT = ((4, 0, -5, 0, 1, 0),
       (0, -4, -4, 1, 1, 0),
       (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0),
       (0, 2, -1, -2, 1, 0),
       (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0),
      (-1 / 6, -1 / 6, -1 / 6),
      (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6),
      (1 / 24, -1 / 12, 1 / 6),
      (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0),
       (0, 1, -1, 2, -2, 0),
       (0, 1, 1, 4, 4, 0),
       (0, 1, -1, 8, -8, 1))
_MATRICES: dict[torch.dtype, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def _matrices(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """B^T, the kernel's 36x9 transform (G applied along both axes at once, kron(G, G)), A^T."""
    if dtype not in _MATRICES:
        bt, g, at = (torch.tensor(m, dtype=torch.float64) for m in (_BT, _G, _AT))
        _MATRICES[dtype] = tuple(m.to(dtype) for m in (bt, torch.kron(g, g), at))
    return _MATRICES[dtype]


def _kernel_tiles(weight: torch.Tensor, gg: torch.Tensor) -> torch.Tensor:
    """G w G^T for every (out, in) pair of 3x3 kernels, laid out (36, cin, cout) as a view: one
    product of the 36x9 transform with the 9 taps of every kernel, read in the weight's own
    memory format without a copy (the bmm reads the result through a transposed view). Through
    `_both_axes` (a permuting copy and two passes) the 256-channel kernels took 1.05-1.21 ms,
    this way 0.45-0.73; with the gradient's transform likewise, resnet18's step at 64 px went
    283 -> 272 ms training, 202 -> 196 ms frozen (medians of six alternating pairs)."""
    cout, cin = weight.shape[:2]
    if weight.is_contiguous():
        return torch.matmul(gg, weight.view(cout * cin, 9).t()).view(36, cout, cin).transpose(1, 2)
    return torch.matmul(gg, weight.permute(0, 2, 3, 1).reshape(cout, 9, cin)).permute(1, 2, 0)


def _kernel_grad(gu_t: torch.Tensor, gg: torch.Tensor, weight_format: torch.memory_format) -> torch.Tensor:
    """The weight's gradient, (cout, cin, 3, 3) in `weight_format`, from its gradient in the
    transformed space laid out (36, cout, cin): G^T gu G per kernel, written straight into the
    weight's memory layout."""
    _, cout, cin = gu_t.shape
    if weight_format == torch.channels_last:
        return torch.matmul(gg.t(), gu_t.transpose(0, 1)).view(cout, 3, 3, cin).permute(0, 3, 1, 2)
    return torch.matmul(gu_t.view(36, cout * cin).t(), gg).view(cout, cin, 3, 3)


def _both_axes(m: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """m X m^T for every X in t, t laid out (k, l, rest...): out[a, b] = sum_kl m[a,k] m[b,l] t[k,l].
    Two passes over the data, each a batch of small matrix products read through a transposed
    view (no copy): over k for each l, then over l for each a. As one product over k (a 6-row
    matrix times all the data), BLAS split the work poorly over two threads: 1.9 -> 1.3 ms for
    the input tiles of 64 channels on 16x16 maps; a layer's training step 6-21% faster alone
    (six alternating pairs per shape), resnet18's whole step unchanged beyond this VM's noise."""
    k, l = t.shape[:2]
    rest = t.shape[2:]
    half = torch.matmul(m, t.reshape(k, l, -1).transpose(0, 1))  # (l, a, rest)
    return torch.matmul(m, half.transpose(0, 1)).view(m.shape[0], m.shape[0], *rest)


def _tiles_per_side(h: int, w: int) -> tuple[int, int]:
    """4x4 output tiles per column and per row of an h x w map (the last ones partly padding)."""
    return -(-h // 4), -(-w // 4)


def _format(t: torch.Tensor) -> torch.memory_format:
    """channels_last when `t` is laid out so (and not also plainly contiguous), else contiguous."""
    if t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format


class _Winograd43(torch.autograd.Function):
    """conv2d(x, weight, bias, stride 1, padding 1) for a 3x3 weight, by F(4x4, 3x3); `u`, if
    not None, is the weight's transform (`_kernel_tiles`) computed beforehand."""

    @staticmethod
    def forward(ctx, x, weight, bias, u=None):
        n, cin, h, w = x.shape
        cout = weight.shape[0]
        bt, gg, at = _matrices(x.dtype)
        th, tw = _tiles_per_side(h, w)
        # the input, padded by 1 (the convolution's own padding) and to whole tiles, then every
        # 6x6 tile (tiles overlap by 2) laid out (6, 6, n, th, tw, cin): one copy
        xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 4 * tw + 1 - w, 1, 4 * th + 1 - h))
        tiles = xp.unfold(1, 6, 4).unfold(2, 6, 4).permute(4, 5, 0, 1, 2, 3)
        v = _both_axes(bt, tiles.contiguous()).view(36, n * th * tw, cin)
        if u is None:
            u = _kernel_tiles(weight, gg)
        m = torch.bmm(v, u)
        y = _both_axes(at, m.view(6, 6, -1)).view(4, 4, n, th, tw, cout)
        fmt = _format(x)
        # the output tiles into place, in the input's memory format (cropped to h x w by a copy)
        out = torch.empty((n, cout, 4 * th, 4 * tw), dtype=x.dtype, memory_format=fmt)
        if fmt == torch.channels_last:
            out.permute(0, 2, 3, 1).view(n, th, 4, tw, 4, cout).copy_(y.permute(2, 3, 0, 4, 1, 5))
        else:
            out.view(n, cout, th, 4, tw, 4).copy_(y.permute(2, 5, 3, 0, 4, 1))
        if h % 4 or w % 4:
            out = out[:, :, :h, :w].contiguous(memory_format=fmt)
        if bias is not None:
            out.add_(bias.view(1, -1, 1, 1))
        ctx.save_for_backward(v if ctx.needs_input_grad[1] else None, u if ctx.needs_input_grad[0] else None)
        ctx.dims = (n, cin, h, w, cout, th, tw)
        ctx.weight_format = _format(weight)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        v, u = ctx.saved_tensors
        n, cin, h, w, cout, th, tw = ctx.dims
        bt, gg, at = _matrices(grad.dtype)
        gh = grad.permute(0, 2, 3, 1)
        if h % 4 or w % 4:
            gh = F.pad(gh, (0, 0, 0, 4 * tw - w, 0, 4 * th - h))
        gy = gh.reshape(n, th, 4, tw, 4, cout).permute(2, 4, 0, 1, 3, 5).contiguous()
        gm = _both_axes(at.t(), gy).view(36, n * th * tw, cout)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gv = torch.bmm(gm, u.transpose(1, 2))
            gtiles = _both_axes(bt.t(), gv.view(6, 6, -1)).view(6, 6, n, th, tw, cin).permute(2, 3, 4, 0, 1, 5)
            # tiles overlap by 2 pixels: add them back in four groups (every other tile row and
            # column), inside each of which no two tiles share a pixel
            gxp = gv.new_zeros(n, 4 * th + 2, 4 * tw + 2, cin)
            sn, sh, sw, sc = gxp.stride()
            for i in range(2):
                for j in range(2):
                    rows, cols = (th - i + 1) // 2, (tw - j + 1) // 2
                    if rows and cols:
                        gxp.as_strided((n, rows, cols, 6, 6, cin), (sn, 8 * sh, 8 * sw, sh, sw, sc),
                                       gxp.storage_offset() + 4 * i * sh + 4 * j * sw).add_(gtiles[:, i::2, j::2])
            gx = gxp[:, 1:h + 1, 1:w + 1].permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            gw = _kernel_grad(torch.bmm(gm.transpose(1, 2), v), gg, ctx.weight_format)
        if ctx.needs_input_grad[2]:
            gb = grad.sum((0, 2, 3))
        return gx, gw, gb, None


class WinogradConv2d(SmallMapConv2d):
    """A 3x3, stride-1, padding-1 dense `nn.Conv2d` that runs as Winograd's F(4x4, 3x3) on the
    CPU (float32, maps of at least 4x4 pixels, enough channels and tiles for it to pay: not for
    a single image's deep layers, say); elsewhere, as a
    `SmallMapConv2d` (maps narrower than the kernel) or a plain convolution."""

    # True on a copy whose weight stays as it is for the copy's whole life (`batchnorm_folded`
    # makes one per evaluation pass): the weight's transform is then computed on the first call
    # and kept, not redone for every batch (resnet18's 256-channel layers: 1.7-3.3 ms a call
    # on 2 cores). Optimizers may change a weight in place without a trace (fused AdamW leaves
    # its version counter as it was), so nothing else is cached.
    fixed_weight = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _winograd_pays(self, x):
            u = None
            if self.fixed_weight:
                u = self.__dict__.get("_fixed_tiles")
                if u is None:
                    u = self._fixed_tiles = _kernel_tiles(self.weight.detach(), _matrices(x.dtype)[1])
            return _Winograd43.apply(x, self.weight, self.bias, u)
        return super().forward(x)


# Below these channel counts (in x out), the transforms cost more than the products saved: a
# training step that computes the weight's gradient saves three products per transform, an
# evaluation (or a step through a frozen layer) one or two.
_MIN_CHANNELS_TRAIN = 64 * 64
_MIN_CHANNELS = 128 * 128
# Below these numbers of 4x4 output tiles (images x tiles per map), transforming the kernel (a
# fixed cost per call: 20 ms for 512x512 channels, 38 MB written) costs more than the products
# save. Measured on 2 cores, direct / Winograd: evaluating 512 channels on 7x7 maps, 1 image
# (4 tiles) 5.4 / 21.6 ms, 8 images 26.4 / 29.7, 16 images 52.9 / 43.9; 256 channels on 4x4 maps,
# 32 tiles 6.9 / 6.5, 48 tiles 10.2 / 7.6; training 512 on 7x7, 2 images (8 tiles) 28.4 / 33.4
# ms, 4 images 48.0 / 41.3; 256 on 4x4, 8 tiles 8.7 / 10.5, 16 tiles 15.2 / 14.0.
_MIN_TILES_TRAIN = 16
_MIN_TILES = 48


def _winograd_pays(conv: nn.Conv2d, x: torch.Tensor) -> bool:
    """Whether `conv` on `x` takes the F(4x4, 3x3) route (ONNX export traces the plain one)."""
    if x.device.type != "cpu" or x.dim() != 4 or torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    if x.dtype != torch.float32 or conv.weight.dtype != torch.float32 or torch.is_autocast_enabled("cpu"):
        return False
    if min(x.shape[-2:]) < 4:
        return False
    weight_grad = torch.is_grad_enabled() and conv.weight.requires_grad
    th, tw = _tiles_per_side(*x.shape[-2:])
    tiles = x.shape[0] * th * tw
    if weight_grad:
        return conv.in_channels * conv.out_channels >= _MIN_CHANNELS_TRAIN and tiles >= _MIN_TILES_TRAIN
    return conv.in_channels * conv.out_channels >= _MIN_CHANNELS and tiles >= _MIN_TILES


def use_winograd_convs(module: nn.Module) -> nn.Module:
    """Turn every dense 3x3, stride-1, padding-1 convolution inside `module` (a plain
    `nn.Conv2d` or a `SmallMapConv2d`) into a `WinogradConv2d` sharing its parameters (names and
    state dict unchanged); returns `module`."""
    return swap_convs(
        module,
        lambda c: (type(c) in (nn.Conv2d, SmallMapConv2d) and c.kernel_size == (3, 3) and c.stride == (1, 1)
                   and c.padding == (1, 1) and c.dilation == (1, 1) and c.groups == 1
                   and c.padding_mode == "zeros"),
        lambda c: WinogradConv2d(c.in_channels, c.out_channels, 3, 1, 1, 1, 1, c.bias is not None, device="meta"))
