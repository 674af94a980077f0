"""What the first training step and evaluation pass cost in a fresh process, against the next ones.

    python bench/first_step.py                                   # Lite0, 224 px, the settings below
    python bench/first_step.py --size 64 --arch resnet18

On a GPU, cuDNN chooses and builds its convolution plans on first use of each shape, and CUDA
loads kernels lazily: an epoch of a few dozen batches can be mostly that. Each setting (memory
format, bf16 autocast, cudnn.benchmark) runs in its own fresh process, model only, on random
tensors already on the device; the first evaluation pass runs before the first training step.
"""
from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = [  # (channels_last, bf16, cudnn.benchmark); the first is the Learner's GPU default
    (True, True, False), (True, False, False), (False, True, False), (False, False, False), (True, True, True)]


def one(arch: str, size: int, bs: int, channels_last: bool, bf16: bool, benchmark: bool) -> str:
    """Run in the fresh process: the first and later evaluation passes and training steps."""
    sys.path.insert(0, str(ROOT))
    import torch
    from fastlearn.vision.models.zoo import create_classifier
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.backends.cudnn.benchmark = benchmark
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = create_classifier(arch, 10, pretrained=False).to(device, memory_format=fmt)
    model.freeze_to(0)  # the whole network trains
    opt = torch.optim.AdamW(model.parameters(), 1e-4, fused=cuda or None)
    x = torch.randn(bs, 3, size, size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (bs,), device=device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    def evaluate():
        model.eval()
        with torch.no_grad(), autocast():
            model(x)
        model.train()

    def step():
        with autocast():
            loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    e = [timed(evaluate) for _ in range(2)]
    s = [timed(step) for _ in range(3)]
    return (f"| {channels_last} | {bf16} | {benchmark} | {e[0]:.2f} s | {e[1] * 1000:.1f} ms | {s[0]:.2f} s | "
            f"{min(s[1:]) * 1000:.1f}-{max(s[1:]) * 1000:.1f} ms |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="tf_efficientnet_lite0")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        print(one(a.arch, a.size, a.bs, *map(bool, a.one)), flush=True)
        return 0
    import torch
    settings = SETTINGS if torch.cuda.is_available() else [(True, False, False), (False, False, False)]
    print(f"{a.arch}, {a.size} px, batch {a.bs}, "
          f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}, torch {torch.__version__}")
    print("| channels_last | bf16 | cudnn.benchmark | first eval | next eval | first train step | next steps |")
    print("|---|---|---|---:|---:|---:|---:|")
    for s in settings:
        cmd = [sys.executable, __file__, "--arch", a.arch, "--size", str(a.size), "--bs", str(a.bs),
               "--one", *(str(int(v)) for v in s)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            sys.stderr.write(out.stderr[-2000:])
            raise SystemExit(f"the setting {s} failed (exit {out.returncode})")
        print(out.stdout.strip(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
