"""Replacing a pretrained network's head: by assignment, by `replace_head`, by `head=`."""
import pytest
import torch
from torch import nn

from fastlearn import Learner


def test_an_assigned_head_layer_trains_and_joins_the_last_layer_group(digits, tmp_path):
    learn = Learner.pretrained("tf_efficientnet_lite0", digits, seed=0, progress=False)
    learn.fit_one_cycle(1, 1e-3)
    learn.model.head.fc = nn.Sequential(nn.Flatten(), nn.Linear(2 * learn.model.n_features, digits.c))
    new = learn.model.head.fc[1].weight
    before = new.detach().clone()
    assert any(p is new for p in learn.model.layer_groups[-1])
    learn.fit_one_cycle(2, 3e-3)  # used to raise KeyError: 'head.fc.2.weight'
    assert not torch.equal(before, new.detach()) and learn.validate()["accuracy"] > 0.3  # chance: 0.1
    with pytest.raises(ValueError, match="head of your own"):
        learn.export(tmp_path / "model")  # a bundle could not rebuild it: refused, nothing written
    assert not (tmp_path / "model").exists()


def test_a_head_of_your_own_from_the_start_or_swapped_in(digits):
    def linear_head(n_features, n_out):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(n_features, n_out))
    learn = Learner.pretrained("tf_efficientnet_lite0", digits, seed=0, progress=False, head=linear_head)
    assert isinstance(learn.model.head[2], nn.Linear) and learn.model.body_frozen
    trainable = [p for g in learn.model.layer_groups for p in g if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in learn.model.head.parameters()}  # only the new head
    learn.fit_one_cycle(3, 1e-2)
    assert learn.validate()["accuracy"] > 0.3
    learn.replace_head(linear_head(learn.model.n_features, digits.c))
    assert learn.opt is None and learn.validate()["accuracy"] < 0.3  # a fresh head knows nothing yet
