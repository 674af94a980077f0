"""Mixed precision: which dtype autocast uses on a device, and the context that applies it."""
from __future__ import annotations

import contextlib

import torch

__all__ = ["amp_dtype", "autocast"]


def amp_dtype(mixed_precision: str | bool, device: torch.device) -> torch.dtype | None:
    """bf16 when `mixed_precision` is True, or "auto" on a GPU that supports it; else None
    (full precision). The Learner and the exported Predictor decide alike, so they agree."""
    if mixed_precision is True:
        return torch.bfloat16
    if mixed_precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """`torch.autocast` to `dtype` on `device`, or a context that does nothing for None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
