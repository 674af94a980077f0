"""Metrics over a whole split: each takes all logits and all targets and returns a float.

Computed on the concatenated outputs of an epoch, so they are exact, not averages of batches.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["accuracy", "error_rate", "log_loss", "rmse", "pearson", "top_k_accuracy", "top5_accuracy", "METRICS"]


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of items whose highest-scoring class is the target."""
    return (logits.argmax(dim=1) == targets).float().mean().item()


def error_rate(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """1 - accuracy."""
    return 1.0 - accuracy(logits, targets)


def log_loss(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean negative log-probability of the target class (cross-entropy), in nats."""
    return F.cross_entropy(logits.float(), targets).item()


def rmse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Root mean squared error of a regression's outputs (lower is better)."""
    return torch.sqrt(torch.mean((outputs.float().view(-1) - targets.float().view(-1)) ** 2)).item()


def pearson(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Pearson correlation of a regression's outputs with its targets (higher is better)."""
    x, y = outputs.float().view(-1), targets.float().view(-1)
    x, y = x - x.mean(), y - y.mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp_min(1e-12))


# Metrics where less is better say so; whoever keeps the "best" epoch (RollbackOnDivergence) reads it.
error_rate.lower_is_better = True
log_loss.lower_is_better = True
rmse.lower_is_better = True


def top_k_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int = 5) -> float:
    """Fraction of items whose target is among the k highest-scoring classes."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == targets[:, None]).any(dim=1).float().mean().item()


def top5_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """`top_k_accuracy` with k = 5."""
    return top_k_accuracy(logits, targets, 5)


METRICS = {"accuracy": accuracy, "error_rate": error_rate, "log_loss": log_loss, "rmse": rmse, "pearson": pearson,
           "top5_accuracy": top5_accuracy}
