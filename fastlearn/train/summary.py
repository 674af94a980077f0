"""`learn.summary()`: the model's layers with their output shapes and parameters, and per layer
group how many parameters there are and whether they train or are frozen."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

__all__ = ["ModelSummary", "model_summary"]


@dataclass
class ModelSummary:
    """`layers`: one row per leaf module (name, type, output shape, parameters, trainable, group);
    `groups`: one row per layer group (parameters, trainable or frozen)."""

    layers: pd.DataFrame
    groups: pd.DataFrame

    def __str__(self) -> str:
        total = int(self.groups["parameters"].sum())
        trainable = int(self.groups.loc[self.groups["trainable"], "parameters"].sum())
        return (self.layers.to_string(index=False) + "\n\n" + self.groups.to_string(index=False)
                + f"\n\n{total:,} parameters, {trainable:,} trainable")

    __repr__ = __str__


def _shape(out) -> str:
    if isinstance(out, torch.Tensor):
        return "x".join(str(d) for d in out.shape)
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape(o) for o in out)
    if hasattr(out, "last_hidden_state"):  # a Hugging Face model's output
        return _shape(out.last_hidden_state)
    return type(out).__name__


@torch.no_grad()
def model_summary(model: nn.Module, batch, layer_groups: list[list[nn.Parameter]]) -> ModelSummary:
    """Run `batch` (the model's input) through `model` in evaluation mode, recording each leaf
    module's output shape; parameters are counted once and given their layer group."""
    group_of = {id(p): g for g, ps in enumerate(layer_groups) for p in ps}
    shapes: dict[str, str] = {}
    leaves = [(name, m) for name, m in model.named_modules() if name and not list(m.children())]

    def recorder(name):
        def hook(module, inputs, output) -> None:  # returning None keeps the module's output as it is
            shapes.setdefault(name, _shape(output))
        return hook
    hooks = [m.register_forward_hook(recorder(name)) for name, m in leaves]
    was = model.training
    model.eval()
    try:
        model(batch)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    rows = []
    for name, m in leaves:
        params = list(m.parameters(recurse=False))
        groups = sorted({group_of[id(p)] for p in params if id(p) in group_of})
        rows.append({"layer": name, "type": type(m).__name__, "output": shapes.get(name, "(not run)"),
                     "parameters": sum(p.numel() for p in params),
                     "trainable": any(p.requires_grad for p in params) if params else None,
                     "group": groups[0] if len(groups) == 1 else None})
    layers = pd.DataFrame(rows)
    layers["group"] = layers["group"].astype("Int64")  # a layer without parameters has none
    groups = pd.DataFrame([{"group": g, "parameters": sum(p.numel() for p in ps),
                            "trainable": any(p.requires_grad for p in ps)} for g, ps in enumerate(layer_groups)])
    return ModelSummary(layers, groups)
