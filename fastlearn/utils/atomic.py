"""Writing files so that a reader never sees half of one, even after a power cut."""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "fsync_path", "default_file_mode"]


def _umask() -> int:
    try:  # Linux shows it; reading it anywhere else means setting it, which other threads would see
        with open("/proc/self/status") as f:
            return int(next(line.split()[1] for line in f if line.startswith("Umask:")), 8)
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def default_file_mode() -> int:
    """The mode `open()` would give a new file under the current umask (0644 under 022)."""
    return 0o666 & ~_umask()


def fsync_path(path: str | Path) -> None:
    """Flush a file's (or a folder's) contents to the disk, so a rename after it is durable."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if Path(path).is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return  # some file systems refuse to open folders; nothing more can be done there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path beside `path`; on success it replaces `path` in one step.

    The new file gets the usual permissions (as `open()` under the umask, not mkstemp's 0600)
    and is synced to disk before the rename, and the folder after it. On error the temporary
    file is removed and whatever was at `path` before is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.exists():
            os.chmod(tmp, default_file_mode())
            fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
