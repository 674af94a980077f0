"""Inference from an export bundle: no training data, no pickle, the training's own preprocessing."""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from fastlearn.vision.data.images import MAX_PIXELS, BadImageError, decode_bytes, load_resized, resize_square, to_rgb_image
from fastlearn.vision.data.items import list_images, printable
from fastlearn.vision.data.loaders import default_device, eval_batch
from fastlearn.infer.bundle import read_manifest
from fastlearn.infer.predictions import probabilities
from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded
from fastlearn.utils.atomic import atomic_path
from fastlearn.utils.denormals import flush_denormals
from fastlearn.utils.precision import amp_dtype, autocast

__all__ = ["Prediction", "Predictor", "load_learner"]


@dataclass
class Prediction:
    """The predicted label (for multi-label data, the tags over the threshold), its probability,
    and the top classes with their probabilities. With `predict_many(..., errors="keep")`, an
    item that could not be read has `error` (why) and no label."""

    label: str | list[str] | None
    probability: float
    top: list[tuple[str, float]]
    error: str | None = None


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


class Predictor:
    """Predicts classes for images with an exported model. Build one with `load_learner(path)`.
    `mixed_precision` as the Learner's ("auto": bf16 autocast on a GPU), so both predict alike.
    Images of more than `max_pixels` are refused from their header, before any decoding."""

    def __init__(self, manifest: dict, model: torch.nn.Module, device: torch.device | None = None,
                 mixed_precision: str | bool = "auto", max_pixels: int = MAX_PIXELS):
        self.manifest = manifest
        self.max_pixels = int(max_pixels)
        self.classes: list[str] = list(manifest["classes"])
        self.multi_label: bool = bool(manifest["multi_label"])
        self.size, self.cache_size = int(manifest["size"]), int(manifest["cache_size"])
        self.resize_method = manifest["resize_method"]
        self.temperature = float(manifest["temperature"])
        self.threshold = manifest["threshold"]
        self.device = device or default_device()
        self.model = model.to(self.device).eval()
        if self.device.type in ("cpu", "cuda"):  # as the Learner: faster convolutions on both
            self.model.to(memory_format=torch.channels_last)
        # as the Learner ("auto": bf16 autocast on a GPU), so that it and the exported model agree
        self.amp_dtype = amp_dtype(mixed_precision, self.device)
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

    def _model(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.amp_dtype):
            return model(x)

    def probs(self, items: Sequence, bs: int = 64, tta: int = 0) -> torch.Tensor:
        """Class probabilities (n, c) for paths, PIL images, encoded bytes or arrays, in batches;
        `tta=n` averages the centre view with n views under the training augmentation.
        A bad item raises BadImageError naming it."""
        return self._probs(items, bs, tta, errors=None)

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

    def _prediction(self, p: torch.Tensor, k: int) -> Prediction:
        order = torch.argsort(p, descending=True)[:k].tolist()
        top = [(self.classes[i], float(p[i])) for i in order]
        if self.multi_label:
            thr = torch.as_tensor(self.threshold, dtype=p.dtype)
            tags = [self.classes[i] for i in torch.nonzero(p >= thr).flatten().tolist()]
            return Prediction(tags, float(p.max()), top)
        return Prediction(top[0][0], top[0][1], top)

    def predict_pixels(self, pixels: np.ndarray, k: int = 3, model: torch.nn.Module | None = None) -> list[Prediction]:
        """Predictions for a batch of images already made model inputs by `pixels` (stacked,
        (n, cache_size, cache_size, 3) uint8): one forward pass. `model`: a module to use instead
        of the predictor's own (e.g. its BatchNorm-folded copy, kept by a server)."""
        return [self._prediction(p, k) for p in self._probs_of_pixels(pixels, model or self.model)]

    def predict(self, item, k: int = 3) -> Prediction:
        """The prediction for one image (path, PIL image, bytes or array), with the top `k` classes."""
        return self._prediction(self.probs([item])[0], k)

    def predict_many(self, items: Sequence, k: int = 3, bs: int = 64, tta: int = 0,
                     errors: str = "raise") -> list[Prediction]:
        """Predictions for many images, computed in batches (`tta=n`: with n augmented views).
        `errors="keep"`: an unreadable item gets a Prediction with its `error` instead of stopping the rest."""
        if errors not in ("raise", "keep"):
            raise ValueError(f"errors must be 'raise' or 'keep', got {errors!r}")
        bad: dict[int, str] | None = {} if errors == "keep" else None
        probs = self._probs(items, bs, tta, bad)
        return [Prediction(None, float("nan"), [], bad[i]) if bad and i in bad else self._prediction(p, k)
                for i, p in enumerate(probs)]

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
        return (f"Predictor({self.manifest['arch']}, {len(self.classes)} classes, {self.size}px, "
                f"temperature {self.temperature:.3f})")


def _check_shapes(manifest: dict, weights: Path) -> None:
    """The model the manifest describes, built on the meta device (shapes, no memory), must have
    exactly the weights' tensors: an absurd manifest is refused before anything is allocated."""
    from safetensors import safe_open
    from fastlearn.infer.bundle import BundleError
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in _rebuild(manifest).state_dict().items()}
    except Exception as e:  # whatever a bad arch name or size makes the model builder raise
        raise BundleError(f"{weights.parent}: the manifest's model ({manifest['arch']}) cannot be built here "
                          f"({type(e).__name__}: {e}). Re-export it with this fastlearn.") from None
    with safe_open(str(weights), "pt") as f:
        found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    if expected != found:
        differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        shown = "; ".join(f"{k}: manifest {expected.get(k)}, weights {found.get(k)}" for k in differ[:3])
        raise BundleError(f"{weights.parent}: the manifest describes another model than its weights "
                          f"({len(differ)} tensor(s) differ, e.g. {shown}): the bundle was altered. Re-export it.")


def load_learner(path: str | Path, device: str | torch.device | None = None,
                 max_pixels: int = MAX_PIXELS) -> Predictor:
    """A Predictor from a bundle written by `learn.export(path)`; refuses bundles whose files do
    not match their digests, whose manifest has a field missing or out of range, or whose
    weights do not fit the model the manifest describes (see `fastlearn.infer.bundle`)."""
    from fastlearn.train.serialization import load_state
    manifest, weights = read_manifest(path)
    _check_shapes(manifest, weights)
    model = _rebuild(manifest)
    load_state(model, weights)
    return Predictor(manifest, model, torch.device(device) if device else None, max_pixels=max_pixels)
