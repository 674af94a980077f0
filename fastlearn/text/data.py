"""Labelled texts to learn from: from a CSV or DataFrame (one text column, or several joined),
or from folders of .txt files per class; tokenized once by the model's tokenizer."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from fastlearn.text.loader import TextLoader
from fastlearn.text.tokens import TokenIds, tokenize
from fastlearn.train.splits import SplitData
from fastlearn.utils.csv_files import read_table
from fastlearn.utils.device import default_device
from fastlearn.utils.errors import DataError, DataWarning
from fastlearn.utils.targets import check_label_delim, encode_classes, stratified_valid

__all__ = ["TextData", "join_columns"]

MAX_CARD = 20  # a numeric target with more distinct values is a score to regress


def join_columns(df: pd.DataFrame, text: str | Sequence[str]) -> pd.Series:
    """One text per row: the column `text`, or several columns joined as "col: value; ..." (as
    the course joins a patent phrase pair with its context)."""
    names = [text] if isinstance(text, str) else list(text)
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise DataError(f"no text column {', '.join(map(repr, missing))}; the columns are "
                        f"{', '.join(map(str, df.columns))}")
    if len(names) == 1:
        return df[names[0]].fillna("").astype(str)
    return pd.Series(["; ".join(f"{n}: {'' if pd.isna(r[n]) else r[n]}" for n in names) for _, r in df.iterrows()],
                     index=df.index)


class TextData(SplitData):
    """Texts and their targets, ready for `Learner.pretrained(model_name, data)`, which
    tokenizes them with that model's tokenizer (once; the ids are cached on disk). Targets: a
    class; with `label_delim`, tags (several per text, separated by it; an empty cell is no tag;
    scored by F2 and accuracy at the tag threshold); or for a numeric column of more than 20
    values a score to regress (MSE; Pearson correlation). Empty texts are left out and counted
    in a warning; texts longer than `max_len` tokens are cut and counted."""

    kind = "text"
    # training steps in bf16 autocast where the CPU has it natively: MiniLM's steps 1.6x faster
    # on 2 Zen 4 cores at the same accuracy (bench/compare_hf_text.py, 2026-12-03)
    cpu_bf16 = True
    split_hints = {"test": "pass test_df= to TextData.from_df", "valid": "pass valid_pct= or valid_idx=",
                   "train": "give it labelled texts"}

    def __init__(self, texts: Sequence[str], targets: Sequence, valid_idx: Sequence[int] | None = None,
                 valid_pct: float = 0.2, seed: int = 0, bs: int = 32, max_len: int = 128,
                 test_texts: Sequence[str] | None = None, regression: bool | None = None,
                 device: str | torch.device | None = None, target_name: str = "label", path: str | Path | None = None,
                 label_delim: str | None = None):
        texts = pd.Series(list(texts), dtype="object").fillna("").astype(str)
        targets = pd.Series(list(targets))
        if len(texts) != len(targets):
            raise ValueError(f"{len(texts)} texts and {len(targets)} targets")
        self.multi_label, self.label_delim = label_delim is not None, label_delim
        if self.multi_label:
            if regression:
                raise ValueError("label_delim= makes the targets tags; a score to regress takes no label_delim")
            targets = targets.map(lambda v: "" if pd.isna(v) else str(v).strip())  # an empty cell: no tags
            check_label_delim(list(targets), label_delim, f"the target column {target_name!r}")
        keep = (texts.str.strip() != "") & targets.notna()
        if not keep.all():
            empty, no_target = int((texts.str.strip() == "").sum()), int(targets.isna().sum())
            warnings.warn(DataWarning(f"left out {int((~keep).sum())} of {len(texts)} rows: {empty} with an empty text, "
                                      f"{no_target} without a target"), stacklevel=3)
            if valid_idx is not None:
                kept = np.flatnonzero(keep.to_numpy())
                valid_idx = np.searchsorted(kept, [i for i in valid_idx if keep.iloc[i]])
            texts, targets = texts[keep].reset_index(drop=True), targets[keep].reset_index(drop=True)
        if len(texts) < 2:
            raise DataError("fewer than two texts with a target: nothing to learn from")
        self.texts, self.target_name, self.seed, self.bs, self.max_len = texts, target_name, seed, int(bs), int(max_len)
        self.path = Path(path) if path is not None else None
        if regression is None and self.multi_label:
            regression = False
        elif regression is None:
            regression = pd.api.types.is_numeric_dtype(targets) and not pd.api.types.is_bool_dtype(targets) \
                and targets.nunique() > MAX_CARD
        self.regression = bool(regression)
        if self.regression:
            self.classes = [str(target_name)]
            self.y = torch.tensor(targets.to_numpy(dtype=np.float32)).view(-1, 1)
        elif self.multi_label:
            tags = [[t.strip() for t in cell.split(label_delim) if t.strip()] for cell in targets]
            self.classes = sorted({t for ts in tags for t in ts})
            if not self.classes:
                raise DataError(f"the target column {target_name!r} holds no tags: nothing to learn")
            index = {c: i for i, c in enumerate(self.classes)}
            self.y = torch.zeros(len(tags), len(self.classes))
            for row, ts in enumerate(tags):
                self.y[row, [index[t] for t in ts]] = 1.0
        else:
            self.classes, codes = encode_classes(targets, "the target", "texts")
            self.y = torch.tensor(codes)
        n = len(texts)
        if valid_idx is not None:
            valid = np.unique(np.asarray(valid_idx, dtype=np.int64))
        elif self.regression or self.multi_label:
            valid = np.sort(np.random.default_rng(seed).permutation(n)[:int(round(n * valid_pct))])
        else:
            valid = stratified_valid(self.y.numpy(), valid_pct, seed)
        self.train_idx, self.valid_idx = np.setdiff1d(np.arange(n), valid), valid
        self.test_texts = pd.Series([] if test_texts is None else list(test_texts), dtype="object").fillna("").astype(str)
        self.test_idx = np.arange(n, n + len(self.test_texts))
        self.device = torch.device(device) if device is not None else default_device()
        self.tokenizer, self.tokens, self.arch = None, None, None
        self._dls: dict[str, TextLoader] = {}

    @classmethod
    def from_df(cls, df: pd.DataFrame, text: str | Sequence[str], target: str, test_df: pd.DataFrame | None = None,
                **options) -> "TextData":
        """From a DataFrame: `text` names the text column (or several, joined); `target` the label."""
        if target not in df.columns:
            raise DataError(f"no target column {target!r}; the columns are {', '.join(map(str, df.columns))}")
        test = None if test_df is None else join_columns(test_df, text)
        return cls(join_columns(df, text), df[target], test_texts=test, target_name=str(target), **options)

    @classmethod
    def from_csv(cls, path: str | Path, text: str | Sequence[str], target: str, encoding: str | None = None,
                 **options) -> "TextData":
        """From a CSV file (UTF-8 unless `encoding` says otherwise)."""
        return cls.from_df(read_table(path, encoding), text, target, path=Path(path).parent, **options)

    @classmethod
    def from_folder(cls, path: str | Path, **options) -> "TextData":
        """From `path/train/<class>/*.txt` and `path/valid/<class>/*.txt` (IMDb's layout)."""
        path = Path(path)
        texts, labels, valid = [], [], []
        for split in ("train", "valid"):
            folder = path / split
            if not folder.is_dir():
                raise DataError(f"{folder} is missing: expected {path}/train/<class>/*.txt and {path}/valid/<class>/*.txt")
            for cls_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
                for f in sorted(cls_dir.glob("*.txt")):
                    if split == "valid":
                        valid.append(len(texts))
                    texts.append(f.read_text(encoding="utf-8", errors="replace"))
                    labels.append(cls_dir.name)
        return cls(texts, labels, valid_idx=valid, path=path, **options)

    # ----- tokens: decided by the model ------------------------------------------------------
    def tokenize_for(self, arch: str) -> "TextData":
        """Tokenize every text with `arch`'s tokenizer (once: read back from the cache after)."""
        from fastlearn.text.encoders import load_tokenizer
        if self.arch == arch and self.tokens is not None:
            return self
        self.tokenizer, self.arch = load_tokenizer(arch), arch
        self.tokens = tokenize(list(self.texts) + list(self.test_texts), self.tokenizer, self.max_len)
        if self.tokens.truncated:
            warnings.warn(DataWarning(f"{self.tokens.truncated} of {len(self.tokens)} texts are longer than "
                                      f"{self.max_len} tokens and were cut (max_len= to change it)"), stacklevel=2)
        self._dls.clear()
        return self

    def _require_tokens(self) -> TokenIds:
        if self.tokens is None:
            raise RuntimeError("the texts are tokenized by the model's tokenizer: build the Learner first "
                               "(Learner.pretrained(name, data)), or call data.tokenize_for(name)")
        return self.tokens

    # ----- what the Learner asks of a data kind -----------------------------------------------
    @property
    def metrics(self) -> list:
        from fastlearn.train.metrics import accuracy, pearson
        from fastlearn.train.multilabel import AccuracyThresh, FBeta
        if self.multi_label:
            return [FBeta(2.0, 0.2), AccuracyThresh(0.2)]
        return [pearson] if self.regression else [accuracy]

    def loader(self, split: str, augment: bool | None = None, shuffle: bool | None = None, bs: int | None = None,
               seed: int | None = None) -> TextLoader:
        """Batches of `split`: training's sortish and shuffled (unless `shuffle=False`), the others
        in order; `augment` is accepted and ignored (no augmentation for texts)."""
        tokens = self._require_tokens()
        y = torch.cat([self.y, torch.full((len(self.test_texts), *self.y.shape[1:]), -1, dtype=self.y.dtype)])
        train = split == "train" and shuffle is not False
        return TextLoader(tokens, y, self._split_idx(split), bs or (self.bs if split == "train" else 2 * self.bs),
                          self.tokenizer.pad_token_id or 0, self.device, sortish=train,
                          seed=self.seed if seed is None else seed)

    def build_model(self, arch: str = "all-MiniLM-L6-v2", pretrained: bool = True, weights=None, n_groups: int = 4,
                    ps: tuple[float, float] = (0.1, 0.2), train_bn=None):
        """`Learner.pretrained`'s model: `arch`'s encoder (a Hugging Face name or folder), mean-pooled,
        with a new head; the texts are tokenized with its tokenizer."""
        from fastlearn.text.encoders import load_encoder
        from fastlearn.text.model import TextClassifier
        if weights is not None:
            raise ValueError("text models load their weights from `arch` (a name or a folder); weights= is for images")
        self.tokenize_for(arch)
        return TextClassifier(load_encoder(arch, pretrained), self.c, ps=ps, arch=str(arch))

    def bundle_files(self, model) -> dict[str, bytes]:
        """The tokenizer's files and the encoder's config, for the bundle."""
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            self.tokenizer.save_pretrained(tmp)
            model.encoder.config.to_json_file(Path(tmp) / "config.json")
            return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}

    def bundle_state(self) -> dict:
        return {"max_len": self.max_len, "target": self.target_name, "regression": self.regression,
                "label_delim": self.label_delim}

    def items_of(self, split: str):
        from fastlearn.text.show import TextItems
        texts = self.texts if split != "test" else self.test_texts
        offset = 0 if split != "test" else len(self.texts)
        return TextItems([texts.iloc[i - offset] for i in self._split_idx(split)])

    def item_names(self, split: str) -> list:
        idx = self._split_idx(split)
        return list(idx - len(self.texts)) if split == "test" else list(idx)

    def __len__(self) -> int:
        return len(self.train_idx)

    def __repr__(self) -> str:
        what = "regression" if self.regression else f"{self.c} {'tags' if self.multi_label else 'classes'}"
        return (f"TextData({what}; train {len(self.train_idx)}, valid {len(self.valid_idx)}, test {len(self.test_idx)}; "
                f"max_len {self.max_len}, bs {self.bs}, tokenized for {self.arch or 'no model yet'})")
