"""Content hashes for cache keys and integrity checks."""
from __future__ import annotations

import hashlib

import torch

__all__ = ["state_hash"]


def state_hash(module: torch.nn.Module) -> str:
    """A short sha256 of every tensor (names and bytes) in `module.state_dict()`."""
    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
