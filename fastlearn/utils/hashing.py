"""Content hashes for cache keys and integrity checks."""
from __future__ import annotations

import hashlib

import torch

__all__ = ["state_hash"]


def state_hash(module: torch.nn.Module) -> str:
    """A short sha256 of every tensor (names and bytes) in `module.state_dict()`; empty for a
    module on the meta device (shapes only, no values to hash)."""
    h = hashlib.sha256()
    state = module.state_dict()
    if any(t.is_meta for t in state.values()):
        return ""
    for name, t in state.items():
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
