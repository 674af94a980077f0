"""Batches of a table that already lives as tensors on the training device: a batch is an index
slice, with no per-row Python."""
from __future__ import annotations

from typing import Iterator

import torch

from fastlearn.utils.distributed import ShardedBatches

__all__ = ["TableLoader"]


class TableLoader(ShardedBatches):
    """Yields ((categorical codes, continuous values), targets) for the rows `idx` in batches of
    `bs`, shuffled with its own generator when asked (a new order each pass, reproducible from
    `seed`). `drop_last` drops a final batch of a single row (training: BatchNorm cannot
normalise one row); a partial batch of more rows is kept, so a small table loses nothing."""

    def __init__(self, cats: torch.Tensor, conts: torch.Tensor, y: torch.Tensor, idx: torch.Tensor, bs: int,
                 shuffle: bool = False, drop_last: bool = False, seed: int = 0):
        self.cats, self.conts, self.y = cats, conts, y
        self.idx = idx.to(cats.device)
        self.bs, self.shuffle, self.drop_last = int(bs), shuffle, drop_last
        self.generator = torch.Generator().manual_seed(int(seed))

    def _all_batches(self) -> int:
        n = len(self.idx)
        return -(-n // self.bs) - (1 if self.drop_last and n % self.bs == 1 and n > 1 else 0)

    @property
    def dataset_size(self) -> int:
        return len(self.idx)

    def __iter__(self) -> Iterator[tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]]:
        idx = self.idx
        if self.shuffle:
            idx = idx[torch.randperm(len(idx), generator=self.generator).to(idx.device)]
        for b in self._own_batches():
            i = idx[b * self.bs:(b + 1) * self.bs]
            yield (self.cats[i], self.conts[i]), self.y[i]
