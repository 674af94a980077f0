"""Deciding what each column of a table is: categorical, continuous, a date to expand, or left out."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from fastlearn.utils.errors import DataError

__all__ = ["ColumnPlan", "plan_columns", "DATE_PARTS", "expand_dates", "MAX_CARD"]

MAX_CARD = 20  # whole numbers with at most this many values are categories (fastai's cont_cat_split)
DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "elapsed")
_DATE_CATEGORIES = ("month", "dayofweek")  # parts that are categories; the others are continuous


@dataclass
class ColumnPlan:
    """Which columns are categorical, continuous, dates (expanded into `DATE_PARTS`), and which
    are left out, with the reason for each decision."""

    cat_names: list[str]
    cont_names: list[str]
    date_names: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def expanded(self) -> tuple[list[str], list[str]]:
        """(categorical, continuous) names once the dates are expanded into their parts."""
        cats, conts = list(self.cat_names), list(self.cont_names)
        for d in self.date_names:
            cats += [f"{d}_{p}" for p in DATE_PARTS if p in _DATE_CATEGORIES]
            conts += [f"{d}_{p}" for p in DATE_PARTS if p not in _DATE_CATEGORIES]
        return cats, conts


def _looks_like_dates(s: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(s):
        return True
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return False
    sample = s.dropna().astype(str).head(200)
    if sample.empty or sample.str.fullmatch(r"[-+]?\d+(\.\d+)?").mean() > 0.5:  # numbers, not dates
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return parsed.notna().mean() >= 0.9


def _missing_columns(df: pd.DataFrame, names, what: str) -> None:
    unknown = [n for n in names if n not in df.columns]
    if unknown:
        raise DataError(f"{what}: no column {', '.join(map(repr, unknown))} in the table; its columns are "
                        f"{', '.join(map(str, df.columns))}")


def plan_columns(df: pd.DataFrame, target: str | None, cat_names=None, cont_names=None,
                 max_card: int = MAX_CARD) -> ColumnPlan:
    """Classify every column but `target`. Strings, booleans, categories and whole numbers with
    at most `max_card` values are categorical; other numbers continuous; a column of dates is
    expanded into its parts. Left out, with the reason: a column empty, constant, or (not a
    float) unique per row, such as a name or an id. `cat_names` / `cont_names` override the
    choice for the columns they name (and a column named in neither is then left out)."""
    if cat_names is not None:
        _missing_columns(df, cat_names, "cat_names")
    if cont_names is not None:
        _missing_columns(df, cont_names, "cont_names")
    plan = ColumnPlan([], [])
    chosen = cat_names is not None or cont_names is not None
    for col in df.columns:
        if col == target:
            continue
        name = str(col)
        s = df[col]
        if chosen:
            if cat_names is not None and col in cat_names:
                plan.cat_names.append(name)
                plan.reasons[name] = "categorical (as asked)"
            elif cont_names is not None and col in cont_names:
                if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                    raise DataError(f"cont_names: column {name!r} holds {s.dtype} values, not numbers; "
                                    "name it in cat_names instead")
                plan.cont_names.append(name)
                plan.reasons[name] = "continuous (as asked)"
            else:
                plan.dropped[name] = "not named in cat_names or cont_names"
            continue
        present = s.dropna()
        n_unique = present.nunique()
        if present.empty:
            plan.dropped[name] = "empty"
        elif n_unique == 1:
            plan.dropped[name] = "constant"
        elif _looks_like_dates(s):
            plan.date_names.append(name)
            plan.reasons[name] = "dates: expanded into " + ", ".join(DATE_PARTS)
        elif pd.api.types.is_float_dtype(s):
            plan.cont_names.append(name)
            plan.reasons[name] = "continuous (numbers)"
        elif n_unique == len(s) and len(s) >= 20 and (not pd.api.types.is_numeric_dtype(s) or _counts_rows(present)):
            plan.dropped[name] = "unique per row (an id or a name)"
        elif pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            plan.cat_names.append(name)
            plan.reasons[name] = f"categorical ({n_unique} values)"
        elif n_unique <= max_card:
            plan.cat_names.append(name)
            plan.reasons[name] = f"categorical (whole numbers, {n_unique} values <= {max_card})"
        else:
            plan.cont_names.append(name)
            plan.reasons[name] = f"continuous (whole numbers, {n_unique} values > {max_card})"
    return plan


def _counts_rows(values: pd.Series) -> bool:
    """Whole numbers that number the rows: every value of a contiguous range (1, 2, 3, ... in any
    order), as an id column holds; unique measurements (incomes, say) are not."""
    if pd.api.types.is_bool_dtype(values):
        return False
    return int(values.max()) - int(values.min()) + 1 == len(values)


def expand_dates(df: pd.DataFrame, date_names: list[str]) -> pd.DataFrame:
    """A copy of `df` with each date column replaced by its parts (`DATE_PARTS`; `elapsed` is
    seconds since 1970). Values that are not dates become missing parts."""
    if not date_names:
        return df
    df = df.copy()
    for d in date_names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = pd.to_datetime(df[d], errors="coerce", format="mixed") if d in df.columns else \
                pd.Series(pd.NaT, index=df.index)
        parts = {"year": t.dt.year, "month": t.dt.month, "day": t.dt.day, "dayofweek": t.dt.day_of_week,
                 "dayofyear": t.dt.day_of_year,
                 "elapsed": (t - pd.Timestamp("1970-01-01")).dt.total_seconds()}
        for p in DATE_PARTS:
            df[f"{d}_{p}"] = parts[p].astype("float64")
        if d in df.columns:
            df = df.drop(columns=[d])
    return df
