"""Where tensors go by default."""
from __future__ import annotations

import torch

__all__ = ["default_device"]


def default_device() -> torch.device:
    """CUDA if present, then Apple MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
