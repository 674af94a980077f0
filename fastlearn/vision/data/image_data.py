"""ImageData: labelled images from folders or a CSV, split, cached and served as device batches."""
from __future__ import annotations

import math
import warnings
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from fastlearn.vision.data.augment import BatchAugment
from fastlearn.vision.data.cache import ImageCache
from fastlearn.vision.data.items import (DataError, DataWarning, Items, items_from_df, items_from_folders, list_images, printable,
                                  random_split)
from fastlearn.vision.data.loaders import DeviceLoader, default_device

__all__ = ["ImageData", "BadImageWarning", "IMAGENET_STATS", "auto_batch_size", "DEFAULT_BS"]

DEFAULT_BS = 64
# An epoch of fewer steps leaves lr_find and the schedules little to work with. 30 digits a class
# at 32 px, 4 epochs, four seeds (2026-12-03): batch 10 (30 steps) 73% on average, batch 15 64%,
# batch 30 (10 steps) 62%.
MIN_STEPS = 30
MIN_AUTO_BS = 8  # below this, BatchNorm's batch statistics are noise


def auto_batch_size(n_train: int, bs: int = DEFAULT_BS) -> int:
    """`bs`, or less when `n_train` images would give fewer than 30 batches an epoch: the largest
    batch that gives 30 (at least 8 images). 300 images: batch 10 instead of 4 steps of 64."""
    if n_train >= MIN_STEPS * bs:
        return bs
    return max(min(bs, MIN_AUTO_BS), n_train // MIN_STEPS)

IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# By default the cache goes to the GPU when it takes at most 1/_RESIDENT_SHARE of its free memory.
_RESIDENT_SHARE = 4


class BadImageWarning(UserWarning):
    """Some files with an image extension could not be decoded and were left out."""


def _describe_bad(bad: list[tuple[Path, str]]) -> str:
    return "\n".join(f"  {printable(p)}: {why}" for p, why in bad)


class ImageData:
    """Train, validation and optional test images with their labels, ready to train on.

    Build one with `from_folder`, `from_csv` or `from_df`. Every image is decoded once into
    an on-disk cache (see `fastlearn.vision.data.cache`); batches come from `train_dl`, `valid_dl`
    and `test_dl` as normalised float tensors on `device`, training batches augmented there.

    Attributes: `classes` (sorted names), `c` (their number), `multi_label`, `size`, `bs`,
    `stats` (normalisation mean and std; a Learner sets them to its model's), `bad_files`.

    `resident`: whether the whole cache is copied to the device once and batches gathered
    there (the same batches, no host work per batch). Default (None): on a GPU, when the cache
    takes at most a quarter of its free memory; `True` forces it (on the CPU it loads the cache
    into memory), `False` keeps batches coming from the memory-mapped file.
    """

    def __init__(
        self,
        labelled: Items,
        valid_idx: Sequence[int],
        test: Items | None = None,
        *,
        multi_label: bool = False,
        size: int = 224,
        bs: int | None = None,
        augment: str | Sequence | None = "auto",
        max_zoom: float = 1.1,
        on_bad: str = "warn",
        resize_method: str = "crop",
        cache_dir: str | Path | None = None,
        device: str | torch.device | None = None,
        stats: tuple[Sequence[float], Sequence[float]] = IMAGENET_STATS,
        seed: int = 42,
        progress: bool = True,
        path: str | Path | None = None,
        resident: bool | None = None,
        _cache: ImageCache | None = None,
        _train_idx: np.ndarray | None = None,
    ):
        if on_bad not in ("warn", "error"):
            raise ValueError(f"on_bad must be 'warn' or 'error', got {on_bad!r}")
        if size < 8:
            raise ValueError(f"size must be at least 8 pixels, got {size}")
        if resident not in (None, True, False):
            raise ValueError(f"resident must be None (automatic), True or False, got {resident!r}")
        self.labelled, self.test_items = labelled, test or Items([], [])
        self.path = Path(path) if path is not None else None
        self.flip_check: dict | None = None  # what augment="auto" measured and decided (vision.flips)
        if bs is not None and int(bs) < 1:
            raise ValueError(f"bs must be at least 1, got {bs}")
        self.multi_label, self.size, self.seed = multi_label, int(size), seed
        self.bs_given = None if bs is None else int(bs)
        self.augment_spec, self.max_zoom, self.on_bad = augment, max_zoom, on_bad
        self.resize_method, self.cache_dir, self.progress = resize_method, cache_dir, progress
        self.resident = resident
        self.augment = BatchAugment.preset(augment, max_zoom)
        self.device = torch.device(device) if device is not None else default_device()
        self.stats = (tuple(stats[0]), tuple(stats[1]))
        self.cache_size = int(math.ceil(self.size * max(1.0, max_zoom)))

        n_lab = len(labelled)
        valid_idx = np.asarray(valid_idx, dtype=np.int64)
        if len(valid_idx) and (valid_idx.min() < 0 or valid_idx.max() >= n_lab):
            raise DataError(f"valid_idxs must be row positions in 0..{n_lab - 1}; got {valid_idx.min()}..{valid_idx.max()}.")
        if _train_idx is None:
            _train_idx = np.setdiff1d(np.arange(n_lab), valid_idx)
        if len(_train_idx) == 0:
            raise DataError("no training images: every labelled image is in the validation split.")

        paths = labelled.paths + self.test_items.paths
        self.cache = _cache or ImageCache.open(paths, self.cache_size, resize_method, cache_dir, progress)
        bad_idx = np.array(sorted(self.cache.bad), dtype=np.int64)
        self.bad_files = [(paths[i], self.cache.bad[i]) for i in bad_idx]
        if self.bad_files and _cache is None:
            if on_bad == "error":
                raise DataError(
                    f"{len(self.bad_files)} file(s) could not be read as images:\n{_describe_bad(self.bad_files)}\n"
                    "Delete or replace them, or pass on_bad='warn' to leave them out."
                )
            warnings.warn(BadImageWarning(
                f"left out {len(self.bad_files)} file(s) that could not be read as images:\n"
                f"{_describe_bad(self.bad_files)}"), stacklevel=3)
        self.train_idx = np.setdiff1d(_train_idx, bad_idx)
        self.valid_idx = np.setdiff1d(valid_idx, bad_idx)
        self.test_idx = np.setdiff1d(np.arange(n_lab, len(paths)), bad_idx)
        self.bs = self.bs_given or auto_batch_size(len(self.train_idx))
        if self.bs_given is None and self.bs < DEFAULT_BS:
            print(f"{len(self.train_idx)} training images: batch size {self.bs} instead of {DEFAULT_BS}, for "
                  f"{len(self.train_idx) // self.bs} steps an epoch (pass bs= to choose)")

        self.classes = self._classes()
        self._dls: dict[str, DeviceLoader] = {}

    # ----- construction ---------------------------------------------------------------
    @classmethod
    def from_folder(
        cls,
        path: str | Path,
        train: str = "train",
        valid: str = "valid",
        test: str | None = None,
        valid_pct: float | None = None,
        seed: int = 42,
        size: int = 224,
        bs: int | None = None,
        augment: str | Sequence | None = "auto",
        max_zoom: float = 1.1,
        sample: int | None = None,
        **kwargs,
    ) -> "ImageData":
        """Images in `path/train/<class>/` (labels are folder names), validation in `path/valid/<class>/`.

        Without a `valid` folder, or with `valid_pct` given, a random `valid_pct` (default 0.2)
        of the training images is held out with `seed`. When `path/train` does not exist,
        `path` itself holds the class folders. `test` names a folder of unlabelled images.
        `sample=n` keeps a random n training images (and a proportional validation set).
        Other keywords go to `ImageData` (on_bad, resize_method, cache_dir, device, stats).
        """
        path = Path(path)
        if not path.is_dir():
            raise DataError(f"{path} is not a folder. Pass the folder that holds '{train}/' (and '{valid}/').")
        train_dir = path / train if (path / train).is_dir() else path
        valid_dir = path / valid
        if train_dir == path:
            skip = {valid, test, "models", "tmp"}
            labelled = items_from_folders(path, exclude=skip)
        else:
            labelled = items_from_folders(train_dir)
        if valid_dir.is_dir() and valid_pct is not None and train_dir != path:
            warnings.warn(DataWarning(
                f"{path} has a {valid}/ folder, but valid_pct={valid_pct} was given: validating on a random "
                f"{valid_pct:.0%} of {train}/ and leaving {valid}/ unused. Leave valid_pct out to validate on "
                f"{valid}/."), stacklevel=2)
        if valid_dir.is_dir() and valid_pct is None and train_dir != path:
            valid_items = items_from_folders(valid_dir)
            valid_idx = np.arange(len(labelled), len(labelled) + len(valid_items))
            labelled = Items(labelled.paths + valid_items.paths, labelled.labels + valid_items.labels)
        else:
            valid_idx = random_split(len(labelled), 0.2 if valid_pct is None else valid_pct, seed)
        test_items = Items(list_images(path / test), []) if test else None
        data = cls(labelled, valid_idx, test_items, size=size, bs=bs, augment=augment,
                   max_zoom=max_zoom, seed=seed, path=path, **kwargs)
        return data.sample(sample) if sample else data

    @classmethod
    def from_df(
        cls,
        path: str | Path,
        df: pd.DataFrame,
        folder: str = "train",
        fn_col: int | str = 0,
        label_col: int | str = 1,
        suffix: str = "",
        valid_idxs: Sequence[int] | None = None,
        valid_pct: float = 0.2,
        multi_label: bool = False,
        label_delim: str = " ",
        test: str | None = None,
        seed: int = 42,
        source: str = "the DataFrame",
        **kwargs,
    ) -> "ImageData":
        """Images named in a table: file names in `fn_col`, labels in `label_col`, files in `path/folder`.

        `valid_idxs` are row positions to validate on (e.g. from `random_split`); otherwise a
        random `valid_pct` is held out. With `multi_label`, labels are `label_delim`-separated tags.
        """
        path = Path(path)
        labelled = items_from_df(df, path / folder, fn_col, label_col, suffix, multi_label, label_delim, source)
        if valid_idxs is None:
            valid_idx = random_split(len(labelled), valid_pct, seed)
        else:  # row positions of the table; repeated rows dropped above are dropped here too
            position = {row: i for i, row in enumerate(labelled.rows)}
            valid_idx = np.asarray(sorted({position[r] for r in valid_idxs if r in position}), dtype=np.int64)
        test_items = Items(list_images(path / test), []) if test else None
        return cls(labelled, valid_idx, test_items, multi_label=multi_label, seed=seed, path=path, **kwargs)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        csv: str | Path,
        folder: str = "train",
        fn_col: int | str = 0,
        label_col: int | str = 1,
        suffix: str = "",
        valid_idxs: Sequence[int] | None = None,
        valid_pct: float = 0.2,
        multi_label: bool = False,
        label_delim: str = " ",
        test: str | None = None,
        **kwargs,
    ) -> "ImageData":
        """Like `from_df`, reading the table from `path/csv` (names kept as text, e.g. '0007')."""
        csv_path = Path(path) / csv
        if not csv_path.is_file():
            raise DataError(f"label file {csv_path} does not exist.")
        try:
            df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
            raise DataError(f"{csv_path} is not a readable CSV file: {e}") from None
        return cls.from_df(path, df, folder, fn_col, label_col, suffix, valid_idxs, valid_pct, multi_label,
                           label_delim, test, source=str(csv_path), **kwargs)

    # ----- labels -----------------------------------------------------------------------
    def _classes(self) -> list[str]:
        labels = self.labelled.labels
        train_tags = {t for i in self.train_idx for t in labels[i]}
        only_valid = Counter(t for i in self.valid_idx for t in labels[i] if t not in train_tags)
        if only_valid:
            first = {t: next(self.labelled.paths[i] for i in self.valid_idx if t in labels[i]) for t in only_valid}
            shown = "; ".join(f"{t!r} ({n} image(s), e.g. {first[t]})" for t, n in sorted(only_valid.items()))
            raise DataError(
                f"label(s) found only in the validation split: {shown}. The model cannot learn a class it "
                "never sees in training: add training images for it, or move or remove those images."
            )
        return sorted(train_tags)

    @property
    def c(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def _targets(self, idx: np.ndarray) -> torch.Tensor:
        lookup = {name: i for i, name in enumerate(self.classes)}
        if self.multi_label:
            t = torch.zeros(len(idx), self.c)
            for row, i in enumerate(idx):
                for tag in self.labelled.labels[i]:
                    t[row, lookup[tag]] = 1.0
            return t
        return torch.tensor([lookup[self.labelled.labels[i][0]] for i in idx], dtype=torch.long)

    def labels_of(self, split: str) -> list[list[str]]:
        """Label names of every image in `split` ('train' or 'valid'), in loader order."""
        return [self.labelled.labels[i] for i in self._split_idx(split)]

    def paths_of(self, split: str) -> list[Path]:
        """File of every image in `split` ('train', 'valid' or 'test'), in loader order."""
        paths = self.labelled.paths + self.test_items.paths
        return [paths[i] for i in self._split_idx(split)]

    def _split_idx(self, split: str) -> np.ndarray:
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        return {"train": self.train_idx, "valid": self.valid_idx, "test": self.test_idx}[split]

    # ----- loaders ------------------------------------------------------------------------
    def loader(self, split: str, augment: bool | None = None, shuffle: bool | None = None,
               bs: int | None = None, seed: int | None = None) -> DeviceLoader:
        """A fresh loader over `split`; by default training batches are shuffled and augmented.

        `seed` sets its shuffling and augmentation (default: the data's seed)."""
        idx = self._split_idx(split)
        train = split == "train"
        targets = torch.full((len(idx),), -1, dtype=torch.long) if split == "test" else self._targets(idx)
        use_aug = train if augment is None else augment
        return DeviceLoader(
            self.cache.pixels, idx, targets, self.size, bs or self.bs, *self.stats, self.device,
            shuffle=train if shuffle is None else shuffle, drop_last=train and shuffle is not False,
            augment=self.augment if use_aug else None, seed=self.seed if seed is None else seed,
            resident=self._resident_pixels(),
        )

    def _resident_pixels(self) -> torch.Tensor | None:
        """The cache on the device when batches should be gathered there (see `resident`)."""
        if self.resident is False:
            return None
        if self.resident is None:
            copied = self.cache.on_device(self.device, copy=False)
            if copied is not None:
                return copied  # decided once: later loaders keep the copy while training uses memory
            if self.device.type != "cuda" or \
                    self.cache.pixels.nbytes > torch.cuda.mem_get_info(self.device)[0] // _RESIDENT_SHARE:
                return None
        return self.cache.on_device(self.device)

    def _dl(self, split: str) -> DeviceLoader:
        if split not in self._dls:
            self._dls[split] = self.loader(split)
        return self._dls[split]

    @property
    def train_dl(self) -> DeviceLoader:
        """Shuffled, augmented training batches (the same loader each time, so epochs differ)."""
        return self._dl("train")

    @property
    def valid_dl(self) -> DeviceLoader:
        """Validation batches in order, deterministic resize, no augmentation."""
        return self._dl("valid")

    @property
    def test_dl(self) -> DeviceLoader:
        """Test batches in order; targets are -1 (unknown)."""
        return self._dl("test")

    def set_flips(self, on: bool, turns: bool = False) -> "ImageData":
        """Mirror training images at random from now on (with `turns`, turn them by multiples of
        90 degrees too, as top_down does), or not (the other augmentations stay): off for images
        whose meaning changes in a mirror (digits, text, road signs)."""
        from fastlearn.vision.data.augment import Dihedral, Flip
        kept = [t for t in self.augment.transforms if not isinstance(t, (Flip, Dihedral))]
        self.augment = BatchAugment(([Dihedral()] if on and turns else [Flip()] if on else []) + kept)
        self.augment_spec = self.augment.transforms
        if "train" in self._dls:  # the same loader (and random state), with the new transforms
            self._dls["train"].augment = self.augment
        return self

    def set_stats(self, mean: Sequence[float], std: Sequence[float]) -> "ImageData":
        """Normalise with these per-channel statistics from now on (a Learner passes its model's)."""
        self.stats = (tuple(float(m) for m in mean), tuple(float(s) for s in std))
        self._dls.clear()
        return self

    # ----- what the Learner asks of a data kind -----------------------------------------------
    kind = "image"
    split_hints = {"test": "pass test='<folder of unlabelled images>' to ImageData.from_folder or from_csv",
                   "valid": "give it a valid/ folder or a valid_pct", "train": "give it training images"}

    @property
    def callbacks(self) -> list:
        """Callbacks every Learner on images gets: the `augment="auto"` check after the first epoch."""
        from fastlearn.vision.flips import CheckFlips
        return [CheckFlips()]

    def build_model(self, arch="tf_efficientnet_lite0", pretrained: bool = True, weights=None, n_groups: int = 3,
                    ps: tuple[float, float] = (0.25, 0.5), train_bn: bool | None = None):
        """`Learner.pretrained`'s model: the body of `arch` with a new head for these classes (see
        `vision.models.create_classifier`); the images are normalised with its statistics from now on."""
        from fastlearn.vision.models.zoo import create_classifier
        model = create_classifier(arch, self.c, pretrained, weights, n_groups, ps, train_bn=train_bn)
        model.meta.update(classes=list(self.classes), multi_label=self.multi_label, size=self.size)
        self.set_stats(model.meta["mean"], model.meta["std"])
        return model

    def precomputed(self, model, device: torch.device):
        """The frozen body's activations of these images and loaders over them (`Learner.precompute`)."""
        from fastlearn.vision.precompute import Precomputed
        return Precomputed(model, self, device)

    def bundle_state(self) -> dict:
        """What a bundle needs to feed an image to the model as training did."""
        return {"size": self.size, "cache_size": self.cache_size, "resize_method": self.resize_method,
                "mean": list(self.stats[0]), "std": list(self.stats[1]),
                "augment": self.augment.to_json() if self.augment is not None else None,
                "valid_files": self._held_out_files()}

    def _held_out_files(self) -> list[str] | None:
        """The validation images as paths relative to the data's folder (posix), so that evaluating
        the bundle later can score only images it did not train on; None when they are not all in it."""
        if self.path is None:
            return None
        root = Path(self.path).resolve()
        out = []
        for p in self.paths_of("valid"):
            try:
                out.append(Path(p).resolve().relative_to(root).as_posix())
            except ValueError:
                return None
        return out

    def to_onnx(self, model, path, temperature: float, multi_label: bool):
        """An ONNX file taking normalised images (N, 3, size, size), returning calibrated probabilities."""
        from fastlearn.vision.onnx_export import export_onnx
        return export_onnx(model, path, self.size, temperature, multi_label)

    def items_of(self, split: str):
        """The images of `split` as interpretation shows them (from the cache, no file opened)."""
        from fastlearn.vision.data.show import ImageItems
        return ImageItems(self.cache.pixels[self._split_idx(split)], self.paths_of(split))

    def item_names(self, split: str) -> list[str]:
        """The file names of `split`'s images, in loader order."""
        return [p.name for p in self.paths_of(split)]

    def fingerprint(self) -> str:
        """A key that changes with the images, the splits, the size or the normalisation."""
        import hashlib
        h = hashlib.sha256(f"{self.cache.key}|{self.size}|{self.stats}".encode())
        for idx in (self.train_idx, self.valid_idx, self.test_idx):
            h.update(np.ascontiguousarray(idx).tobytes() + b"|")
        return h.hexdigest()[:24]

    # ----- variants -------------------------------------------------------------------------
    def _options(self) -> dict:
        return dict(multi_label=self.multi_label, size=self.size, bs=self.bs_given, augment=self.augment_spec,
                    max_zoom=self.max_zoom, on_bad=self.on_bad, resize_method=self.resize_method,
                    cache_dir=self.cache_dir, device=self.device, stats=self.stats, seed=self.seed,
                    progress=self.progress, path=self.path, resident=self.resident)

    def resize(self, size: int, bs: int | None = None) -> "ImageData":
        """The same images and splits at another size (progressive resizing); builds that size's cache once."""
        opts = self._options() | {"size": size, "bs": bs or self.bs_given}
        data = type(self)(self.labelled, self.valid_idx, self.test_items, _train_idx=self.train_idx, **opts)
        return data

    def sample(self, n: int, seed: int | None = None) -> "ImageData":
        """A random `n` training images and a proportional validation set, sharing this data's cache."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        n_train = min(n, len(self.train_idx))
        n_valid = min(len(self.valid_idx), max(1, round(n_train * len(self.valid_idx) / len(self.train_idx))))
        train_idx = np.sort(rng.choice(self.train_idx, n_train, replace=False))
        valid_idx = np.sort(rng.choice(self.valid_idx, n_valid, replace=False))
        return type(self)(self.labelled, valid_idx, self.test_items, _train_idx=train_idx, _cache=self.cache,
                         **self._options())

    # ----- looking at the data ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.train_idx)

    def __repr__(self) -> str:
        kind = "multi-label " if self.multi_label else ""
        return (f"ImageData({self.c} {kind}classes; train {len(self.train_idx)}, valid {len(self.valid_idx)}, "
                f"test {len(self.test_idx)}; {self.size}px, bs {self.bs}, augment {self.augment_spec!r}, "
                f"device {self.device.type})")

    def show_batch(self, rows: int = 3, split: str = "train", figsize: float = 2.0):
        """A rows x rows grid of one batch as the model sees it (augmented for train), labels as titles."""
        from fastlearn.vision.data.show import show_batch
        return show_batch(self, rows, split, figsize)

    def summary(self, show: bool = True):
        """Counts per class and the spread of original image sizes; prints unless `show=False`."""
        from fastlearn.vision.data.show import DataSummary
        s = DataSummary.of(self)
        if show:
            print(s)
        return s
