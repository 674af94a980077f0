"""Hooks around the training loop. Subclass `Callback` and override any of its methods.

The learner calls, in order: fit_begin, then per epoch epoch_begin, batch_begin before every
batch's forward pass (it may return a changed batch: MixUp), batch_end after every optimizer
step, validate_begin before validation, epoch_end after it, and fit_end. Every hook receives
the learner; set `learn.stop_training = True` to end training after the current batch.
Callbacks run in the order of their `order` (lower first; 0 by default), then as listed.

`batch_end` gets the step's loss as a 0-dimensional tensor on the training device, not a float:
`float(loss)` makes the CPU wait until a GPU has finished the step, so a callback that reads it
after every step keeps the GPU from queueing the next one. Read it when you need the number
(the progress bar does about twice a second), or collect the tensors and read them together.
"""
from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from fastlearn.train.learner import Learner

__all__ = ["Callback", "ProgressTable", "SaveEveryEpoch", "KeepBest", "StopOnNaN"]


class Callback:
    """Base class: every hook does nothing (`batch_begin` gives the batch back unchanged)."""

    order = 0

    def fit_begin(self, learn: "Learner") -> None: ...
    def epoch_begin(self, learn: "Learner", epoch: int) -> None: ...

    def batch_begin(self, learn: "Learner", xb, yb):
        return xb, yb

    def batch_end(self, learn: "Learner", loss: "torch.Tensor") -> None: ...
    def validate_begin(self, learn: "Learner") -> None: ...
    def epoch_end(self, learn: "Learner", epoch: int, row: dict) -> None: ...
    def fit_end(self, learn: "Learner") -> None: ...


class ProgressTable(Callback):
    """A progress bar per epoch and one table row per epoch (epoch, losses, metrics, time)."""

    def __init__(self, bar: bool = True, refresh: float = 0.5):
        self.bar_enabled, self.refresh = bar, refresh
        self._bar = None
        self._header_done = False
        self._shown = 0.0

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
            if (now := time.perf_counter()) - self._shown >= self.refresh:  # reading the loss waits for the device
                self._shown = now
                self._bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)

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
    """Notices a training loss that becomes NaN or infinite, or explodes: grows past `explode`
    times its first value in this fit (and past 1,000), which only a diverging run does (a rate
    of 1e6 took the loss to 1e21 without a NaN). When the Learner's `RollbackOnDivergence` holds
    a best epoch, its weights come back at a lower rate and training goes on; otherwise training
    stops with a clear error.

    On the CPU every step's loss is checked. On a GPU, where reading a loss waits for the device,
    a flag kept on the device collects every step and is read at least every `every` seconds
    and at the end of each epoch."""

    def __init__(self, every: float = 1.0, explode: float = 1e4):
        self.every, self.explode = every, explode
        self._bad: torch.Tensor | None = None
        self._checked = 0.0
        self._limit: float | None = None
        self._first: float | None = None

    def fit_begin(self, learn):
        self._bad, self._checked, self._limit, self._first = None, time.perf_counter(), None, None

    def batch_end(self, learn, loss):
        if self._limit is None:  # one read of the first loss per fit sets the bar
            first = float(loss)
            if math.isfinite(first):
                self._first = first
                self._limit = max(self.explode * abs(first), 1e3)
        if loss.device.type == "cpu":
            v = float(loss)
            self._raise_if(learn, not math.isfinite(v) or (self._limit is not None and v > self._limit), v)
            return
        bad = ~torch.isfinite(loss)
        if self._limit is not None:
            bad = bad | (loss > self._limit)
        self._bad = bad if self._bad is None else self._bad | bad
        if time.perf_counter() - self._checked >= self.every:
            self._check(learn, loss)

    def epoch_end(self, learn, epoch, row):
        self._check(learn, None)

    def _check(self, learn, loss):
        self._checked = time.perf_counter()
        if self._bad is not None:
            bad, self._bad = bool(self._bad), None
            self._raise_if(learn, bad, None if loss is None else float(loss))

    def _raise_if(self, learn, bad: bool, value: float | None) -> None:
        if not bad:
            return
        where = f"by iteration {len(learn.recorder.losses)}"
        if value is not None and math.isfinite(value):
            what = (f"the training loss exploded to {value:.3g} {where} (from {self._first:.3g} at the start of "
                    "this fit) without becoming NaN")
        else:
            shown = "" if value is None else f" ({value})"
            what = f"the training loss became NaN or infinite, or exploded,{shown} {where}"
        if learn.roll_back(what):
            return
        learn.stop_training = True
        raise FloatingPointError(
            f"{what}: the learning rate is probably too high. Run learn.lr_find() and pick a smaller rate.")


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
