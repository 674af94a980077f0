"""Where fastlearn keeps what it computes once (decoded images, token ids, activations)."""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir"]


def default_cache_dir() -> Path:
    """`$FASTLEARN_CACHE`, else `$XDG_CACHE_HOME/fastlearn`, else `~/.cache/fastlearn`."""
    if os.environ.get("FASTLEARN_CACHE"):
        return Path(os.environ["FASTLEARN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastlearn"
