"""TabularData on generated tables with every edge case, and the processing they need."""

import numpy as np
import pandas as pd
import pytest
import torch

from fastlearn import Learner, TabularData, load_learner
from fastlearn.utils.errors import DataError, DataWarning


def _table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    colour = rng.choice(["red", "green", "blue"], n)
    y = ((x > 0) ^ (colour == "red")).astype(int)
    return pd.DataFrame({"x": x, "colour": colour, "noise": rng.normal(0, 1, n), "y": y})


def test_the_target_is_checked_with_messages_that_say_what_to_do(tmp_path):
    df = _table()
    with pytest.raises(DataError, match="no target column 'Y'; the table's columns are x, colour, noise, y"):
        TabularData.from_df(df, "Y")
    with pytest.raises(DataError, match="one class only"):
        TabularData.from_df(df.assign(y=1), "y")
    gaps = df.astype({"y": "float64"})
    gaps.loc[[3, 5, 7], "y"] = np.nan
    with pytest.warns(DataWarning, match="3 of 200 rows have no 'y' and were left out"):
        data = TabularData.from_df(gaps, "y")
    assert len(data.df) == 197 and data.classes == ["0", "1"]
    (tmp_path / "latin.csv").write_bytes("x,y\ncaf\xe9,1\nth\xe9,0\nd\xe9j\xe0,1\nn\xe9e,0\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin.csv is not UTF-8.*encoding='latin-1'"):
        TabularData.from_csv(tmp_path / "latin.csv", "y")
    assert TabularData.from_csv(tmp_path / "latin.csv", "y", encoding="latin-1", valid_idx=[0]).c == 2


def test_unseen_categories_and_values_missing_only_outside_training_are_handled(tmp_path):
    df = _table()
    valid = np.arange(150, 200)
    df.loc[160:170, "x"] = np.nan  # missing in validation only
    df.loc[180:185, "colour"] = "purple"  # a category training never saw
    data = TabularData.from_df(df, "y", valid_idx=valid)
    p = data.processor
    assert "x" in p.na_names and "noise" not in p.na_names  # the indicator where values may miss
    assert p.medians["x"] == pytest.approx(float(df.loc[:149, "x"].median()))
    codes, values = p.transform(df.iloc[160:171])
    assert torch.isfinite(values).all()
    assert (codes[:, -1] == 2).all()  # x_na: missing
    assert (p.transform(df.iloc[180:186])[0][:, 0] == 0).all()  # purple: the unknown index
    learn = Learner.tabular(data, seed=0, progress=False)
    learn.fit_one_cycle(3, 1e-2)
    assert np.isfinite(learn.validate()["valid_loss"])
    bundle = learn.export(tmp_path / "model")
    pred = load_learner(bundle)
    with pytest.warns(DataWarning, match="no column 'noise'"):
        r = pred.predict({"x": None, "colour": "never seen"})  # missing value, unknown category, absent column
    assert r.label in ("0", "1") and 0 <= r.probability <= 1


def test_a_float_target_is_a_regression_with_rmse():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, 400)
    df = pd.DataFrame({"x": x, "g": rng.choice(list("ab"), 400), "y": 3 * x + 1 + rng.normal(0, 0.1, 400)})
    data = TabularData.from_df(df, "y", seed=0)
    assert data.regression and data.c == 1
    learn = Learner.tabular(data, layers=(50,), seed=0, progress=False)
    learn.fit_one_cycle(30, 1e-2)
    assert learn.validate()["rmse"] < 0.5  # the target's spread is 3
    preds, targets = learn.predict()
    assert preds.shape == (len(data.valid_idx), 1)
    with pytest.raises(ValueError, match="a regression has none"):
        learn.calibrate()


def test_the_learner_reaches_the_logistic_regression_on_titanic(titanic_df):
    data = TabularData.from_df(titanic_df, "survived", valid_pct=0.2, seed=0)
    summary = data.summary(show=False)
    assert summary.loc["name", "use"] == "left out" and summary.loc["sex", "use"] == "categorical"
    learn = Learner.tabular(data, seed=0, progress=False)
    learn.fit_one_cycle(10, 1e-2)
    assert learn.validate()["accuracy"] >= 0.78
    fig = learn.interpret().plot_top_losses(5)  # the rows, as a table
    texts = [cell.get_text().get_text() for cell in fig.axes[0].tables[0].get_celld().values()]
    assert "sex" in texts and any(t.startswith("0 / 1") or t.startswith("1 / 0") for t in texts)


def test_dates_are_expanded_and_a_test_table_is_predicted_by_row(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    days = pd.date_range("2024-01-01", periods=n, freq="D")
    df = pd.DataFrame({"when": days.strftime("%Y-%m-%d"), "x": rng.normal(0, 1, n)})
    df["busy"] = (days.day_of_week >= 5).astype(int)  # weekends: learnable only from the date's parts
    test = df.drop(columns=["busy"]).tail(20).reset_index(drop=True)
    data = TabularData.from_df(df, "busy", test_df=test, seed=0)
    assert data.plan.date_names == ["when"] and "when_dayofweek" in data.processor.cat_names
    learn = Learner.tabular(data, seed=0, progress=False)
    learn.fit_one_cycle(15, 1e-2)
    assert learn.validate()["accuracy"] >= 0.95
    probs, rows = learn.predict("test")
    assert rows == list(range(20)) and probs.shape == (20, 2)
    pred = load_learner(learn.export(tmp_path / "model"))
    saturday = pred.predict({"when": "2024-06-08", "x": 0.0})
    assert saturday.label == "1" and pred.predict({"when": "2024-06-10", "x": 0.0}).label == "0"
