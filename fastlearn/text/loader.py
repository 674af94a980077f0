"""Batches of token ids padded only to the longest text in each batch; training batches hold
texts of similar length (fastai's SortishSampler idea), others keep the order they came in."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from fastlearn.text.tokens import TokenIds
from fastlearn.utils.distributed import ShardedBatches

__all__ = ["TextLoader"]


class TextLoader(ShardedBatches):
    """Yields ((input_ids, attention_mask), targets) for the texts `idx` of `tokens`. With
    `sortish`, each pass shuffles the texts, sorts them by length within chunks of 50 batches,
    and shuffles the batches: little padding, still a new order every epoch (from `seed`)."""

    def __init__(self, tokens: TokenIds, y: torch.Tensor, idx: np.ndarray, bs: int, pad_id: int,
                 device: torch.device, sortish: bool = False, seed: int = 0):
        self.tokens, self.y, self.idx = tokens, y, np.asarray(idx)
        self.bs, self.pad_id, self.device, self.sortish = int(bs), int(pad_id), device, sortish
        self.rng = np.random.default_rng(seed)

    def _all_batches(self) -> int:
        n = len(self.idx)
        return -(-n // self.bs) - (1 if self.sortish and n % self.bs == 1 and n > 1 else 0)

    @property
    def dataset_size(self) -> int:
        return len(self.idx)

    def _batches(self) -> list[np.ndarray]:
        if not self.sortish:
            return [self.idx[i:i + self.bs] for i in range(0, len(self.idx), self.bs)]
        order = self.rng.permutation(self.idx)
        lengths = self.tokens.lengths
        chunk = self.bs * 50
        batches = []
        for s in range(0, len(order), chunk):
            part = order[s:s + chunk]
            part = part[np.argsort(-lengths[part], kind="stable")]
            batches += [part[i:i + self.bs] for i in range(0, len(part), self.bs)]
        batches = [b for b in batches if len(b) > 1] if len(order) > 1 else batches  # BatchNorm needs two
        return [batches[i] for i in self.rng.permutation(len(batches))]

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        batches = self._batches()
        for b in (batches[k] for k in self._own_batches(len(batches))):
            rows = [self.tokens[i] for i in b]
            width = max(len(r) for r in rows)
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                ids[j, :len(r)] = r
                mask[j, :len(r)] = 1
            yield ((torch.from_numpy(ids).to(self.device), torch.from_numpy(mask).to(self.device)),
                   self.y[torch.from_numpy(b)].to(self.device))
