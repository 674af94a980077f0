"""The Titanic model of the 2022 lesson 3 spreadsheet, in PyTorch: dummy variables (n-1 per
category), age divided by its maximum, log of the fare, a column of ones; a linear model
(SUMPRODUCT), then two ReLUs added together, then the same as a matrix product (MMULT), each
trained by gradient descent on the mean squared error against `survived`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

__all__ = ["FEATURES", "titanic_features", "split_rows", "fit_titanic", "TitanicFit"]

# The spreadsheet's columns: `Ones` is the constant (the bias); Pclass_3 and Sex_female are left
# out, as the other dummies already say them.
FEATURES = ["Ones", "Sex_male", "Pclass_1", "Pclass_2", "Age_N", "SibSp", "Parch", "LogFare"]


def titanic_features(df: pd.DataFrame) -> torch.Tensor:
    """The (n, 8) float64 matrix of `FEATURES` from the columns sex, pclass, age, fare, sibsp, parch."""
    cols = {
        "Ones": np.ones(len(df)),
        "Sex_male": (df["sex"] == "male").to_numpy(float),
        "Pclass_1": (df["pclass"] == 1).to_numpy(float),
        "Pclass_2": (df["pclass"] == 2).to_numpy(float),
        "Age_N": (df["age"] / df["age"].max()).to_numpy(float),
        "SibSp": df["sibsp"].to_numpy(float),
        "Parch": df["parch"].to_numpy(float),
        "LogFare": np.log10(df["fare"].to_numpy(float) + 1),
    }
    return torch.tensor(np.stack([cols[f] for f in FEATURES], 1), dtype=torch.float64)


def split_rows(n: int, valid_pct: float = 0.2, seed: int = 0) -> np.ndarray:
    """A 0/1 flag per row: 1 for the validation rows (a random `valid_pct`)."""
    flag = np.zeros(n, dtype=int)
    flag[np.random.default_rng(seed).permutation(n)[:int(round(n * valid_pct))]] = 1
    return flag


def linear(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The spreadsheet's SUMPRODUCT of a row and the parameters."""
    return (x * w).sum(1)


def two_relus(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Two ReLUs of SUMPRODUCTs, added: `w` is (2, 8), one row of parameters per ReLU."""
    return torch.clip(linear(x, w[0]), min=0) + torch.clip(linear(x, w[1]), min=0)


def matrix_form(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The same two ReLUs as one matrix product (MMULT): (n, 8) @ (8, 2), ReLU, summed."""
    return torch.clip(x @ w.T, min=0).sum(1)


@dataclass
class TitanicFit:
    """What `fit_titanic` found: the parameters and, for the linear model and the two ReLUs, the
    mean squared error on the training rows and the accuracy (prediction > 0.5) on validation."""

    features: list[str]
    linear_weights: list[float]
    relu_weights: list[list[float]]
    linear_loss: float
    linear_accuracy: float
    loss: float
    accuracy: float
    losses: list[float] = field(repr=False, default_factory=list)


def _descend(model, x, y, w, lr, steps) -> tuple[torch.Tensor, list[float]]:
    w = w.clone().requires_grad_()
    losses = []
    for _ in range(steps):
        loss = ((model(x, w) - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            w.grad.zero_()
        losses.append(loss.item())
    return w.detach(), losses


def fit_titanic(df: pd.DataFrame, valid: np.ndarray | None = None, lr: float = 0.1, steps: int = 2000,
                seed: int = 0) -> TitanicFit:
    """Train the linear model and the two ReLUs by full-batch gradient descent on the rows where
    `valid` is 0 (default: a random 20% held out); random start in [-0.5, 0.5), as the
    spreadsheet's RAND()-0.5."""
    valid = split_rows(len(df), seed=seed) if valid is None else np.asarray(valid)
    x, y = titanic_features(df), torch.tensor(df["survived"].to_numpy(float))
    tr, va = torch.tensor(valid == 0), torch.tensor(valid == 1)
    g = torch.Generator().manual_seed(seed)
    w_lin, _ = _descend(linear, x[tr], y[tr], torch.rand(len(FEATURES), generator=g, dtype=torch.float64) - 0.5,
                        lr, steps)
    w_net, losses = _descend(two_relus, x[tr], y[tr],
                             torch.rand(2, len(FEATURES), generator=g, dtype=torch.float64) - 0.5, lr, steps)

    def scores(model, w):
        pred = model(x, w)
        return float(((pred[tr] - y[tr]) ** 2).mean()), float(((pred[va] > 0.5) == (y[va] > 0.5)).double().mean())
    lin_loss, lin_acc = scores(linear, w_lin)
    net_loss, net_acc = scores(two_relus, w_net)
    return TitanicFit(list(FEATURES), w_lin.tolist(), w_net.tolist(), lin_loss, lin_acc, net_loss, net_acc, losses)
