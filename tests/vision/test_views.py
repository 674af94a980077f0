"""The lesson's pictures of what a network learned: first-layer filters, a layer's activations."""
import torch

from fastlearn import Learner
from fastlearn.vision.views import activations, first_conv, plot_activations, plot_filters


def test_filters_and_activations_of_a_pretrained_body(digits):
    learn = Learner.pretrained("tf_efficientnet_lite0", digits, progress=False)
    conv = first_conv(learn.model)
    assert conv.in_channels == 3 and conv.out_channels == 32
    fig = plot_filters(learn.model)
    assert sum(1 for ax in fig.axes if ax.images) == 32
    x, _ = next(iter(digits.loader("valid", shuffle=False, bs=1)))
    name = next(n for n, m in learn.model.named_modules() if m is conv)
    a = activations(learn.model, x, name)
    assert a.shape == (1, 32, 16, 16)  # stride 2 on 32 px
    with torch.no_grad():
        assert torch.allclose(a, conv(x), atol=1e-5)  # the stem's own output for this image
    assert sum(1 for ax in plot_activations(learn.model, x, name, n=8).axes if ax.images) == 8
