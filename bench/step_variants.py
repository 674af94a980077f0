"""Model-only training and evaluation steps under each memory format, precision and cuDNN setting.

    python bench/step_variants.py                      # Lite0 at 64 and 224 px, batch 64
    python bench/step_variants.py --arch resnet18 --sizes 128

Picks the Learner's defaults on a device: the images/s of a training step (forward, backward,
AdamW) and of an evaluation pass on tensors already on the device, for channels_last or not,
bf16 autocast or not (GPU only) and `torch.backends.cudnn.benchmark` on or off (GPU only). The
first row of each size is the baseline; the ratio column divides by it.
"""
from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from compare_fastai import images_per_second  # noqa: E402  (beside this script)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="tf_efficientnet_lite0")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--steps", type=int, default=0, help="timed steps (default: 40 on a GPU, 5 on the CPU)")
    a = p.parse_args(argv)

    import torch
    from fastlearn.vision.models.zoo import create_classifier
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    n = a.steps or (40 if cuda else 5)
    print(f"{a.arch}, batch {a.bs}, {n} steps, {torch.cuda.get_device_name(0) if cuda else 'CPU'}, torch {torch.__version__}")
    print("| size | channels_last | bf16 | cudnn.benchmark | train img/s | ratio | eval img/s | ratio |")
    print("|---:|---|---|---|---:|---:|---:|---:|")
    options = list(itertools.product([False, True], [False, True] if cuda else [False], [False, True] if cuda else [False]))
    for size in a.sizes:
        base = None
        for cl, amp, bench in options:
            torch.backends.cudnn.benchmark = bench
            torch.manual_seed(0)
            fmt = torch.channels_last if cl else torch.contiguous_format
            model = create_classifier(a.arch, 10, pretrained=False).to(device, memory_format=fmt)
            model.freeze_to(0)  # the whole network trains (a new classifier starts with its body frozen)
            x = torch.randn(a.bs, 3, size, size, device=device).contiguous(memory_format=fmt)
            y = torch.randint(0, 10, (a.bs,), device=device)
            opt = torch.optim.AdamW(model.parameters(), 1e-4)
            autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if amp else contextlib.nullcontext
            tr = images_per_second(model, x, y, opt, True, autocast, n)
            ev = images_per_second(model, x, y, opt, False, autocast, n)
            base = base or (tr, ev)
            print(f"| {size} | {cl} | {amp} | {bench} | {tr:.0f} | {tr / base[0]:.2f} | {ev:.0f} | {ev / base[1]:.2f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
