"""Probabilities from a learner: plain, test-time augmented, and evaluated."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from fastlearn.utils.errors import DataError

__all__ = ["probabilities", "predict", "tta", "Evaluation", "evaluate"]


def probabilities(logits: torch.Tensor, multi_label: bool = False, temperature: float = 1.0) -> torch.Tensor:
    """Softmax (or per-tag sigmoid) of logits divided by the calibration temperature."""
    z = logits.float() / temperature
    return torch.sigmoid(z) if multi_label else torch.softmax(z, dim=1)


def require_split(data, split: str) -> None:
    """DataError, saying how to give one (`data.split_hints`), when `split` of `data` holds no items."""
    if split in ("train", "valid", "test") and len(data._split_idx(split)) == 0:
        how = getattr(data, "split_hints", {}).get(split, f"give the data a {split} set")
        raise DataError(f"the data has no {split} set, so there is nothing to predict: {how}.")


def _labels_or_names(learn, split: str, targets: torch.Tensor):
    return learn.data.item_names("test") if split == "test" else targets


def predict(learn, split: str = "valid", log: bool = False):
    """(probabilities, targets) for every item of `split`, in order; for `split="test"` the second
    item is the list of file names. `log=True` gives log-probabilities, as the course prints them."""
    require_split(learn.data, split)
    logits, targets = learn.get_preds(split)
    if getattr(learn, "regression", False):  # the predicted values themselves
        return logits.float(), _labels_or_names(learn, split, targets)
    probs = probabilities(logits, learn.multi_label, learn.temperature)
    return (probs.clamp_min(1e-45).log() if log else probs), _labels_or_names(learn, split, targets)


def tta(learn, n: int = 4, split: str = "valid", log: bool = False, reduce: bool = True):
    """Test-time augmentation: the mean of the centre view's probabilities and those of `n`
    views with the training augmentation (each view with its own random draw).
    `reduce=False` returns every view instead, stacked as (n + 1, items, classes)."""
    seed = getattr(learn.data, "seed", 0)
    require_split(learn.data, split)
    centre = learn.data.loader(split, augment=False, shuffle=False)
    augmented = (learn.data.loader(split, augment=True, shuffle=False, seed=seed + 1000 + k) for k in range(n))
    outputs = learn._outputs(learn.model, centre, *augmented)
    targets = outputs[0][1]
    views = [probabilities(logits, learn.multi_label, learn.temperature) for logits, _ in outputs]
    probs = torch.stack(views) if not reduce else torch.stack(views).mean(0)
    return (probs.clamp_min(1e-45).log() if log else probs), _labels_or_names(learn, split, targets)


@dataclass
class Evaluation:
    """Accuracy, log loss, the confusion matrix (rows: actual, columns: predicted) and per-class metrics."""

    accuracy: float
    log_loss: float
    confusion: np.ndarray
    per_class: pd.DataFrame  # index: class; columns: precision, recall, f1, support

    def __str__(self) -> str:
        return (f"accuracy {self.accuracy:.4f}, log loss {self.log_loss:.4f}\n"
                f"{self.per_class.to_string(float_format=lambda v: f'{v:.3f}')}")


def evaluate(probs: torch.Tensor, targets: torch.Tensor, classes: list[str]) -> Evaluation:
    """Metrics of single-label class probabilities against integer targets."""
    probs, targets = probs.float().cpu(), targets.cpu()
    c = len(classes)
    preds = probs.argmax(1)
    confusion = torch.zeros(c, c, dtype=torch.long)
    confusion.index_put_((targets, preds), torch.ones_like(targets), accumulate=True)
    cm = confusion.numpy()
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    per_class = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(1)},
                             index=pd.Index(classes, name="class"))
    nll = -probs[torch.arange(len(targets)), targets].clamp_min(1e-15).log().mean().item()
    return Evaluation(float((preds == targets).float().mean()), nll, cm, per_class)
