"""A quadratic with noise, fitted by gradient descent: a loss (mean squared or absolute error),
parameters with `requires_grad`, `.backward()`, and the update under `torch.no_grad()`; and the
same by hand, with sliders (the 2022 lesson 3)."""
from __future__ import annotations

import torch

__all__ = ["quadratic", "noisy_quadratic", "mse", "mae", "fit_quadratic", "quadratic_sliders"]


def quadratic(a, b, c):
    """The function x -> a*x**2 + b*x + c."""
    return lambda x: a * x ** 2 + b * x + c


def noisy_quadratic(n: int = 20, a: float = 3.0, b: float = 2.0, c: float = 1.0, noise: float = 0.15,
                    seed: int = 42) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` points of a*x**2 + b*x + c on [-2, 2], each multiplied and shifted by random noise."""
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(-2, 2, n)
    y = quadratic(a, b, c)(x)
    return x, y * (1 + noise * torch.randn(n, generator=g)) + noise * torch.randn(n, generator=g)


def mse(preds: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return ((preds - acts) ** 2).mean()


def mae(preds: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return (preds - acts).abs().mean()


def fit_quadratic(x: torch.Tensor, y: torch.Tensor, lr: float = 0.01, steps: int = 100, loss=mae,
                  start=(1.1, 1.1, 1.1)) -> tuple[torch.Tensor, list[float]]:
    """Gradient descent on (a, b, c) from `start`; returns the parameters and the loss at each step.
    Too small a rate barely moves; too large a one overshoots and the loss grows."""
    abc = torch.tensor(start, requires_grad=True)
    losses = []
    for _ in range(steps):
        value = loss(quadratic(*abc)(x), y)
        value.backward()
        with torch.no_grad():
            abc -= abc.grad * lr
            abc.grad.zero_()
        losses.append(value.item())
    return abc.detach(), losses


def quadratic_sliders(x: torch.Tensor, y: torch.Tensor, loss=mae):
    """Fit by hand: sliders for a, b and c over the points, the loss in the title. In a notebook
    with ipywidgets installed this is interactive; without, it returns a static plot at (1.5, 1.5, 1.5)."""
    import matplotlib.pyplot as plt

    def draw(a=1.5, b=1.5, c=1.5):
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.scatter(x, y, color="k", s=12)
        xs = torch.linspace(float(x.min()), float(x.max()), 100)
        ax.plot(xs, quadratic(a, b, c)(xs))
        ax.set_title(f"loss {float(loss(quadratic(a, b, c)(x), y)):.3f}")
        return fig
    try:
        from ipywidgets import interact
    except ImportError:
        return draw()
    return interact(draw, a=(-5.0, 5.0, 0.1), b=(-5.0, 5.0, 0.1), c=(-5.0, 5.0, 0.1))
