"""The learning-rate finder: train briefly with a growing rate and watch the loss."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LRFind", "RULES", "lr_find_iterations", "smooth_losses", "sweep_beta"]


def smooth_losses(losses: list[float], beta: float = 0.98) -> np.ndarray:
    """Exponentially weighted moving average with bias correction (the finder's smoothing)."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return np.asarray(out)


RULES = ("valley", "minimum", "steep")


@dataclass
class LRFind:
    """The sweep's rates and smoothed losses, and the suggested rate.

    Three rules are computed, each inside the rates tried and at or below the minimum (where the
    loss was still improving): `valley` (the default), the rate from which the smoothed loss stays
    below halfway down from its highest point before the minimum to the minimum (fastai's
    `valley` takes a point half-way along the longest descent instead, which on a short, noisy
    sweep can start on the flat part at the smallest rates); `minimum`, the rate at
    the smoothed loss's minimum divided by 10 (the course's rule of thumb); `steep`, where the
    loss falls fastest per log-rate. On small data the minimum's tenth was the least robust of
    the three (bench/lr_rules.py; bench/RESULTS.md). `float(result)` is the suggestion.
    """

    lrs: np.ndarray
    losses: np.ndarray  # smoothed
    raw_losses: np.ndarray
    lr_min: float
    steep: float
    valley: float
    rule: str = "valley"
    ratios: list[float] | None = None  # each layer group's rate over the last group's, during the sweep

    @classmethod
    def from_sweep(cls, lrs: list[float], raw: list[float], rule: str = "valley", beta: float | None = None) -> "LRFind":
        """`beta`: the smoothing (default 1 - 2 / iterations: 0.98 for a hundred)."""
        if rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
        lrs_a, raw_a = np.asarray(lrs, dtype=float), np.asarray(raw, dtype=float)
        smooth = smooth_losses(raw, beta if beta is not None else sweep_beta(len(raw)))
        finite = np.isfinite(smooth)
        # Every rule looks past the first tenth of the sweep: there the average holds a few batches
        # only, and one odd first batch became the minimum (a loss of 2.8 among 3.5s), or the top of
        # the fall and its steepest part (4.7 among 3.7s), all on the flat start: 30 digits a class
        # in batches of 8-10 were given 1e-7 to 2.3e-7 and stayed at chance (8-10%).
        skip = min(max(3, len(lrs_a) // 10), max(len(lrs_a) - 3, 0))
        i_min = skip + int(np.nanargmin(np.where(finite, smooth, np.inf)[skip:]))
        lr_min = float(lrs_a[i_min])
        if i_min == skip and len(lrs_a) > 3:
            import warnings
            warnings.warn(
                f"lr_find: the smoothed loss was lowest at the start of the sweep ({lr_min:.1e}); it never fell, "
                "so the suggestion means little. The model may already be trained at this rate range: look at "
                "result.plot() and pick a rate by eye (or sweep more iterations).", stacklevel=3)
        if i_min - skip >= 2:
            slope = np.gradient(smooth[skip: i_min + 1], np.log(lrs_a[skip: i_min + 1]))
            steep = float(lrs_a[skip + int(np.argmin(slope))])
        else:
            steep = float(lrs_a[skip])
        first = skip + int(np.nanargmax(np.where(finite, smooth, -np.inf)[skip: i_min + 1]))
        halfway = (smooth[first] + smooth[i_min]) / 2
        # where the loss came below halfway for good: a noisy plateau can dip below it early
        # (a text head: a fall of 0.91 -> 0.78 with dips to 0.84 at 2e-6; suggested 3e-6, 47%)
        above = np.flatnonzero(smooth[first: i_min + 1] > halfway)
        valley = float(lrs_a[first + (int(above[-1]) + 1 if len(above) else 0)])
        return cls(lrs_a, smooth, raw_a, lr_min, steep, valley, rule)

    @property
    def suggestion(self) -> float:
        """The rate `rule` gives."""
        return self.suggest(self.rule)

    def suggest(self, rule: str) -> float:
        """The rate another rule gives (one of `RULES`)."""
        if rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
        return {"valley": self.valley, "minimum": float(np.clip(self.lr_min / 10, self.lrs[0], self.lrs[-1])),
                "steep": self.steep}[rule]

    def __float__(self) -> float:
        return self.suggestion

    def __repr__(self) -> str:
        return (f"LRFind(suggestion={self.suggestion:.2e} ({self.rule}), valley={self.valley:.2e}, "
                f"minimum/10={self.suggest('minimum'):.2e}, steepest={self.steep:.2e}, "
                f"{len(self.lrs)} iterations from {self.lrs[0]:.1e} to {self.lrs[-1]:.1e})")

    def plot(self, skip_start: int = 5, skip_end: int = 3):
        """Smoothed loss against learning rate (log axis), the suggestion marked."""
        import matplotlib.pyplot as plt
        end = max(skip_start + 1, len(self.lrs) - skip_end)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs[skip_start:end], self.losses[skip_start:end])
        ax.axvline(self.suggestion, color="tab:red", ls="--", label=f"suggestion {self.suggestion:.1e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("loss (smoothed)")
        ax.legend()
        fig.tight_layout()
        return fig

    def plot_lr(self):
        """Learning rate against iteration: the exponential sweep."""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs)
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("learning rate")
        fig.tight_layout()
        return fig


def sweep_beta(iterations: int) -> float:
    """The smoothing for a sweep of `iterations` steps: 0.98 for a hundred (fastai's), less for
    shorter sweeps, whose average would otherwise lag several tenths of a decade behind."""
    return max(0.9, 1 - 2 / max(iterations, 1))


def lr_find_iterations(batches_per_epoch: int) -> int:
    """The sweep's default length: three epochs' batches, at least 40 (fewer leave too few points
    per decade of rates) and at most 100 (fastai's and the course's)."""
    return int(min(100, max(40, 3 * batches_per_epoch)))


def should_stop(smoothed: float, best: float, iteration: int, factor: float = 4.0) -> bool:
    """The sweep ends once the smoothed loss passes `factor` times its minimum, or diverges."""
    return not math.isfinite(smoothed) or (iteration > 10 and smoothed > factor * best)
