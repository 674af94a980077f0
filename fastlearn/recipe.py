"""The course recipe end to end, as the command line and the demo run it, writing a run folder."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fastlearn.utils.atomic import atomic_path

__all__ = ["RecipeConfig", "run_recipe", "sgdr_plan"]


@dataclass
class RecipeConfig:
    """What `fastlearn train` does. `epochs` counts every epoch: one with the body frozen, the
    rest unfrozen with differential rates [lr/9, lr/3, lr] under SGDR."""

    data: str
    csv: str | None = None
    folder: str = "train"
    suffix: str = ""
    arch: str = "tf_efficientnet_lite0"
    size: int = 224
    bs: int = 64
    epochs: int = 4
    lr: str | float = "auto"
    augment: str | list = "side_on"
    precompute: bool = False
    unfreeze: bool = True
    tta: bool = False
    multi_label: bool = False
    out: str = "runs/latest"
    resume: bool = False
    seed: int = 0
    progress: bool = True
    extra: dict = field(default_factory=dict)


def sgdr_plan(epochs: int) -> tuple[int, int, int]:
    """(n_cycle, cycle_len, cycle_mult) spending exactly `epochs`: doubling cycles (1, 2, 4, ...)
    when the count allows (1, 3, 7, 15), else `epochs` one-epoch cycles."""
    for n in range(1, 6):
        if 2**n - 1 == epochs:
            return n, 1, 2
    return epochs, 1, 1


def _load_data(cfg: RecipeConfig):
    from fastlearn import ImageData
    opts = dict(size=cfg.size, bs=cfg.bs, augment=cfg.augment, seed=cfg.seed, progress=cfg.progress)
    if cfg.csv:
        return ImageData.from_csv(cfg.data, cfg.csv, folder=cfg.folder, suffix=cfg.suffix,
                                  multi_label=cfg.multi_label, **opts)
    return ImageData.from_folder(cfg.data, **opts)


def _write_json(path: Path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=str))


def run_recipe(cfg: RecipeConfig) -> dict:
    """Train, evaluate and export into `cfg.out`: metrics.csv, model/ (the bundle), lr_find.png,
    confusion.png, report.html, summary.json. With `resume`, phases already finished in `out`
    (recorded in state.json with their weights) are skipped."""
    import matplotlib
    matplotlib.use("Agg")
    from fastlearn import Learner

    from fastlearn.models.zoo import check_arch
    check_arch(cfg.arch)  # before decoding any image
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = _load_data(cfg)
    print(data)
    learn = Learner.pretrained(cfg.arch, data, seed=cfg.seed, model_dir=out / "checkpoints", progress=cfg.progress)
    learn.model.bn_adapt = cfg.unfreeze and cfg.epochs > 1  # the head learns on what it keeps after unfreeze
    state_path = out / "state.json"
    state = json.loads(state_path.read_text()) if cfg.resume and state_path.is_file() else {"done": []}
    resumed = bool(state["done"])
    if resumed:
        learn.load("last")
        print(f"resuming after phase(s) {', '.join(state['done'])} from {out}")

    if "lr" in state:
        lr = state["lr"]
    elif cfg.lr == "auto":
        finder = learn.lr_find()
        finder.plot().savefig(out / "lr_find.png")
        lr = finder.suggestion
        print(f"lr_find suggests {lr:.2e} (a tenth of the rate at the smoothed loss minimum)")
    else:
        lr = float(cfg.lr)
    state["lr"] = lr

    def finish_phase(name: str) -> None:
        learn.save("last")
        state["done"].append(name)
        state["epoch"] = learn.epoch
        _write_json(state_path, state)

    frozen_epochs = 1 if cfg.unfreeze else cfg.epochs
    if "frozen" not in state["done"]:
        learn.precompute = cfg.precompute
        if cfg.precompute:
            n, cl, cm = sgdr_plan(frozen_epochs)
            learn.fit(lr, n, cycle_len=cl, cycle_mult=cm)
        else:
            learn.fit(lr, frozen_epochs)
        finish_phase("frozen")
    if cfg.unfreeze and cfg.epochs > 1 and "unfrozen" not in state["done"]:
        learn.unfreeze()
        n, cl, cm = sgdr_plan(cfg.epochs - 1)
        learn.fit([lr / 9, lr / 3, lr], n, cycle_len=cl, cycle_mult=cm)
        finish_phase("unfrozen")

    rows = learn.recorder.rows
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "iteration"} for r in rows])
    if resumed and (out / "metrics.csv").is_file():  # keep the epochs of the run being resumed
        table = pd.concat([pd.read_csv(out / "metrics.csv"), table], ignore_index=True)
    with atomic_path(out / "metrics.csv") as tmp:
        table.to_csv(tmp, index=False)
    seconds = time.perf_counter() - t0
    valid = learn.validate()
    summary = {"accuracy": valid.get("accuracy"), "valid_loss": valid["valid_loss"], "epochs": learn.epoch,
               "seconds": round(seconds, 1), "classes": list(data.classes), "arch": cfg.arch, "size": cfg.size,
               "lr": lr, "train_images": len(data.train_idx), "valid_images": len(data.valid_idx)}
    # Training images seen per second of the whole run (lr_find, validation and export included).
    summary["images_per_second"] = round(len(rows) * len(data.train_idx) / seconds, 1) if seconds else None
    if cfg.tta and not data.multi_label:
        probs, targets = learn.tta()
        summary["tta_accuracy"] = float((probs.argmax(1) == targets).float().mean())
    if data.multi_label:
        report = learn.optimize_thresholds()
        summary.update(f2=report.before, f2_optimised=report.after, thresholds=report.thresholds)
    learn.export(out / "model")
    if not data.multi_label:  # one pass over the validation set serves both
        from fastlearn.infer.predictions import predict
        from fastlearn.interpret.interpretation import Interpretation
        probs, targets = predict(learn, "valid")
        Interpretation.from_predictions(data, "valid", probs, targets).plot_confusion_matrix().savefig(
            out / "confusion.png")
        learn.report(out / "report.html", predictions=(probs, targets))
    _write_json(out / "summary.json", summary)
    shown = (f"accuracy {summary['accuracy']:.2%}" if summary["accuracy"] is not None
             else f"F2 {summary['f2']:.4f}, {summary['f2_optimised']:.4f} at per-tag thresholds")
    print(f"{shown}" + (f", TTA {summary['tta_accuracy']:.2%}" if "tta_accuracy" in summary else "")
          + f" after {learn.epoch} epochs in {seconds:.0f}s; run folder {out}/")
    return summary
