"""EarlyStopping ends a fit that stopped improving, and can put the best weights back."""
import pytest
import torch

from fastlearn.train import Callback, EarlyStopping
from tests.train.toolbox_models import digits_at, linear_learner


class _WeightsAfterEpoch(Callback):
    order = 10

    def __init__(self):
        self.weights = {}

    def epoch_end(self, learn, epoch, row):
        self.weights[epoch] = learn.model.fc.weight.detach().clone()


def test_stops_after_patience_epochs_without_improvement_and_restores_the_best(mnist_root, capsys):
    learn = linear_learner(digits_at(mnist_root, 32))
    spy = _WeightsAfterEpoch()
    # an improvement must beat the best by 10: only the first epoch counts as one
    stopper = EarlyStopping(monitor="valid_loss", patience=2, min_delta=10.0, restore_best=True)
    learn.fit(1e-3, 10, callbacks=[stopper, spy])
    assert learn.epoch == 3 and len(learn.recorder.rows) == 3 and stopper.stopped_epoch == 2
    assert "early stopping after epoch 2" in capsys.readouterr().out
    assert torch.equal(learn.model.fc.weight, spy.weights[0])  # epoch 0's weights are back
    assert not torch.equal(spy.weights[0], spy.weights[2])


def test_runs_to_the_end_within_patience_and_checks_its_monitor(mnist_root):
    assert EarlyStopping(monitor="accuracy").mode == "max" and EarlyStopping().mode == "min"
    learn = linear_learner(digits_at(mnist_root, 32))
    stopper = EarlyStopping(monitor="accuracy", patience=3)
    learn.fit(1e-3, 3, callbacks=[stopper])
    assert learn.epoch == 3 and stopper.stopped_epoch is None
    with pytest.raises(KeyError, match="f1"):
        learn.fit(1e-3, 1, callbacks=[EarlyStopping(monitor="f1")])
