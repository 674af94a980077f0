"""Predicting images with an exported model: no training data, no pickle, the training's own
decoding, resizing and normalisation."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from fastlearn.infer.bundle import fail, is_number, require_fields
from fastlearn.infer.predictions import probabilities
from fastlearn.infer.predictor import Prediction, Predictor, check_shapes
from fastlearn.utils.atomic import atomic_path
from fastlearn.utils.denormals import flush_denormals
from fastlearn.vision.data.images import MAX_PIXELS, BadImageError, decode_bytes, load_resized, resize_square, to_rgb_image
from fastlearn.vision.data.items import list_images, printable
from fastlearn.vision.data.loaders import eval_batch
from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded

__all__ = ["ImagePredictor", "IMAGE_FIELDS", "validate_image_manifest", "load_image_predictor"]

IMAGE_FIELDS = ("arch", "n_features", "n_groups", "hidden", "ps", "size", "cache_size", "resize_method", "mean", "std")


def validate_image_manifest(m: dict, where: Path) -> None:
    """The image fields of a bundle: present, of their type and in range (BundleError naming one)."""
    require_fields(m, where, IMAGE_FIELDS)
    if not isinstance(m.get("arch"), str) or not m["arch"]:
        fail(where, "arch", "must be a model name")
    for field, lo, hi in (("n_features", 1, 65536), ("n_groups", 2, 64), ("size", 8, 4096), ("cache_size", 8, 4096)):
        if not isinstance(m.get(field), int) or isinstance(m[field], bool) or not lo <= m[field] <= hi:
            fail(where, field, f"must be a whole number from {lo} to {hi}, got {m.get(field)!r}")
    if m["cache_size"] < m["size"]:
        fail(where, "cache_size", f"({m['cache_size']}) must be at least size ({m['size']})")
    if m.get("hidden") is not None and (not isinstance(m["hidden"], int) or not 1 <= m["hidden"] <= 65536):
        fail(where, "hidden", f"must be a whole number from 1 to 65536 or null, got {m.get('hidden')!r}")
    if not isinstance(m.get("ps"), list) or not all(is_number(p) and 0 <= p < 1 for p in m["ps"]):
        fail(where, "ps", f"must be a list of dropout rates in [0, 1), got {m.get('ps')!r}")
    if m.get("resize_method") not in ("crop", "squish"):
        fail(where, "resize_method", f"must be 'crop' or 'squish', got {m.get('resize_method')!r}")
    for field in ("mean", "std"):
        v = m.get(field)
        if not isinstance(v, list) or len(v) != 3 or not all(is_number(x) for x in v):
            fail(where, field, "must be a list of 3 numbers (one per colour channel)")
    if not all(s > 0 for s in m["std"]):
        fail(where, "std", f"must be positive, got {m['std']}")
    v = m.get("valid_files")
    if v is not None and (not isinstance(v, list) or not all(isinstance(f, str) for f in v)):
        fail(where, "valid_files", "must be a list of file paths or null")
    if m.get("augment") is not None and not isinstance(m["augment"], list):
        fail(where, "augment", "must be a list of transforms or null")


def _rebuild(manifest: dict):
    from fastlearn.vision.models.classifier import Classifier
    from fastlearn.vision.models.zoo import create_body
    arch = manifest["arch"]
    if arch.startswith("torchvision."):
        import torchvision
        fn = getattr(torchvision.models, arch.split(".", 1)[1], None)
        if fn is None:
            raise ValueError(f"this torchvision has no model {arch!r}")
        body, n_features, _ = create_body(fn, pretrained=False)
    else:
        body, n_features, _ = create_body(arch, pretrained=False)
    if n_features != manifest["n_features"]:
        raise ValueError(f"{arch} gives {n_features} features here, the bundle expects {manifest['n_features']}")
    return Classifier(body, n_features, len(manifest["classes"]), manifest["n_groups"], tuple(manifest["ps"]),
                      manifest["hidden"], meta={"arch": arch})


class ImagePredictor(Predictor):
    """Predicts classes for images with an exported model. Build one with `load_learner(path)`.
    Images of more than `max_pixels` are refused from their header, before any decoding."""

    def __init__(self, manifest: dict, model: torch.nn.Module, device: torch.device | None = None,
                 mixed_precision: str | bool = "auto", max_pixels: int = MAX_PIXELS):
        super().__init__(manifest, model, device, mixed_precision)
        self.max_pixels = int(max_pixels)
        self.size, self.cache_size = int(manifest["size"]), int(manifest["cache_size"])
        self.resize_method = manifest["resize_method"]
        if self.device.type in ("cpu", "cuda"):  # as the Learner: faster convolutions on both
            self.model.to(memory_format=torch.channels_last)
        self.mean = torch.tensor(manifest["mean"], dtype=torch.float32)
        self.std = torch.tensor(manifest["std"], dtype=torch.float32)

    def pixels(self, item, name: str = "image") -> np.ndarray:
        """One image (path, PIL image, encoded bytes or array) as the model's (cache_size,
        cache_size, 3) uint8 input, decoded and resized exactly as training decoded its files
        (JPEGs at reduced scale when the size allows). BadImageError names a bad one."""
        if isinstance(item, (str, Path)):  # exactly as the training cache decoded files
            return load_resized(item, self.cache_size, self.resize_method, self.max_pixels)[0]
        if isinstance(item, (bytes, bytearray, memoryview)):
            im = decode_bytes(item, name, draft_size=self.cache_size, max_pixels=self.max_pixels)[0]
            return resize_square(im, self.cache_size, self.resize_method)
        return resize_square(to_rgb_image(item, name), self.cache_size, self.resize_method)


    def _augment(self):
        from fastlearn.vision.data.augment import BatchAugment
        spec = self.manifest.get("augment")
        if not spec:
            raise ValueError("this bundle records no training augmentation (custom transforms, or none), "
                             "so test-time augmentation is unavailable; predict without --tta")
        return BatchAugment.from_json(spec)

    def _evaluator(self, n_items: int, bs: int):
        """A context giving the module to evaluate with: for a call that brings at least a batch
        of items, the model with its BatchNorm folded into its convolutions, as the Learner
        evaluates (computing the folded weights costs about what folding saves on a few images,
        so a single image is evaluated as it is)."""
        return batchnorm_folded(self.model) if n_items >= bs else contextlib.nullcontext(self.model)

    @torch.no_grad()
    @flush_denormals()  # as the Learner: faster on a CPU, changes nothing a user can see
    def _probs_of_pixels(self, pixels: np.ndarray, model: torch.nn.Module, tta: int = 0) -> torch.Tensor:
        x8 = torch.from_numpy(pixels).to(self.device)
        views = [self._model(model, eval_batch(x8, self.size, self.mean, self.std))]
        if tta:
            augment, g = self._augment(), torch.Generator().manual_seed(0)
            mean, std = self.mean.view(1, 3, 1, 1).to(self.device), self.std.view(1, 3, 1, 1).to(self.device)
            for _ in range(tta):
                x = augment(x8.permute(0, 3, 1, 2).float().div_(255), self.size, g)
                views.append(self._model(model, (x - mean) / std))
        probs = [probabilities(v.float().cpu(), self.multi_label, self.temperature) for v in views]
        return torch.stack(probs).mean(0)

    def _probs(self, items: Sequence, bs: int, tta: int, errors: dict[int, str] | None) -> torch.Tensor:
        """`probs`; with an `errors` dict, a bad item gets a row of NaN and its reason in `errors`."""
        out = torch.full((len(items), len(self.classes)), float("nan"))
        with self._evaluator(len(items), bs) as model:
            for start in range(0, len(items), bs):
                good, pixels = [], []
                for i, it in enumerate(items[start:start + bs], start):
                    try:
                        pixels.append(self.pixels(it, printable(it) if isinstance(it, (str, Path)) else f"item {i}"))
                        good.append(i)
                    except BadImageError as e:
                        if errors is None:
                            raise
                        errors[i] = e.reason
                if pixels:
                    out[good] = self._probs_of_pixels(np.stack(pixels), model, tta)
        return out

    def predict_pixels(self, pixels: np.ndarray, k: int = 3, model: torch.nn.Module | None = None) -> list[Prediction]:
        """Predictions for a batch of images already made model inputs by `pixels` (stacked,
        (n, cache_size, cache_size, 3) uint8): one forward pass. `model`: a module to use instead
        of the predictor's own (e.g. its BatchNorm-folded copy, kept by a server)."""
        return [self._prediction(p, k) for p in self._probs_of_pixels(pixels, model or self.model)]

    def predict_folder(self, folder: str | Path, csv: str | Path | None = None, bs: int = 64) -> pd.DataFrame:
        """Every image under `folder`: file, predicted label, its probability, and one column per
        class; written to `csv` (atomically) if given. Unreadable files are listed in one warning."""
        paths = list_images(folder)
        errors: dict[int, str] = {}
        probs = self._probs(paths, bs, 0, errors)
        if errors:
            bad = [f"{printable(paths[i])}: {why}" for i, why in sorted(errors.items())]
            warnings.warn(f"left out {len(bad)} unreadable file(s):\n  " + "\n  ".join(bad), stacklevel=2)
        good = [i for i in range(len(paths)) if i not in errors]
        rows, p = [paths[i] for i in good], probs[good]
        preds = [self._prediction(row, 1) for row in p]
        df = pd.DataFrame({"file": [str(r.relative_to(folder)) for r in rows],
                           "label": [" ".join(x.label) if self.multi_label else x.label for x in preds],
                           "probability": [x.probability for x in preds]})
        df = pd.concat([df, pd.DataFrame(p.numpy(), columns=self.classes)], axis=1)
        if csv is not None:
            with atomic_path(csv) as tmp:
                df.to_csv(tmp, index=False)
        return df

    def __repr__(self) -> str:
        return (f"ImagePredictor({self.manifest['arch']}, {len(self.classes)} classes, {self.size}px, "
                f"temperature {self.temperature:.3f})")


def load_image_predictor(manifest: dict, weights: Path, device: torch.device | None = None,
                         max_pixels: int = MAX_PIXELS) -> ImagePredictor:
    """The ImagePredictor of a bundle whose manifest `read_manifest` has checked: the weights must
    fit the model the manifest describes before it is built."""
    from fastlearn.train.serialization import load_state
    check_shapes(manifest, weights, _rebuild, manifest["arch"])
    model = _rebuild(manifest)
    load_state(model, weights)
    return ImagePredictor(manifest, model, device, max_pixels=max_pixels)
