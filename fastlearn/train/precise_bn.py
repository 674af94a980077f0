"""BatchNorm's running statistics recomputed over the training set ("precise BN").

A BatchNorm layer evaluates with running averages of its batch statistics, updated with
momentum 0.1 at every training step: after ten steps they are still a third of their starting
values (ImageNet's, or a new head's zeros and ones), and they always trail weights that moved.
On a small training set an epoch is a few steps, so a model can score at chance in evaluation
while its training batches are classified well. Recomputing the statistics with one forward pass
over the training set, as an exact average, removes that lag (measured: 30 digits a class at
32 px, one frozen epoch, 15.8% -> 50.3%; bench/RESULTS.md).
"""
from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

__all__ = ["recompute_batchnorm"]


@torch.no_grad()
def recompute_batchnorm(module: nn.Module, batches: Iterable, prepare: Callable = lambda x: x,
                        autocast: Callable | None = None) -> int:
    """Reset the running statistics of `module`'s BatchNorm layers that are in training mode
    (frozen ones are left alone) and set them to the exact average over `batches` of (x, y)
    pairs. Returns how many layers were recomputed."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and m.training and m.track_running_stats]
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches seen
    try:
        for xb, _ in batches:
            if autocast is None:
                module(prepare(xb))
            else:
                with autocast():
                    module(prepare(xb))
    finally:
        for m, momentum in zip(layers, momenta):
            m.momentum = momentum
    return len(layers)
