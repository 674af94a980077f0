"""Keeping freed memory in the process while training on the CPU, instead of handing it back.

PyTorch allocates every CPU tensor with the C library's malloc, and glibc's malloc serves a
large block (a batch of activations: 25 MB for Lite0's first expanded layer at 64 px, batch 64)
with a fresh mmap and unmaps it when freed, or trims the heap's freed top. The next step asks
for the same blocks again, and the kernel faults in and zeroes every page anew: on 2 cores
that showed up as zero-fills and copies running at 3 GB/s. Inside `reuse_freed_memory()` glibc
serves every block from its heap and keeps freed ones for reuse; on leaving, glibc behaves as
its adaptive defaults would by then, and the freed memory goes back to the system
(`malloc_trim`), so the process does not stay larger after training. Elsewhere than glibc (macOS, Windows, musl) it does nothing.
Measured on 2 cores, Lite0 at 64 px, batch 64: an unfrozen epoch of the digits 17.4-18.2 s
against 19.7-24.9 s, in alternating runs, for the same peak resident memory (1.51 GB, 1.50 GB).

Keeping every block costs memory where blocks are large: at 224 px, batch 64, an unfrozen step
peaked at 7.1-7.5 GB against 6.4 GB with blocks over 32 MB mapped and unmapped as glibc does
(and above fastai's 6.7 GB), for the same time. `keep_large=False` keeps the small blocks only.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import platform
import threading
from contextlib import contextmanager
from typing import Iterator

__all__ = ["reuse_freed_memory", "reusing_freed_memory"]

# mallopt parameters (malloc.h). Keeping blocks of at most 32 MB only (the largest mmap threshold
# glibc accepts) gained less in the same test: 18.3-22.0 s against 21.4-23.4 s.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_KEEP = {_M_TRIM_THRESHOLD: 2**31 - 1, _M_MMAP_MAX: 0}  # never trim the heap, never mmap a block
# On leaving. Any mallopt call turns off glibc's own rule, which raises the mmap threshold to the
# largest block freed so far (up to 32 MB) and the trim threshold to twice that, and it cannot be
# turned on again. Restoring the starting values (128 KB) pinned the threshold there and faulted
# every large block in anew: in one process, a Lite0 training step at 64 px took 321 ms before a
# block and 437-440 ms after it. So leave glibc where its rule ends up after large blocks were
# freed: 328-340 ms after a block (258-272 ms inside one).
_AFTER = {_M_TRIM_THRESHOLD: 64 * 1024 * 1024, _M_MMAP_THRESHOLD: 32 * 1024 * 1024, _M_MMAP_MAX: 65536}

_KEEP_SMALL = {_M_TRIM_THRESHOLD: 2**31 - 1, _M_MMAP_THRESHOLD: 32 * 1024 * 1024, _M_MMAP_MAX: 65536}

_lock = threading.Lock()
_depth = 0


def _glibc():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


def reusing_freed_memory() -> bool:
    """Whether a `reuse_freed_memory()` block is active now (and glibc is there to obey it)."""
    return _LIBC is not None and _depth > 0


def _set(values: dict[int, int]) -> None:
    for param, value in values.items():
        _LIBC.mallopt(ctypes.c_int(param), ctypes.c_int(value))


@contextmanager
def reuse_freed_memory(enabled: bool = True, keep_large: bool = True) -> Iterator[None]:
    """Inside the block, glibc's malloc takes every block from its heap and keeps freed ones for
    the next allocation instead of returning them to the system. Blocks nest; on leaving the
    outermost one, glibc behaves as its own adaptive rule would after large blocks were freed
    (blocks up to 32 MB from the heap, up to 64 MB of its free top kept), and the freed memory
    goes back to the system (`malloc_trim`). `keep_large=False`: blocks over 32 MB are still
    mapped and unmapped each time (the outermost block decides).
    `enabled=False`, or a C library other than glibc: nothing changes."""
    global _depth
    if not enabled or _LIBC is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _set(_KEEP if keep_large else _KEEP_SMALL)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(_AFTER)
                _LIBC.malloc_trim(ctypes.c_size_t(0))
