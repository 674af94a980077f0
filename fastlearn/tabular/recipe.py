"""What `fastlearn train TABLE.csv --target COL` does: the network and LightGBM on the same
folds (or one validation split), their average, the best of the three by validation, and a run
folder with the bundle, the scores and the report."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fastlearn.tabular.data import TabularData, read_table
from fastlearn.tabular.gbm import fit_gbm, gbm_features, gbm_probs
from fastlearn.tabular.predictor import GBM_FILE
from fastlearn.train.options import TrainingOptions
from fastlearn.utils import distributed
from fastlearn.utils.atomic import atomic_path
from fastlearn.utils.errors import DataError

__all__ = ["TableRecipeConfig", "run_table_recipe", "cross_validate", "stratified_folds", "MODELS"]

MODELS = ("net", "gbm", "ensemble")
_RUN_FILES = ("summary.json", "metrics.csv", "model/manifest.json")


@dataclass
class TableRecipeConfig:
    """What `fastlearn train` does with a table. `folds`: K-fold cross-validation (stratified
    by class), then the bundle's models trained on every row; without it, one validation split
    of `valid_pct`. `model`: which the bundle predicts with, "auto" for the best of net, gbm and
    ensemble by validation accuracy (RMSE for a regression)."""

    data: str
    target: str
    cat: list[str] | None = None
    cont: list[str] | None = None
    layers: tuple[int, ...] = (200, 100)
    epochs: int = 10
    lr: str | float = "auto"
    bs: int = 64
    folds: int | None = None
    model: str = "auto"
    valid_pct: float = 0.2
    out: str = "runs/latest"
    overwrite: bool = False
    seed: int = 0
    progress: bool = True
    encoding: str | None = None
    training: TrainingOptions = field(default_factory=TrainingOptions)
    options: dict = field(default_factory=dict)  # more TabularData options (Python only)


def stratified_folds(y: np.ndarray, k: int, seed: int, stratify: bool = True) -> list[np.ndarray]:
    """`k` disjoint sets of row positions covering every row; each class spread evenly over them."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    start = 0
    for rows in groups:
        rows = rng.permutation(rows)
        for j, r in enumerate(rows):
            folds[(start + j) % k].append(int(r))
        start += len(rows)
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in folds]


def _score(probs: np.ndarray, y: np.ndarray, regression: bool) -> float:
    if regression:
        return float(np.sqrt(np.mean((probs.reshape(-1) - y.reshape(-1)) ** 2)))
    return float((probs.argmax(1) == y).mean())


def _train_net(data: TabularData, cfg: TableRecipeConfig, lr: float | None, seed: int, table: bool = False,
               name: str = ""):
    """A network trained on `data` at `lr` (lr_find's suggestion when None); `table`: print a row per
    epoch; `name`: this training's TensorBoard subfolder (a fold)."""
    from fastlearn.train.callbacks import ProgressTable
    from fastlearn.train.divergence import RollbackOnDivergence
    from fastlearn.train.learner import Learner
    learn = Learner.tabular(data, layers=cfg.layers, seed=seed, progress=False, model_dir=Path(cfg.out) / "models",
                            **cfg.training.learner_kwargs())
    # The validation rows score the recipe; picking the best epoch by them (the rollback's
    # end-of-fit choice) would make that score a chosen maximum, above what new rows will see.
    drop = (RollbackOnDivergence,) if table else (RollbackOnDivergence, ProgressTable)
    learn.callbacks = [cb for cb in learn.callbacks if not isinstance(cb, drop)]
    if lr is None:
        finder = learn.lr_find()
        lr = finder.suggestion
        print(f"lr_find suggests {lr:.2e} (rule: {finder.rule})")
    learn.fit_one_cycle(cfg.epochs, lr, callbacks=cfg.training.callbacks("table", name))
    return learn, lr


def _fit_fold(data: TabularData, cfg: TableRecipeConfig, lr: float | None, seed: int, name: str = "") -> dict:
    """The three models' validation outputs on one split, the learner, the booster and the rate."""
    learn, lr = _train_net(data, cfg, lr, seed, table=not cfg.folds, name=name)
    logits, targets = learn.get_preds("valid")
    if data.regression:
        net = logits.float().numpy()
    else:
        net = torch.softmax(logits.float(), 1).numpy()
    x = gbm_features(data.cats.cpu(), data.conts.cpu())
    train, valid = data.train_idx, data.valid_idx
    booster = fit_gbm(x[train], data.y.cpu().numpy()[train], data.regression, len(data.classes), seed)
    gbm = gbm_probs(booster, x[valid], data.regression, len(data.classes))
    return {"net": net, "gbm": gbm, "ensemble": (net + gbm) / 2, "y": targets.numpy(), "logits": logits,
            "learn": learn, "booster": booster, "lr": lr}


def cross_validate(df: pd.DataFrame, cfg: TableRecipeConfig) -> dict:
    """The network, LightGBM and their average on `cfg.folds` folds (or one split): every
    model's score per fold, their mean and spread, the out-of-fold logits of the network, the
    rate used, and the first fold's learner (for the report)."""
    opts = dict(cat_names=cfg.cat, cont_names=cfg.cont, bs=cfg.bs, seed=cfg.seed, **cfg.options)
    if cfg.folds:
        probe = TabularData.from_df(df, cfg.target, **opts)  # decides classes and regression once
        y = probe.y.cpu().numpy().reshape(len(probe.y), -1)[:, 0] if probe.regression else probe.y.cpu().numpy()
        if not probe.regression:
            smallest = np.bincount(y).min()
            if smallest < cfg.folds:
                raise DataError(f"the rarest class of {cfg.target!r} has {smallest} row(s), fewer than the "
                                f"{cfg.folds} folds: use fewer --folds")
        splits = stratified_folds(y, cfg.folds, cfg.seed, stratify=not probe.regression)
        datas = [TabularData.from_df(probe.df, cfg.target, valid_idx=v, **opts) for v in splits]
    else:
        datas = [TabularData.from_df(df, cfg.target, valid_pct=cfg.valid_pct, **opts)]
    lr = None if cfg.lr == "auto" else float(cfg.lr)
    scores: dict[str, list[float]] = {m: [] for m in MODELS}
    logits, ys, first = [], [], None
    for k, data in enumerate(datas):
        r = _fit_fold(data, cfg, lr, cfg.seed + k, name=f"fold_{k + 1}" if cfg.folds else "")
        lr = r["lr"]  # the first fold's lr_find decides the rate for all
        for m in MODELS:
            scores[m].append(_score(r[m], r["y"], data.regression))
        logits.append(r["logits"])
        ys.append(torch.as_tensor(r["y"]))
        if first is None:
            first = r
        label = f"fold {k + 1} of {len(datas)}" if cfg.folds else "validation"
        what = "RMSE" if data.regression else "accuracy"
        print(f"{label}: {what} " + ", ".join(f"{m} {scores[m][-1]:.4f}" for m in MODELS), flush=True)
    return {"scores": scores, "lr": lr, "logits": torch.cat(logits), "targets": torch.cat(ys), "first": first,
            "data": datas[0], "regression": datas[0].regression}


def _check_out(cfg: TableRecipeConfig, out: Path) -> None:
    if not cfg.overwrite and any((out / f).exists() for f in _RUN_FILES):
        raise DataError(f"{out} already holds a run; nothing was changed. Pass --overwrite to replace it, or pick "
                        "another --out.")


def run_table_recipe(cfg: TableRecipeConfig) -> dict:
    """Train, compare and export as `TableRecipeConfig` says; returns `summary.json`'s content."""
    from fastlearn.interpret.calibration import fit_temperature
    if cfg.model not in (*MODELS, "auto"):
        raise ValueError(f"model must be net, gbm, ensemble or auto, got {cfg.model!r}")
    if cfg.folds is not None and cfg.folds < 2:
        raise ValueError(f"folds must be at least 2, got {cfg.folds}")
    out = Path(cfg.out)
    _check_out(cfg, out)
    distributed.barrier()  # under torchrun: every rank has checked the folder before rank 0 writes to it
    t0 = time.perf_counter()
    df = read_table(cfg.data, cfg.encoding)
    cv = cross_validate(df, cfg)
    regression, scores = cv["regression"], cv["scores"]
    better = min if regression else max
    chosen = cfg.model if cfg.model != "auto" else better(MODELS, key=lambda m: np.mean(scores[m]))
    temperature = 1.0 if regression else fit_temperature(cv["logits"], cv["targets"].long(), False)
    out.mkdir(parents=True, exist_ok=True)
    first = cv["first"]
    if cfg.folds:  # the bundle's models learn from every row, with the same recipe
        opts = dict(cat_names=cfg.cat, cont_names=cfg.cont, bs=cfg.bs, seed=cfg.seed, **cfg.options)
        data = TabularData.from_df(cv["data"].df, cfg.target, valid_idx=[], **opts)
        print(f"training the bundle's models on all {len(data.train_idx)} rows")
        learn, _ = _train_net(data, cfg, cv["lr"], cfg.seed, name="all_rows")
        x = gbm_features(data.cats.cpu(), data.conts.cpu())
        booster = fit_gbm(x, data.y.cpu().numpy(), regression, len(data.classes), cfg.seed)
    else:
        data, learn, booster = cv["data"], first["learn"], first["booster"]
    learn.temperature = temperature
    learn.export(out / "model", files={GBM_FILE: booster.model_to_string().encode()}, use=chosen)
    metric = "rmse" if regression else "accuracy"
    models = {m: {"mean": float(np.mean(s)), "std": float(np.std(s)), "folds": [float(v) for v in s]}
              for m, s in scores.items()}
    summary = {metric: models[chosen]["mean"],
               ("fold_accuracies" if metric == "accuracy" else "fold_rmses") if cfg.folds else f"valid_{metric}": (
                   models[chosen]["folds"] if cfg.folds else models[chosen]["mean"]),
               "model": chosen, "models": models, "folds": cfg.folds, "target": cfg.target,
               "world_size": distributed.world_size(),
               "classes": None if regression else list(data.classes), "rows": int(len(cv["data"].df)),
               "lr": cv["lr"], "epochs": cfg.epochs, "layers": list(cfg.layers), "temperature": temperature,
               "columns": {"categorical": data.processor.cat_names, "continuous": data.processor.cont_names,
                           "left_out": data.plan.dropped},
               "seconds": round(time.perf_counter() - t0, 1), "settings": {k: v for k, v in asdict(cfg).items()
                                                                           if k not in ("options", "progress")}}
    what = "RMSE" if regression else "accuracy"
    across = f"{cfg.folds}-fold cross-validated" if cfg.folds else "validation"
    print(f"{across} {what}: " + ", ".join(f"{m} {models[m]['mean']:.4f} (+/- {models[m]['std']:.4f})"
                                           for m in MODELS) + f"; the bundle predicts with {chosen}")
    rows = [{"fold": k + 1, "model": m, metric: v} for m in MODELS for k, v in enumerate(scores[m])]
    if distributed.is_main():  # under torchrun, rank 0 writes the run folder
        with atomic_path(out / "metrics.csv") as tmp:
            pd.DataFrame(rows).to_csv(tmp, index=False)
        if not regression:
            table = pd.DataFrame({m: [models[m]["mean"], models[m]["std"]] for m in MODELS},
                                 index=[f"{what} ({across})", "spread (std)"]).T
            first["learn"].report(out / "report.html", tables={"Network, LightGBM and their average": table})
        with atomic_path(out / "summary.json") as tmp:
            tmp.write_text(json.dumps(summary, indent=2))
    print(f"run folder: {out} (model/, summary.json, metrics.csv" + (", report.html)" if not regression else ")"))
    return summary
