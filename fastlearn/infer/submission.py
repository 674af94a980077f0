"""Kaggle submission files with clipping chosen on the validation set."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fastlearn.utils.atomic import atomic_path

__all__ = ["kaggle_log_loss", "best_clip", "write_submission", "write_tag_submission", "CLIP_CANDIDATES"]

CLIP_CANDIDATES = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.02, 0.03, 0.05, 0.1)


def kaggle_log_loss(probs: np.ndarray, targets: np.ndarray, eps: float = 1e-15) -> float:
    """Log loss as Kaggle scores it: clip to [eps, 1 - eps], renormalise rows, mean -log p(true)."""
    p = np.clip(probs, max(eps, 1e-15), 1 - max(eps, 1e-15))
    p = p / p.sum(1, keepdims=True)
    return float(-np.log(p[np.arange(len(targets)), targets]).mean())


def best_clip(probs: np.ndarray, targets: np.ndarray, candidates=CLIP_CANDIDATES) -> tuple[float, float]:
    """The clipping bound among `candidates` with the lowest validation log loss, and that loss."""
    scored = [(kaggle_log_loss(probs, targets, c), c) for c in candidates]
    loss, clip = min(scored)
    return clip, loss


def write_submission(path: str | Path, names: list[str], probs: torch.Tensor | np.ndarray, classes: list[str],
                     clip: float = 0.0, id_column: str = "id", label_column: str | None = None) -> pd.DataFrame:
    """Write `id` (file stem) then the positive class's probability for two classes (column named
    `label_column`, default classes[1]: the Dogs vs Cats Redux competition wants `id,label`), or
    one column per class; probabilities clipped to [clip, 1 - clip]."""
    p = np.asarray(probs, dtype=np.float64)
    p = np.clip(p, clip, 1 - clip)
    ids = [Path(n).stem for n in names]
    if len(classes) == 2:
        df = pd.DataFrame({id_column: ids, label_column or classes[1]: p[:, 1]})
    else:
        df = pd.DataFrame(p, columns=classes)
        df.insert(0, id_column, ids)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return df


def write_tag_submission(path: str | Path, names: list[str], probs: torch.Tensor | np.ndarray, classes: list[str],
                         threshold: float | list[float], id_column: str = "image_name",
                         tags_column: str = "tags") -> pd.DataFrame:
    """Multi-label, in the Planet competition's layout: `image_name` (file stem) and `tags`, the
    space-separated tags whose probability reaches their threshold (one value or one per tag)."""
    p = np.asarray(probs, dtype=np.float64)
    cut = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (p.shape[1],))
    tags = [" ".join(c for c, on in zip(classes, row) if on) for row in p >= cut]
    df = pd.DataFrame({id_column: [Path(n).stem for n in names], tags_column: tags})
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return df
