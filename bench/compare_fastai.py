"""fastlearn against fastai 2.8, side by side on this machine, in one run.

    python bench/compare_fastai.py --quick            # the digits, Lite0, A B A B (8-11 min on 2 cores)
    python bench/compare_fastai.py                    # + resnet18 from scratch, + 2,000 JPEGs at 128 px
    python bench/compare_fastai.py --gpu              # the 2,000 JPEGs at 224 px only (3-4 min on an H100)
    python bench/compare_fastai.py --cases resnet18   # only the cases whose name holds a word
    python bench/compare_fastai.py --record           # also append the tables to bench/RESULTS.md

Needs fastai: pip install -e '.[bench]'. Each library runs in its own fresh process (so peak
memory, the PSS of that process and its children sampled from outside, is its own), alternately: fastlearn, fastai, fastlearn, fastai... Both get the same
images, architecture, weights (the packaged ImageNet Lite0 file, loaded tensor by tensor), image
size, batch size, augmentation (rotate 10, zoom 1.1, lighting 0.2, no flips, no warp), learning
rate, epochs and seed, and the same recipe: lr_find (100 iterations at most), one frozen one-cycle
epoch at `lr`, unfreeze, one-cycle epochs at slice(lr/200, lr/2) (what `fine_tune` does), predict
the validation set, TTA with 4 augmented views (with --gpu, each training phase also once more,
timed apart: the `warm` rows). Each library uses its documented defaults
otherwise (fastai: `ImageDataLoaders.from_folder` with `Resize` item transforms, batch transforms,
its default worker processes; fastlearn: the decode-once image cache, built in the first run and
warm afterwards).

The ceiling is the model alone: the training step (forward, backward, AdamW) and the evaluation
forward pass on tensors already in memory, same architecture, size, batch size and settings as
the Learner (channels_last, fused AdamW, denormals flushed, freed memory reused on the CPU; bf16
autocast on a GPU; in the frozen step, BatchNorm on batch statistics as both libraries train it;
in evaluation, BatchNorm folded into the convolutions, as the Learner evaluates).
Pipeline efficiency = the ceiling's time for a phase's images / the phase's measured time. The
ceiling is measured inside the fastlearn worker, on a copy of its model, right before and right
after each phase it is compared with, and the two are averaged: this machine's speed drifts by
10-30% over minutes, so a ceiling taken in another process a minute or more away (as until
session 7: one per round, after both libraries' runs) read slow spells as pipeline overhead
(one run's efficiencies 0.65-0.87 where the same code's next run read 0.96-1.08). With
several runs, the first (which builds fastlearn's cache) measures no ceiling: its efficiency is
not reported.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUG = dict(max_rotate=10.0, max_zoom=1.1, max_lighting=0.2)
# With `warm` in a case (the GPU one): each training phase once more, timed apart. On a GPU the
# first epoch of each phase mostly measures the warm-up (convolution plans, kernels loaded lazily).
WARM_PHASES = ("frozen epoch, warm", "unfrozen epoch, warm")


# ----- data ------------------------------------------------------------------------------------------
def generated_photos(dest: Path, n: int = 2000, classes: int = 10, seed: int = 0) -> Path:
    """`n` photo-sized (about 500x375) JPEGs in `classes` folders, 80% train / 20% valid. Each
    class is a colour and a shape on a noisy gradient, so the set is learnable, though only its
    throughput is compared."""
    import numpy as np
    from PIL import Image, ImageDraw
    marker = dest / ".complete"
    if marker.exists() and marker.read_text() == f"v2 {n} {classes} {seed}":
        return dest
    if dest.exists():  # another size or an older layout: start again rather than mix the two
        import shutil
        shutil.rmtree(dest)
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = i % classes
        w, h = int(rng.integers(440, 560)), int(rng.integers(330, 420))
        grad = np.linspace(0, 1, w)[None, :, None] * rng.uniform(60, 160, 3)
        pix = np.clip(grad + rng.normal(90, 25, (h, w, 3)), 0, 255).astype("uint8")
        im = Image.fromarray(pix)
        draw = ImageDraw.Draw(im)
        colour = tuple(int(v) for v in np.array([(c * 67) % 256, (c * 131) % 256, (c * 199) % 256]))
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        box = (x0, y0, x0 + int(rng.integers(80, w // 2)), y0 + int(rng.integers(80, h // 2)))
        (draw.ellipse if c % 2 else draw.rectangle)(box, fill=colour)
        split = "valid" if (i // classes) % 5 == 0 else "train"  # every class in both splits
        folder = dest / split / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        im.save(folder / f"{i:05d}.jpg", quality=90)
    marker.write_text(f"v2 {n} {classes} {seed}")
    return dest


def prepare(work: Path, quick: bool, gpu: bool = False) -> list[dict]:
    """The cases to run: data folder, architecture, size, batch size, epochs, rate."""
    from fastlearn.datasets import mnist_folders
    if gpu:  # throughput at the size a GPU trains at; the digits at 64 px only measure kernel launches there
        return [dict(name="2,000 JPEGs 500x375, Lite0, 224 px (throughput)", data=str(generated_photos(work / "photos")),
                     arch="tf_efficientnet_lite0", pretrained=True, size=224, bs=64, epochs=1, lr=1e-2,
                     accuracy=False, warm=True)]
    digits = mnist_folders(work / "digits")
    cases = [dict(name="digits, Lite0 (ImageNet weights)", data=str(digits), arch="tf_efficientnet_lite0",
                  pretrained=True, size=64, bs=64, epochs=1, lr=1e-2, accuracy=True)]
    if not quick:
        photos = generated_photos(work / "photos")
        cases += [
            dict(name="digits, resnet18 from scratch", data=str(digits), arch="resnet18", pretrained=False,
                 size=64, bs=64, epochs=1, lr=1e-2, accuracy=True),
            dict(name="2,000 JPEGs 500x375, Lite0, 128 px (throughput)", data=str(photos),
                 arch="tf_efficientnet_lite0", pretrained=True, size=128, bs=64, epochs=1, lr=1e-2,
                 accuracy=False),
        ]
    return cases


# ----- the workers (each in its own process) ---------------------------------------------------------
def _tree_pss_mb(pid: int) -> float:
    """Proportional set size of a process and all its descendants (fastai's DataLoader workers
    included), in MB. PSS splits shared pages between the processes that share them, so forked
    workers are not counted twice the way summed RSS would count them."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
                    break
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total


class Phases:
    """Wall time, image count, start and end (epoch seconds) of each phase.

    Memory is measured from outside, by `spawn`, which samples this process tree's PSS: a
    sampling thread in here would compete for the GIL with the training loop it measures (on
    a GPU that loop is bound by Python launching kernels).
    `peak_mb` here is the process's own high-water mark, for where /proc is missing.
    """

    def __init__(self):
        self.rows: dict[str, dict] = {}

    def run(self, name: str, images: int, fn, ceiling=None):
        """Time `fn()` as phase `name` over `images` images; with `ceiling` (a function of no
        arguments returning model-only images/s), measure that right before and right after."""
        before = ceiling() if ceiling else None
        start, t0 = time.time(), time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        self.rows[name] = dict(seconds=seconds, images=images, start=start, end=time.time(),
                               peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        if ceiling:
            self.rows[name]["ceilings"] = [before, ceiling()]
        return out


def lite0_state_dict():
    """The packaged Lite0 ImageNet weights, renamed onto timm's tf_efficientnet_lite0."""
    import timm
    from fastlearn.vision.models.weights import load_positional, packaged_weights_file, read_state_dict
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0, global_pool="")
    path = packaged_weights_file("tf_efficientnet_lite0")
    load_positional(model, read_state_dict(path), str(path))
    return model.state_dict()


def training_phases(ph: Phases, learn, case: dict, n_images: int, ceiling=None, accuracy=None) -> None:
    """The recipe's training, the same calls in both libraries: one frozen one-cycle epoch at
    `lr`, unfreeze, one-cycle epochs at slice(lr/200, lr/2); with `warm`, each once more.
    `ceiling(phase)`, if given, makes the function `Phases.run` measures around that phase;
    `accuracy()`, if given, reads the validation accuracy the library reported after a phase."""
    lr = case["lr"]
    around = ceiling or (lambda phase: None)  # noqa: E731

    def phase(name: str, images: int, fn) -> None:
        ph.run(name, images, fn, around(name))
        if accuracy and case["accuracy"]:
            ph.rows[name]["accuracy"] = accuracy()
    frozen = lambda: learn.fit_one_cycle(1, lr, pct_start=0.99)  # noqa: E731
    phase("frozen epoch", n_images, frozen)
    if case.get("warm"):
        phase(WARM_PHASES[0], n_images, frozen)
    learn.unfreeze()
    unfrozen = lambda epochs: learn.fit_one_cycle(epochs, slice(lr / 200, lr / 2), pct_start=0.3, div=5.0)  # noqa: E731
    phase("unfrozen epoch", n_images * case["epochs"], lambda: unfrozen(case["epochs"]))
    if case.get("warm"):
        phase(WARM_PHASES[1], n_images, lambda: unfrozen(1))


def worker_fastlearn(case: dict, work: Path, seed: int) -> dict:
    import torch
    from fastlearn import ImageData, Learner
    from fastlearn.vision.data import Lighting, Rotate, Zoom
    torch.manual_seed(seed)
    ph = Phases()
    augment = [Rotate(AUG["max_rotate"]), Zoom(AUG["max_zoom"]), Lighting(AUG["max_lighting"])]
    data = ph.run("load", 0, lambda: ImageData.from_folder(
        case["data"], size=case["size"], bs=case["bs"], augment=augment, cache_dir=work / "fastlearn-cache",
        progress=False))
    n_train, n_valid = len(data.paths_of("train")), len(data.paths_of("valid"))
    learn = Learner.pretrained(case["arch"], data, pretrained=case["pretrained"], seed=seed, progress=False)
    learn.model.bn_adapt = True  # what fine_tune sets; its two phases are timed apart here
    finder = ph.run("lr_find", 0, lambda: learn.lr_find(num_it=100))
    ph.rows["lr_find"]["images"] = len(finder.lrs) * case["bs"]
    learn.freeze()

    def ceiling(phase: str):
        if not case.get("ceilings", True):  # a run whose efficiency is not reported (see main)
            return None
        return lambda: model_ceiling(learn.model, case, CEILING_KINDS[phase.split(",")[0]], seed)
    training_phases(ph, learn, case, n_train + n_valid, ceiling,
                    accuracy=lambda: float(learn.recorder.rows[-1]["accuracy"]))
    probs, targets = ph.run("predict", n_valid, lambda: learn.predict(), ceiling("predict"))
    tta_probs, _ = ph.run("tta", 5 * n_valid, lambda: learn.tta(n=4), ceiling("tta"))
    return dict(phases=ph.rows, accuracy=float((probs.argmax(1) == targets).float().mean()),
                tta_accuracy=float((tta_probs.argmax(1) == targets).float().mean()), n_train=n_train,
                n_valid=n_valid, lr_find_suggestion=finder.suggestion)


def worker_fastai(case: dict, work: Path, seed: int) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    from fastai.vision.all import (ImageDataLoaders, Normalize, Resize, accuracy, aug_transforms, imagenet_stats,
                                   set_seed, vision_learner)
    from fastai.callback.progress import ProgressCallback
    set_seed(seed)
    ph = Phases()
    stats = ([0.5] * 3, [0.5] * 3) if case["arch"].startswith("tf_efficientnet") else imagenet_stats
    batch_tfms = [*aug_transforms(do_flip=False, max_warp=0.0, **AUG), Normalize.from_stats(*stats)]
    dls = ph.run("load", 0, lambda: ImageDataLoaders.from_folder(
        case["data"], train="train", valid="valid", item_tfms=Resize(case["size"]), batch_tfms=batch_tfms,
        bs=case["bs"], seed=seed))
    n_train, n_valid = len(dls.train_ds), len(dls.valid_ds)
    # The timm name, as fastlearn uses; pretrained=False because fastai would fetch weights from
    # the hub: the packaged file goes in below.
    learn = vision_learner(dls, case["arch"], pretrained=False, metrics=accuracy)
    learn.remove_cb(ProgressCallback)
    learn.logger = lambda *a, **k: None
    if case["pretrained"]:
        learn.model[0].model.load_state_dict(lite0_state_dict())
    import torch
    if torch.cuda.is_available():  # what fastlearn does by default on a GPU, in fastai's documented way
        learn.to_channelslast(amp_mode="bf16")
    learn.freeze()
    finder = ph.run("lr_find", 0, lambda: learn.lr_find(num_it=100, show_plot=False))
    ph.rows["lr_find"]["images"] = len(learn.recorder.lrs) * case["bs"]
    training_phases(ph, learn, case, n_train + n_valid, accuracy=lambda: float(learn.recorder.values[-1][2]))
    probs, targets = ph.run("predict", n_valid, lambda: learn.get_preds())
    tta_probs, _ = ph.run("tta", 5 * n_valid, lambda: learn.tta(n=4))
    return dict(phases=ph.rows, accuracy=float((probs.argmax(1) == targets).float().mean()),
                tta_accuracy=float((tta_probs.argmax(1) == targets).float().mean()), n_train=n_train,
                n_valid=n_valid, lr_find_suggestion=float(finder.valley))


# The model-only speeds each compared phase is measured against (training epochs also evaluate).
CEILING_KINDS = {"frozen epoch": ("frozen_train_img_s", "eval_img_s"),
                 "unfrozen epoch": ("train_img_s", "eval_img_s"), "predict": ("eval_img_s",), "tta": ("eval_img_s",)}


def model_ceiling(model, case: dict, kinds: tuple[str, ...], seed: int = 0, steps: int = 12) -> dict:
    """Model-only throughput of a copy of `model` (the Learner's, already on its device and in
    its memory format): for each of `kinds`, "train_img_s" (the whole network trains),
    "frozen_train_img_s" (the head trains; the body's BatchNorm uses batch statistics, as both
    libraries' frozen epoch) or "eval_img_s" (evaluation passes, BatchNorm folded into the
    convolutions as the Learner evaluates), on one random batch."""
    import contextlib
    import copy
    import torch
    from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded
    from fastlearn.train.learner import fuses_adamw
    from fastlearn.utils.denormals import flush_denormals
    from fastlearn.utils.memory import reuse_freed_memory
    param = next(model.parameters())
    device, cuda = param.device, param.device.type == "cuda"
    steps = steps * 4 if cuda else steps
    # what the Learner does by default: channels_last, and bf16 autocast on a GPU
    fmt = torch.channels_last
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else contextlib.nullcontext
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(case["bs"], 3, case["size"], case["size"], generator=gen).to(device, memory_format=fmt)
    y = torch.randint(0, 10, (case["bs"],), generator=gen).to(device)
    out = {}
    # the head's dropout draws from the global generators: restored after, so that measuring
    # leaves the measured run's random stream (and its accuracy) as it would be without
    with torch.random.fork_rng(devices=[device] if cuda else []), flush_denormals(), reuse_freed_memory():
        for kind in kinds:
            twin = copy.deepcopy(model)
            twin.freeze_to(-1 if kind == "frozen_train_img_s" else 0)
            twin.bn_adapt = True
            opt = torch.optim.AdamW([p for p in twin.parameters() if p.requires_grad], 1e-3,
                                    fused=fuses_adamw(device) or None)
            if kind == "eval_img_s":
                with batchnorm_folded(twin.eval()) as folded:
                    out[kind] = images_per_second(folded, x, y, opt, False, autocast, steps)
            else:
                out[kind] = images_per_second(twin, x, y, opt, True, autocast, steps)
            del twin, opt
    return out


def images_per_second(model, x, y, opt, train: bool, autocast, steps: int) -> float:
    """Model-only throughput on the batch `x`: training steps (forward, cross-entropy, backward,
    `opt`) or evaluation passes, timed after 3 untimed ones; synchronised on a GPU. `autocast`
    makes a fresh context each call (bf16 autocast, or `contextlib.nullcontext`)."""
    import torch
    cuda = x.device.type == "cuda"
    model.train(train)

    def run(n: int) -> None:
        for _ in range(n):
            if train:
                with autocast():
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
            else:
                with torch.no_grad(), autocast():
                    model(x)
    run(3)  # warm-up
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    run(steps)
    if cuda:
        torch.cuda.synchronize()
    return steps * len(x) / (time.perf_counter() - t0)


WORKERS = {"fastlearn": worker_fastlearn, "fastai": worker_fastai}


def spawn(lib: str, case: dict, work: Path, seed: int, interval: float = 1.0) -> dict:
    """Run one worker in a fresh process; sample its process tree's PSS every `interval` seconds
    and give each phase the peak of the samples taken while it ran (a phase with no sample in
    it: the worker's own peak RSS so far, at its end).

    Not more often: reading smaps_rollup walks the process's page tables under its memory-map
    lock, which stalls the measured process's own mmap/munmap calls. Sampled every 0.1 s, the
    fastlearn worker's unfrozen epoch took 31-35 s against 27 s sampled every 5 s; every 1 s,
    24.6-26.9 s against 27.8-28.9 s (no difference beyond this machine's noise)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", lib, "--case", json.dumps(case),
           "--work", str(work), "--seed", str(seed)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=interval)  # retrying loses no output
            break
        except subprocess.TimeoutExpired:
            samples.append((time.time(), _tree_pss_mb(proc.pid)))
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        sys.stderr.write(stdout[-3000:] + stderr[-3000:])
        raise SystemExit(f"the {lib} worker failed on {case['name']} (exit {proc.returncode})")
    result = json.loads(lines[-1][len("RESULT "):])
    for row in result.get("phases", {}).values():
        inside = [mb for t, mb in samples if row["start"] <= t <= row["end"]]
        # A phase shorter than the interval (loading, 0.5 s) keeps the worker's own high-water
        # mark (RSS) at its end: the samples either side of it belong to the phases around it,
        # and the one after lands further into the next phase in the faster library.
        if inside and max(inside) > 0:
            row["peak_mb"] = max(inside)
    return result


# ----- the report ----------------------------------------------------------------------------------
def spread(values: list[float], fmt: str) -> str:
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{format(statistics.median(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def ceiling_seconds(phase: str, run: dict, case: dict) -> float | None:
    """The ceiling's time for the images the phase handled (training and validation passes),
    the mean of the measurements before and after the phase; None for a phase without one."""
    n_train, n_valid = run["n_train"], run["n_valid"]
    ceilings = run["phases"][phase].get("ceilings")
    if not ceilings:
        return None

    def seconds(c: dict) -> float:
        if phase.startswith("frozen epoch"):
            return n_train / c["frozen_train_img_s"] + n_valid / c["eval_img_s"]
        if phase.startswith("unfrozen epoch"):
            epochs = 1 if phase in WARM_PHASES else case["epochs"]
            return epochs * (n_train / c["train_img_s"] + n_valid / c["eval_img_s"])
        return (5 if phase == "tta" else 1) * n_valid / c["eval_img_s"]
    return statistics.mean(seconds(c) for c in ceilings)


def table(case: dict, runs: dict[str, list[dict]]) -> str:
    """The markdown table of one case, from each library's runs (fastlearn's carry the ceilings
    measured around its phases)."""
    fl, fa = runs["fastlearn"], runs["fastai"]
    warm = range(1, len(fl)) if len(fl) > 1 else range(1)  # fastlearn's first run builds its cache
    lines = [f"### {case['name']}", "",
             f"size {case['size']}, batch {case['bs']}, {case['epochs']} unfrozen epoch(s), lr {case['lr']}, "
             f"{fl[0]['n_train']} train / {fl[0]['n_valid']} valid images; {len(fl)} run(s) each, "
             "median (min-max).", "",
             "| phase | fastlearn s | fastai s | ratio fl/fa | fastlearn img/s | fastai img/s | "
             "fastlearn peak MB | fastai peak MB | fastlearn pipeline eff. | fastlearn accuracy | fastai accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for phase in fl[0]["phases"]:
        s_fl = [r["phases"][phase]["seconds"] for r in fl]
        s_fa = [r["phases"][phase]["seconds"] for r in fa]
        ratios = [a / b for a, b in zip(s_fl, s_fa)]
        ips = lambda rs: [r["phases"][phase]["images"] / r["phases"][phase]["seconds"] for r in rs]  # noqa: E731
        mem = lambda rs: [r["phases"][phase]["peak_mb"] for r in rs]  # noqa: E731
        ceil = [ceiling_seconds(phase, fl[r], case) for r in warm]
        eff = spread([c / s_fl[r] for c, r in zip(ceil, warm)], ".2f") if ceil[0] else ""
        img = phase not in ("load",)
        key = {"predict": "accuracy", "tta": "tta_accuracy"}.get(phase)
        acc = lambda rs: (spread([100 * (r[key] if key else r["phases"][phase]["accuracy"]) for r in rs], ".1f") + "%"  # noqa: E731
                          if case["accuracy"] and (key or "accuracy" in rs[0]["phases"][phase]) else "")
        lines.append(f"| {phase} | {spread(s_fl, '.1f')} | {spread(s_fa, '.1f')} | {spread(ratios, '.2f')} | "
                     f"{spread(ips(fl), '.0f') if img else ''} | {spread(ips(fa), '.0f') if img else ''} | "
                     f"{spread(mem(fl), '.0f')} | {spread(mem(fa), '.0f')} | {eff} | {acc(fl)} | {acc(fa)} |")
    measured = [c for r in warm for row in fl[r]["phases"].values() for c in row.get("ceilings", [])]
    ceil = lambda key: spread([c[key] for c in measured if key in c], ".0f")  # noqa: E731
    lines += ["", f"Ceiling (model only, in the fastlearn worker, before and after each compared phase): train step "
              f"{ceil('train_img_s')} img/s, frozen-body step {ceil('frozen_train_img_s')} img/s, evaluation "
              f"{ceil('eval_img_s')} img/s. Pipeline efficiency: each warm-cache run (all but the first, when "
              "there are several) against the mean of the ceilings measured right before and after that phase.", ""]
    return "\n".join(lines)


def machine() -> str:
    import torch
    cpu = platform.processor()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    import fastai
    import timm
    return (f"{date.today()}, {cpu}, {os.cpu_count()} cores, {gpu}; Python {platform.python_version()}, "
            f"torch {torch.__version__}, torchvision {__import__('torchvision').__version__}, timm {timm.__version__}, "
            f"fastai {fastai.__version__}, {torch.get_num_threads()} torch threads")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the digits with Lite0 only")
    p.add_argument("--gpu", action="store_true", help="the 2,000 JPEGs at 224 px only (for a GPU)")
    p.add_argument("--repeats", type=int, default=2, help="runs of each library (alternating)")
    p.add_argument("--work", default=str(ROOT / "bench" / ".work"), help="data and caches")
    p.add_argument("--record", action="store_true", help="append the tables to bench/RESULTS.md")
    p.add_argument("--only", choices=["fastlearn", "fastai"], help="run one library (no ratios)")
    p.add_argument("--cases", help="run only the cases whose name contains one of these comma-separated words")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    work = Path(a.work)
    if a.worker:
        result = WORKERS[a.worker](json.loads(a.case), work, a.seed)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    work.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    libs = [a.only] if a.only else ["fastlearn", "fastai"]
    if "fastai" in libs:
        try:
            import fastai  # noqa: F401
        except ImportError:
            raise SystemExit("fastai is not installed: pip install -e '.[bench]'")
    flags = "".join(f" --{k}" for k in ("quick", "gpu") if getattr(a, k)) + (f" --cases {a.cases}" if a.cases else "")
    out = [f"## fastlearn vs fastai (`bench/compare_fastai.py{flags}`)", "",
           machine() if "fastai" in libs else str(date.today()), ""]
    print(out[2], flush=True)
    cases = prepare(work, a.quick, a.gpu)
    if a.cases:
        words = [w.strip().lower() for w in a.cases.split(",") if w.strip()]
        cases = [c for c in cases if any(w in c["name"].lower() for w in words)]
        if not cases:
            names = ", ".join(c["name"] for c in prepare(work, a.quick, a.gpu))
            raise SystemExit(f"--cases {a.cases!r} matches none of: {names}")
    for case in cases:
        runs: dict[str, list[dict]] = {lib: [] for lib in libs}
        for r in range(a.repeats):
            for lib in libs:
                t0 = time.perf_counter()
                # The cold-cache first run's efficiency is not reported when warm runs follow
                # (see `table`): measuring its ceilings took about 40 s of a quick run on 2 cores.
                runs[lib].append(spawn(lib, {**case, "ceilings": r > 0 or a.repeats == 1}, work, a.seed))
                print(f"{case['name']}: {lib} run {r + 1} in {time.perf_counter() - t0:.0f} s, "
                      f"accuracy {runs[lib][-1]['accuracy']:.4f}", flush=True)
        if len(libs) == 1:
            print(json.dumps(runs, indent=1))
            continue
        out.append(table(case, runs))
        print("\n" + out[-1], flush=True)
    out.append(f"Whole comparison: {(time.perf_counter() - t_start) / 60:.1f} minutes.\n")
    print(out[-1])
    if a.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n" + "\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
