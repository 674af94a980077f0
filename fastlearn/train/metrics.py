"""Metrics over a whole split: each takes all logits and all targets and returns a float.

Computed on the concatenated outputs of an epoch, so they are exact, not averages of batches.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["accuracy", "error_rate", "log_loss", "top_k_accuracy", "top5_accuracy", "METRICS"]


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of items whose highest-scoring class is the target."""
    return (logits.argmax(dim=1) == targets).float().mean().item()


def error_rate(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """1 - accuracy."""
    return 1.0 - accuracy(logits, targets)


def log_loss(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean negative log-probability of the target class (cross-entropy), in nats."""
    return F.cross_entropy(logits.float(), targets).item()


def top_k_accuracy(logits: torch.Tensor, targets: torch.Tensor, k: int = 5) -> float:
    """Fraction of items whose target is among the k highest-scoring classes."""
    k = min(k, logits.shape[1])
    return (logits.topk(k, dim=1).indices == targets[:, None]).any(dim=1).float().mean().item()


def top5_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """`top_k_accuracy` with k = 5."""
    return top_k_accuracy(logits, targets, 5)


METRICS = {"accuracy": accuracy, "error_rate": error_rate, "log_loss": log_loss, "top5_accuracy": top5_accuracy}
