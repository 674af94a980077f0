"""The training toolbox as a run's settings: what `fastlearn train --accumulate/--clip-grad/
--label-smoothing/--early-stop/--mixup/--cutmix/--ema/--tensorboard` asks of every data kind's recipe."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from fastlearn.train.callbacks import Callback

__all__ = ["TrainingOptions"]


@dataclass
class TrainingOptions:
    """`accumulate`, `clip_grad`, `label_smoothing`: the Learner's arguments. `early_stop`: the
    patience of an `EarlyStopping` on the validation loss that restores the best epoch.
    `mixup`/`cutmix`: alpha of `MixUp`/`CutMix` (images). `ema`: the decay of an `EMA`.
    `tensorboard`: a folder for a `TensorBoardLogger`. `scale_lr`: under torchrun, scale the rate
    with the total batch (`Learner(scale_lr=True)`); `sync_bn`: BatchNorm over every GPU's batch."""

    accumulate: int = 1
    clip_grad: float | None = None
    label_smoothing: float = 0.0
    early_stop: int | None = None
    mixup: float | None = None
    cutmix: float | None = None
    ema: float | None = None
    tensorboard: str | None = None
    scale_lr: bool = False
    sync_bn: bool = False

    def learner_kwargs(self) -> dict:
        return {"accumulate": self.accumulate, "clip_grad": self.clip_grad, "label_smoothing": self.label_smoothing,
                "scale_lr": self.scale_lr, "sync_bn": self.sync_bn}

    def callbacks(self, kind: str, run: str = "") -> list[Callback]:
        """The callbacks for one run (pass the same list to each of its fits), for data of `kind`;
        `run` names a subfolder of `tensorboard` for this training (a table's fold)."""
        from fastlearn.train.early_stopping import EarlyStopping
        from fastlearn.train.ema import EMA
        from fastlearn.train.loggers import TensorBoardLogger
        from fastlearn.train.mixup import CutMix, MixUp
        if (self.mixup or self.cutmix) and kind != "image":
            raise ValueError(f"--mixup and --cutmix mix images; this data is {kind}")
        cbs: list[Callback] = []
        if self.early_stop:
            cbs.append(EarlyStopping("valid_loss", patience=self.early_stop, restore_best=True))
        if self.mixup:
            cbs.append(MixUp(self.mixup))
        if self.cutmix:
            cbs.append(CutMix(self.cutmix))
        if self.ema:
            cbs.append(EMA(self.ema))
        if self.tensorboard:
            cbs.append(TensorBoardLogger(Path(self.tensorboard) / run))
        return cbs

    def settings(self) -> dict:
        """What differs from the defaults (for summary.json and a resumed run's check)."""
        return {k: v for k, v in asdict(self).items() if v != getattr(TrainingOptions, k)}
