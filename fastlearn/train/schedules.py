"""Learning-rate (and momentum) schedules as arrays: one multiplier per training iteration.

Each layer group's rate at iteration i is its base rate times `lr[i]`, so one schedule serves
any number of groups (differential learning rates).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Schedule", "constant", "sgdr", "one_cycle", "exponential"]


@dataclass
class Schedule:
    """Per-iteration rate multipliers `lr`, optional momentum values `mom`, and the epochs they span."""

    lr: np.ndarray
    epochs: int
    mom: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lr)


def _cos(start: float, end: float, frac: np.ndarray) -> np.ndarray:
    return end + (start - end) * (1 + np.cos(np.pi * frac)) / 2


def constant(epochs: int, iters_per_epoch: int) -> Schedule:
    """The base rate throughout."""
    return Schedule(np.ones(epochs * iters_per_epoch), epochs)


def sgdr(n_cycle: int, cycle_len: int, cycle_mult: int, iters_per_epoch: int) -> Schedule:
    """SGDR: cosine annealing from the base rate towards 0 within each cycle, restarting at the top.

    Cycle k lasts `cycle_len * cycle_mult**k` epochs; within it, at iteration t of T,
    the multiplier is (1 + cos(pi * t / T)) / 2.
    """
    parts, epochs = [], 0
    for k in range(n_cycle):
        cycle_epochs = cycle_len * cycle_mult**k
        T = cycle_epochs * iters_per_epoch
        parts.append(_cos(1.0, 0.0, np.arange(T) / T))
        epochs += cycle_epochs
    return Schedule(np.concatenate(parts), epochs)


def one_cycle(epochs: int, iters_per_epoch: int, pct_start: float = 0.25, div: float = 25.0,
              final_div: float = 1e4, moms: tuple[float, float] = (0.95, 0.85)) -> Schedule:
    """One cycle: the rate rises from 1/div to 1 (cosine) over pct_start of training, then falls to
    1/final_div; momentum moves the opposite way, from moms[0] to moms[1] and back."""
    n = epochs * iters_per_epoch
    warm = max(1, int(round(n * pct_start)))
    up, down = np.arange(warm) / warm, np.arange(n - warm) / max(1, n - warm)
    lr = np.concatenate([_cos(1 / div, 1.0, up), _cos(1.0, 1 / final_div, down)])
    mom = np.concatenate([_cos(moms[0], moms[1], up), _cos(moms[1], moms[0], down)])
    return Schedule(lr, epochs, mom)


def exponential(start: float, end: float, n: int) -> np.ndarray:
    """Rates growing geometrically from `start` to `end` over n iterations (the LR finder's sweep)."""
    return start * (end / start) ** (np.arange(n) / max(1, n - 1))
