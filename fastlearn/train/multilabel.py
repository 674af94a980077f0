"""Multi-label metrics (the Planet competition's F2) and per-tag threshold search.

Inputs are logits (the model's outputs) or, for the `*_probs` functions, probabilities, of shape
(items, tags), with multi-hot targets of the same shape.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

__all__ = ["fbeta_probs", "FBeta", "AccuracyThresh", "per_tag_report", "optimize_thresholds", "ThresholdReport"]


def fbeta_probs(probs, targets, beta: float = 2.0, thresh=0.2) -> float:
    """F-beta per item, averaged over items (as the Planet competition scored): precision and
    recall of the tags predicted (probability >= thresh, one value or one per tag) against the
    true tags. An item with no true and no predicted tags scores 1."""
    p = torch.as_tensor(probs, dtype=torch.float32)
    t = torch.as_tensor(targets, dtype=torch.float32) > 0.5
    pred = p >= torch.as_tensor(thresh, dtype=torch.float32)
    tp = (pred & t).sum(1).float()
    n_pred, n_true = pred.sum(1).float(), t.sum(1).float()
    b2 = beta * beta
    denom = b2 * n_true + n_pred  # (1 + b2) * P * R / (b2 * P + R) simplifies to this form
    f = torch.where(denom > 0, (1 + b2) * tp / denom.clamp_min(1e-12), torch.ones_like(tp))
    return float(f.mean())


class FBeta:
    """Metric: samples-averaged F-beta of sigmoid(logits) at `thresh` (named e.g. `f2`)."""

    def __init__(self, beta: float = 2.0, thresh: float = 0.2):
        self.beta, self.thresh = beta, thresh
        self.__name__ = f"f{beta:g}"

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> float:
        return fbeta_probs(torch.sigmoid(logits.float()), targets, self.beta, self.thresh)


class AccuracyThresh:
    """Metric: fraction of (item, tag) pairs where sigmoid(logit) >= thresh matches the target."""

    def __init__(self, thresh: float = 0.2):
        self.thresh = thresh
        self.__name__ = "accuracy_thresh"

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> float:
        return float(((torch.sigmoid(logits.float()) >= self.thresh) == (targets > 0.5)).float().mean())


def per_tag_report(probs, targets, tags: list[str], thresh=0.2, beta: float = 2.0) -> pd.DataFrame:
    """Per tag: true/false positives and negatives, precision, recall, F-beta and support."""
    p = np.asarray(probs, dtype=np.float64)
    t = np.asarray(targets) > 0.5
    pred = p >= np.broadcast_to(np.asarray(thresh, dtype=np.float64), (p.shape[1],))
    tp, fp = (pred & t).sum(0), (pred & ~t).sum(0)
    fn, tn = (~pred & t).sum(0), (~pred & ~t).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        b2 = beta * beta
        f = np.where(b2 * precision + recall > 0, (1 + b2) * precision * recall / (b2 * precision + recall), 0.0)
    return pd.DataFrame({"tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": precision, "recall": recall,
                         f"f{beta:g}": f, "support": t.sum(0)}, index=pd.Index(tags, name="tag"))


@dataclass
class ThresholdReport:
    """Per-tag thresholds and the validation F-beta before (one shared threshold) and after."""

    thresholds: list[float]
    before: float
    after: float
    start: float
    tags: list[str]

    def __str__(self) -> str:
        pairs = ", ".join(f"{t} {v:.2f}" for t, v in zip(self.tags, self.thresholds))
        return (f"F-beta {self.before:.4f} at {self.start:g} -> {self.after:.4f} with per-tag thresholds "
                f"(+{self.after - self.before:.4f}): {pairs}")


def optimize_thresholds(probs, targets, tags: list[str], beta: float = 2.0, start: float = 0.2,
                        grid=np.arange(0.02, 0.96, 0.01), passes: int = 3) -> ThresholdReport:
    """Coordinate ascent: each tag's threshold in turn set to the grid value that maximises the
    samples-averaged F-beta with the others fixed; a few passes. Never worse than `start`."""
    p = torch.as_tensor(np.asarray(probs), dtype=torch.float32)
    t = torch.as_tensor(np.asarray(targets), dtype=torch.float32)
    th = np.full(p.shape[1], start, dtype=np.float64)
    before = best = fbeta_probs(p, t, beta, torch.tensor(th, dtype=torch.float32))
    for _ in range(passes):
        improved = False
        for j in range(p.shape[1]):
            for g in grid:
                trial = th.copy()
                trial[j] = g
                score = fbeta_probs(p, t, beta, torch.tensor(trial, dtype=torch.float32))
                if score > best + 1e-12:
                    best, th, improved = score, trial, True
        if not improved:
            break
    return ThresholdReport([float(round(v, 4)) for v in th], before, best, start, list(tags))
