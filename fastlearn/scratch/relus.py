"""The rectified linear unit, and sums of them: with enough ReLUs a sum can follow any curve
(the 2022 lesson 3). Fitted by gradient descent to a wiggly 1-D function and a 2-D one; the
error falls as units are added."""
from __future__ import annotations

import torch

__all__ = ["rectified_linear", "wiggly", "fit_relus", "relu_errors"]


def rectified_linear(m, b, x):
    """max(0, m*x + b): a line with everything below zero cut off."""
    return torch.clip(m * x + b, min=0.0)


def wiggly(x: torch.Tensor) -> torch.Tensor:
    """A curve with bends in it: sin(3x) + x**2 / 4 for 1-D x; for (n, 2) points, a bumpy surface."""
    if x.ndim == 1:
        return torch.sin(3 * x) + x ** 2 / 4
    return torch.sin(2 * x[:, 0]) * torch.cos(2 * x[:, 1]) + x[:, 0] / 2


def fit_relus(x: torch.Tensor, y: torch.Tensor, units: int, steps: int = 2000, lr: float = 0.02,
              seed: int = 0) -> tuple[dict, float]:
    """y ~ sum_k max(0, x @ w_k + b_k) * v_k + c, fitted by Adam on the mean squared error.
    `x` is (n,) or (n, d). Returns the parameters and the final error."""
    g = torch.Generator().manual_seed(seed)
    x2 = x.view(len(x), -1)
    p = {"w": torch.randn(x2.shape[1], units, generator=g), "b": torch.randn(units, generator=g),
         "v": torch.randn(units, generator=g) / units ** 0.5, "c": torch.zeros(())}
    for t in p.values():
        t.requires_grad_()
    opt = torch.optim.Adam(p.values(), lr=lr)
    for _ in range(steps):
        loss = ((relu_sum(p, x2) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return {k: t.detach() for k, t in p.items()}, float(((relu_sum(p, x2) - y) ** 2).mean())


def relu_sum(p: dict, x: torch.Tensor) -> torch.Tensor:
    """The sum of ReLUs with parameters `p` at the (n, d) points `x`."""
    return rectified_linear(1.0, p["b"], x @ p["w"]) @ p["v"] + p["c"]


def relu_errors(unit_counts=(1, 2, 4, 8, 16, 32), dims: int = 1, steps: int = 2000) -> dict[int, float]:
    """The error of a sum of ReLUs fitted to `wiggly` on a grid, for each number of units."""
    if dims == 1:
        x = torch.linspace(-3, 3, 200)
    else:
        side = torch.linspace(-2, 2, 25)
        x = torch.cartesian_prod(side, side)
    y = wiggly(x)
    return {u: fit_relus(x, y, u, steps)[1] for u in unit_counts}
