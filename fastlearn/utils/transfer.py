"""Small host tensors to the training device without making the CPU wait for it."""
from __future__ import annotations

import torch

__all__ = ["to_device"]


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`t` on `device`. A copy from ordinary host memory to a GPU waits until the GPU has done
    everything queued before it (PyTorch synchronises the stream), so the next training step
    could not be queued while the current one runs. From pinned memory the copy is queued like a
    kernel; the pinned buffer is kept until the copy is done (PyTorch's host allocator records it)."""
    if device.type != "cuda" or t.device.type != "cpu":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)
