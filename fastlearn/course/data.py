"""The course's data: `ImageClassifierData.from_paths`/`from_csv`, `tfms_from_model`, and the
names the lessons read off their data (`val_y`, `val_ds.fnames`, `val_dl`, `aug_dl`, `denorm`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fastlearn.vision.data import ImageData, random_split

__all__ = ["ImageClassifierData", "CourseImageData", "tfms_from_model", "transforms_side_on", "transforms_top_down",
           "transforms_basic", "get_cv_idxs", "Tfms"]

transforms_side_on = "side_on"
transforms_top_down = "top_down"
transforms_basic = "none"


@dataclass
class Tfms:
    """Image size and augmentation, as `tfms_from_model` returned them."""
    size: int
    augment: object
    max_zoom: float


def tfms_from_model(arch, sz: int, aug_tfms=transforms_basic, max_zoom: float = 1.1) -> Tfms:
    """Size and augmentation for `ImageClassifierData` (normalisation comes from the model later)."""
    return Tfms(sz, aug_tfms, max_zoom)


def get_cv_idxs(n: int, cv_idx: int = 0, val_pct: float = 0.2, seed: int = 42) -> np.ndarray:
    """Validation row indices: `fastlearn.random_split(n, val_pct, seed)`."""
    return random_split(n, val_pct, seed)


def _tfm_kwargs(tfms: Tfms | None) -> dict:
    if tfms is None:
        return {}
    return {"size": tfms.size, "augment": tfms.augment, "max_zoom": tfms.max_zoom}


class _Split:
    """`data.trn_ds` / `val_ds` / `test_ds`: the lessons read `fnames` (paths relative to PATH) and `y`."""

    def __init__(self, data: "CourseImageData", split: str):
        self.data, self.split = data, split

    @property
    def fnames(self) -> list[str]:
        root = Path(self.data.path).resolve() if self.data.path is not None else None
        paths = [p.resolve() for p in self.data.paths_of(self.split)]
        return [p.relative_to(root).as_posix() if root and p.is_relative_to(root) else str(p) for p in paths]

    @property
    def y(self) -> np.ndarray:
        if self.split == "test":
            return np.zeros(len(self.data._split_idx("test")), dtype=np.int64)  # unlabelled, as fastai 0.7 gave
        return self.data._targets(self.data._split_idx(self.split)).numpy()

    def __len__(self) -> int:
        return len(self.data._split_idx(self.split))

    def denorm(self, x) -> np.ndarray:
        """Normalised images (N, 3, H, W), tensor or array, back to displayable (N, H, W, 3) floats in [0, 1]."""
        x = x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32)
        mean, std = (np.array(s, dtype=np.float32).reshape(1, 3, 1, 1) for s in self.data.stats)
        return np.clip(x * std + mean, 0, 1).transpose(0, 2, 3, 1)


class CourseImageData(ImageData):
    """`ImageData` with the names the lessons read off their data: `trn_y`, `val_y` (labels as
    integers, in loader order), `trn_ds`, `val_ds`, `test_ds` (each with `fnames` and `y`)."""

    @property
    def trn_ds(self) -> _Split:
        return _Split(self, "train")

    @property
    def val_ds(self) -> _Split:
        return _Split(self, "valid")

    @property
    def test_ds(self) -> _Split:
        return _Split(self, "test")

    @property
    def trn_dl(self):
        """The shuffled, augmented training batches (`train_dl`)."""
        return self.train_dl

    @property
    def val_dl(self):
        """The validation batches, in order (`valid_dl`)."""
        return self.valid_dl

    @property
    def aug_dl(self):
        """Validation images with the training augmentation, as fastai 0.7's `aug_dl` (its TTA views);
        each access draws new augmentations from NumPy's global random state."""
        return self.loader("valid", augment=True, shuffle=False, seed=int(np.random.randint(2 ** 31)))

    def resize(self, size: int, new_path=None, bs: int | None = None) -> "CourseImageData":
        """`data.resize(targ_sz, 'tmp')` as the lessons call it (a path second) shrank the image files
        on disk once for faster loading; here every image is already decoded once into a cache at
        the training size, so that form gives back this data unchanged. `resize(size)` without a
        path is `ImageData.resize`: the same images at another training size."""
        if isinstance(new_path, (str, Path)):
            return self
        return super().resize(size, bs if bs is not None else new_path)

    @property
    def trn_y(self) -> np.ndarray:
        return self.trn_ds.y

    @property
    def val_y(self) -> np.ndarray:
        return self.val_ds.y


class ImageClassifierData:
    """The course's data constructors, returning `CourseImageData` (an `ImageData`)."""

    @staticmethod
    def from_paths(path, bs: int = 64, tfms: Tfms | None = None, trn_name: str = "train", val_name: str = "valid",
                   test_name: str | None = None, num_workers: int | None = None, **kwargs) -> "CourseImageData":
        """`ImageData.from_folder(path, train=trn_name, valid=val_name, test=test_name)`. `num_workers`
        is accepted and unused: batches come from the decoded cache, without worker processes."""
        return CourseImageData.from_folder(path, train=trn_name, valid=val_name, test=test_name, bs=bs,
                                     **_tfm_kwargs(tfms), **kwargs)

    @staticmethod
    def from_csv(path, folder: str, csv_fname, bs: int = 64, tfms: Tfms | None = None, val_idxs=None,
                 suffix: str = "", test_name: str | None = None, num_workers: int | None = None,
                 **kwargs) -> "CourseImageData":
        """`ImageData.from_csv`; like the course, labels with spaces make it multi-label."""
        import pandas as pd
        # The lessons pass f"{PATH}labels.csv", a path that already holds PATH; a bare name is inside PATH.
        given, inside = Path(csv_fname), Path(path) / csv_fname
        csv_path = given if given.is_absolute() or (given.is_file() and not inside.is_file()) else inside
        df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        multi = bool(df.iloc[:, 1].str.contains(" ").any())
        return CourseImageData.from_df(path, df, folder=folder, valid_idxs=val_idxs, suffix=suffix, test=test_name,
                                 multi_label=multi, bs=bs, source=str(csv_path), **_tfm_kwargs(tfms), **kwargs)


