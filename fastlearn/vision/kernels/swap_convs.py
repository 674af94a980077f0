"""Swapping a network's convolution modules for faster ones that share their parameters."""
from __future__ import annotations

from typing import Callable

from torch import nn

__all__ = ["swap_convs"]


def swap_convs(module: nn.Module, matches: Callable[[nn.Module], bool],
               build: Callable[[nn.Conv2d], nn.Conv2d]) -> nn.Module:
    """Replace every module inside `module` for which `matches(child)` holds by `build(child)`
    (built on the "meta" device: it gets `child`'s own weight and bias, so parameter names, the
    state dict and anything holding the parameters stay as they were) in `child`'s train mode;
    returns `module`."""
    for name, child in module.named_children():
        if matches(child):
            fast = build(child)
            fast.weight, fast.bias = child.weight, child.bias
            fast.train(child.training)
            setattr(module, name, fast)
        else:
            swap_convs(child, matches, build)
    return module
