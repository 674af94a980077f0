"""Looking at a multi-label model: per-tag confusion counts and the images with the largest loss."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fastlearn.train.multilabel import per_tag_report

__all__ = ["MultiLabelInterpretation"]


@dataclass
class MultiLabelInterpretation:
    """Per-tag probabilities and multi-hot targets of one split, with the tag thresholds."""

    probs: np.ndarray  # (n, tags)
    targets: np.ndarray  # (n, tags)
    tags: list[str]
    thresholds: np.ndarray  # (tags,)
    items: object  # the split's items, with show(idxs, titles, cols) -> figure (data.items_of)

    @classmethod
    def from_learner(cls, learn, split: str = "valid", tta: bool = False) -> "MultiLabelInterpretation":
        from fastlearn.infer import predictions as infer
        probs, targets = infer.tta(learn, split=split) if tta else infer.predict(learn, split)
        data = learn.data
        th = np.broadcast_to(np.asarray(learn.threshold, dtype=np.float64), (len(data.classes),)).copy()
        return cls(probs.numpy(), targets.numpy(), list(data.classes), th, data.items_of(split))

    @property
    def predicted(self) -> np.ndarray:
        return self.probs >= self.thresholds

    @property
    def losses(self) -> np.ndarray:
        """Per-item binary cross-entropy, averaged over tags."""
        p = np.clip(self.probs, 1e-7, 1 - 1e-7)
        return -(self.targets * np.log(p) + (1 - self.targets) * np.log(1 - p)).mean(1)

    def per_tag(self, beta: float = 2.0) -> pd.DataFrame:
        """tp, fp, fn, tn, precision, recall, F-beta and support for every tag."""
        return per_tag_report(self.probs, self.targets, self.tags, self.thresholds, beta)

    def top_losses(self, k: int = 9) -> np.ndarray:
        return np.argsort(-self.losses, kind="stable")[:k]

    def _tags(self, row) -> str:
        return " ".join(t for t, on in zip(self.tags, row) if on) or "(none)"

    def plot_top_losses(self, k: int = 9):
        """The k items with the largest loss: true tags, predicted tags, loss."""
        idxs = self.top_losses(k)
        titles = [f"true: {self._tags(self.targets[i] > 0.5)}\npred: {self._tags(self.predicted[i])}\n"
                  f"loss {self.losses[i]:.2f}" for i in idxs]
        return self.items.show(idxs, titles, int(np.ceil(np.sqrt(len(idxs)))))
