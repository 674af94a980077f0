"""What happened during training: losses, rates and metrics, with plots."""
from __future__ import annotations

import torch

from fastlearn.train.callbacks import Callback

__all__ = ["Recorder"]


class Recorder(Callback):
    """Keeps every iteration's training loss and per-group learning rates, and every epoch's row.

    `losses[i]`, `lrs[i]` (a list, one rate per layer group) and `moms[i]` belong to iteration i
    across all fits; `rows` holds each epoch's table row with `iteration`, the index it ended at.
    The losses arrive as tensors on the training device and are read in one go when `losses` is
    asked for or an epoch ends, so that recording them does not make the CPU wait for a GPU.
    """

    def __init__(self):
        self._losses: list[float] = []
        self._unread: list[torch.Tensor] = []
        self.lrs: list[list[float]] = []
        self.moms: list[float | None] = []
        self.rows: list[dict] = []

    @property
    def losses(self) -> list[float]:
        """The training loss of every iteration so far."""
        self._read()
        return self._losses

    def _read(self) -> None:
        if self._unread:
            self._losses += torch.stack(self._unread).float().tolist()
            self._unread = []

    def batch_end(self, learn, loss):
        if torch.is_tensor(loss):
            self._unread.append(loss.detach())
        else:
            self.losses.append(float(loss))
        self.lrs.append(learn.current_lrs())
        self.moms.append(learn.current_momentum())

    def epoch_end(self, learn, epoch, row):
        self.rows.append(dict(row, iteration=len(self.losses)))

    def fit_end(self, learn):
        self._read()  # what an interrupted epoch left

    def metric(self, name: str) -> list[float]:
        """One value per epoch of a column of the table (e.g. 'valid_loss', 'accuracy')."""
        return [r[name] for r in self.rows if name in r]

    def plot_loss(self, skip_start: int = 0):
        """Training loss per iteration, and validation loss at the end of each epoch."""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(range(skip_start, len(self.losses)), self.losses[skip_start:], label="train", alpha=0.8)
        ends = [r["iteration"] - 1 for r in self.rows if "valid_loss" in r]
        ax.plot(ends, self.metric("valid_loss"), "o-", label="valid")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend()
        fig.tight_layout()
        return fig

    def plot_lr(self, all_groups: bool = False):
        """Learning rate per iteration (the head's, or every group's): SGDR restarts show as jumps."""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        if self.lrs:
            groups = range(len(self.lrs[0])) if all_groups else [len(self.lrs[0]) - 1]
            for g in groups:
                ax.plot([lr[g] for lr in self.lrs], label=f"group {g}")
            if all_groups:
                ax.legend()
        ax.set_xlabel("iteration")
        ax.set_ylabel("learning rate")
        fig.tight_layout()
        return fig
