"""Finding labelled image files: folder trees, label tables and validation splits.

Everything here works on paths and strings only; no image is opened.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from fastlearn.utils.errors import DataError, DataWarning
from fastlearn.utils.targets import check_label_delim

__all__ = [
    "IMAGE_EXTENSIONS",
    "Items",
    "DataError",
    "DataWarning",
    "printable",
    "list_images",
    "items_from_folders",
    "items_from_df",
    "random_split",
]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
)



def printable(path: str | Path) -> str:
    """A path as text that can always be printed or written to a UTF-8 file: bytes of a name
    that are not valid UTF-8 (which the file system allows) are shown as backslash escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_utf8_name(path: str | Path) -> bool:
    """Whether the path's bytes are valid UTF-8 (Python keeps the others as lone surrogates)."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


@dataclass
class Items:
    """Image paths with their labels.

    `labels[i]` is a list of class names for item i: one name for single-label data,
    any number (also none) for multi-label data, and empty for unlabelled test items.
    """

    paths: list[Path]
    labels: list[list[str]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # from a table: each item's row position in it

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, idxs: Sequence[int]) -> "Items":
        """The items at `idxs`, in that order."""
        return Items([self.paths[i] for i in idxs], [self.labels[i] for i in idxs] if self.labels else [])


def _suffix(name: str) -> str:
    """`Path(name).suffix`, without building a Path."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _is_file(entry: os.DirEntry) -> bool:
    """A file, or a link that cannot be followed (a loop, a dangling link): those are listed so
    that decoding reports them as bad files instead of their leaving no trace."""
    try:
        return entry.is_file() or (entry.is_symlink() and not os.path.exists(entry.path))
    except OSError:  # e.g. ELOOP: too many levels of symbolic links
        return True


def _scan(folder: str, recursive: bool, found: list[str], unreadable: list[str]) -> None:
    """Visible image files under `folder` (one directory read each, no per-file stat beyond
    what the directory listing gives); symlinked folders are not descended, as `Path.rglob`.
    Folders that cannot be read are collected in `unreadable`."""
    try:
        with os.scandir(folder) as entries:
            entries = list(entries)
    except OSError as e:
        unreadable.append(f"{printable(folder)} ({e.strerror or e})")
        return
    for e in entries:
        if e.name.startswith("."):
            continue  # hidden files and folders, and everything under them
        if _suffix(e.name).lower() in IMAGE_EXTENSIONS and _is_file(e):
            found.append(e.path)
        elif recursive and e.is_dir(follow_symlinks=False):
            _scan(e.path, recursive, found, unreadable)


def _listed(folder: str | Path, recursive: bool, unreadable: list[str]) -> list[Path]:
    """The image files under `folder`, sorted; folders that cannot be read go to `unreadable`."""
    found: list[str] = []
    _scan(str(folder), recursive, found, unreadable)
    return sorted(Path(f) for f in found)


def _warn_unreadable(unreadable: list[str]) -> None:
    if unreadable:
        warnings.warn(DataWarning(
            f"skipped {len(unreadable)} folder(s) that could not be read: {'; '.join(unreadable)}. "
            "Their images are not used; fix the permissions (e.g. chmod a+rx) to include them."), stacklevel=3)


def list_images(folder: str | Path, recursive: bool = True) -> list[Path]:
    """Image files under `folder` by extension, sorted; hidden files and folders are skipped,
    and folders that cannot be read are named in a `DataWarning`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder. Pass the folder that holds the images.")
    # os.scandir rather than Path.rglob: listing the digits' 5,000 files took 0.5 s through
    # pathlib (three stats and a relative_to per file), most of opening a warm data set
    unreadable: list[str] = []
    files = _listed(folder, recursive, unreadable)
    _warn_unreadable(unreadable)
    return files


def items_from_folders(folder: str | Path, exclude: set[str | None] = frozenset()) -> Items:
    """One label per image: the name of the class subfolder it sits in (`folder/<class>/...`).

    Subfolders named in `exclude` (e.g. a test folder beside the classes) are not classes.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder. Expected a folder with one subfolder per class.")
    class_dirs = sorted(
        d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name not in exclude
    )
    if not class_dirs:
        raise DataError(
            f"{folder} has no class subfolders. Lay the images out as {folder}/<class>/<image>."
        )
    paths: list[Path] = []
    labels: list[list[str]] = []
    empty, unreadable = [], []
    for d in class_dirs:
        n_unreadable = len(unreadable)
        files = _listed(d, True, unreadable)
        if not files and len(unreadable) == n_unreadable:
            empty.append(d)
        paths += files
        labels += [[d.name]] * len(files)
    _warn_unreadable(unreadable)
    if empty:
        names = ", ".join(str(d) for d in empty)
        raise DataError(
            f"class folder(s) with no images: {names}. Add images (jpg, png, bmp, webp, tif, gif) "
            "or remove the folder."
        )
    return Items(paths, labels)


def _some(shown: list[str], k: int, sep: str) -> str:
    """The first `k` of `shown` joined by `sep`, and how many more there are."""
    return sep.join(shown[:k]) + (f"{sep}and {len(shown) - k} more" if len(shown) > k else "")


def _column(df: pd.DataFrame, col: int | str, what: str, source: str) -> pd.Series:
    if isinstance(col, int):
        if not -len(df.columns) <= col < len(df.columns):
            raise DataError(
                f"{source}: {what} column {col} does not exist; it has {len(df.columns)} columns "
                f"({', '.join(map(str, df.columns))})."
            )
        return df.iloc[:, col]
    if col not in df.columns:
        raise DataError(
            f"{source}: no column named {col!r} for the {what}; the columns are "
            f"{', '.join(map(repr, df.columns))}. Pass {what.replace(' ', '_')}_col= with one of them."
        )
    return df[col]


def items_from_df(
    df: pd.DataFrame,
    folder: str | Path,
    fn_col: int | str = 0,
    label_col: int | str = 1,
    suffix: str = "",
    multi_label: bool = False,
    label_delim: str = " ",
    source: str = "the table",
) -> Items:
    """Items from a table of file names and labels (the dog-breeds / Planet layout).

    `suffix` is appended to each name (for tables that write names without their extension).
    With `multi_label`, each label cell is split on `label_delim`; an empty cell means no tags.
    Every missing file is an error that names its row (counted from 1, after the header).
    """
    folder = Path(folder)
    if len(df) == 0:
        raise DataError(f"{source} has no rows (only a header): add a row per image, with its file name and label.")
    names = _column(df, fn_col, "fn", source)
    raw_labels = _column(df, label_col, "label", source)
    cells = ["" if pd.isna(lab) else str(lab).strip() for lab in raw_labels]
    if multi_label:
        check_label_delim(cells, label_delim, source)
    keep = _drop_duplicate_names([str(n) for n in names], cells, source)
    paths, labels, rows, missing = [], [], [], []
    for pos in keep:
        name, lab, row = names.iloc[pos], cells[pos], pos + 2
        path = folder / f"{name}{suffix}"
        if not path.is_file():
            missing.append(f"row {row}: {path}")
            continue
        if multi_label:
            tags = [t for t in lab.split(label_delim) if t]
        else:
            if not lab:
                raise DataError(f"{source} row {row} ({name}): empty label. Give every row a label.")
            tags = [lab]
        paths.append(path)
        labels.append(tags)
        rows.append(pos)
    if missing:
        raise DataError(
            f"{source}: {len(missing)} file(s) named in the table are missing: {_some(missing, 20, '; ')}. "
            "Check `folder=` and `suffix=` (names written without extension need suffix='.jpg')."
        )
    return Items(paths, labels, rows)


def _drop_duplicate_names(names: list[str], cells: list[str], source: str) -> list[int]:
    """Row positions to keep: the first of each file name. Repeated rows with the same label are
    dropped with a warning; the same file with different labels is an error listing them (kept,
    the image would be both in training and validation)."""
    first: dict[str, int] = {}
    repeated: list[str] = []
    conflicts: dict[str, set[str]] = {}
    keep = []
    for pos, name in enumerate(names):
        if name not in first:
            first[name] = pos
            keep.append(pos)
        elif cells[pos] == cells[first[name]]:
            repeated.append(f"{name} (row {pos + 2})")
        else:
            conflicts.setdefault(name, {cells[first[name]]}).add(cells[pos])
    if conflicts:
        shown = _some([f"{n}: {sorted(labs)}" for n, labs in conflicts.items()], 20, "; ")
        raise DataError(
            f"{source}: {len(conflicts)} file name(s) appear more than once with different labels: {shown}. "
            "Keep one row per file (for several labels on one image, use multi_label=True with the tags in one cell)."
        )
    if repeated:
        warnings.warn(DataWarning(
            f"{source}: dropped {len(repeated)} repeated row(s) naming a file already listed with the same label: "
            f"{_some(repeated, 10, ', ')}."), stacklevel=4)
    return keep


def random_split(n: int, pct: float = 0.2, seed: int = 42) -> np.ndarray:
    """Indices of a random `pct` of `range(n)` to hold out for validation (the course's get_cv_idxs)."""
    if not 0 < pct < 1:
        raise DataError(f"valid_pct must be between 0 and 1, got {pct}.")
    rng = np.random.default_rng(seed)
    n_valid = max(1, int(round(n * pct)))
    return np.sort(rng.permutation(n)[:n_valid])
