"""Where a fastlearn training epoch spends its time, on whatever device this machine has.

    python bench/profile_fit.py                  # the MNIST digits at 64 px, Lite0, unfrozen
    python bench/profile_fit.py --frozen         # the frozen body (head only)
    python bench/profile_fit.py --data DIR --size 224
    python bench/profile_fit.py --arch resnet18 --scratch --sample 800
    python bench/profile_fit.py --data DIR --size 224 --rows 0 --resident off   # A/B the GPU-resident cache

Times a warm one-cycle epoch (after one untimed epoch) and warm predict and TTA passes over
the validation set, then runs one more epoch under
torch.profiler and prints the operators that cost the most host time (and device time on a
GPU). Compare the epoch's images/s with the model-only ceiling printed by
bench/compare_fastai.py to see how much the data pipeline and the loop cost.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="an image folder with train/ and valid/ (default: the MNIST digits)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--bs", type=int, default=64)
    p.add_argument("--arch", default="tf_efficientnet_lite0")
    p.add_argument("--frozen", action="store_true", help="train the head only")
    p.add_argument("--scratch", action="store_true", help="random weights (no pretrained file needed: resnet18)")
    p.add_argument("--work", default=str(ROOT / "bench" / ".work"))
    p.add_argument("--rows", type=int, default=25, help="operators to list (0: time the epochs, no profile)")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast (the GPU default)")
    p.add_argument("--channels-last", choices=["auto", "on", "off"], default="auto",
                   help="the memory format (auto: the Learner's default for the device)")
    p.add_argument("--no-reuse-memory", action="store_true", help="the Learner's reuse_memory=False")
    p.add_argument("--resident", choices=["auto", "on", "off"], default="auto",
                   help="the whole image cache on the device, batches gathered there (auto: on a GPU with room)")
    p.add_argument("--sample", type=int, help="train on this many images (and a proportional validation set)")
    a = p.parse_args(argv)

    import torch
    from torch.profiler import ProfilerActivity, profile

    from fastlearn import ImageData, Learner
    from fastlearn.vision.data import Lighting, Rotate, Zoom
    from fastlearn.datasets import mnist_folders

    work = Path(a.work)
    folder = a.data or mnist_folders(work / "digits")
    data = ImageData.from_folder(folder, size=a.size, bs=a.bs, cache_dir=work / "fastlearn-cache",
                                 augment=[Rotate(10.0), Zoom(1.1), Lighting(0.2)], progress=False,
                                resident={"on": True, "off": False}.get(a.resident))
    if a.sample:
        data = data.sample(a.sample)
    learn = Learner.pretrained(a.arch, data, pretrained=not a.scratch, progress=False, mixed_precision=False if a.fp32 else "auto",
                               channels_last={"on": True, "off": False}.get(a.channels_last, "auto"),
                               reuse_memory=not a.no_reuse_memory)
    learn.model.bn_adapt = True
    learn.freeze() if a.frozen else learn.unfreeze()
    n = len(data.paths_of("train")) + len(data.paths_of("valid"))
    cuda = learn.device.type == "cuda"

    def epoch() -> float:
        t0 = time.perf_counter()
        learn.fit_one_cycle(1, 1e-3)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    first = epoch()  # the first pays for warming up: allocator, kernels, convolution plans, the cache's pages
    seconds = [epoch() for _ in range(2)]
    print(f"{learn!r}\n{'frozen' if a.frozen else 'unfrozen'} epoch of {n} images: first {first:.2f} s, then "
          f"{', '.join(f'{s:.2f} s' for s in seconds)} ({n / min(seconds):.0f} img/s at best)")
    n_valid = len(data.paths_of("valid"))
    for name, views, run in (("predict", 1, learn.predict), ("TTA", 5, learn.tta)):
        run()  # warm
        passes = []
        for _ in range(3):
            t0 = time.perf_counter()
            run()  # returns tensors on the host: the device has finished
            passes.append(time.perf_counter() - t0)
        print(f"{name} of {n_valid} images: {', '.join(f'{s:.3f} s' for s in passes)} "
              f"({views * n_valid / min(passes):.0f} img/s at best)")
    if a.rows == 0:
        return 0
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        epoch()
    keys = prof.key_averages()
    print(keys.table(sort_by="self_cpu_time_total", row_limit=a.rows))
    if cuda:
        print(keys.table(sort_by="self_cuda_time_total", row_limit=a.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
