"""SamePadConv2d computes the same convolution as timm's Conv2dSame (TensorFlow "same" padding)."""
import copy
import itertools

import pytest
import torch
from timm.layers import Conv2dSame
from torch import nn

from fastlearn.vision.models import create_classifier
from fastlearn.vision.kernels.same_pad_conv import SamePadConv2d, use_same_pad_convs


@pytest.mark.parametrize("groups, k, stride", [(6, 3, 2), (6, 5, 2), (6, 3, 1), (6, 4, 2), (1, 3, 2)])
def test_same_outputs_as_timm_conv2d_same_evaluating_and_training(groups, k, stride):
    torch.manual_seed(0)
    for h, w, bias, fmt in itertools.product([1, 4, 7, 16], [2, 5, 8], [True, False],
                                             [torch.channels_last, torch.contiguous_format]):
        timm_conv = Conv2dSame(6, 6, k, stride, groups=groups, bias=bias)
        ours = use_same_pad_convs(nn.Sequential(copy.deepcopy(timm_conv)))[0]
        assert type(ours) is SamePadConv2d
        x = torch.randn(3, 6, h, w).contiguous(memory_format=fmt)
        with torch.no_grad():  # depthwise evaluation takes the wider kernel
            expected, got = timm_conv.eval()(x), ours.eval()(x)
        assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-5), (h, w, k, stride)
        xi = x.clone().requires_grad_()
        ours.train()(xi).sum().backward()  # training: timm's padded copy, gradients as ever
        assert xi.grad.shape == x.shape and ours.weight.grad is not None


def test_lite0_keeps_its_parameter_names_and_predicts_the_same():
    torch.manual_seed(0)
    model = create_classifier("tf_efficientnet_lite0", 3, pretrained=True).eval()
    n_same = sum(type(m) is SamePadConv2d for m in model.modules())
    assert n_same == 5 and not any(type(m) is Conv2dSame for m in model.modules())  # the stem and 4 depthwise
    timm_model = copy.deepcopy(model)
    for m in timm_model.modules():
        if type(m) is SamePadConv2d:
            m.__class__ = Conv2dSame  # timm's own forward, same parameters
    assert list(model.state_dict()) == list(timm_model.state_dict())
    x = torch.randn(4, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.allclose(model(x), timm_model(x), atol=1e-5)
