"""Metrics against hand-computed values."""
import math

import pytest
import torch

from fastlearn.train.metrics import accuracy, error_rate, log_loss, top_k_accuracy


def test_metrics_by_hand():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])
    targets = torch.tensor([0, 2, 1, 0])
    assert accuracy(logits, targets) == pytest.approx(0.5)  # rows 0 and 3 (a tie: argmax takes class 0)
    assert error_rate(logits, targets) == pytest.approx(0.5)
    assert top_k_accuracy(logits, targets, 2) == pytest.approx(0.75)
    p = torch.softmax(logits, 1)
    by_hand = -sum(math.log(p[i, t]) for i, t in enumerate(targets.tolist())) / 4
    assert log_loss(logits, targets) == pytest.approx(by_hand, rel=1e-6)
