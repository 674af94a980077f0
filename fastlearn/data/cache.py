"""A decode-once cache: every image resized into one uint8 array on disk (a numpy memmap).

The cache is keyed on the file list, each file's size and modification time, the pixel size
and the resize method, so it is reused across epochs, runs and processes, and rebuilt when any
file changes. Files that fail to decode are recorded with the reason, so a warm cache reports
the same bad files without opening them again.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from fastlearn.data.images import BadImageError, load_resized

__all__ = ["ImageCache", "default_cache_dir"]

_FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """`$FASTLEARN_CACHE`, else `$XDG_CACHE_HOME/fastlearn`, else `~/.cache/fastlearn`."""
    if os.environ.get("FASTLEARN_CACHE"):
        return Path(os.environ["FASTLEARN_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastlearn"


def _key(paths: Sequence[Path], size: int, method: str) -> str:
    h = hashlib.sha256(f"v{_FORMAT_VERSION}|{size}|{method}".encode())
    real_dirs: dict[str, str] = {}
    for p in paths:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            real, st = str(p.resolve()), p.stat()
        else:
            # the file's own absolute path, resolving each folder once: `resolve()` on every
            # file (a stat per path component) took most of opening the digits' warm cache
            parent, name = os.path.split(p)
            if parent not in real_dirs:
                real_dirs[parent] = os.path.realpath(parent or ".")
            real = os.path.join(real_dirs[parent], name)
        h.update(f"|{real}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


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
        """Reuse the cache for exactly these files at this size, or build it."""
        paths = [p if isinstance(p, Path) else Path(p) for p in paths]
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        key = _key(paths, size, method)
        arr_path, meta_path = root / f"{key}.npy", root / f"{key}.json"
        if arr_path.exists() and meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text())
                pixels = np.load(arr_path, mmap_mode="r")
                if pixels.shape == (len(paths), size, size, 3):
                    return cls(key, paths, size, method, pixels, np.asarray(meta["shapes"], dtype=np.int64).reshape(-1, 2),
                               {int(k): v for k, v in meta["bad"].items()}, built=False)
            except (ValueError, KeyError, OSError):
                pass  # unreadable cache (e.g. killed mid-write on an old version): rebuild below
        return cls._build(key, paths, size, method, arr_path, meta_path, progress)

    @classmethod
    def _build(cls, key, paths, size, method, arr_path: Path, meta_path: Path, progress: bool) -> "ImageCache":
        tmp_arr = arr_path.with_name(f".{arr_path.stem}.{os.getpid()}.tmp.npy")
        pixels = np.lib.format.open_memmap(tmp_arr, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        shapes = np.zeros((len(paths), 2), dtype=np.int64)
        bad: dict[int, str] = {}

        def work(i: int) -> None:
            try:
                pixels[i], shapes[i] = load_resized(paths[i], size, method)
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
            meta = {"version": _FORMAT_VERSION, "size": size, "method": method, "n": len(paths),
                    "shapes": shapes.tolist(), "bad": {str(k): v for k, v in sorted(bad.items())},
                    "seconds": round(time.perf_counter() - t0, 3)}
            tmp_meta = meta_path.with_name(f".{meta_path.stem}.{os.getpid()}.tmp.json")
            tmp_meta.write_text(json.dumps(meta))
            # Array first, then metadata: a cache is only used when both exist.
            os.replace(tmp_arr, arr_path)
            os.replace(tmp_meta, meta_path)
        finally:
            if bar is not None:
                bar.close()
            tmp_arr.unlink(missing_ok=True)
        return cls(key, paths, size, method, np.load(arr_path, mmap_mode="r"), shapes, bad, built=True)
