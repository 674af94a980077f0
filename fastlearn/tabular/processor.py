"""Turning table rows into model inputs, as fastai's Categorify, FillMissing and Normalize do,
with their known failures designed out: a category never seen in training maps to the
"unknown" index 0, and a continuous value missing anywhere (in validation, a test table, or a
row to predict, even where training had none missing) is filled with the training median."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch

from fastlearn.tabular.columns import ColumnPlan, expand_dates
from fastlearn.utils.errors import DataWarning
from fastlearn.utils.targets import category_key

__all__ = ["TabularProcessor", "category_key"]


class TabularProcessor:
    """State learnt from the training rows: the categories of each categorical column (index 0
    is "unknown or missing"), the median, mean and standard deviation of each continuous column,
    and which continuous columns get a `<name>_na` indicator (those missing anywhere in the table
    given to `fit`). Saved in the bundle as JSON (`to_json`), never pickled."""

    def __init__(self, cat_names: list[str], cont_names: list[str], date_names: list[str],
                 categories: dict[str, list[str]], medians: dict[str, float], means: dict[str, float],
                 stds: dict[str, float], na_names: list[str]):
        self.cat_names, self.cont_names, self.date_names = list(cat_names), list(cont_names), list(date_names)
        self.categories, self.medians, self.means, self.stds = categories, medians, means, stds
        self.na_names = list(na_names)
        self._index = {c: {v: i + 1 for i, v in enumerate(vals)} for c, vals in categories.items()}

    @classmethod
    def fit(cls, df: pd.DataFrame, plan: ColumnPlan, train_idx: np.ndarray) -> "TabularProcessor":
        """Learn the state from the rows `train_idx` of `df` (every row decides which continuous
        columns may miss: those that miss anywhere in it)."""
        full = expand_dates(df, plan.date_names)
        cats, conts = plan.expanded()
        train = full.iloc[train_idx]
        categories = {}
        for c in cats:
            seen = train[c].dropna().map(category_key)
            categories[c] = sorted(seen.unique().tolist(), key=lambda v: (len(v), v) if v.isdigit() else (1e9, v))
        medians, means, stds, na_names = {}, {}, {}, []
        for c in conts:
            values = pd.to_numeric(train[c], errors="coerce").astype("float64")
            med = float(values.median()) if values.notna().any() else 0.0
            filled = values.fillna(med)
            medians[c], means[c] = med, float(filled.mean())
            std = float(filled.std(ddof=0))
            stds[c] = std if std > 1e-12 else 1.0
            if pd.to_numeric(full[c], errors="coerce").isna().any():
                na_names.append(c)
        return cls(cats, conts, plan.date_names, categories, medians, means, stds, na_names)

    @property
    def embedding_cardinalities(self) -> list[int]:
        """Rows of each categorical embedding (the `_na` indicators last): categories + unknown."""
        return [len(self.categories[c]) + 1 for c in self.cat_names] + [3] * len(self.na_names)

    @property
    def input_names(self) -> list[str]:
        """The columns a row to predict may give (dates before expansion)."""
        expanded = {f"{d}_" for d in self.date_names}
        plain = [c for c in self.cat_names + self.cont_names if not any(c.startswith(p) for p in expanded)]
        return self.date_names + plain

    def transform(self, df: pd.DataFrame, warn_missing: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(categorical codes (n, n_cat) long, continuous values (n, n_cont) float) for `df`'s rows.
        A column the model needs and `df` lacks is treated as missing in every row (said in a
        warning unless `warn_missing` is False)."""
        absent = [c for c in self.input_names if c not in df.columns]
        if absent and warn_missing:
            warnings.warn(DataWarning(f"no column {', '.join(map(repr, absent))} in the rows given: treated as "
                                      "missing (categories as unknown, numbers as the training median)"),
                          stacklevel=3)
        full = expand_dates(df, [d for d in self.date_names if d in df.columns])
        full = full.reindex(columns=list(dict.fromkeys(list(full.columns) + self.cat_names + self.cont_names)))
        codes = []
        for c in self.cat_names:
            index, col = self._index[c], full[c]
            # each distinct value's code once, then one vectorised lookup for the rows
            lookup = {v: index.get(category_key(v), 0) for v in col.dropna().unique()}
            codes.append(col.map(lookup).fillna(0).to_numpy(dtype=np.int64))
        values, na = [], []
        for c in self.cont_names:
            v = pd.to_numeric(full[c], errors="coerce").astype("float64")
            if c in self.na_names:
                na.append(v.isna().to_numpy().astype(np.int64) + 1)  # 1: present, 2: missing (0 unused)
            values.append(((v.fillna(self.medians[c]) - self.means[c]) / self.stds[c]).to_numpy())
        n = len(df)
        cat = np.stack(codes + na, 1) if codes or na else np.zeros((n, 0), np.int64)
        cont = np.stack(values, 1) if values else np.zeros((n, 0))
        return torch.from_numpy(cat.astype(np.int64)), torch.from_numpy(cont.astype(np.float32))

    def to_json(self) -> dict:
        return {"cat_names": self.cat_names, "cont_names": self.cont_names, "date_names": self.date_names,
                "categories": self.categories, "medians": self.medians, "means": self.means, "stds": self.stds,
                "na_names": self.na_names}

    @classmethod
    def from_json(cls, d: dict) -> "TabularProcessor":
        return cls(d["cat_names"], d["cont_names"], d["date_names"], d["categories"], d["medians"], d["means"],
                   d["stds"], d["na_names"])
