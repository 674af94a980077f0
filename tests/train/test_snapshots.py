"""Snapshot ensembles: a saved model per SGDR cycle, their predictions averaged."""
import pytest
import torch

from fastlearn.train import Callback
from tests.train.toolbox_models import digits_at, linear_learner


class _WeightsAfterEpoch(Callback):
    order = 10

    def __init__(self):
        self.weights = {}

    def epoch_end(self, learn, epoch, row):
        self.weights[epoch] = {k: v.clone() for k, v in learn.model.state_dict().items()}


def test_one_snapshot_per_cycle_and_their_averaged_predictions(mnist_root, tmp_path):
    learn = linear_learner(digits_at(mnist_root, 32), model_dir=tmp_path)
    spy = _WeightsAfterEpoch()
    learn.fit(1e-3, 3, cycle_len=1, cycle_mult=2, cycle_save_name="snap", callbacks=[spy])  # cycles of 1, 2, 4 epochs
    assert sorted(p.name for p in tmp_path.glob("snap_cyc_*")) == [f"snap_cyc_{k}.safetensors" for k in range(3)]
    final = {k: v.clone() for k, v in learn.model.state_dict().items()}
    singles = []
    for k, epoch in enumerate([0, 2, 6]):  # each cycle's last epoch
        learn.load(f"snap_cyc_{k}")
        assert all(torch.equal(learn.model.state_dict()[n], spy.weights[epoch][n]) for n in final)
        singles.append(learn.predict()[0])
    learn.model.load_state_dict(final)
    probs, targets = learn.predict_ensemble("snap")
    torch.testing.assert_close(probs, sum(singles) / 3)
    assert all(torch.equal(learn.model.state_dict()[n], final[n]) for n in final)  # the weights are as they were
    assert len(targets) == len(probs) and (probs.argmax(1) == targets).float().mean() > 0.4
    with pytest.raises(FileNotFoundError, match="cycle_save_name='other'"):
        learn.predict_ensemble("other")
