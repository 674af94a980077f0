"""lr_find's suggestion rules on sweeps of known shape, and its length on small data."""
import numpy as np
import pytest

from fastlearn.train.lr_finder import RULES, LRFind, lr_find_iterations


def _sweep(n=60, seed=0, plateau=3.7, bottom=1.0, noise=0.15):
    """A plateau, a fall between 1e-4 and 1e-1, then a blow-up; noisy like a small batch's losses."""
    lrs = np.geomspace(1e-7, 10, n)
    x = np.log10(lrs)
    loss = bottom + (plateau - bottom) / (1 + np.exp(3 * (x + 2.5))) + np.where(x > -1, 8 * (x + 1) ** 2, 0)
    loss = loss + np.random.default_rng(seed).normal(0, noise, n)
    return lrs, loss


@pytest.mark.parametrize("seed", range(5))
def test_every_rule_lies_where_the_loss_was_still_falling(seed):
    lrs, loss = _sweep(seed=seed)
    result = LRFind.from_sweep(lrs, loss)
    for rule in RULES:
        assert lrs[0] <= result.suggest(rule) <= result.lr_min
    # valley: halfway down the fall, not on the plateau where noise can make a long "descent"
    assert 1e-4 < result.valley < 3e-2 and result.suggestion == result.valley and float(result) == result.valley
    assert result.suggest("minimum") == pytest.approx(result.lr_min / 10)
    assert "valley" in repr(result)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("first", [4.7, 2.8])
def test_an_odd_first_batch_does_not_pull_the_suggestion_onto_the_flat_start(seed, first):
    lrs, loss = _sweep(n=81, seed=seed, plateau=3.5, bottom=2.8)
    loss[0] = first  # one batch well above or below the plateau, as a small batch's first loss can be
    result = LRFind.from_sweep(lrs, loss)
    assert 1e-4 < result.valley < 3e-2 and result.lr_min > 1e-3  # (steep, not the default, can still be fooled)


def test_a_dip_on_a_shallow_plateau_is_not_taken_for_the_fall():
    lrs, loss = _sweep(n=66, plateau=0.9, bottom=0.78, noise=0.0)
    loss[12:16] = 0.83  # below halfway (0.84) long before the real fall, as a text head's sweep was
    result = LRFind.from_sweep(lrs, loss, beta=0.0)  # these are the smoothed losses already
    assert 1e-4 < result.valley < 3e-2


def test_another_rule_can_be_asked_for_and_a_wrong_one_is_named():
    lrs, loss = _sweep()
    assert LRFind.from_sweep(lrs, loss, rule="minimum").suggestion == LRFind.from_sweep(lrs, loss).suggest("minimum")
    with pytest.raises(ValueError, match="valley, minimum, steep"):
        LRFind.from_sweep(lrs, loss, rule="slide")


def test_the_sweep_is_in_proportion_to_the_data():
    assert lr_find_iterations(10) == 40  # 120 images in batches of 12: four epochs, not ten
    assert lr_find_iterations(20) == 60 and lr_find_iterations(62) == 100 and lr_find_iterations(5000) == 100


def test_differential_rates_keep_their_ratios_in_the_sweep(titanic_df):
    from fastlearn import Learner, TabularData
    data = TabularData.from_df(titanic_df, "survived", valid_pct=0.2, seed=0, device="cpu")
    learn = Learner.tabular(data, progress=False)
    seen = []

    def record(opt, args, kwargs):
        seen.append([g["lr"] for g in opt.param_groups])
    learn._optimizer().register_step_pre_hook(record)
    finder = learn.lr_find(lrs=[1e-4, 1e-3, 1e-2], num_it=20)
    assert finder.ratios == pytest.approx([0.01, 0.1, 1.0])
    by_group = {g: [row[i] for row in seen] for i, g in enumerate(learn._opt_layer)}
    assert np.allclose(np.array(by_group[0]) * 100, by_group[2]) and np.allclose(np.array(by_group[1]) * 10, by_group[2])
    learn.fit(slice(1e-4, 1e-2), 1)  # after a fit at differential rates, lr_find keeps that fit's ratios
    seen.clear()
    assert learn.lr_find(num_it=20).ratios == pytest.approx([0.01, 0.1, 1.0])
    learn.fit(1e-3, 1)
    assert learn.lr_find(num_it=20).ratios == [1.0, 1.0, 1.0]
