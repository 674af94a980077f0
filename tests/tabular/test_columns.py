"""Deciding what each column is, on a generated table with every kind of column."""
import numpy as np
import pandas as pd
import pytest

from fastlearn.tabular import plan_columns
from fastlearn.utils.errors import DataError


def _table(n=60):
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": np.arange(n), "name": [f"person {i}" for i in range(n)], "empty": [np.nan] * n, "same": ["x"] * n,
        "colour": rng.choice(["red", "green", "blue"], n), "flag": rng.random(n) > 0.5,
        "rooms": rng.integers(1, 6, n), "income": rng.integers(1000, 90000, n), "height": rng.normal(170, 10, n),
        "day": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"), "y": rng.integers(0, 2, n)})


def test_every_column_is_classified_with_a_reason():
    plan = plan_columns(_table(), "y")
    assert plan.cat_names == ["colour", "flag", "rooms"] and plan.cont_names == ["income", "height"]
    assert plan.date_names == ["day"]
    assert plan.dropped == {"id": "unique per row (an id or a name)", "name": "unique per row (an id or a name)",
                            "empty": "empty", "same": "constant"}
    cats, conts = plan.expanded()
    assert "day_dayofweek" in cats and "day_year" in conts and "day_elapsed" in conts


def test_the_choice_can_be_overridden_and_a_wrong_name_lists_the_columns():
    plan = plan_columns(_table(), "y", cat_names=["rooms"], cont_names=["income"])
    assert plan.cat_names == ["rooms"] and plan.cont_names == ["income"] and "colour" in plan.dropped
    with pytest.raises(DataError, match="cat_names: no column 'Colour'.*its columns are id, name"):
        plan_columns(_table(), "y", cat_names=["Colour"])
    with pytest.raises(DataError, match="column 'colour' holds .* not numbers; name it in cat_names"):
        plan_columns(_table(), "y", cont_names=["colour"])
