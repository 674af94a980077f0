"""Label smoothing: training targets moved `eps` of the way towards uniform, so the model is not
pushed to ever more confident outputs (Szegedy et al. 2016). Training only: validation losses,
metrics and predictions use the plain loss."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["smoothed", "SmoothedBCEWithLogits"]


class SmoothedBCEWithLogits(nn.Module):
    """Binary cross-entropy on targets smoothed to y * (1 - eps) + eps / 2, per tag."""

    def __init__(self, loss: nn.BCEWithLogitsLoss, eps: float):
        super().__init__()
        self.loss, self.eps = loss, eps

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss(logits, targets.float() * (1 - self.eps) + self.eps / 2)


def smoothed(loss_fn, eps: float):
    """The training loss for `loss_fn` with label smoothing `eps`: cross-entropy's own
    `label_smoothing` (class indices or soft targets, as MixUp makes), or smoothed binary targets."""
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return nn.CrossEntropyLoss(weight=loss_fn.weight, ignore_index=loss_fn.ignore_index,
                                   reduction=loss_fn.reduction, label_smoothing=eps)
    if isinstance(loss_fn, nn.BCEWithLogitsLoss):
        return SmoothedBCEWithLogits(loss_fn, eps)
    raise ValueError(f"label_smoothing is for classification (cross-entropy or binary cross-entropy losses); "
                     f"this Learner's loss is {type(loss_fn).__name__}. Leave label_smoothing at 0.")
