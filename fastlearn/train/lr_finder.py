"""The learning-rate finder: train briefly with a growing rate and watch the loss."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LRFind", "smooth_losses"]


def smooth_losses(losses: list[float], beta: float = 0.98) -> np.ndarray:
    """Exponentially weighted moving average with bias correction (the finder's smoothing)."""
    out, avg = [], 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** (i + 1)))
    return np.asarray(out)


@dataclass
class LRFind:
    """The sweep's rates and smoothed losses, and the suggested rate.

    Rule: `suggestion` is the rate at the minimum of the smoothed loss divided by 10, the
    course's rule of thumb: a rate where the loss is still falling fast, an order of magnitude
    below the point where it stops improving. `steep` (the rate where the smoothed loss falls
    fastest, per log-rate) is given as a second opinion. Both lie inside the rates tried.
    `float(result)` is the suggestion.
    """

    lrs: np.ndarray
    losses: np.ndarray  # smoothed
    raw_losses: np.ndarray
    suggestion: float
    lr_min: float
    steep: float

    @classmethod
    def from_sweep(cls, lrs: list[float], raw: list[float]) -> "LRFind":
        lrs_a, raw_a = np.asarray(lrs, dtype=float), np.asarray(raw, dtype=float)
        smooth = smooth_losses(raw)
        finite = np.isfinite(smooth)
        i_min = int(np.nanargmin(np.where(finite, smooth, np.inf)))
        lr_min = float(lrs_a[i_min])
        if i_min < max(3, len(lrs_a) // 10):
            import warnings
            warnings.warn(
                f"lr_find: the smoothed loss was lowest at the start of the sweep ({lr_min:.1e}); it never fell, "
                "so the suggestion means little. The model may already be trained at this rate range: look at "
                "result.plot() and pick a rate by eye (or sweep more iterations).", stacklevel=3)
        suggestion = float(np.clip(lr_min / 10, lrs_a[0], lrs_a[-1]))
        if i_min >= 2:
            slope = np.gradient(smooth[: i_min + 1], np.log(lrs_a[: i_min + 1]))
            steep = float(lrs_a[int(np.argmin(slope))])
        else:
            steep = float(lrs_a[0])
        return cls(lrs_a, smooth, raw_a, suggestion, lr_min, steep)

    def __float__(self) -> float:
        return self.suggestion

    def __repr__(self) -> str:
        return (f"LRFind(suggestion={self.suggestion:.2e} (minimum {self.lr_min:.2e} / 10), steepest={self.steep:.2e}, "
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


def should_stop(smoothed: float, best: float, iteration: int, factor: float = 4.0) -> bool:
    """The sweep ends once the smoothed loss passes `factor` times its minimum, or diverges."""
    return not math.isfinite(smoothed) or (iteration > 10 and smoothed > factor * best)
