"""The course recipe end to end, as the command line and the demo run it, writing a run folder."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fastlearn.train.options import TrainingOptions
from fastlearn.utils import distributed
from fastlearn.utils.atomic import atomic_path

__all__ = ["RecipeConfig", "RunFolderError", "run_recipe", "sgdr_plan"]


@dataclass
class RecipeConfig:
    """What `fastlearn train` does. `epochs` counts every epoch: one with the body frozen, the
    rest unfrozen with differential rates under SGDR: [lr/9, lr/3, lr] (the 2018 course's for
    planet images), or [lr/100, lr/10, lr] (its lesson 1's) when an epoch is under 50 steps,
    where a few images move the pretrained body too far (see `unfrozen_rates`).

    `out` is the run folder. A folder that holds a run already is never replaced unless
    `overwrite`; `resume` continues the run there from its last completed epoch, when the
    settings and the data are those it started with."""

    data: str
    csv: str | None = None
    folder: str = "train"
    suffix: str = ""
    arch: str = "tf_efficientnet_lite0"
    size: int = 224
    bs: int | None = None  # 64, or less for a small training set (see ImageData)
    epochs: int = 4
    lr: str | float = "auto"
    augment: str | list = "auto"
    precompute: bool = False
    unfreeze: bool = True
    tta: bool = False
    multi_label: bool = False
    label_delim: str = " "
    valid_pct: float | None = None  # None: the valid/ folder, else 0.2
    out: str = "runs/latest"
    resume: bool = False
    overwrite: bool = False
    seed: int = 0
    progress: bool = True
    training: TrainingOptions = field(default_factory=TrainingOptions)
    extra: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """What decides the training (not where it is written or what is reported after it)."""
        return {"data": str(Path(self.data).resolve()), "csv": self.csv, "folder": self.folder, "suffix": self.suffix,
                "arch": self.arch, "size": self.size, "bs": self.bs, "epochs": self.epochs, "lr": str(self.lr),
                "augment": repr(self.augment), "precompute": self.precompute, "unfreeze": self.unfreeze,
                "multi_label": self.multi_label, "label_delim": self.label_delim, "valid_pct": self.valid_pct,
                "seed": self.seed, **self.training.settings()}


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked; the message says what to do instead."""


def sgdr_plan(epochs: int) -> tuple[int, int, int]:
    """(n_cycle, cycle_len, cycle_mult) spending exactly `epochs`: doubling cycles (1, 2, 4, ...)
    when the count allows (1, 3, 7, 15), else `epochs` one-epoch cycles."""
    for n in range(1, 6):
        if 2**n - 1 == epochs:
            return n, 1, 2
    return epochs, 1, 1


def unfrozen_rates(lr: float, short_epochs: bool) -> list[float]:
    """The recipe's differential rates once the body is unfrozen (early group first). Measured
    with `--epochs 4` (2026-12-03): 30 digits a class at 32 px (10 steps an epoch), 65.9% with
    [lr/100, lr/10, lr], while with [lr/9, lr/3, lr] the unfrozen epochs fell to 7-27% (the
    frozen epoch's 47.2% was kept); 4,000 digits at 64 px (62 steps), 92.7% against 96.0%."""
    return [lr / 100, lr / 10, lr] if short_epochs else [lr / 9, lr / 3, lr]


def _load_data(cfg: RecipeConfig):
    from fastlearn import ImageData
    opts = dict(size=cfg.size, bs=cfg.bs, augment=cfg.augment, seed=cfg.seed, progress=cfg.progress)
    if cfg.valid_pct is not None:
        opts["valid_pct"] = cfg.valid_pct
    if cfg.csv:
        return ImageData.from_csv(cfg.data, cfg.csv, folder=cfg.folder, suffix=cfg.suffix,
                                  multi_label=cfg.multi_label, label_delim=cfg.label_delim, **opts)
    return ImageData.from_folder(cfg.data, **opts)


def _write_json(path: Path, obj) -> None:
    if not distributed.is_main():  # under torchrun, rank 0 writes the run folder
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str))


_RUN_FILES = ("state.json", "summary.json", "metrics.csv", "model/manifest.json", "checkpoints/checkpoint.json")


def _read_state(out: Path) -> dict | None:
    path = out / "state.json"
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunFolderError(f"{path} cannot be read ({e}); start again with --overwrite, or pick another --out.") from None
    if not isinstance(state, dict) or "settings" not in state:
        raise RunFolderError(f"{path} was written by an older fastlearn and cannot be resumed; "
                             "start again with --overwrite, or pick another --out.")
    return state


def _open_run_folder(cfg: RecipeConfig, out: Path) -> dict | None:
    """The state of the run to resume in `out`, None to start a new one; refuses (changing
    nothing) to start over a run that is there unless asked to overwrite it."""
    if cfg.overwrite:
        for stale in ("state.json", "checkpoints/checkpoint.json"):
            (out / stale).unlink(missing_ok=True)
        return None
    state = _read_state(out)
    if cfg.resume:
        if state is None:
            if any((out / f).exists() for f in _RUN_FILES):
                raise RunFolderError(f"{out} holds a run with no state.json to resume from; pass --overwrite to "
                                     "replace it, or pick another --out.")
            return None  # nothing to resume: a new run
        differ = [f"{k}: {state['settings'].get(k)!r} then, {v!r} now" for k, v in cfg.settings().items()
                  if state["settings"].get(k) != v]
        if differ:
            raise RunFolderError(f"cannot resume the run in {out} with other settings ({'; '.join(differ)}). "
                                 "Resume with the same settings, pick another --out, or pass --overwrite.")
        return state
    if state is not None or any((out / f).exists() for f in _RUN_FILES):
        what = "a finished run" if state is None or state.get("finished") else \
            f"an unfinished run ({state.get('epoch', 0)} of {state['settings'].get('epochs')} epochs done)"
        raise RunFolderError(f"{out} already holds {what}; nothing was changed. Pass --resume to continue it, "
                             "--overwrite to replace it, or pick another --out.")
    return None


def run_recipe(cfg: RecipeConfig) -> dict:
    """Train, evaluate and export into `cfg.out`: metrics.csv (a row after every epoch),
    checkpoints/ (the last completed epoch: weights, optimizer, random states), model/ (the
    bundle), lr_find.png, confusion.png, report.html, summary.json and state.json. A run killed
    at any moment continues with `resume` from its last completed epoch, on the same schedule."""
    import matplotlib
    matplotlib.use("Agg")
    from fastlearn import Learner
    from fastlearn.train.checkpoint import EpochCheckpoint, load_checkpoint, read_checkpoint, save_checkpoint

    from fastlearn.vision.models.zoo import check_arch
    check_arch(cfg.arch)  # before decoding any image
    if cfg.precompute and (cfg.training.mixup or cfg.training.cutmix):
        raise ValueError("--mixup and --cutmix mix images, and --precompute trains the head on fixed activations: "
                         "leave one out")
    out = Path(cfg.out)
    state = _open_run_folder(cfg, out)
    distributed.barrier()  # every rank has read the folder before rank 0 writes to it
    if state is not None and state.get("finished"):
        print(f"the run in {out} is already finished ({state.get('epoch')} epochs); nothing to do.")
        return json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else {}
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = _load_data(cfg)
    print(data)
    fingerprint = data.fingerprint()  # the files, their split and size (taken before a model sets the statistics)
    if state is not None and state.get("data") != fingerprint:
        raise RunFolderError(f"cannot resume the run in {out}: the data changed since it started (images added, "
                             "removed or modified, or another split). Pick another --out, or pass --overwrite.")
    ckpt_dir = out / "checkpoints"
    learn = Learner.pretrained(cfg.arch, data, seed=cfg.seed, model_dir=ckpt_dir, progress=cfg.progress,
                               **cfg.training.learner_kwargs())
    body_bn = learn.settle_batchnorm() if cfg.unfreeze and cfg.epochs > 1 else None
    frozen_epochs = 1 if cfg.unfreeze else cfg.epochs
    rows: list[dict] = []
    if state is not None and read_checkpoint(ckpt_dir) is not None:
        info = load_checkpoint(learn, ckpt_dir)
        data.flip_check = info.get("flips")
        if data.flip_check is not None:  # as decided before the run was stopped (the loader keeps its state)
            data.set_flips(data.flip_check["flips"], data.flip_check.get("turns", False))
        lr, rows = info["lr"], info["rows"]
        print(f"resuming the run in {out} after epoch {learn.epoch} of {cfg.epochs}")
    elif cfg.lr == "auto":
        finder = learn.lr_find()
        if distributed.is_main():
            finder.plot().savefig(out / "lr_find.png")
        lr = finder.suggestion
        print(f"lr_find suggests {lr:.2e} (rule: {finder.rule})")
    else:
        lr = float(cfg.lr)
    state = {"settings": cfg.settings(), "data": fingerprint, "lr": lr, "epoch": learn.epoch, "finished": False}

    def write_metrics() -> None:
        if not distributed.is_main():
            return
        with atomic_path(out / "metrics.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)

    def after_epoch(learn, row) -> None:
        state["epoch"] = learn.epoch + 1
        _write_json(out / "state.json", state)
        write_metrics()

    def checkpoint_info(learn, row) -> dict:
        rows.append({k: v for k, v in row.items() if k != "iteration"})
        return {"lr": lr, "rows": rows, "flips": learn.data.flip_check}

    if learn.epoch == 0:  # the starting point (after lr_find), so a resume repeats no random draw
        save_checkpoint(learn, ckpt_dir, {"lr": lr, "rows": rows})
        _write_json(out / "state.json", state)
    saver = [EpochCheckpoint(ckpt_dir, extra=checkpoint_info, after=after_epoch), *cfg.training.callbacks("image")]
    try:
        if learn.epoch < frozen_epochs:
            learn.precompute = cfg.precompute
            if cfg.precompute:
                n, cl, cm = sgdr_plan(frozen_epochs)
                learn.fit(lr, n, cycle_len=cl, cycle_mult=cm, callbacks=saver, initial_epoch=learn.epoch)
            else:
                learn.fit(lr, frozen_epochs, callbacks=saver, initial_epoch=learn.epoch)
        if cfg.unfreeze and cfg.epochs > 1 and learn.epoch < cfg.epochs:
            learn.precompute = False
            learn.unfreeze()
            n, cl, cm = sgdr_plan(cfg.epochs - 1)
            learn.fit(unfrozen_rates(lr, learn.short_epochs), n, cycle_len=cl, cycle_mult=cm, callbacks=saver,
                      initial_epoch=learn.epoch - frozen_epochs)
    except FloatingPointError as e:
        done = state["epoch"]
        raise FloatingPointError(
            f"{e} The run stopped; the weights of its last good epoch ({done} of {cfg.epochs}) are in {ckpt_dir}/. "
            "Start again with a smaller --lr (and --overwrite).") from None

    seconds = time.perf_counter() - t0
    valid = learn.validate()
    summary = {"accuracy": valid.get("accuracy"), "valid_loss": valid["valid_loss"], "epochs": learn.epoch,
               "seconds": round(seconds, 1), "classes": list(data.classes), "arch": cfg.arch, "size": cfg.size,
               "lr": lr, "lr_rule": learn.lr_finder.rule if learn.lr_finder else None, "body_batchnorm": body_bn,
               "bs": data.bs, "world_size": distributed.world_size(), "bs_chosen": "given" if cfg.bs else "automatic", "train_images": len(data.train_idx), "valid_images": len(data.valid_idx)}
    # Training images seen per second of the run in this process (lr_find, validation and export included).
    trained_here = len(learn.recorder.rows)
    summary["images_per_second"] = round(trained_here * len(data.train_idx) / seconds, 1) if seconds else None
    if learn.rollbacks:
        summary["rollbacks"] = learn.rollbacks
    if cfg.training.settings():
        summary["training"] = cfg.training.settings()
    stopped = [cb.stopped_epoch for cb in saver if getattr(cb, "stopped_epoch", None) is not None]
    if stopped:
        summary["early_stopped_after_epoch"] = stopped[-1]
    if data.flip_check is not None:
        summary["augment_auto"] = data.flip_check
    if cfg.tta and not data.multi_label:
        probs, targets = learn.tta()
        summary["tta_accuracy"] = float((probs.argmax(1) == targets).float().mean())
    if data.multi_label:
        report = learn.optimize_thresholds()
        summary.update(f2=report.before, f2_optimised=report.after, thresholds=report.thresholds)
    learn.export(out / "model")
    if not data.multi_label and distributed.is_main():  # one pass over the validation set serves both
        from fastlearn.infer.predictions import predict
        from fastlearn.interpret.interpretation import Interpretation
        probs, targets = predict(learn, "valid")
        Interpretation.from_predictions(data, "valid", probs, targets).plot_confusion_matrix().savefig(
            out / "confusion.png")
        learn.report(out / "report.html", predictions=(probs, targets))
    _write_json(out / "summary.json", summary)
    state["finished"] = True
    _write_json(out / "state.json", state)
    shown = (f"accuracy {summary['accuracy']:.2%}" if summary["accuracy"] is not None
             else f"F2 {summary['f2']:.4f}, {summary['f2_optimised']:.4f} at per-tag thresholds")
    print(f"{shown}" + (f", TTA {summary['tta_accuracy']:.2%}" if "tta_accuracy" in summary else "")
          + f" after {learn.epoch} epochs in {seconds:.0f}s; run folder {out}/")
    return summary
