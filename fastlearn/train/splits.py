"""What a data kind with train/valid/test positions and classes-or-a-score targets shares."""
from __future__ import annotations

import numpy as np
from torch import nn

__all__ = ["SplitData"]


class SplitData:
    """`c`, `loss_fn` (MSE, binary cross-entropy for tags, or cross-entropy), the cached loaders `train_dl` / `valid_dl` / `test_dl` and `_split_idx`
    for a data kind that has `train_idx`, `valid_idx`, `test_idx`, `classes`, `regression`, a
    `_dls` dict and `loader(split)`."""

    @property
    def c(self) -> int:
        """Outputs of the model: classes, or 1 for regression."""
        return 1 if self.regression else len(self.classes)

    @property
    def loss_fn(self) -> nn.Module:
        if self.regression:
            return nn.MSELoss()
        return nn.BCEWithLogitsLoss() if getattr(self, "multi_label", False) else nn.CrossEntropyLoss()

    def _split_idx(self, split: str) -> np.ndarray:
        idx = {"train": self.train_idx, "valid": self.valid_idx, "test": self.test_idx}.get(split)
        if idx is None:
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        return idx

    def _dl(self, split: str):
        if split not in self._dls:
            self._dls[split] = self.loader(split)
        return self._dls[split]

    @property
    def train_dl(self):
        return self._dl("train")

    @property
    def valid_dl(self):
        return self._dl("valid")

    @property
    def test_dl(self):
        return self._dl("test")
