"""batchnorm_folded evaluates a model as it is, BatchNorm folded into the convolutions before
it, without touching the model, and only where the graph shows the fold is exact."""
import copy
import gc
import weakref

import pytest
import torch
from torch import nn

from fastlearn.vision.models import create_classifier
from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded


def _close(a, b, tol=1e-4):
    return a.shape == b.shape and (a - b).abs().max() <= tol * b.abs().max()


def _with_real_statistics(model):
    """BatchNorm statistics as training leaves them (a fresh layer's are 0 and 1: folding those
    would test little)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


@pytest.mark.parametrize("arch", ["tf_efficientnet_lite0", "resnet18"])
def test_folds_every_batchnorm_of_the_zoo_models_and_computes_the_same(arch):
    torch.manual_seed(0)
    model = create_classifier(arch, 10, pretrained=arch != "resnet18").to(memory_format=torch.channels_last)
    if arch == "resnet18":
        _with_real_statistics(model)
    model.eval()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(6, 3, 40, 40).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = model(x)
        with batchnorm_folded(model) as folded:
            got = folded(x)
            left = [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
            weights = [m.weight for m in folded.modules() if isinstance(m, nn.Conv2d) and m.weight.shape[1] > 1]
        assert _close(got, expected)
        assert folded is not model and not left  # every BatchNorm2d of the body is folded
        # folded weights keep the model's memory format (else every convolution reorders them)
        assert all(w.is_contiguous(memory_format=torch.channels_last) for w in weights)
        # the model is untouched and keeps nothing of the fold
        after = model.state_dict()
        assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
        assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0
        assert torch.equal(model(x), expected)


def test_reads_the_weights_as_they_are_on_entering():
    torch.manual_seed(0)
    model = _with_real_statistics(create_classifier("resnet18", 10, pretrained=False)).eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad(), batchnorm_folded(model) as folded:
        first = folded(x)
    model.train()  # a training step moves the weights and the running statistics
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    nn.functional.cross_entropy(model(x), torch.tensor([0, 1, 2, 3])).backward()
    opt.step()
    model.eval()
    with torch.no_grad(), batchnorm_folded(model) as folded:
        second = folded(x)
        expected = model(x)
    assert _close(second, expected) and not _close(second, first)


class _SharedOutput(nn.Module):
    """The first convolution's output goes to its BatchNorm and, unnormalised, to a sum: folding
    the BatchNorm into it would change the sum."""

    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)
        self.conv2, self.bn2 = nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.conv(x)
        return self.bn2(self.conv2(self.bn(y) + y))


def test_folds_only_where_the_convolution_feeds_the_batchnorm_alone():
    torch.manual_seed(0)
    model = _with_real_statistics(_SharedOutput()).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad(), batchnorm_folded(model) as folded:
        assert _close(folded(x), model(x))
        kinds = {name: type(m) for name, m in folded.named_modules()}
    assert kinds["bn"] is nn.BatchNorm2d and kinds["bn2"] is nn.Identity


class _Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 3, 3), nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.bn(self.conv(x))
        return y if y.sum() > 0 else -y  # data-dependent: torch.fx cannot trace it


def test_an_untraceable_model_is_evaluated_as_it_is_with_a_warning():
    model = _Untraceable().eval()
    with pytest.warns(UserWarning, match="could not trace _Untraceable"):
        with batchnorm_folded(model) as folded:
            assert folded is model


def test_a_training_model_is_not_folded():
    model = _SharedOutput().train()
    with batchnorm_folded(model) as folded:
        assert folded is model


def test_a_model_with_forward_hooks_is_evaluated_as_it_is():
    model = _with_real_statistics(_SharedOutput()).eval()
    seen = []
    handle = model.bn2.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    try:
        with torch.no_grad(), batchnorm_folded(model) as folded:
            folded(torch.randn(2, 3, 8, 8))
    finally:
        handle.remove()
    assert folded is model and seen == [torch.Size([2, 4, 8, 8])]
    with batchnorm_folded(model) as folded:  # without the hook, folded again
        assert folded is not model


def test_another_thread_meanwhile_evaluates_the_model_itself():
    import threading
    model = _with_real_statistics(_SharedOutput()).eval()
    x = torch.randn(2, 3, 8, 8)
    other = {}
    with torch.no_grad(), batchnorm_folded(model) as folded:
        t = threading.Thread(target=lambda: other.update(out=batchnorm_folded(model).__enter__()))
        t.start()
        t.join()
        assert folded is not model and other["out"] is model
        assert _close(folded(x), model(x))
    with batchnorm_folded(model) as again:  # free again once the first pass is over
        assert again is not model


def test_a_model_evaluated_folded_is_freed_as_soon_as_it_is_dropped():
    was = gc.isenabled()
    gc.disable()  # freed by reference counting, not left for a garbage collection to find
    try:
        model = create_classifier("resnet18", 10, pretrained=False).eval()
        with torch.no_grad(), batchnorm_folded(model) as folded:
            folded(torch.randn(2, 3, 32, 32))
        alive = weakref.ref(model)
        del model, folded
        assert alive() is None
    finally:
        if was:
            gc.enable()
