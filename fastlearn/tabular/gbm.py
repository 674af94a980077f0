"""Gradient boosting beside the network: LightGBM on the same processed columns, saved in its
own text format (no pickle)."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["gbm_features", "fit_gbm", "gbm_probs", "load_gbm"]


def gbm_features(cats: torch.Tensor, conts: torch.Tensor) -> np.ndarray:
    """The table as LightGBM sees it: category codes (ordered as the values sort, "unknown" 0)
    and the normalised continuous values, side by side."""
    return np.concatenate([cats.cpu().numpy().astype(np.float64), conts.cpu().numpy().astype(np.float64)], 1)


def fit_gbm(x: np.ndarray, y: np.ndarray, regression: bool, n_classes: int, seed: int = 0, rounds: int = 100):
    """A LightGBM booster with its default settings (31 leaves, rate 0.1, `rounds` trees),
    deterministic for `seed`."""
    import lightgbm as lgb
    if regression:
        params = {"objective": "regression"}
    elif n_classes == 2:
        params = {"objective": "binary"}
    else:
        params = {"objective": "multiclass", "num_class": n_classes}
    params.update(verbose=-1, seed=seed, deterministic=True, force_col_wise=True, num_threads=0)
    return lgb.train(params, lgb.Dataset(x, label=y.reshape(-1)), num_boost_round=rounds)


def gbm_probs(booster, x: np.ndarray, regression: bool, n_classes: int) -> np.ndarray:
    """(n, classes) probabilities, or (n, 1) values for a regression."""
    p = booster.predict(x)
    if regression:
        return p.reshape(-1, 1)
    if n_classes == 2:
        return np.stack([1 - p, p], 1)
    return p.reshape(len(x), n_classes)


def load_gbm(text: str):
    """A booster from the text `booster.model_to_string()` wrote."""
    import lightgbm as lgb
    return lgb.Booster(model_str=text)
