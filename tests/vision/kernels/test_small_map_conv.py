"""SmallMapConv2d computes the same convolution (outputs and gradients, training and evaluating) as nn.Conv2d."""
import copy
import itertools

import pytest
import torch
from torch import nn

from fastlearn.vision.models import create_classifier
from fastlearn.vision.kernels.small_map_conv import SmallMapConv2d, _pairs, use_small_map_convs


def _trained_and_evaluated(conv, x):
    """A training step's output and gradients (input, weight, bias), and the evaluated output
    (evaluation takes its own route on small maps)."""
    xi = x.clone().requires_grad_()
    out = conv(xi)
    out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))
    with torch.no_grad():
        evaluated = conv.eval()(x)
    conv.train()
    return (out, evaluated, xi.grad, conv.weight.grad) + ((conv.bias.grad,) if conv.bias is not None else ())


@pytest.mark.parametrize("groups, k, pad", [(1, 3, 1), (6, 3, 1), (6, 5, 2), (6, 4, 1), (1, 1, 0), (6, 3, 3), (1, 5, 2)])
def test_same_outputs_and_gradients_as_conv2d(groups, k, pad):
    torch.manual_seed(0)
    for h, w, bias, fmt in itertools.product([1, 2, 3, 4, 7], [2, 5], [True, False],
                                             [torch.channels_last, torch.contiguous_format]):
        if min(h, w) + 2 * pad < k:
            continue  # no output: nn.Conv2d refuses it too
        plain = nn.Conv2d(6, 6, k, padding=pad, groups=groups, bias=bias)
        fast = use_small_map_convs(nn.Sequential(copy.deepcopy(plain)))[0]
        assert isinstance(fast, SmallMapConv2d)
        x = torch.randn(3, 6, h, w).contiguous(memory_format=fmt)
        for a, b in zip(_trained_and_evaluated(plain, x), _trained_and_evaluated(fast, x)):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5), (h, w, k, pad)


@pytest.mark.parametrize("arch, pretrained", [("tf_efficientnet_lite0", True), ("resnet18", False)])
def test_models_keep_their_parameter_names_and_train_the_same(arch, pretrained):
    torch.manual_seed(0)
    model = create_classifier(arch, 3, pretrained=pretrained)
    fast = [m for m in model.modules() if isinstance(m, SmallMapConv2d)]
    assert len(fast) > 10  # every plain convolution of the body
    plain = copy.deepcopy(model)
    for name, m in list(plain.named_modules()):
        if isinstance(m, SmallMapConv2d):  # back to nn.Conv2d, same parameters
            parent, _, child = name.rpartition(".")
            conv = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, 1, m.groups,
                             m.bias is not None)
            conv.load_state_dict(m.state_dict())
            setattr(plain.get_submodule(parent), child, conv)
    assert list(model.state_dict()) == list(plain.state_dict())
    # 64 px: Lite0 ends on 2x2 maps under 5x5 depthwise kernels, resnet18 under dense 3x3 ones
    x, y = torch.randn(8, 3, 64, 64), torch.arange(8) % 3
    for m in (model, plain):
        m.freeze_to(0)
        m.train()
        torch.manual_seed(1)  # the same dropout masks
        nn.functional.cross_entropy(m(x), y).backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-3, atol=1e-6), name


@pytest.mark.parametrize("stride, size, k", [(1, 2, 3), (2, 4, 3), (2, 3, 3), (2, 2, 3), (2, 4, 5)])
def test_pixel_pairs_route_same_as_conv2d(stride, size, k):
    """Dense convolutions of 64 channels whose output has fewer pixels than the kernel has taps
    (resnet18's 2x2 maps, and its strided 4x4 -> 2x2 one) go through matrix products per pixel
    pair, in training and evaluation; same outputs and gradients as nn.Conv2d."""
    torch.manual_seed(0)
    for fmt, bias in itertools.product([torch.channels_last, torch.contiguous_format], [True, False]):
        plain = nn.Conv2d(64, 64, k, stride, k // 2, bias=bias).to(memory_format=fmt)
        fast = use_small_map_convs(nn.Sequential(copy.deepcopy(plain)))[0]
        x = torch.randn(3, 64, size, size).contiguous(memory_format=fmt)
        results = [_trained_and_evaluated(plain, x), _trained_and_evaluated(fast, x)]
        assert type(results[1][0].grad_fn).__name__ == "_TapMatmulBackward", "the pixel-pair route was taken"
        for a, b in zip(*results):
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-4), (stride, size, k, fmt, bias)


def test_strided_convolutions_on_larger_maps_stay_plain():
    """An 8x8 -> 4x4 strided convolution has more output pixels than taps: oneDNN was faster."""
    conv = use_small_map_convs(nn.Sequential(nn.Conv2d(64, 64, 3, 2, 1)))[0]
    out = conv(torch.randn(2, 64, 8, 8, requires_grad=True))
    assert type(out.grad_fn).__name__ == "ConvolutionBackward0"


def test_strided_convolution_on_a_large_map_does_not_list_its_pixel_pairs():
    """The pair list has h * w * ho * wo entries: a 96x96 map must not build it (21 M) to learn
    that the output is too large for that route."""
    _pairs.cache_clear()
    conv = use_small_map_convs(nn.Sequential(nn.Conv2d(64, 64, 3, 2, 1)))[0]
    conv(torch.randn(1, 64, 96, 96))
    assert _pairs.cache_info().currsize == 0
