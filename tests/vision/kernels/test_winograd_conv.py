"""WinogradConv2d computes the same 3x3 convolution as nn.Conv2d (outputs and gradients), and
resnet18 takes that route for the layers where it pays."""
import copy
import itertools

import pytest
import torch
from torch import nn

from fastlearn.vision.models import create_classifier
from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded
from fastlearn.vision.kernels.small_map_conv import SmallMapConv2d
from fastlearn.vision.kernels.winograd_conv import WinogradConv2d, _Winograd43, _winograd_pays, use_winograd_convs
from fastlearn.train.learner import fuses_adamw


def _outputs_and_grads(conv, x):
    xi = x.clone().requires_grad_()
    out = conv(xi)
    out.backward(torch.linspace(-1, 1, out.numel()).view_as(out).contiguous(memory_format=torch.channels_last))
    grads = [xi.grad, conv.weight.grad] + ([conv.bias.grad] if conv.bias is not None else [])
    return [out.detach()] + grads


def _close(a, b, tol=1e-4):
    """Equal up to float rounding, relative to the largest value: the transforms scale by up to 8
    and 1/24, so F(4x4, 3x3) rounds differently from a direct convolution (about 1e-6 here)."""
    return a.shape == b.shape and (a - b).abs().max() <= tol * b.abs().max()


@pytest.mark.parametrize("fmt", [torch.channels_last, torch.contiguous_format])
def test_same_outputs_and_gradients_as_conv2d(fmt):
    torch.manual_seed(0)
    # sides that are and are not multiples of the 4x4 tile; one tile; several channel counts
    for (h, w), (cin, cout), bias in itertools.product([(4, 4), (8, 8), (7, 9), (5, 12), (16, 6)],
                                                        [(3, 5), (16, 8)], [True, False]):
        plain = nn.Conv2d(cin, cout, 3, padding=1, bias=bias).to(memory_format=fmt)
        fast = copy.deepcopy(plain)
        x = torch.randn(3, cin, h, w).contiguous(memory_format=fmt)
        expected = _outputs_and_grads(plain, x)
        xi = x.clone().requires_grad_()
        out = _Winograd43.apply(xi, fast.weight, fast.bias)
        assert out.is_contiguous(memory_format=fmt), "the output keeps the input's memory format"
        out.backward(torch.linspace(-1, 1, out.numel()).view_as(out).contiguous(memory_format=torch.channels_last))
        got = [out.detach(), xi.grad, fast.weight.grad] + ([fast.bias.grad] if bias else [])
        for name, a, b in zip(["output", "input grad", "weight grad", "bias grad"], got, expected):
            assert _close(a, b), (name, h, w, cin, cout, bias, (a - b).abs().max())


def test_frozen_weight_gets_no_gradient_and_input_still_does():
    torch.manual_seed(0)
    conv = use_winograd_convs(nn.Sequential(nn.Conv2d(128, 128, 3, padding=1, bias=False)))[0]
    plain = nn.Conv2d(128, 128, 3, padding=1, bias=False)
    plain.load_state_dict(conv.state_dict())
    conv.weight.requires_grad_(False)
    plain.weight.requires_grad_(False)
    x = torch.randn(12, 128, 8, 8)  # 48 tiles: enough for the route without the weight's gradient
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    out = conv(a)
    assert type(out.grad_fn).__name__ == "_Winograd43Backward"
    (out ** 2).sum().backward()
    (plain(b) ** 2).sum().backward()
    assert conv.weight.grad is None and _close(a.grad, b.grad)


def test_routes_by_precision_map_size_channels_and_tiles():
    """F(4x4, 3x3) runs where it was measured to pay: float32 on the CPU, maps of 4x4 and up,
    64x64 channels and 16 output tiles in a step that computes the weight's gradient, 128x128
    channels and 48 tiles otherwise."""
    def pays(channels, size, weight_grad=True, dtype=torch.float32, grad_enabled=True, n=16):
        conv = WinogradConv2d(channels, channels, 3, padding=1, bias=False).to(dtype)
        conv.weight.requires_grad_(weight_grad)
        with torch.set_grad_enabled(grad_enabled):
            return _winograd_pays(conv, torch.randn(n, channels, size, size, dtype=dtype))

    assert pays(64, 8) and pays(128, 4) and pays(128, 8, weight_grad=False) and pays(256, 7, grad_enabled=False)
    assert not pays(64, 8, weight_grad=False), "a frozen layer below 128 channels: the direct convolution was faster"
    assert not pays(64, 8, grad_enabled=False), "evaluation below 128 channels: the direct convolution was faster"
    assert not pays(32, 8), "too few channels for the transforms to pay"
    assert not pays(128, 2) and not pays(128, 3), "maps under a tile: the small-map route or oneDNN"
    assert not pays(128, 8, dtype=torch.float64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not pays(128, 8)
    # the kernel's transform is a fixed cost per call: a single image's 7x7 maps (4 tiles) lose
    assert not pays(512, 7, grad_enabled=False, n=1) and not pays(512, 7, grad_enabled=False, n=11)
    assert pays(512, 7, grad_enabled=False, n=12) and pays(128, 28, grad_enabled=False, n=1)  # 48 and 49 tiles
    assert not pays(256, 4, n=15) and pays(256, 4, n=16), "training: 16 tiles"


def test_small_maps_still_take_the_small_map_route():
    torch.manual_seed(0)
    conv = use_winograd_convs(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1)))[0]
    assert isinstance(conv, WinogradConv2d) and isinstance(conv, SmallMapConv2d)
    plain = nn.Conv2d(64, 64, 3, padding=1)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, 64, 2, 2)
    for a, b in zip(_outputs_and_grads(conv, x), _outputs_and_grads(plain, x)):
        assert torch.allclose(a, b, atol=1e-5)


def test_resnet18_swaps_its_3x3_stride_1_convolutions_and_trains_the_same():
    torch.manual_seed(0)
    model = create_classifier("resnet18", 3, pretrained=False)
    swapped = [n for n, m in model.named_modules() if isinstance(m, WinogradConv2d)]
    assert len(swapped) == 13  # 2 per basic block, but the first of layers 2-4 is strided
    # the stem (7x7, stride 2) and each stage's first, strided 3x3 stay plain convolutions
    assert all(not isinstance(m, WinogradConv2d) for n, m in model.named_modules()
               if isinstance(m, nn.Conv2d) and m.stride != (1, 1))
    plain = copy.deepcopy(model)
    for name in swapped:
        m = plain.get_submodule(name)
        conv = nn.Conv2d(m.in_channels, m.out_channels, 3, 1, 1, bias=m.bias is not None)
        conv.load_state_dict(m.state_dict())
        parent, _, child = name.rpartition(".")
        setattr(plain.get_submodule(parent), child, conv)
    assert list(model.state_dict()) == list(plain.state_dict())
    # 128 px: layer1 on 32x32 maps, layer2 16x16, layer3 8x8, layer4 4x4 (16 tiles, 16 images),
    # all through F(4x4, 3x3)
    x, y = torch.randn(16, 3, 128, 128), torch.arange(16) % 3
    for m in (model, plain):
        m.to(memory_format=torch.channels_last)
        m.freeze_to(0)
        m.train()
        torch.manual_seed(1)  # the same dropout masks
        nn.functional.cross_entropy(m(x.contiguous(memory_format=torch.channels_last)), y).backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-3, atol=1e-5), name


def test_a_folded_pass_keeps_the_kernel_transform_and_the_next_pass_sees_trained_weights():
    torch.manual_seed(0)
    model = create_classifier("resnet18", 3, pretrained=False).to(memory_format=torch.channels_last)
    # 48 images at 64 px: layer2 (8x8 maps) and layer3 (4x4) evaluate through F(4x4, 3x3)
    x = torch.randn(48, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    y = torch.arange(48) % 3
    model.train()
    nn.functional.cross_entropy(model(x), y)  # BatchNorm statistics as training leaves them

    def evaluate():
        model.eval()
        with torch.no_grad():
            with batchnorm_folded(model) as folded:
                first, second = folded(x), folded(x)  # the second call reuses the transforms
                kept = [m for m in folded.modules() if m.__dict__.get("_fixed_tiles") is not None]
            return first, second, model(x), kept

    first, second, plain, kept = evaluate()
    assert len(kept) == 6  # layer2's and layer3's stride-1 3x3 convolutions
    assert torch.equal(first, second) and _close(first, plain)
    assert not any("_fixed_tiles" in vars(m) for m in model.modules())  # nothing kept on the model
    # fused AdamW moves the weights in place without bumping their version counters
    opt = torch.optim.AdamW(model.parameters(), lr=0.05, fused=fuses_adamw(torch.device("cpu")) or None)
    model.train()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    after, _, plain_after, _ = evaluate()
    assert _close(after, plain_after) and not _close(after, first)
