"""The tabular network: an embedding per categorical column, the continuous columns
batch-normalised, then Linear-ReLU-BatchNorm-Dropout blocks and one output per class."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fastlearn.train.freezing import GroupFreezing

__all__ = ["TabularModel", "embedding_size"]


def embedding_size(n_categories: int) -> int:
    """fastai's rule of thumb for an embedding's width: min(600, round(1.6 n^0.56))."""
    return min(600, round(1.6 * n_categories ** 0.56))


class TabularModel(GroupFreezing, nn.Module):
    """`forward((cats, conts))`: categorical codes (n, n_cat) long and continuous values
    (n, n_cont) float, to (n, n_out). `y_range=(lo, hi)` squashes a regression output into
    that range with a sigmoid, as fastai does. Layer groups: the inputs (embeddings and the
    continuous BatchNorm), the hidden blocks, the output layer."""

    def __init__(self, cardinalities: Sequence[int], n_cont: int, n_out: int, layers: Sequence[int] = (200, 100),
                 ps: Sequence[float] | None = None, emb_drop: float = 0.0,
                 y_range: tuple[float, float] | None = None):
        super().__init__()
        layers = [int(n) for n in layers]
        ps = [0.0] * len(layers) if ps is None else [float(p) for p in ps]
        if len(ps) != len(layers):
            raise ValueError(f"ps gives {len(ps)} dropout rates for {len(layers)} layers; give one per layer")
        self.config = {"cardinalities": [int(c) for c in cardinalities], "n_cont": int(n_cont), "n_out": int(n_out),
                       "layers": layers, "ps": ps, "emb_drop": float(emb_drop),
                       "y_range": None if y_range is None else [float(y_range[0]), float(y_range[1])]}
        self.embeds = nn.ModuleList(nn.Embedding(c, embedding_size(c)) for c in cardinalities)
        self.emb_drop = nn.Dropout(emb_drop)
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont else None
        n_in = sum(e.embedding_dim for e in self.embeds) + n_cont
        blocks = []
        for n, p in zip(layers, ps):
            blocks += [nn.Linear(n_in, n), nn.ReLU(inplace=True), nn.BatchNorm1d(n)] + ([nn.Dropout(p)] if p else [])
            n_in = n
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(n_in, n_out)
        self.y_range = y_range

    def forward(self, x: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        cats, conts = x
        parts = [e(cats[:, i]) for i, e in enumerate(self.embeds)]
        h = self.emb_drop(torch.cat(parts, 1)) if parts else None
        if self.bn_cont is not None:
            c = self.bn_cont(conts)
            h = c if h is None else torch.cat([h, c], 1)
        out = self.out(self.blocks(h))
        if self.y_range is not None:
            lo, hi = self.y_range
            out = torch.sigmoid(out) * (hi - lo) + lo
        return out

    @property
    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The inputs (embeddings, continuous BatchNorm), the hidden blocks, the output layer."""
        inputs = list(self.embeds.parameters()) + (list(self.bn_cont.parameters()) if self.bn_cont else [])
        return [inputs, list(self.blocks.parameters()), list(self.out.parameters())]

    def bundle_config(self) -> dict:
        """What rebuilds this model for an export bundle (its weights apart)."""
        return {"arch": "tabular_mlp", "model": dict(self.config)}

    @classmethod
    def from_config(cls, config: dict) -> "TabularModel":
        c = config
        return cls(c["cardinalities"], c["n_cont"], c["n_out"], c["layers"], c["ps"], c["emb_drop"],
                   None if c["y_range"] is None else tuple(c["y_range"]))
