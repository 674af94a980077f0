"""A line y = a*x + b fitted by stochastic gradient descent, twice: with the derivatives of the
squared error written by hand (the 2017 lesson 2), and with autograd. Same data, same order,
same rate: the same numbers."""
from __future__ import annotations

import torch

__all__ = ["line_data", "fit_line_by_hand", "fit_line_autograd", "plot_line_fit"]


def line_data(n: int = 50, a: float = 3.0, b: float = 8.0, noise: float = 0.5, seed: int = 0):
    """`n` points near y = a*x + b, x uniform in [0, 1)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64)
    return x, a * x + b + noise * torch.randn(n, generator=g, dtype=torch.float64)


def fit_line_by_hand(x: torch.Tensor, y: torch.Tensor, lr: float = 0.1, epochs: int = 20, a: float = 1.0,
                     b: float = 1.0) -> list[tuple[float, float, float]]:
    """SGD, one point at a time, on the loss (a*x + b - y)**2, whose derivatives are
    d/da = 2x(a*x + b - y) and d/db = 2(a*x + b - y). Returns (a, b, mean loss) after each epoch."""
    history = []
    for _ in range(epochs):
        for xi, yi in zip(x.tolist(), y.tolist()):
            err = a * xi + b - yi
            a, b = a - lr * 2 * xi * err, b - lr * 2 * err
        history.append((a, b, float(((a * x + b - y) ** 2).mean())))
    return history


def fit_line_autograd(x: torch.Tensor, y: torch.Tensor, lr: float = 0.1, epochs: int = 20, a: float = 1.0,
                      b: float = 1.0) -> list[tuple[float, float, float]]:
    """The same SGD, with the derivatives from `loss.backward()` instead of by hand."""
    params = torch.tensor([a, b], dtype=torch.float64, requires_grad=True)
    history = []
    for _ in range(epochs):
        for xi, yi in zip(x, y):
            loss = (params[0] * xi + params[1] - yi) ** 2
            loss.backward()
            with torch.no_grad():  # the update is not part of the model: autograd must not record it
                params -= lr * params.grad
                params.grad.zero_()
        with torch.no_grad():
            history.append((float(params[0]), float(params[1]), float(((params[0] * x + params[1] - y) ** 2).mean())))
    return history


def plot_line_fit(x: torch.Tensor, y: torch.Tensor, history: list[tuple[float, float, float]]):
    """The points and the line after each epoch (lighter to darker), and the loss falling."""
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.scatter(x, y, s=10, color="k")
    xs = torch.linspace(0, 1, 2)
    for k, (a, b, _) in enumerate(history):
        left.plot(xs, a * xs + b, color=plt.cm.viridis(k / max(1, len(history) - 1)), lw=1)
    left.set(title="the line, epoch by epoch", xlabel="x", ylabel="y")
    right.plot([h[2] for h in history], marker="o")
    right.set(title="mean squared error", xlabel="epoch", yscale="log")
    fig.tight_layout()
    return fig
