"""Honest probabilities: temperature scaling, expected calibration error, reliability diagrams."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["fit_temperature", "expected_calibration_error", "reliability_diagram", "CalibrationReport"]


def _nll(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> torch.Tensor:
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, targets.float())
    return F.cross_entropy(logits, targets)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool = False) -> float:
    """The temperature T > 0 minimising the log loss of softmax(logits / T) (Guo et al., 2017)."""
    logits, targets = logits.detach().float().cpu(), targets.cpu()
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _nll(logits / log_t.exp(), targets, multi_label)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def _confidences(probs: torch.Tensor, targets: torch.Tensor, multi_label: bool):
    if multi_label:  # every (item, tag) pair is one binary prediction
        p = probs.flatten()
        conf = torch.where(p >= 0.5, p, 1 - p)
        correct = ((p >= 0.5) == (targets.flatten() > 0.5)).float()
    else:
        conf, pred = probs.max(1)
        correct = (pred == targets).float()
    return conf.numpy(), correct.numpy()


def expected_calibration_error(probs: torch.Tensor, targets: torch.Tensor, bins: int = 15,
                               multi_label: bool = False) -> float:
    """Mean |accuracy - confidence| over `bins` equal-width confidence bins, weighted by bin size."""
    conf, correct = _confidences(probs.float().cpu(), targets.cpu(), multi_label)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def reliability_diagram(probs: torch.Tensor, targets: torch.Tensor, bins: int = 15, multi_label: bool = False,
                        ax=None, label: str | None = None):
    """Accuracy against confidence per bin (a calibrated model follows the diagonal)."""
    import matplotlib.pyplot as plt
    conf, correct = _confidences(probs.float().cpu(), targets.cpu(), multi_label)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    xs, ys = [], []
    for b in range(bins):
        m = which == b
        if m.any():
            xs.append(conf[m].mean())
            ys.append(correct[m].mean())
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfectly calibrated")
    ax.plot(xs, ys, "o-", label=label)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend()
    return ax.figure


@dataclass
class CalibrationReport:
    """Validation log loss and ECE before and after temperature scaling."""

    temperature: float
    log_loss_before: float
    log_loss_after: float
    ece_before: float
    ece_after: float
    _probs_before: torch.Tensor
    _probs_after: torch.Tensor
    _targets: torch.Tensor
    multi_label: bool = False

    def __str__(self) -> str:
        return (f"temperature {self.temperature:.3f}: log loss {self.log_loss_before:.4f} -> {self.log_loss_after:.4f}, "
                f"ECE (15 bins) {self.ece_before:.4f} -> {self.ece_after:.4f}")

    def plot(self):
        """Reliability diagram before and after."""
        fig = reliability_diagram(self._probs_before, self._targets, multi_label=self.multi_label, label="before")
        reliability_diagram(self._probs_after, self._targets, multi_label=self.multi_label, ax=fig.axes[0],
                            label=f"after (T={self.temperature:.2f})")
        fig.axes[0].set_title("reliability (validation set)")
        return fig
