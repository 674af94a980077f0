"""EMA: the moving average of the weights is what validation scores and what the model keeps."""
import pytest
import torch

from fastlearn.train import EMA, Callback
from tests.train.toolbox_models import digits_at, linear_learner


class _TrainingWeights(Callback):
    order = 10

    def __init__(self):
        self.seen = []

    def batch_end(self, learn, loss):
        self.seen.append(learn.model.fc.weight.detach().clone())


def test_the_model_ends_with_the_moving_average_of_its_training_weights(mnist_root):
    learn = linear_learner(digits_at(mnist_root, 32))
    spy = _TrainingWeights()
    decay = 0.8
    learn.fit(1e-3, 2, callbacks=[EMA(decay), spy])
    expected = spy.seen[0]
    for w in spy.seen[1:]:
        expected = decay * expected + (1 - decay) * w
    torch.testing.assert_close(learn.model.fc.weight, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(learn.model.fc.weight, spy.seen[-1], atol=1e-5)
    # the last epoch's validation scored these weights
    assert learn.recorder.rows[-1]["valid_loss"] == pytest.approx(learn.validate()["valid_loss"], rel=1e-5)


def test_training_goes_on_from_its_own_weights_between_epochs(mnist_root):
    learn = linear_learner(digits_at(mnist_root, 32))
    spy = _TrainingWeights()
    learn.fit(1e-3, 2, callbacks=[EMA(0.99), spy])
    plain_spy = _TrainingWeights()
    linear_learner(digits_at(mnist_root, 32)).fit(1e-3, 2, callbacks=[plain_spy])
    # the shadow swapped in for validation went back out: the training weights are EMA's or not alike
    torch.testing.assert_close(spy.seen[-1], plain_spy.seen[-1], atol=1e-6, rtol=1e-5)
