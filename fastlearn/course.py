"""The names the 2018 course lessons use, as thin aliases over fastlearn.

    from fastlearn.course import ImageClassifierData, ConvLearner, tfms_from_model, transforms_side_on
    tfms = tfms_from_model(arch, sz, aug_tfms=transforms_side_on, max_zoom=1.1)
    data = ImageClassifierData.from_paths(PATH, tfms=tfms, bs=64)
    learn = ConvLearner.pretrained(arch, data, precompute=True)
    learn.lr_find(); learn.sched.plot()
    learn.fit(1e-2, 3, cycle_len=1)
    log_preds, y = learn.TTA(); probs = np.mean(np.exp(log_preds), 0)

`arch` is a timm name (the lessons' `resnet34` works wherever its weights can be downloaded;
`tf_efficientnet_lite0` works offline). Each alias is documented with what it maps to.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastlearn.vision.data import ImageData, random_split
from fastlearn.train import Learner

__all__ = ["ImageClassifierData", "CourseImageData", "ConvLearner", "tfms_from_model", "transforms_side_on", "transforms_top_down",
           "transforms_basic", "get_cv_idxs", "accuracy_np", "Tfms"]

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


def accuracy_np(probs, y) -> float:
    """Accuracy of probabilities (or log-probabilities) against integer labels."""
    return float((np.argmax(np.asarray(probs), axis=1) == np.asarray(y)).mean())


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
    def trn_y(self) -> np.ndarray:
        return self.trn_ds.y

    @property
    def val_y(self) -> np.ndarray:
        return self.val_ds.y


class ImageClassifierData:
    """The course's data constructors, returning `CourseImageData` (an `ImageData`)."""

    @staticmethod
    def from_paths(path, bs: int = 64, tfms: Tfms | None = None, trn_name: str = "train", val_name: str = "valid",
                   test_name: str | None = None, **kwargs) -> "CourseImageData":
        """`ImageData.from_folder(path, train=trn_name, valid=val_name, test=test_name)`."""
        return CourseImageData.from_folder(path, train=trn_name, valid=val_name, test=test_name, bs=bs,
                                     **_tfm_kwargs(tfms), **kwargs)

    @staticmethod
    def from_csv(path, folder: str, csv_fname, bs: int = 64, tfms: Tfms | None = None, val_idxs=None,
                 suffix: str = "", test_name: str | None = None, **kwargs) -> "CourseImageData":
        """`ImageData.from_csv`; like the course, labels with spaces make it multi-label."""
        import pandas as pd
        # The lessons pass f"{PATH}labels.csv", a path that already holds PATH; a bare name is inside PATH.
        given, inside = Path(csv_fname), Path(path) / csv_fname
        csv_path = given if given.is_absolute() or (given.is_file() and not inside.is_file()) else inside
        df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        multi = bool(df.iloc[:, 1].str.contains(" ").any())
        return CourseImageData.from_df(path, df, folder=folder, valid_idxs=val_idxs, suffix=suffix, test=test_name,
                                 multi_label=multi, bs=bs, source=str(csv_path), **_tfm_kwargs(tfms), **kwargs)


class _Sched:
    """`learn.sched`: the plots the course calls on it."""

    def __init__(self, learn: "ConvLearner"):
        self.learn = learn

    def plot(self, n_skip: int = 5, n_skip_end: int = 3):
        """Loss against learning rate from the last `lr_find`."""
        if self.learn.lr_finder is None:
            raise RuntimeError("run learn.lr_find() first")
        return self.learn.lr_finder.plot(n_skip, n_skip_end)

    def plot_lr(self):
        """Learning rate against iteration: the last lr_find's sweep, or the training schedule."""
        if self.learn.recorder.lrs:
            return self.learn.recorder.plot_lr()
        if self.learn.lr_finder is not None:
            return self.learn.lr_finder.plot_lr()
        raise RuntimeError("nothing trained yet")

    def plot_loss(self):
        return self.learn.recorder.plot_loss()


class ConvLearner(Learner):
    """`Learner` with the course's method names; `predict()` and `TTA()` return log-probabilities.

    Like fastai 0.7, it trains with SGD with momentum 0.9 by default: the lessons' learning rates
    (0.01, [1e-4, 1e-3, 1e-2]) are SGD rates, far too high for Adam on a pretrained body. And like
    fastai 0.7, frozen layers keep their pretrained BatchNorm statistics (`model.bn_adapt` stays
    False), which the lessons' rates and epochs were tuned with.
    """

    @classmethod
    def pretrained(cls, arch, data, precompute: bool = False, ps=(0.25, 0.5), opt: str = "sgd",
                   **kwargs) -> "ConvLearner":
        return super().pretrained(arch, data, precompute=precompute, ps=tuple(ps) if np.ndim(ps) else (ps / 2, ps),
                                  opt=opt, **kwargs)

    @property
    def sched(self) -> _Sched:
        return _Sched(self)

    def predict(self, is_test: bool = False, split: str | None = None, log: bool = True):
        """Log-probabilities of the validation set (or the test set) as a NumPy array."""
        probs, _ = super().predict("test" if is_test else (split or "valid"), log=log)
        return probs.numpy()

    def TTA(self, n_aug: int = 4, is_test: bool = False):
        """(log-probabilities of every view, shape (n_aug + 1, items, classes), targets)."""
        split = "test" if is_test else "valid"
        views, targets = self.tta(n=n_aug, split=split, log=True, reduce=False)
        return views.numpy(), (targets if is_test else targets.numpy())
