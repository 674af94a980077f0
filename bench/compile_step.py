"""Does `torch.compile` pay off? A model-only training step and evaluation pass, eager against compiled.

    python bench/compile_step.py                         # Lite0 at 64 px, batch 64, training step
    python bench/compile_step.py --arch resnet18 --eval  # an evaluation pass instead

Two copies of the same network (fastlearn's own, with its CPU convolutions) on the same random
batch: one run eagerly as the Learner runs it (evaluation with BatchNorm folded), one through
`torch.compile` (inductor). Prints the compile time (the first compiled call) and the steps'
milliseconds, eager and compiled alternating in one process, and the ratio of their medians.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="tf_efficientnet_lite0")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--eval", action="store_true", help="time an evaluation pass, not a training step")
    p.add_argument("--rounds", type=int, default=6)
    a = p.parse_args(argv)

    import torch
    import torch.nn.functional as F

    from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded
    from fastlearn.vision.models.zoo import create_classifier
    from fastlearn.utils.memory import reuse_freed_memory

    torch.set_flush_denormal(True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    fmt = torch.channels_last
    eager = create_classifier(a.arch, 10, pretrained=False).to(device, memory_format=fmt)
    twin = create_classifier(a.arch, 10, pretrained=False).to(device, memory_format=fmt)
    twin.load_state_dict(eager.state_dict())
    x = torch.randn(a.bs, 3, a.size, a.size, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (a.bs,), device=device)
    compiled = torch.compile(twin)
    runs = {"eager": eager, "compiled": compiled}
    opts = {}
    for name, m in (("eager", eager), ("compiled", twin)):
        m.freeze_to(0)
        m.train(not a.eval)
        opts[name] = torch.optim.AdamW(m.parameters(), 1e-4)

    def step(name: str) -> None:
        if a.eval:
            with torch.no_grad(), (batchnorm_folded(eager) if name == "eager" else contextlib.nullcontext(compiled)) as m:
                m(x)
        else:
            F.cross_entropy(runs[name](x), y).backward()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    what = "evaluation pass" if a.eval else "training step"
    print(f"{a.arch}, {a.size} px, batch {a.bs}, {what}, {device.type}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    with reuse_freed_memory(device.type == "cpu"):
        t0 = time.perf_counter()
        step("compiled")
        print(f"first compiled call (compiling): {time.perf_counter() - t0:.1f} s", flush=True)
        step("compiled")
        step("eager")
        ms = {"eager": [], "compiled": []}
        for _ in range(a.rounds):
            for name in ms:
                t0 = time.perf_counter()
                for _ in range(3):
                    step(name)
                ms[name].append((time.perf_counter() - t0) / 3 * 1000)
    for name, v in ms.items():
        print(f"{name:>8} ms: " + ", ".join(f"{t:.0f}" for t in sorted(v)))
    med = {k: sorted(v)[len(v) // 2] for k, v in ms.items()}
    print(f"compiled / eager (medians): {med['compiled'] / med['eager']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
