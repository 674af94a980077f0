"""Freezing by layer groups, for models that list their groups (`layer_groups`)."""
from __future__ import annotations

__all__ = ["GroupFreezing"]


class GroupFreezing:
    """`freeze_to(n)`, `n_groups` and `frozen_groups` for an `nn.Module` whose `layer_groups`
    property lists its parameters by group, early first."""

    _frozen_before = 0

    @property
    def n_groups(self) -> int:
        return len(self.layer_groups)

    @property
    def frozen_groups(self) -> int:
        return self._frozen_before

    def freeze_to(self, n: int) -> None:
        """Train only layer groups n and later (-1: the last group alone)."""
        n = n % self.n_groups if n < 0 else n
        self._frozen_before = n
        for g, params in enumerate(self.layer_groups):
            for p in params:
                p.requires_grad_(g >= n)
