"""Hooks around the training loop. Subclass `Callback` and override any of its methods.

The learner calls, in order: fit_begin, then per epoch epoch_begin, batch_end after every
optimizer step, epoch_end after validation, and fit_end. Every hook receives the learner;
set `learn.stop_training = True` to end training after the current batch.
"""
from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastlearn.train.learner import Learner

__all__ = ["Callback", "ProgressTable", "SaveEveryEpoch", "KeepBest", "StopOnNaN"]


class Callback:
    """Base class: every hook does nothing."""

    def fit_begin(self, learn: "Learner") -> None: ...
    def epoch_begin(self, learn: "Learner", epoch: int) -> None: ...
    def batch_end(self, learn: "Learner", loss: float) -> None: ...
    def epoch_end(self, learn: "Learner", epoch: int, row: dict) -> None: ...
    def fit_end(self, learn: "Learner") -> None: ...


class ProgressTable(Callback):
    """A progress bar per epoch and one table row per epoch (epoch, losses, metrics, time)."""

    def __init__(self, bar: bool = True):
        self.bar_enabled = bar
        self._bar = None
        self._header_done = False

    def fit_begin(self, learn):
        self._header_done = False

    def epoch_begin(self, learn, epoch):
        self._t0 = time.perf_counter()
        if self.bar_enabled:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=learn.iters_per_epoch, leave=False, desc=f"epoch {epoch}", unit="batch",
                             file=sys.stderr, dynamic_ncols=True)

    def batch_end(self, learn, loss):
        if self._bar is not None:
            self._bar.update()
            self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def epoch_end(self, learn, epoch, row):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        cols = list(row)
        if not self._header_done:
            print("  ".join(f"{c:>12}" for c in cols), flush=True)
            self._header_done = True
        cells = []
        for c in cols:
            v = row[c]
            if c == "time":
                cells.append(f"{int(v // 60):02d}:{v % 60:05.2f}".rjust(12))
            elif isinstance(v, float):
                cells.append(f"{v:12.6f}")
            else:
                cells.append(f"{v!s:>12}")
        print("  ".join(cells), flush=True)

    def fit_end(self, learn):
        if self._bar is not None:
            self._bar.close()


class StopOnNaN(Callback):
    """Stops training with a clear error when the loss becomes NaN or infinite."""

    def batch_end(self, learn, loss):
        if not math.isfinite(loss):
            learn.stop_training = True
            raise FloatingPointError(
                f"the training loss became {loss} at iteration {len(learn.recorder.losses)}: the learning "
                "rate is probably too high. Run learn.lr_find() and pick a smaller rate.")


class SaveEveryEpoch(Callback):
    """Saves the model (and optimizer state) as `<name>_<epoch>` after every epoch."""

    def __init__(self, name: str = "epoch", with_opt: bool = True):
        self.name, self.with_opt = name, with_opt

    def epoch_end(self, learn, epoch, row):
        learn.save(f"{self.name}_{epoch}", with_opt=self.with_opt)


class KeepBest(Callback):
    """Saves the model as `name` whenever `monitor` improves; reloads the best at the end of fit."""

    def __init__(self, name: str = "best", monitor: str = "valid_loss", mode: str = "min", reload: bool = True):
        if mode not in ("min", "max"):
            raise ValueError("mode must be 'min' or 'max'")
        self.name, self.monitor, self.mode, self.reload = name, monitor, mode, reload
        self.best: float | None = None

    def fit_begin(self, learn):
        self.best = None

    def epoch_end(self, learn, epoch, row):
        if self.monitor not in row:
            raise KeyError(f"KeepBest monitors {self.monitor!r}, but the epoch row has {list(row)}")
        v = row[self.monitor]
        if self.best is None or (v < self.best if self.mode == "min" else v > self.best):
            self.best = v
            learn.save(self.name)

    def fit_end(self, learn):
        if self.reload and self.best is not None:
            learn.load(self.name)
