"""fastlearn's table network against fastai 2.8's `tabular_learner`, on the same folds, in one run.

    python bench/compare_fastai_tabular.py            # the 714 Titanic rows human-learn ships, 5 folds
    python bench/compare_fastai_tabular.py --record   # also append the table to bench/RESULTS.md

Needs fastai: pip install -e '.[bench]'. The same 5 stratified folds (seed 0), the same columns
(fastlearn's choice: pclass, sex, sibsp, parch categorical; age, fare continuous; name left
out), 10 one-cycle epochs at 1e-2, batch 64, layers (200, 100), no dropout, AdamW with each
library's own defaults otherwise, fastai's Categorify, FillMissing and Normalize against
fastlearn's processing. The libraries alternate fold by fold (fastlearn, fastai, fastlearn,
...), each timed from the DataFrame to the fold's validation accuracy (processing, loaders,
model, training, predicting). LightGBM (default settings, 100 trees) and scikit-learn's
logistic regression (one-hot categories, scaled numbers) run on the same folds for reference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CATS, CONTS, TARGET = ["pclass", "sex", "sibsp", "parch"], ["age", "fare"], "survived"


def titanic() -> pd.DataFrame:
    import hulearn
    return pd.read_csv(os.path.join(os.path.dirname(hulearn.__file__), "data", "titanic.zip"))


def run_fastlearn(df, valid, seed, epochs, lr) -> tuple[float, float]:
    from fastlearn import Learner, TabularData
    from fastlearn.train.callbacks import ProgressTable
    from fastlearn.train.divergence import RollbackOnDivergence
    t0 = time.perf_counter()
    data = TabularData.from_df(df, TARGET, valid_idx=valid, cat_names=CATS, cont_names=CONTS, bs=64, seed=seed,
                               device="cpu")
    learn = Learner.tabular(data, layers=(200, 100), seed=seed, progress=False)
    # the same fixed recipe as fastai: no best-epoch choice, no per-epoch table
    learn.callbacks = [cb for cb in learn.callbacks if not isinstance(cb, (ProgressTable, RollbackOnDivergence))]
    learn.fit_one_cycle(epochs, lr)
    probs, targets = learn.predict()
    acc = float((probs.argmax(1) == targets).float().mean())
    return acc, time.perf_counter() - t0


def run_fastai(df, valid, seed, epochs, lr) -> tuple[float, float]:
    from fastai.tabular.all import (Categorify, CategoryBlock, FillMissing, Normalize, TabularPandas, accuracy,
                                    set_seed, tabular_learner)
    t0 = time.perf_counter()
    set_seed(seed)
    train = np.setdiff1d(np.arange(len(df)), valid)
    to = TabularPandas(df, procs=[Categorify, FillMissing, Normalize], cat_names=CATS, cont_names=CONTS,
                       y_names=TARGET, y_block=CategoryBlock(), splits=(list(train), list(valid)))
    dls = to.dataloaders(bs=64)
    learn = tabular_learner(dls, layers=[200, 100], metrics=accuracy)
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, lr)
        probs, targets = learn.get_preds()
    acc = float((probs.argmax(1) == targets.view(-1)).float().mean())
    return acc, time.perf_counter() - t0


def reference_models(df, folds, seed) -> dict[str, list[float]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.compose import make_column_transformer

    from fastlearn import TabularData
    from fastlearn.tabular.gbm import fit_gbm, gbm_features, gbm_probs
    out = {"LightGBM": [], "logistic regression": []}
    y = df[TARGET].to_numpy()
    for valid in folds:
        train = np.setdiff1d(np.arange(len(df)), valid)
        data = TabularData.from_df(df, TARGET, valid_idx=valid, cat_names=CATS, cont_names=CONTS, seed=seed,
                                   device="cpu")
        x = gbm_features(data.cats, data.conts)
        booster = fit_gbm(x[train], y[train], False, 2, seed)
        out["LightGBM"].append(float((gbm_probs(booster, x[valid], False, 2).argmax(1) == y[valid]).mean()))
        lr = make_pipeline(make_column_transformer((OneHotEncoder(handle_unknown="ignore"), CATS),
                                                   (StandardScaler(), CONTS)), LogisticRegression(max_iter=1000))
        lr.fit(df.iloc[train], y[train])
        out["logistic regression"].append(float((lr.predict(df.iloc[valid]) == y[valid]).mean()))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    a = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    from fastlearn.tabular.recipe import stratified_folds
    df = titanic()
    folds = stratified_folds(df[TARGET].to_numpy(), a.folds, a.seed)
    run_fastai(df, folds[0], a.seed, 1, a.lr)  # both libraries' imports and first calls out of the timing
    run_fastlearn(df, folds[0], a.seed, 1, a.lr)
    res = {"fastlearn": [], "fastai": []}
    for k, valid in enumerate(folds):
        for name, fn in (("fastlearn", run_fastlearn), ("fastai", run_fastai)):
            acc, seconds = fn(df, valid, a.seed + k, a.epochs, a.lr)
            res[name].append((acc, seconds))
            print(f"fold {k + 1}: {name} accuracy {acc:.4f} in {seconds:.2f} s", flush=True)
    ref = reference_models(df, folds, a.seed)
    rows = []
    for name, r in res.items():
        accs, secs = [x[0] for x in r], [x[1] for x in r]
        rows.append((name, np.mean(accs), np.std(accs), np.sum(secs)))
    for name, accs in ref.items():
        rows.append((name, np.mean(accs), np.std(accs), None))
    ratio = rows[0][3] / rows[1][3]
    import fastai
    import sklearn
    head = (f"{date.today()}, {os.cpu_count()} cores, no GPU; torch {torch.__version__}, fastai {fastai.__version__}, "
            f"scikit-learn {sklearn.__version__}, {torch.get_num_threads()} torch threads; Titanic 714 rows, "
            f"{a.folds} stratified folds, {a.epochs} one-cycle epochs at {a.lr:g}, batch 64, layers (200, 100)")
    lines = [head, "", "| model | accuracy (mean of folds) | spread (std) | seconds, all folds |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {m:.4f} | {s:.4f} | {'' if t is None else f'{t:.2f}'} |" for n, m, s, t in rows]
    lines += ["", f"fastlearn's time / fastai's: {ratio:.2f}x"]
    print("\n".join(lines))
    if a.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n\n### Tables: fastlearn against fastai's tabular_learner (bench/compare_fastai_tabular.py)\n\n"
                    + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
