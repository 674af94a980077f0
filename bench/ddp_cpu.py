"""What data-parallel training costs on this machine: `fastlearn train` on one process against
`--nproc N` (torchrun, gloo), the same images and the same total batch, runs alternating.

    python bench/ddp_cpu.py [--nproc 2] [--rounds 2] [--n 1000] [--size 32] [--epochs 3]

Prints each run's wall time (process start to exit), its mean epoch time after the first (from
metrics.csv), its accuracy, and the ratios. On a CPU no speed-up is expected: the processes share
the cores one process already uses (each gets OMP_NUM_THREADS = cores / N), and pay for the
all-reduce of every step's gradients on top. With several GPUs (bench/gpu_checks.sh ddp), each
process has its own device.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

FASTLEARN = str(Path(sys.executable).with_name("fastlearn"))


def run(digits: Path, out: Path, nproc: int, bs_total: int, args) -> dict:
    cmd = [FASTLEARN, "train", str(digits), "--size", str(args.size), "--epochs", str(args.epochs), "--lr", "2e-3",
           "--augment", "none", "--bs", str(bs_total // nproc), "--out", str(out), "--overwrite"]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    threads = max(1, (os.cpu_count() or 1) // nproc)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    wall = time.perf_counter() - t0
    epochs = pd.read_csv(out / "metrics.csv")["time"].tolist()
    summary = json.loads((out / "summary.json").read_text())
    return {"wall": wall, "epoch": sum(epochs[1:]) / max(1, len(epochs) - 1), "accuracy": summary["accuracy"]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--bs", type=int, default=32, help="the total batch (each of N processes takes bs / N)")
    args = p.parse_args()
    from fastlearn.datasets import mnist_folders
    work = Path(tempfile.mkdtemp(prefix="ddp-bench-"))
    digits = mnist_folders(work / "digits", n=args.n)
    results: dict[int, list[dict]] = {1: [], args.nproc: []}
    for r in range(args.rounds):
        for nproc in (1, args.nproc):
            res = run(digits, work / f"run{nproc}", nproc, args.bs, args)
            results[nproc].append(res)
            print(f"round {r + 1}, {nproc} process(es): wall {res['wall']:.1f} s, epoch {res['epoch']:.2f} s, "
                  f"accuracy {res['accuracy']:.4f}", flush=True)
    mean = {k: {m: sum(x[m] for x in v) / len(v) for m in ("wall", "epoch", "accuracy")} for k, v in results.items()}
    one, many = mean[1], mean[args.nproc]
    print(f"{args.nproc} processes / 1: wall {many['wall'] / one['wall']:.2f}x, epoch {many['epoch'] / one['epoch']:.2f}x, "
          f"accuracy {many['accuracy']:.4f} vs {one['accuracy']:.4f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
