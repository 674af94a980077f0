"""What `fastlearn train TEXTS.csv --text COL --target COL` does: tokenize with the model's
tokenizer, lr_find with the encoder frozen, one frozen epoch, then the whole model; a run
folder with the bundle, the scores and the report."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from fastlearn.text.data import TextData
from fastlearn.train.options import TrainingOptions
from fastlearn.utils import distributed
from fastlearn.utils.atomic import atomic_path
from fastlearn.utils.errors import DataError

__all__ = ["TextRecipeConfig", "run_text_recipe"]


@dataclass
class TextRecipeConfig:
    """`epochs` counts every epoch: one with the encoder frozen, the rest with the whole model at
    differential rates (`fine_tune`). `text` may name several columns, joined. With
    `label_delim`, the target holds tags separated by it (multi-label)."""

    data: str
    text: list[str]
    target: str
    arch: str = "all-MiniLM-L6-v2"
    epochs: int = 2
    lr: str | float = "auto"
    bs: int = 32
    max_len: int = 128
    valid_pct: float = 0.2
    out: str = "runs/latest"
    overwrite: bool = False
    seed: int = 0
    encoding: str | None = None
    label_delim: str | None = None
    training: TrainingOptions = field(default_factory=TrainingOptions)


def run_text_recipe(cfg: TextRecipeConfig) -> dict:
    """Train and export as `TextRecipeConfig` says; returns `summary.json`'s content."""
    from fastlearn.train.learner import Learner
    out = Path(cfg.out)
    if not cfg.overwrite and any((out / f).exists() for f in ("summary.json", "metrics.csv", "model/manifest.json")):
        raise DataError(f"{out} already holds a run; nothing was changed. Pass --overwrite to replace it, or pick "
                        "another --out.")
    distributed.barrier()  # under torchrun: every rank has checked the folder before rank 0 writes to it
    t0 = time.perf_counter()
    text = cfg.text[0] if len(cfg.text) == 1 else cfg.text
    data = TextData.from_csv(cfg.data, text, cfg.target, encoding=cfg.encoding, valid_pct=cfg.valid_pct,
                             seed=cfg.seed, bs=cfg.bs, max_len=cfg.max_len, label_delim=cfg.label_delim)
    learn = Learner.pretrained(cfg.arch, data, seed=cfg.seed, model_dir=out / "models", **cfg.training.learner_kwargs())
    callbacks = cfg.training.callbacks("text")
    print(data)
    if cfg.lr == "auto":
        finder = learn.lr_find()
        lr = finder.suggestion
        print(f"lr_find suggests {lr:.2e} (rule: {finder.rule})")
    else:
        lr = float(cfg.lr)
    if cfg.epochs > 1:
        learn.fine_tune(cfg.epochs - 1, lr, freeze_epochs=1, callbacks=callbacks)
    else:
        learn.fit_one_cycle(1, lr, callbacks=callbacks)
    out.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in r.items() if k != "iteration"} for r in learn.recorder.rows]
    if distributed.is_main():  # under torchrun, rank 0 writes the run folder
        with atomic_path(out / "metrics.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
    if not data.regression:
        learn.calibrate()
    thresholds = learn.optimize_thresholds() if data.multi_label else None
    learn.export(out / "model")
    valid = learn.validate()
    metric = "pearson" if data.regression else "f2" if data.multi_label else "accuracy"
    summary = {metric: valid.get(metric), "valid_loss": valid["valid_loss"], "epochs": learn.epoch, "lr": lr,
               "arch": cfg.arch, "classes": None if data.regression else list(data.classes),
               "train_texts": len(data.train_idx), "valid_texts": len(data.valid_idx),
               "truncated": data.tokens.truncated, "temperature": learn.temperature,
               "world_size": distributed.world_size(),
               "seconds": round(time.perf_counter() - t0, 1), "settings": asdict(cfg)}
    if thresholds is not None:
        summary.update(f2_optimised=thresholds.after, thresholds=thresholds.thresholds)
    if distributed.is_main():
        if not data.regression and not data.multi_label:
            learn.report(out / "report.html")
        with atomic_path(out / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2))
    print(f"{metric} {valid.get(metric):.4f} after {learn.epoch} epochs; run folder: {out}")
    return summary
