"""Targets of any data kind: class names from values, and a validation split stratified by class."""
from __future__ import annotations

import numpy as np
import pandas as pd

from fastlearn.utils.errors import DataError

__all__ = ["category_key", "check_label_delim", "class_names", "encode_classes", "stratified_valid"]


def category_key(value) -> str:
    """The text a category value is known by: 3, 3.0 and "3" are the same category (a CSV read
    back, or a JSON row, may give any of them)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def class_names(keys: pd.Series) -> list[str]:
    """The distinct class names, whole numbers in numeric order first, then the rest sorted."""
    return sorted(keys.unique().tolist(), key=lambda v: (0, int(v), v) if v.lstrip("-").isdigit() else (1, 0, v))


def encode_classes(values: pd.Series, target: str, items: str) -> tuple[list[str], np.ndarray]:
    """The class names of a target column and each value's class index (int64). One class only is
    a DataError naming `target` ("the target 'survived'") and what to add (`items`: "rows", "texts")."""
    keys = values.map(category_key)
    classes = class_names(keys)
    if len(classes) < 2:
        raise DataError(f"{target} has one class only ({classes[0]!r}): nothing to learn. "
                        f"Check the column, or give {items} of other classes.")
    index = {c: i for i, c in enumerate(classes)}
    return classes, keys.map(index).to_numpy(dtype=np.int64)


def stratified_valid(y: np.ndarray, valid_pct: float, seed: int) -> np.ndarray:
    """Row positions for validation: `valid_pct` of every class (at least one row where a class has two)."""
    rng = np.random.default_rng(seed)
    out = []
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        rng.shuffle(rows)
        n = int(round(len(rows) * valid_pct))
        out.append(rows[:max(n, 1 if len(rows) > 1 else 0)])
    return np.sort(np.concatenate(out))


_DELIMITERS = {";": "';'", ",": "','", "|": "'|'", "\t": "'\\t' (a tab)"}


def check_label_delim(cells: list[str], label_delim: str, source: str) -> None:
    """Multi-label tags joined by another separator than `label_delim` would each be read as
    one tag ("cat;dog"): when `label_delim` splits no cell and another separator does, say which."""
    if any(label_delim in c for c in cells):
        return
    for sep, shown in _DELIMITERS.items():
        if sep == label_delim:
            continue
        hits = [i for i, c in enumerate(cells) if sep in c.strip(sep)]
        if hits:
            example = cells[hits[0]]
            flag = "\\t" if sep == "\t" else sep
            raise DataError(
                f"{source}: the tags seem to be separated by {shown}, not {label_delim!r} "
                f"(e.g. row {hits[0] + 2}: {example!r}, and {len(hits)} row(s) in all). Pass label_delim={sep!r} "
                f"(--label-delim '{flag}' on the command line)."
            )
