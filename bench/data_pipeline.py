"""Loader throughput: fastlearn's cold cache, warm cache, and plain per-image PIL decoding.

On 2,000 generated JPEGs of about 500x375 in 10 class folders, at `--size` (default 224,
batch 64), in one process:

  load, cold    ImageData.from_folder with an empty cache (decode + resize every file once),
                then every training batch as uint8 pixels (no augmentation)
  load, warm    the same reusing the cache: no decoding, batches are slices of one array
  epoch, cold   empty cache, then one augmented training epoch (side_on, normalised floats)
  epoch, warm   the same reusing the cache
  pil           a torchvision per-image pipeline (PIL decode, resize, random crop, flip, rotation,
                colour jitter, to tensor, normalise) in a torch DataLoader with 2 worker processes

Prints images/s for each and the ratios. Run: python bench/data_pipeline.py [--n 2000] [--size 224]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_jpegs(root: Path, n: int, seed: int = 0) -> Path:
    """n JPEGs of about 500x375 (sizes vary a little) with smooth noise, in 10 class folders."""
    marker = root / f".n{n}"
    if marker.exists():
        return root
    rng = np.random.default_rng(seed)
    for i in range(n):
        w, h = 500 + int(rng.integers(-40, 41)), 375 + int(rng.integers(-30, 31))
        small = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, h), Image.BILINEAR)
        d = root / f"class{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        img.save(d / f"{i:05d}.jpg", quality=90)
    marker.touch()
    return root


def time_fastlearn(root: Path, cache: Path, size: int, bs: int, augment: bool) -> tuple[float, float, int]:
    """(seconds to open the data, seconds in all, images): one epoch of augmented device
    batches, or with `augment=False` of the raw uint8 batches the loader reads from the cache."""
    from fastlearn.vision.data import ImageData
    t0 = time.perf_counter()
    data = ImageData.from_folder(root, valid_pct=0.01, size=size, bs=bs, cache_dir=cache, progress=False)
    t_open = time.perf_counter() - t0
    dl = data.train_dl
    batches = dl if augment else dl._prefetched(dl._order())
    n = 0
    for x, _ in batches:
        n += len(x)
    return t_open, time.perf_counter() - t0, n


def time_pil(root: Path, size: int, bs: int, workers: int) -> tuple[float, int]:
    from torchvision import datasets, transforms as T
    tf = T.Compose([
        T.Resize(int(size * 1.1)), T.RandomCrop(size), T.RandomHorizontalFlip(), T.RandomRotation(10),
        T.ColorJitter(0.2, 0.2), T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    ])
    ds = datasets.ImageFolder(str(root), transform=tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, num_workers=workers, drop_last=True)
    t0 = time.perf_counter()
    n = 0
    for x, _ in dl:
        n += len(x)
    return time.perf_counter() - t0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers for the PIL baseline")
    ap.add_argument("--data", type=Path, default=Path(__file__).parent / "_data" / "jpegs")
    args = ap.parse_args()

    root = make_jpegs(args.data / str(args.n), args.n)
    results = {}
    for augment in (False, True):
        cache = Path(tempfile.mkdtemp(prefix="fastlearn-bench-cache-"))
        try:
            results["epoch" if augment else "load", "cold"] = time_fastlearn(root, cache, args.size, args.bs, augment)
            results["epoch" if augment else "load", "warm"] = time_fastlearn(root, cache, args.size, args.bs, augment)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    pil, n_pil = time_pil(root, args.size, args.bs, args.workers)

    cpu = _cpu_name()
    print(f"{args.n} JPEGs ~500x375 -> {args.size}px, batch {args.bs}; torch {torch.__version__}; "
          f"{os.cpu_count()} cores ({cpu}); torch threads {torch.get_num_threads()}")
    ips = {}
    for (what, cache_state), (t_open, total, n) in results.items():
        ips[what, cache_state] = n / total
        print(f"  {what + ', ' + cache_state + ' cache':<22} {n / total:8.0f} img/s   "
              f"({total:.2f}s for {n} images; opening the data {t_open:.2f}s)")
    print(f"  {'pil, ' + str(args.workers) + ' workers':<22} {n_pil / pil:8.0f} img/s   ({pil:.2f}s for {n_pil} images)")
    print(f"load:  warm / cold = {ips['load', 'warm'] / ips['load', 'cold']:.1f}x")
    print(f"epoch: warm / cold = {ips['epoch', 'warm'] / ips['epoch', 'cold']:.1f}x")
    print(f"epoch: warm / pil  = {ips['epoch', 'warm'] * pil / n_pil:.1f}x")
    print(f"epoch: cold / pil  = {ips['epoch', 'cold'] * pil / n_pil:.1f}x")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
