"""The new classifier head put on a pretrained body."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConcatPool", "ClassifierHead"]


class ConcatPool(nn.Module):
    """Adaptive average and max pooling side by side, flattened: (N, C, H, W) -> (N, 2C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


class ClassifierHead(nn.Module):
    """concat(avg, max) pool, then BatchNorm, Dropout, Linear, ReLU, BatchNorm, Dropout, Linear.

    `pool` has no parameters, so its output can be precomputed; `fc` is the trainable rest.
    """

    def __init__(self, n_features: int, n_out: int, hidden: int = 512, ps: tuple[float, float] = (0.25, 0.5)):
        super().__init__()
        self.pool = ConcatPool()
        self.fc = nn.Sequential(
            nn.BatchNorm1d(2 * n_features), nn.Dropout(ps[0]), nn.Linear(2 * n_features, hidden), nn.ReLU(inplace=True),
            nn.BatchNorm1d(hidden), nn.Dropout(ps[1]), nn.Linear(hidden, n_out),
        )
        for m in self.fc:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x))
