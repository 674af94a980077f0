"""MixUp and CutMix mix training batches (images and targets alike), and nothing else."""
import numpy as np
import pytest
import torch

from fastlearn import Learner, TabularData
from fastlearn.train import Callback, CutMix, MixUp
from tests.train.toolbox_models import digits_at, linear_learner


class _Batches(Callback):
    """What the model is given in training (after the mixing), and in validation."""
    order = 10

    def __init__(self):
        self.train = []

    def batch_begin(self, learn, xb, yb):
        self.train.append((xb.clone(), yb.clone()))
        return xb, yb


def _plain_batches(data):
    return list(data.loader("train"))  # the same seed: the same order as the fit's first epoch


@pytest.mark.parametrize("mix", [MixUp(0.4), CutMix(1.0)], ids=["mixup", "cutmix"])
def test_training_batches_are_mixed_with_their_targets(mix, mnist_root):
    np.random.seed(0)  # timm draws the mixing weight from NumPy's global generator
    data = digits_at(mnist_root, 32)
    plain = _plain_batches(data)
    spy = _Batches()
    learn = linear_learner(data)
    learn.fit(1e-3, 1, callbacks=[mix, spy])
    (x, y), (x0, y0) = spy.train[0], plain[0]
    assert y.shape == (32, 10) and torch.allclose(y.sum(1), torch.ones(32))  # soft targets, a distribution
    assert not torch.equal(x, x0)
    # each image is lam of its own and (1 - lam) of the batch reversed, its target the same mixture
    i = int(torch.nonzero(y0 != y0.flip(0))[0])  # an image whose partner is of another class
    lam = float(y[i, y0[i]])
    assert 0 < lam < 1 and float(y[i, y0.flip(0)[i]]) == pytest.approx(1 - lam)
    if isinstance(mix, MixUp):
        torch.testing.assert_close(x[i], lam * x0[i] + (1 - lam) * x0.flip(0)[i], atol=1e-4, rtol=1e-4)
    if isinstance(mix, CutMix):  # pixels are either the image's own or its partner's
        own, other = (x == x0), (x == x0.flip(0))
        assert bool((own | other).all()) and not bool(own.all())
    # validation and prediction see plain images: the loss reported is the plain one on them
    logits, targets = learn.get_preds("valid")
    assert learn.recorder.rows[-1]["valid_loss"] == pytest.approx(
        torch.nn.functional.cross_entropy(logits, targets).item(), rel=1e-5)


def test_mixup_learns_digits_and_refuses_what_is_not_images(mnist_root, titanic_df):
    learn = Learner.pretrained("tf_efficientnet_lite0", digits_at(mnist_root, 32), seed=0, progress=False)
    learn.fit_one_cycle(3, 2e-3, callbacks=[MixUp(0.2)])
    assert learn.validate()["accuracy"] > 0.5
    table = Learner.tabular(TabularData.from_df(titanic_df, "survived", valid_pct=0.2, seed=0), progress=False)
    with pytest.raises(ValueError, match="MixUp mixes images; this data is table"):
        table.fit(1e-3, 1, callbacks=[MixUp(0.4)])
    learn.precompute = True
    with pytest.raises(ValueError, match="precompute"):
        learn.fit(1e-3, 1, callbacks=[CutMix()])
