"""Early stopping: end a fit once a monitored value has stopped improving."""
from __future__ import annotations

import copy

from fastlearn.train.callbacks import Callback
from fastlearn.utils import distributed

__all__ = ["EarlyStopping"]


def say(message: str) -> None:
    if distributed.is_main():  # under torchrun every rank decides alike; rank 0 says so
        print(message)


class EarlyStopping(Callback):
    """Stops the fit after `patience` epochs in which `monitor` (a column of the epoch table:
    "valid_loss", "accuracy", ...) did not improve on its best by more than `min_delta`.
    `mode` "min" or "max" (default "auto": "min" for losses and errors, else "max").
    `restore_best=True` puts back the best epoch's weights at the end of the fit, saying so.
    Stopping ends the fit's schedule where it is (a one-cycle fit stops before annealing)."""

    def __init__(self, monitor: str = "valid_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = False):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {patience}")
        self.monitor, self.patience, self.min_delta, self.restore_best = monitor, int(patience), abs(min_delta), restore_best
        self.mode = mode if mode != "auto" else ("min" if any(w in monitor for w in ("loss", "error", "rmse")) else "max")
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._waited = 0
        self._best_state: dict | None = None

    def fit_begin(self, learn):
        self.best, self.best_epoch, self.stopped_epoch, self._waited, self._best_state = None, None, None, 0, None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta

    def epoch_end(self, learn, epoch, row):
        if self.monitor not in row:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but the epoch table has {list(row)}: "
                           "pass one of those as monitor=")
        value = float(row[self.monitor])
        if self._improved(value):
            self.best, self.best_epoch, self._waited = value, epoch, 0
            if self.restore_best:
                self._best_state = copy.deepcopy(learn.model.state_dict())
            return
        self._waited += 1
        if self._waited >= self.patience:
            self.stopped_epoch = epoch
            learn.stop_training = True
            say(f"early stopping after epoch {epoch}: {self.monitor} has not improved on {self.best:.6g} "
                  f"(epoch {self.best_epoch}) for {self.patience} epoch(s)")

    def fit_end(self, learn):
        if self.restore_best and self._best_state is not None and self.best_epoch != learn.epoch - 1:
            learn.model.load_state_dict(self._best_state)
            say(f"restored the weights of epoch {self.best_epoch} ({self.monitor} {self.best:.6g})")
