"""A decode-once cache: every image resized into one uint8 array on disk (a numpy memmap).

The cache is keyed on the file list, each file's size and modification time, the pixel size
and the resize method, so it is reused across epochs, runs and processes, and rebuilt when any
file changes. Files that fail to decode are recorded with the reason, so a warm cache reports
the same bad files without opening them again; files that could not be read for a passing
reason (permissions, I/O errors) are tried again on every open.

Nothing about a cache is trusted: a checksum of the array (xxh3-64) is stored when it is built
and verified on every open, and a cache that is missing a part, cannot be read, or fails any
check is rebuilt with one line saying why.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import stat
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import xxhash

from fastlearn.vision.data.images import BadImageError, UnreadableFileError, load_resized
from fastlearn.utils.atomic import atomic_path, default_file_mode, fsync_path

from fastlearn.utils.paths import default_cache_dir
from fastlearn.utils.distributed import rank_zero_first

__all__ = ["ImageCache", "CacheWarning", "default_cache_dir"]

_FORMAT_VERSION = 1


class CacheWarning(UserWarning):
    """The image cache was damaged and is being rebuilt, or could not be written where asked."""


class _Damaged(Exception):
    """A cache file that fails a check; the message says which."""


def _fallback_cache_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"fastlearn-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def _key(paths: Sequence[Path], size: int, method: str) -> str:
    # bytes throughout: a file name may be any bytes the file system allows, not only UTF-8
    # (for UTF-8 names these are the same bytes as the text, so existing keys stay valid)
    h = hashlib.sha256(f"v{_FORMAT_VERSION}|{size}|{method}".encode())
    real_dirs: dict[str, str] = {}
    for p in paths:
        try:
            st = os.lstat(p)
        except OSError:
            h.update(b"|" + os.fsencode(p) + b"|missing")
            continue
        parent, name = os.path.split(p)
        if parent not in real_dirs:
            # the file's own absolute path, resolving each folder once: `resolve()` on every
            # file (a stat per path component) took most of opening the digits' warm cache
            real_dirs[parent] = os.path.realpath(parent or ".")
        real = os.path.join(real_dirs[parent], name)
        if stat.S_ISLNK(st.st_mode):
            try:  # a link is keyed on its target, so the cache follows changes to it
                real, st = os.path.realpath(p), os.stat(p)
            except OSError:
                pass  # a loop or a dangling link: keyed on the link itself
        h.update(b"|" + os.fsencode(real) + f"|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _checksum(arr_path: Path) -> str:
    """xxh3-64 of the whole .npy file, read through mmap (a few ms for the digits' 75 MB)."""
    with open(arr_path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise _Damaged("the array file is empty (0 bytes)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return "xxh3_64:" + xxhash.xxh3_64_hexdigest(m)


def _read_meta(meta_path: Path, n: int, size: int, method: str) -> tuple[np.ndarray, dict[int, str], list[int], str]:
    """The metadata's shapes, bad files, files to try again and checksum; _Damaged if any
    part is missing or of the wrong type."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _Damaged(f"metadata unreadable ({e})") from None
    if not isinstance(meta, dict):
        raise _Damaged("metadata is not an object")
    if meta.get("version") != _FORMAT_VERSION or meta.get("n") != n or meta.get("size") != size \
            or meta.get("method") != method:
        raise _Damaged("metadata describes another cache (version, count, size or method differ)")
    checksum = meta.get("checksum")
    if not isinstance(checksum, str) or not checksum.startswith("xxh3_64:"):
        raise _Damaged("no checksum in the metadata (built by an older fastlearn?)")
    try:
        shapes = np.asarray(meta["shapes"], dtype=np.int64).reshape(n, 2)
        bad = {int(k): v for k, v in meta["bad"].items()}
        retry = [int(i) for i in meta.get("retry", [])]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise _Damaged(f"metadata has a wrong type ({type(e).__name__}: {e})") from None
    if any(not (0 <= i < n) or not isinstance(v, str) for i, v in bad.items()) or any(i not in bad for i in retry):
        raise _Damaged("metadata lists bad files outside the file list")
    return shapes, bad, retry, checksum


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: alive
    return True


def _sweep_temporaries(root: Path) -> None:
    """Remove what builds killed part-way left behind (`.KEY.PID.tmp.npy`), once their process is gone."""
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for e in entries:
        parts = e.name.split(".")
        # ["", key, pid, "tmp", "npy" | "json"]
        if len(parts) == 5 and parts[0] == "" and parts[3] == "tmp" and parts[2].isdigit():
            pid = int(parts[2])
            if pid != os.getpid() and not _pid_alive(pid):
                try:
                    os.unlink(e.path)
                except OSError:
                    pass


def _writable(root: Path) -> bool:
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=root)
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def _workers() -> int:
    # Pillow releases the GIL while decoding and resizing, so threads scale across cores.
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class ImageCache:
    """Images of one file list, decoded and resized once.

    `pixels` is (n, size, size, 3) uint8 (memory-mapped, read-only); `shapes` the original
    (height, width) of each file (0, 0 for bad ones); `bad` maps the index of every file that
    could not be decoded to the reason.
    """

    key: str
    paths: list[Path]
    size: int
    method: str
    pixels: np.ndarray
    shapes: np.ndarray
    bad: dict[int, str]
    built: bool  # True when this call decoded the images, False when it reused a cache
    _on_device: dict = field(default_factory=dict, repr=False, compare=False)

    def on_device(self, device: str | torch.device, copy: bool = True) -> torch.Tensor | None:
        """Every image as one uint8 (n, size, size, 3) tensor on `device`, copied there on the
        first call (in 64 MB slices, so host memory never holds a second whole copy) and kept
        for the cache's lifetime: batches are then gathered on the device, with no slicing,
        pinning or copying on the host per batch. `copy=False`: the copy made earlier, or None."""
        device = torch.device(device)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        if device not in self._on_device and copy:
            out = torch.empty(self.pixels.shape, dtype=torch.uint8, device=device)
            step = max(1, (64 << 20) // max(1, self.pixels[0].nbytes)) if len(self.pixels) else 1
            for i in range(0, len(self.pixels), step):
                out[i:i + step].copy_(torch.from_numpy(np.array(self.pixels[i:i + step])))
            self._on_device[device] = out
        return self._on_device.get(device)

    @classmethod
    def open(
        cls,
        paths: Sequence[Path],
        size: int,
        method: str = "crop",
        cache_dir: str | Path | None = None,
        progress: bool = True,
    ) -> "ImageCache":
        """Reuse the cache for exactly these files at this size if it passes every check, or build it.
        Under torchrun, rank 0 builds it while the other ranks wait, then they read it."""
        with rank_zero_first():
            return cls._open(paths, size, method, cache_dir, progress)

    @classmethod
    def _open(cls, paths, size, method, cache_dir, progress) -> "ImageCache":
        paths = [p if isinstance(p, Path) else Path(p) for p in paths]
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        key = _key(paths, size, method)
        _sweep_temporaries(root)
        arr_path, meta_path = root / f"{key}.npy", root / f"{key}.json"
        if arr_path.exists() or meta_path.exists():
            try:
                return cls._reuse(key, paths, size, method, arr_path, meta_path)
            except _Damaged as e:
                warnings.warn(CacheWarning(f"the image cache {arr_path} is damaged ({e}); rebuilding it"), stacklevel=3)
        if not _writable(root):
            fallback = _fallback_cache_dir()
            warnings.warn(CacheWarning(
                f"cannot write the image cache to {root} (read-only or no permission); using {fallback} for "
                "this run. Set FASTLEARN_CACHE or pass cache_dir= to a writable folder to keep it."), stacklevel=3)
            return cls._open(paths, size, method, fallback, progress)
        return cls._build(key, paths, size, method, arr_path, meta_path, progress)

    @classmethod
    def _reuse(cls, key, paths, size, method, arr_path: Path, meta_path: Path) -> "ImageCache":
        if not (arr_path.exists() and meta_path.exists()):
            raise _Damaged(f"the {'metadata' if arr_path.exists() else 'array'} file is missing")
        shapes, bad, retry, checksum = _read_meta(meta_path, len(paths), size, method)
        try:
            if _checksum(arr_path) != checksum:
                raise _Damaged("its checksum does not match: the file was changed or corrupted on disk")
            pixels = np.load(arr_path, mmap_mode="r")
        except (OSError, ValueError, EOFError) as e:
            raise _Damaged(f"array unreadable ({e})") from None
        if pixels.shape != (len(paths), size, size, 3) or pixels.dtype != np.uint8:
            raise _Damaged(f"array of shape {pixels.shape} and type {pixels.dtype}, expected {(len(paths), size, size, 3)} uint8")
        if retry:
            reopened = cls._retry(paths, size, method, arr_path, meta_path, shapes, bad, retry)
            pixels = pixels if reopened is None else reopened
        return cls(key, paths, size, method, pixels, shapes, bad, built=False)

    @staticmethod
    def _retry(paths, size, method, arr_path, meta_path, shapes, bad, retry) -> np.ndarray | None:
        """Try again the files that could not be read last time; write the ones that now decode
        into the cache and update its metadata. Returns the reopened array when anything changed."""
        fixed: dict[int, np.ndarray] = {}
        still: list[int] = []
        for i in retry:
            try:
                fixed[i], shapes[i] = load_resized(paths[i], size, method)
                del bad[i]
            except UnreadableFileError as e:
                bad[i] = e.reason
                still.append(i)
            except BadImageError as e:  # readable now, and not an image: remembered from now on
                bad[i] = e.reason
        if not fixed and still == retry:
            return None
        try:
            pixels = np.load(arr_path, mmap_mode="r+")
            for i, a in fixed.items():
                pixels[i] = a
            pixels.flush()
            del pixels
            fsync_path(arr_path)
            _write_meta(meta_path, len(paths), size, method, shapes, bad, still, _checksum(arr_path))
        except OSError:
            return None  # a read-only cache: the files stay left out this run and are tried next time
        return np.load(arr_path, mmap_mode="r")

    @classmethod
    def _build(cls, key, paths, size, method, arr_path: Path, meta_path: Path, progress: bool) -> "ImageCache":
        tmp_arr = arr_path.with_name(f".{arr_path.stem}.{os.getpid()}.tmp.npy")
        pixels = np.lib.format.open_memmap(tmp_arr, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        shapes = np.zeros((len(paths), 2), dtype=np.int64)
        bad: dict[int, str] = {}
        retry: list[int] = []

        def work(i: int) -> None:
            try:
                pixels[i], shapes[i] = load_resized(paths[i], size, method)
            except UnreadableFileError as e:
                bad[i] = e.reason
                retry.append(i)
            except BadImageError as e:
                bad[i] = e.reason

        bar = None
        if progress and len(paths) >= 200:
            from tqdm.auto import tqdm
            bar = tqdm(total=len(paths), desc=f"caching images at {size}px", unit="img", leave=False)
        t0 = time.perf_counter()
        try:
            with ThreadPoolExecutor(_workers()) as pool:
                for _ in pool.map(work, range(len(paths)), chunksize=16):
                    if bar is not None:
                        bar.update()
            pixels.flush()
            pixels = None  # release the memmap before renaming (required on Windows)
            os.chmod(tmp_arr, default_file_mode())
            fsync_path(tmp_arr)
            checksum = _checksum(tmp_arr)
            # Array first, then metadata: a cache is only used when both exist and agree.
            os.replace(tmp_arr, arr_path)
            fsync_path(arr_path.parent)
            _write_meta(meta_path, len(paths), size, method, shapes, bad, sorted(retry), checksum,
                        seconds=round(time.perf_counter() - t0, 3))
        finally:
            if bar is not None:
                bar.close()
            tmp_arr.unlink(missing_ok=True)
        return cls(key, paths, size, method, np.load(arr_path, mmap_mode="r"), shapes, bad, built=True)


def _write_meta(meta_path: Path, n: int, size: int, method: str, shapes: np.ndarray, bad: dict[int, str],
                retry: list[int], checksum: str, seconds: float | None = None) -> None:
    meta = {"version": _FORMAT_VERSION, "size": size, "method": method, "n": n, "checksum": checksum,
            "shapes": np.asarray(shapes).tolist(), "bad": {str(k): v for k, v in sorted(bad.items())},
            "retry": sorted(retry)}
    if seconds is not None:
        meta["seconds"] = seconds
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps(meta), encoding="utf-8")
