"""Where tensors go by default."""
from __future__ import annotations

import os

import torch

__all__ = ["default_device"]


def default_device() -> torch.device:
    """CUDA if present (under torchrun, the process's own GPU: LOCAL_RANK), then Apple MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
