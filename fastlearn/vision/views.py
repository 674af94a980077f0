"""What a network has learned, as pictures (the lesson's Zeiler and Fergus views): the first
layer's filters, and a layer's activations for one image."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["first_conv", "plot_filters", "activations", "plot_activations"]


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first convolution that reads the image (three input channels)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d) and m.in_channels == 3:
            return m
    raise ValueError(f"{type(model).__name__} has no convolution over 3 channels")


def plot_filters(model: nn.Module, cols: int = 8):
    """Each first-layer filter as a small RGB picture (its weights scaled to 0-1 on their own)."""
    import matplotlib.pyplot as plt
    w = first_conv(model).weight.detach().float().cpu()
    n, rows = len(w), math.ceil(len(w) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.9))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i < n:
            f = w[i]
            f = (f - f.min()) / (f.max() - f.min()).clamp_min(1e-12)
            ax.imshow(f.permute(1, 2, 0).numpy(), interpolation="nearest")
    fig.suptitle(f"{n} first-layer filters, {w.shape[-1]}x{w.shape[-2]}")
    return fig


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor, layer: str | nn.Module) -> torch.Tensor:
    """The output of `layer` (a module or its name in `model.named_modules()`) for the batch `x`."""
    module = dict(model.named_modules())[layer] if isinstance(layer, str) else layer
    seen = []
    hook = module.register_forward_hook(lambda m, i, o: seen.append(o.detach()) and None)
    was = model.training
    model.eval()
    try:
        model(x)
    finally:
        hook.remove()
        model.train(was)
    return seen[0]


def plot_activations(model: nn.Module, x: torch.Tensor, layer: str | nn.Module, n: int = 16, cols: int = 8):
    """The `n` most active channels of `layer` for one image `x` (1, 3, H, W), each as a heat map."""
    import matplotlib.pyplot as plt
    a = activations(model, x, layer)[0].float().cpu()
    top = a.flatten(1).mean(1).argsort(descending=True)[:n]
    rows = math.ceil(len(top) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.1))
    for ax, c in zip(np.ravel(axes), list(top) + [None] * (rows * cols - len(top))):
        ax.axis("off")
        if c is not None:
            ax.imshow(a[c].numpy(), cmap="magma")
            ax.set_title(f"#{int(c)}", fontsize=7)
    fig.suptitle(f"{layer if isinstance(layer, str) else type(layer).__name__}: {a.shape[0]} channels, "
                 f"{a.shape[1]}x{a.shape[2]}")
    return fig
