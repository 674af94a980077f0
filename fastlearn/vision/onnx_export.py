"""ONNX export: images in (normalised, N x 3 x size x size), calibrated probabilities out."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from fastlearn.utils.atomic import atomic_path

__all__ = ["export_onnx"]


class _WithProbabilities(nn.Module):
    def __init__(self, model: nn.Module, temperature: float, multi_label: bool):
        super().__init__()
        self.model, self.temperature, self.multi_label = model, float(temperature), multi_label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.model(x) / self.temperature
        return torch.sigmoid(z) if self.multi_label else torch.softmax(z, dim=1)


def export_onnx(model: nn.Module, path: str | Path, size: int, temperature: float = 1.0,
                multi_label: bool = False, opset: int = 17) -> Path:
    """Write `model` (eval mode, on the CPU) as ONNX with a dynamic batch dimension.

    Uses PyTorch's TorchScript-based exporter, which needs only the `onnx` package."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install 'fastlearn[onnx]'") from None
    wrapped = _WithProbabilities(model, temperature, multi_label).cpu().eval()
    dummy = torch.zeros(1, 3, size, size)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.onnx.export(wrapped, (dummy,), str(tmp), input_names=["images"], output_names=["probabilities"],
                          dynamic_axes={"images": {0: "batch"}, "probabilities": {0: "batch"}},
                          opset_version=opset, dynamo=False)
    return path
