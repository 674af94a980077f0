"""Schedules against their formulas, alone and as the learner applies them per group."""
import math

import numpy as np
import pytest

from fastlearn import Learner
from fastlearn.train import schedules


def test_sgdr_cycles_of_1_2_4_epochs_follow_cosine_with_restarts():
    ipe = 10
    s = schedules.sgdr(n_cycle=3, cycle_len=1, cycle_mult=2, iters_per_epoch=ipe)
    assert s.epochs == 7 and len(s) == 70
    starts, lengths = [0, 10, 30], [10, 20, 40]
    for start, T in zip(starts, lengths):
        for t in range(T):
            assert s.lr[start + t] == pytest.approx((1 + math.cos(math.pi * t / T)) / 2)
    assert [i for i in range(1, 70) if s.lr[i] > s.lr[i - 1]] == [10, 30]  # the restarts


def test_constant_and_one_cycle_shapes():
    assert (schedules.constant(2, 5).lr == 1).all()
    s = schedules.one_cycle(4, 25, pct_start=0.25, div=25, final_div=1e4)
    assert s.lr[0] == pytest.approx(1 / 25) and s.lr.argmax() == 25 and s.lr[25] == pytest.approx(1)
    assert (np.diff(s.lr[:26]) > 0).all() and (np.diff(s.lr[25:]) < 0).all() and s.lr[-1] < 1e-3
    assert s.mom[0] == pytest.approx(0.95) and s.mom[25] == pytest.approx(0.85) and s.mom[-1] > 0.94


def test_learner_applies_sgdr_to_each_group_with_its_own_rate(digits):
    learn = Learner.pretrained("tf_efficientnet_lite0", digits, progress=False)
    learn.unfreeze()
    base = [1e-5, 1e-4, 1e-3]
    learn.fit(base, 3, cycle_len=1, cycle_mult=2)
    ipe = learn.iters_per_epoch
    expected = schedules.sgdr(3, 1, 2, ipe).lr
    lrs = np.array(learn.recorder.lrs)
    assert lrs.shape == (7 * ipe, 3)
    for g in range(3):
        np.testing.assert_allclose(lrs[:, g], np.array(base[g]) * expected, rtol=1e-9)
    assert [r["epoch"] for r in learn.recorder.rows] == list(range(7))
    fig = learn.recorder.plot_lr(all_groups=True)
    assert len(fig.axes[0].lines) == 3
    learn.recorder.plot_loss()
