"""Texts to token ids once, cached on disk, keyed by the texts, the tokenizer and the length."""
from __future__ import annotations

import hashlib
import json

import numpy as np

from fastlearn.utils.atomic import atomic_path
from fastlearn.utils.distributed import rank_zero_first
from fastlearn.utils.paths import default_cache_dir

__all__ = ["TokenIds", "tokenize"]


class TokenIds:
    """Token ids of many texts as one flat array and offsets (text i is ids[offsets[i]:offsets[i+1]])."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray, truncated: int = 0):
        self.ids, self.offsets, self.truncated = ids, offsets, int(truncated)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.ids[self.offsets[i]:self.offsets[i + 1]]


def _key(texts: list[str], tokenizer, max_len: int) -> str:
    h = hashlib.sha256(f"{type(tokenizer).__name__}|{tokenizer.name_or_path}|{len(tokenizer)}|{max_len}".encode())
    h.update(json.dumps(tokenizer.backend_tokenizer.to_str()[:100_000]).encode()
             if hasattr(tokenizer, "backend_tokenizer") else b"")
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:24]


def tokenize(texts: list[str], tokenizer, max_len: int, cache: bool = True) -> TokenIds:
    """Every text's ids (with the model's special tokens), cut to `max_len` keeping the closing
    token; `truncated` counts the texts that were cut. Cached on disk: the same texts, tokenizer
    and length are read back, not tokenized again (under torchrun, rank 0 writes it first)."""
    with rank_zero_first():
        return _tokenize(texts, tokenizer, max_len, cache)


def _tokenize(texts: list[str], tokenizer, max_len: int, cache: bool) -> TokenIds:
    path = default_cache_dir() / "tokens" / f"{_key(texts, tokenizer, max_len)}.npz"
    if cache and path.is_file():
        try:
            with np.load(path) as z:
                return TokenIds(z["ids"], z["offsets"], int(z["truncated"]))
        except (OSError, ValueError, KeyError):
            pass  # damaged: tokenize again below
    enc = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    closing = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    truncated = 0
    rows = []
    for ids in enc:
        if len(ids) > max_len:
            truncated += 1
            ids = ids[:max_len - 1] + ([closing] if closing is not None else [ids[-1]])
        rows.append(ids)
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    flat = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(offsets[-1]))
    out = TokenIds(flat, offsets, truncated)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, ids=flat, offsets=offsets, truncated=np.array(truncated))
    return out
