"""Training logs written as training goes: a CSV row per epoch, TensorBoard scalars."""
from __future__ import annotations

import csv
from pathlib import Path

from fastlearn.train.callbacks import Callback
from fastlearn.utils import distributed

__all__ = ["CSVLogger", "TensorBoardLogger"]


class CSVLogger(Callback):
    """One row per epoch (the epoch table: epoch, losses, metrics, time) appended to `path` and
    flushed as each epoch ends, so a crash or interruption keeps every finished epoch (under
    torchrun, by rank 0).

    An existing file is not replaced unless `overwrite=True`; `append=True` adds to it (the
    columns must match). Later fits with the same logger append to the file it started."""

    def __init__(self, path: str | Path, append: bool = False, overwrite: bool = False):
        self.path, self.append, self.overwrite = Path(path), append, overwrite
        self._columns: list[str] | None = None
        self._started = False

    def fit_begin(self, learn):
        if self._started or not distributed.is_main():  # under torchrun, rank 0 writes the log
            return
        if self.path.exists() and not (self.append or self.overwrite):
            raise FileExistsError(f"{self.path} exists: pass append=True to add to it, overwrite=True to replace it, "
                                  "or another path")
        if self.path.exists() and self.append:
            with open(self.path, newline="") as f:
                self._columns = next(csv.reader(f), None)
        elif self.path.exists():
            self.path.unlink()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._started = True

    def epoch_end(self, learn, epoch, row):
        if not distributed.is_main():
            return
        row = {k: v for k, v in row.items() if k != "iteration"}
        if self._columns is None:
            self._columns = list(row)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self._columns)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self._columns, extrasaction="ignore").writerow(row)
            f.flush()


class TensorBoardLogger(Callback):
    """TensorBoard scalars in `log_dir`: the training loss and each layer group's learning rate
    every `every` steps (`train/loss`, `lr/group_<i>`; reading a loss waits for a GPU, hence not
    every step by default), and every column of the epoch table after each epoch
    (`epoch/valid_loss`, `epoch/accuracy`, ...). View them with `tensorboard --logdir DIR`.
    Needs the `tensorboard` package (`pip install tensorboard`)."""

    def __init__(self, log_dir: str | Path, every: int = 10):
        self.log_dir, self.every = Path(log_dir), max(1, int(every))
        self._writer = None
        self._step = 0

    def fit_begin(self, learn):
        if self._writer is None and distributed.is_main():  # under torchrun, rank 0 writes the logs
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ImportError("TensorBoardLogger needs the tensorboard package: pip install tensorboard") from None
            self._writer = SummaryWriter(str(self.log_dir))

    def batch_end(self, learn, loss):
        if self._writer is None:
            return
        self._step += 1
        if self._step % self.every == 0 or self._step == 1:
            self._writer.add_scalar("train/loss", float(loss), self._step)
            for g, lr in enumerate(learn.current_lrs()):
                self._writer.add_scalar(f"lr/group_{g}", lr, self._step)

    def epoch_end(self, learn, epoch, row):
        if self._writer is None:
            return
        for k, v in row.items():
            if k not in ("epoch", "iteration") and isinstance(v, (int, float)):
                self._writer.add_scalar(f"epoch/{k}", v, epoch)
        self._writer.flush()

    def fit_end(self, learn):
        if self._writer is not None:
            self._writer.flush()
