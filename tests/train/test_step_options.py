"""The Learner's step options: gradient accumulation, gradient clipping, label smoothing."""
import pytest
import torch
import torch.nn.functional as F

from fastlearn.train import Callback
from tests.train.toolbox_models import digits_at, linear_learner


def test_accumulating_k_batches_of_n_steps_as_one_batch_of_k_n(mnist_root):
    small, big = digits_at(mnist_root, 16), digits_at(mnist_root, 32)
    accumulated = linear_learner(small, accumulate=2)
    whole = linear_learner(big)
    assert accumulated.iters_per_epoch == whole.iters_per_epoch == 10  # the schedule counts steps
    accumulated.fit(1e-3, 2)
    whole.fit(1e-3, 2)
    for a, b in zip(accumulated.model.parameters(), whole.model.parameters()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)
    assert len(accumulated.recorder.losses) == 20  # one loss per step, the mean of its batches
    plain = linear_learner(small)
    plain.fit(1e-3, 2)
    assert not torch.allclose(plain.model.fc.weight, whole.model.fc.weight, atol=1e-4)  # the test can tell


class _FirstStep(Callback):
    """How far the weights moved in the first step."""

    def fit_begin(self, learn):
        self.before = learn.model.fc.weight.detach().clone()
        self.moved = None

    def batch_end(self, learn, loss):
        if self.moved is None:
            self.moved = float((learn.model.fc.weight.detach() - self.before).norm())


def test_clipping_bounds_the_gradient_norm_of_each_step(mnist_root):
    data = digits_at(mnist_root, 32)
    lr, max_norm = 0.1, 0.01
    spy = _FirstStep()
    linear_learner(data, clip_grad=max_norm).fit(lr, 1, callbacks=[spy])
    # SGD's first step is lr * grad (the bias too, so the weight alone moves at most that far)
    assert spy.moved <= lr * max_norm * 1.0001
    unclipped = _FirstStep()
    linear_learner(data).fit(lr, 1, callbacks=[unclipped])
    assert unclipped.moved > 10 * lr * max_norm
    with pytest.raises(ValueError, match="clip_grad"):
        linear_learner(data, clip_grad=0)


def test_label_smoothing_trains_less_confident_and_leaves_validation_plain(mnist_root):
    data = digits_at(mnist_root, 32)
    sharp, smooth = linear_learner(data), linear_learner(data, label_smoothing=0.3)
    for learn in (sharp, smooth):
        learn.fit(1e-3, 4)
    conf = {}
    for name, learn in (("sharp", sharp), ("smooth", smooth)):
        logits, targets = learn.get_preds("valid")
        # the validation loss is plain cross-entropy, smoothing or not
        assert learn.validate()["valid_loss"] == pytest.approx(F.cross_entropy(logits, targets).item(), rel=1e-5)
        conf[name] = logits.softmax(1).max(1).values.mean().item()
    assert conf["smooth"] < conf["sharp"] - 0.05, conf
    assert smooth.validate()["accuracy"] > 0.6
    table_like = linear_learner(data, loss_fn=torch.nn.MSELoss(), label_smoothing=0.0)  # no smoothing: fine
    assert table_like.label_smoothing == 0
    with pytest.raises(ValueError, match="label_smoothing is for classification"):
        linear_learner(data, loss_fn=torch.nn.MSELoss(), label_smoothing=0.1)
