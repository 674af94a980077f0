"""The course's NumPy helpers: `accuracy_np`, the Planet notebook's `f2`, `to_np`."""
from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["accuracy_np", "f2", "to_np"]


def accuracy_np(probs, y) -> float:
    """Accuracy of probabilities (or log-probabilities) against integer labels."""
    return float((np.argmax(np.asarray(probs), axis=1) == np.asarray(y)).mean())


def f2(preds, targs, start: float = 0.17, end: float = 0.24, step: float = 0.01) -> float:
    """The Planet lesson's score: F2 averaged over samples, at the best of the thresholds
    `start`, `start + step`, ... below `end` (as the course's planet.py computes it)."""
    from sklearn.metrics import fbeta_score
    preds, targs = to_np(preds), to_np(targs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # samples without any tag make sklearn warn
        return max(fbeta_score(targs, preds > th, beta=2, average="samples")
                   for th in np.arange(start, end, step))


def to_np(x) -> np.ndarray:
    """A tensor (on any device) or array as a NumPy array."""
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
