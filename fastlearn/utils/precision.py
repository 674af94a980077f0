"""Mixed precision: which dtype autocast uses on a device, and the context that applies it."""
from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

__all__ = ["amp_dtype", "autocast", "cpu_has_native_bf16"]


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (x86's AVX512-BF16 or AMX, read from
    Linux's /proc/cpuinfo). Without it oneDNN emulates bf16 and autocast makes things slower."""
    try:
        flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def amp_dtype(mixed_precision: str | bool, device: torch.device, cpu_bf16: bool = False) -> torch.dtype | None:
    """bf16 when `mixed_precision` is True, or "auto" on a GPU that supports it, or "auto" on a
    CPU with native bf16 for models that gain from it (`cpu_bf16`: a data kind's say, e.g.
    transformer encoders, for training steps); else None (full precision). The Learner's
    evaluation and the exported Predictor decide alike (without `cpu_bf16`), so they agree."""
    if mixed_precision is True:
        return torch.bfloat16
    if mixed_precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if mixed_precision == "auto" and device.type == "cpu" and cpu_bf16 and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None):
    """`torch.autocast` to `dtype` on `device`, or a context that does nothing for None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
