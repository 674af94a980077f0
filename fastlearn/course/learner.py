"""The course's learner: `ConvLearner.pretrained(arch, data, precompute=True)`, `learn.sched`,
`predict()` and `TTA()` giving NumPy arrays as fastai 0.7 did, metrics written for NumPy."""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from fastlearn.train import Learner

__all__ = ["ConvLearner", "CourseMetric"]


class CourseMetric:
    """A metric written as the course writes them, `f(preds, targs)` on NumPy arrays, where `preds`
    are what fastai 0.7's models output: log-probabilities, or per-tag probabilities for multi-label
    data (the lesson's `f2` thresholds them). Named after the function."""

    def __init__(self, fn: Callable, multi_label: bool):
        self.fn, self.multi_label = fn, multi_label
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> float:
        logits = logits.float()
        preds = torch.sigmoid(logits) if self.multi_label else torch.log_softmax(logits, dim=1)
        return float(self.fn(preds.numpy(), targets.numpy()))


class _Sched:
    """`learn.sched`: the plots the course calls on it."""

    def __init__(self, learn: "ConvLearner"):
        self.learn = learn

    def plot(self, n_skip: int = 5, n_skip_end: int = 3):
        """Loss against learning rate from the last `lr_find`."""
        if self.learn.lr_finder is None:
            raise RuntimeError("run learn.lr_find() first")
        return self.learn.lr_finder.plot(n_skip, n_skip_end)

    def plot_lr(self):
        """Learning rate against iteration: the training schedule, or the last lr_find's sweep."""
        if self.learn.recorder.lrs:
            return self.learn.recorder.plot_lr()
        if self.learn.lr_finder is not None:
            return self.learn.lr_finder.plot_lr()
        raise RuntimeError("nothing trained yet")

    def plot_loss(self):
        """Training loss against iteration."""
        return self.learn.recorder.plot_loss()


class ConvLearner(Learner):
    """`Learner` with the course's method names. `predict()` and `TTA()` return log-probabilities
    (per-tag probabilities for multi-label data), as NumPy arrays.

    Like fastai 0.7, it trains with SGD with momentum 0.9 by default: the lessons' learning rates
    (0.01, [1e-4, 1e-3, 1e-2]) are SGD rates, far too high for Adam on a pretrained body. And like
    fastai 0.7, frozen layers keep their pretrained BatchNorm statistics (`model.bn_adapt` stays
    False), which the lessons' rates and epochs were tuned with. `metrics` are functions of
    NumPy arrays as the course writes them (see `CourseMetric`).
    """

    @classmethod
    def pretrained(cls, arch, data, precompute: bool = False, ps=(0.25, 0.5), opt: str = "sgd",
                   metrics=None, **kwargs) -> "ConvLearner":
        if metrics is not None:
            metrics = [CourseMetric(m, data.multi_label) for m in metrics]
        return super().pretrained(arch, data, precompute=precompute, ps=tuple(ps) if np.ndim(ps) else (ps / 2, ps),
                                  opt=opt, metrics=metrics, **kwargs)

    @property
    def sched(self) -> _Sched:
        return _Sched(self)

    def predict(self, is_test: bool = False, split: str | None = None, log: bool | None = None):
        """Log-probabilities (probabilities for multi-label data) of the validation or test set."""
        log = not self.multi_label if log is None else log
        probs, _ = super().predict("test" if is_test else (split or "valid"), log=log)
        return probs.numpy()

    def TTA(self, n_aug: int = 4, is_test: bool = False):
        """(predictions of every view, shape (n_aug + 1, items, classes), targets): log-probabilities,
        or probabilities for multi-label data."""
        split = "test" if is_test else "valid"
        views, targets = self.tta(n=n_aug, split=split, log=not self.multi_label, reduce=False)
        return views.numpy(), (targets if is_test else targets.numpy())
