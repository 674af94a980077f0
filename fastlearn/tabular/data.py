"""A table to learn from: its columns decided and processed once, kept as tensors on the device."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from fastlearn.tabular.columns import MAX_CARD, plan_columns
from fastlearn.tabular.loader import TableLoader
from fastlearn.tabular.processor import TabularProcessor
from fastlearn.utils.device import default_device
from fastlearn.utils.errors import DataError, DataWarning
from fastlearn.train.splits import SplitData
from fastlearn.utils.csv_files import read_table
from fastlearn.utils.targets import encode_classes, stratified_valid

__all__ = ["TabularData", "read_table"]

EVAL_BS = 4096


class TabularData(SplitData):
    """Rows of a table with a target column, ready for `Learner.tabular`.

    Columns are classified by `plan_columns` (override with `cat_names` / `cont_names`) and
    processed by a `TabularProcessor` fitted on the training rows. The target is a class
    (strings, booleans, whole numbers with at most 20 values: accuracy and log loss) or, for
    other numbers, a value to regress (MSE loss, RMSE; `regression=` decides it explicitly).
    Rows whose target is missing are left out with a warning. The whole table lives as tensors
    on `device`; a batch is an index slice."""

    kind = "table"
    multi_label = False
    split_hints = {"test": "pass test_df= to TabularData.from_df (or test_csv= to from_csv)",
                   "valid": "pass valid_pct= or valid_idx=", "train": "give it rows with a target"}

    def __init__(self, df: pd.DataFrame, target: str, valid_idx: Sequence[int] | None = None,
                 valid_pct: float = 0.2, seed: int = 0, cat_names: Sequence[str] | None = None,
                 cont_names: Sequence[str] | None = None, test_df: pd.DataFrame | None = None, bs: int = 64,
                 device: str | torch.device | None = None, regression: bool | None = None,
                 max_card: int = MAX_CARD, path: str | Path | None = None):
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
        if target not in df.columns:
            raise DataError(f"no target column {target!r}; the table's columns are {', '.join(map(str, df.columns))}")
        if not 0 < valid_pct < 1 and valid_idx is None:
            raise ValueError(f"valid_pct must be between 0 and 1, got {valid_pct}")
        if int(bs) < 2:
            raise ValueError(f"bs must be at least 2 (BatchNorm needs two rows), got {bs}")
        df = df.reset_index(drop=True)
        missing = df[target].isna().to_numpy()
        if missing.all():
            raise DataError(f"the target column {target!r} is empty")
        if missing.any():
            warnings.warn(DataWarning(f"{int(missing.sum())} of {len(df)} rows have no {target!r} and were left out"),
                          stacklevel=3)
            if valid_idx is not None:
                keep = np.flatnonzero(~missing)
                valid_idx = np.searchsorted(keep, [i for i in valid_idx if not missing[i]])
            df = df[~missing].reset_index(drop=True)
        self.df, self.target, self.seed, self.bs = df, target, seed, int(bs)
        self.path = Path(path) if path is not None else None
        y_raw = df[target]
        if regression is None:
            regression = (pd.api.types.is_float_dtype(y_raw) and y_raw.nunique() > max_card
                          or pd.api.types.is_integer_dtype(y_raw) and y_raw.nunique() > max_card)
        self.regression = bool(regression)
        if self.regression:
            if not pd.api.types.is_numeric_dtype(y_raw):
                raise DataError(f"regression needs a numeric target; {target!r} holds {y_raw.dtype} values")
            self.classes = [str(target)]
            y = torch.tensor(y_raw.to_numpy(dtype=np.float32)).view(-1, 1)
        else:
            self.classes, codes = encode_classes(y_raw, f"the target {target!r}", "rows")
            y = torch.tensor(codes)
        n = len(df)
        if valid_idx is not None:
            valid = np.unique(np.asarray(valid_idx, dtype=np.int64))
            if len(valid) and (valid.min() < 0 or valid.max() >= n):
                raise DataError(f"valid_idx holds row positions from 0 to {n - 1}; got {valid.min()}..{valid.max()}")
        elif self.regression:
            valid = np.sort(np.random.default_rng(seed).permutation(n)[:int(round(n * valid_pct))])
        else:
            valid = stratified_valid(y.numpy(), valid_pct, seed)
        train = np.setdiff1d(np.arange(n), valid)
        if len(train) < 2:
            raise DataError(f"{len(train)} training row(s) after the validation split: give more rows")
        self.train_idx, self.valid_idx = train, valid
        self.plan = plan_columns(df, target, cat_names, cont_names, max_card)
        if not (self.plan.cat_names or self.plan.cont_names or self.plan.date_names):
            raise DataError("no column is left to learn from: " + "; ".join(f"{c}: {why}" for c, why
                                                                           in self.plan.dropped.items()))
        self.test_df = None if test_df is None else test_df.reset_index(drop=True)
        whole = df if self.test_df is None else pd.concat([df, self.test_df], ignore_index=True)
        self.processor = TabularProcessor.fit(whole, self.plan, train)
        self.device = torch.device(device) if device is not None else default_device()
        cats, conts = self.processor.transform(whole, warn_missing=False)
        n_test = 0 if self.test_df is None else len(self.test_df)
        y_all = torch.cat([y, torch.full((n_test, *y.shape[1:]), -1, dtype=y.dtype)]) if n_test else y
        self.cats, self.conts, self.y = cats.to(self.device), conts.to(self.device), y_all.to(self.device)
        self.test_idx = np.arange(n, n + n_test)
        self._dls: dict[str, TableLoader] = {}

    @classmethod
    def from_df(cls, df: pd.DataFrame, target: str, **options) -> "TabularData":
        """From a DataFrame; `valid_idx` (row positions) or `valid_pct` (default 0.2, stratified by
        class) chooses the validation rows. See the class for the other options."""
        return cls(df, target, **options)

    @classmethod
    def from_csv(cls, path: str | Path, target: str, test_csv: str | Path | None = None,
                 encoding: str | None = None, **options) -> "TabularData":
        """From a CSV file (and a test CSV of rows to predict, without the target)."""
        df = read_table(path, encoding)
        test = read_table(test_csv, encoding) if test_csv is not None else None
        return cls(df, target, test_df=test, path=Path(path).parent, **options)

    # ----- what the Learner asks of a data kind -----------------------------------------------
    @property
    def metrics(self) -> list:
        from fastlearn.train.metrics import accuracy, rmse
        return [rmse] if self.regression else [accuracy]

    def loader(self, split: str, augment: bool | None = None, shuffle: bool | None = None, bs: int | None = None,
               seed: int | None = None) -> TableLoader:
        """Batches of `split` (shuffled for train unless told); `augment` is accepted and ignored
        (tables have no augmentation). Validation and test batches hold up to 4,096 rows:
        evaluating needs no gradients, and a table's rows are small."""
        train = split == "train"
        bs = bs or (self.bs if train else max(self.bs, EVAL_BS))
        return TableLoader(self.cats, self.conts, self.y, torch.from_numpy(self._split_idx(split)), bs,
                           shuffle=train if shuffle is None else shuffle, drop_last=train,
                           seed=self.seed if seed is None else seed)

    def statistics_batches(self) -> TableLoader:
        """Every training row in one batch: `precise_bn`'s pass over the training set, exact and
        at the cost of one step."""
        return self.loader("train", shuffle=False, bs=max(2, len(self.train_idx)))

    def build_model(self, layers: Sequence[int] = (200, 100), ps: Sequence[float] | None = None,
                    emb_drop: float = 0.0, y_range: tuple[float, float] | None = None):
        """`Learner.tabular`'s model for this table (see `TabularModel`)."""
        from fastlearn.tabular.model import TabularModel
        return TabularModel(self.processor.embedding_cardinalities, len(self.processor.cont_names), self.c,
                            layers, ps, emb_drop, y_range)

    def bundle_state(self) -> dict:
        """What a bundle needs to turn a row into the model's inputs as training did."""
        return {"processor": self.processor.to_json(), "target": str(self.target), "regression": self.regression}

    def items_of(self, split: str):
        """The rows of `split`, as interpretation shows them (a table)."""
        from fastlearn.tabular.show import RowItems
        frame = self.df if split != "test" else self.test_df
        offset = 0 if split != "test" else len(self.df)
        return RowItems(frame.iloc[self._split_idx(split) - offset])

    def item_names(self, split: str) -> list:
        """Row positions of `split` in the table it came from (the test table for "test")."""
        idx = self._split_idx(split)
        return list(idx - len(self.df)) if split == "test" else list(idx)

    def fingerprint(self) -> str:
        """A key that changes with the rows, the split or the columns' processing."""
        h = hashlib.sha256(pd.util.hash_pandas_object(self.df, index=False).to_numpy().tobytes())
        h.update(np.ascontiguousarray(self.valid_idx).tobytes())
        h.update(repr(sorted(self.processor.to_json().items())).encode())
        return h.hexdigest()[:24]

    # ----- looking at the data ---------------------------------------------------------------
    def summary(self, show: bool = True) -> pd.DataFrame:
        """One row per column: what it became (categorical, continuous, date, left out), why, its
        number of distinct values and of missing values. Prints unless `show=False`."""
        rows = []
        for col in self.df.columns:
            name = str(col)
            if col == self.target:
                role = "target (regression)" if self.regression else f"target ({len(self.classes)} classes)"
                why = ""
            elif name in self.plan.dropped:
                role, why = "left out", self.plan.dropped[name]
            elif name in self.plan.date_names:
                role, why = "date", self.plan.reasons[name]
            elif name in self.plan.cat_names:
                role, why = "categorical", self.plan.reasons[name]
            else:
                role, why = "continuous", self.plan.reasons[name]
            if name in self.processor.na_names:
                why += f"; missing values get {name}_na"
            rows.append({"column": name, "use": role, "why": why, "distinct": int(self.df[col].nunique()),
                         "missing": int(self.df[col].isna().sum())})
        table = pd.DataFrame(rows).set_index("column")
        if show:
            print(f"{len(self.train_idx)} training rows, {len(self.valid_idx)} validation rows, "
                  f"{len(self.test_idx)} test rows")
            print(table.to_string())
        return table

    def __len__(self) -> int:
        return len(self.train_idx)

    def __repr__(self) -> str:
        what = "regression" if self.regression else f"{self.c} classes"
        return (f"TabularData({what}; train {len(self.train_idx)}, valid {len(self.valid_idx)}, test "
                f"{len(self.test_idx)}; {len(self.processor.cat_names)} categorical, "
                f"{len(self.processor.cont_names)} continuous, {len(self.plan.dropped)} left out; bs {self.bs}, "
                f"device {self.device.type})")
