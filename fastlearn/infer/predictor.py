"""What every predictor does, whatever the data kind: classes from probabilities, one item or
many, calibrated by the bundle's temperature, with the bundle's tag thresholds."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from fastlearn.infer.bundle import BundleError
from fastlearn.utils.device import default_device
from fastlearn.utils.precision import amp_dtype, autocast

__all__ = ["Prediction", "Predictor", "check_shapes"]


@dataclass
class Prediction:
    """The predicted label (for multi-label data, the tags over the threshold; for regression,
    the predicted value as text), its probability (the value itself for regression), and the
    top classes with their probabilities. With `predict_many(..., errors="keep")`, an item that
    could not be read has `error` (why) and no label."""

    label: str | list[str] | None
    probability: float
    top: list[tuple[str, float]]
    error: str | None = None


class Predictor:
    """Predicts with an exported model; `load_learner(path)` builds the one for the bundle's
    data kind. A kind supplies `_probs(items, bs, tta, errors)`: the (n, classes) probabilities
    of its items, a row of NaN and a reason in `errors` for an unreadable one when `errors` is
    a dict. `mixed_precision` as the Learner's ("auto": bf16 autocast on a GPU)."""

    def __init__(self, manifest: dict, model: torch.nn.Module, device: torch.device | None = None,
                 mixed_precision: str | bool = "auto"):
        self.manifest = manifest
        self.kind: str = manifest["kind"]
        self.classes: list[str] = list(manifest["classes"])
        self.multi_label: bool = bool(manifest["multi_label"])
        self.temperature = float(manifest["temperature"])
        self.threshold = manifest["threshold"]
        self.device = device or default_device()
        self.model = model.to(self.device).eval()
        self.amp_dtype = amp_dtype(mixed_precision, self.device)

    def _model(self, model: torch.nn.Module, *x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.amp_dtype):
            return model(*x)

    def _probs(self, items: Sequence, bs: int, tta: int, errors: dict[int, str] | None) -> torch.Tensor:
        raise NotImplementedError

    def probs(self, items: Sequence, bs: int = 64, tta: int = 0) -> torch.Tensor:
        """Class probabilities (n, c) for `items`, in batches; `tta=n` averages the centre view
        with n augmented views where the kind has augmentation. A bad item raises, naming it."""
        return self._probs(items, bs, tta, errors=None)

    def _prediction(self, p: torch.Tensor, k: int) -> Prediction:
        order = torch.argsort(p, descending=True)[:k].tolist()
        top = [(self.classes[i], float(p[i])) for i in order]
        if self.multi_label:
            thr = torch.as_tensor(self.threshold, dtype=p.dtype)
            tags = [self.classes[i] for i in torch.nonzero(p >= thr).flatten().tolist()]
            return Prediction(tags, float(p.max()), top)
        return Prediction(top[0][0], top[0][1], top)

    def predict(self, item, k: int = 3) -> Prediction:
        """The prediction for one item, with the top `k` classes."""
        return self._prediction(self.probs([item])[0], k)

    def predict_many(self, items: Sequence, k: int = 3, bs: int = 64, tta: int = 0,
                     errors: str = "raise") -> list[Prediction]:
        """Predictions for many items, computed in batches (`tta=n`: with n augmented views).
        `errors="keep"`: an unreadable item gets a Prediction with its `error` instead of stopping the rest."""
        if errors not in ("raise", "keep"):
            raise ValueError(f"errors must be 'raise' or 'keep', got {errors!r}")
        bad: dict[int, str] | None = {} if errors == "keep" else None
        probs = self._probs(items, bs, tta, bad)
        return [Prediction(None, float("nan"), [], bad[i]) if bad and i in bad else self._prediction(p, k)
                for i, p in enumerate(probs)]


def check_shapes(manifest: dict, weights: Path, build: Callable[[dict], torch.nn.Module], what: str) -> None:
    """The model the manifest describes (`build(manifest)`), built on the meta device (shapes, no
    memory), must have exactly the weights' tensors: an absurd manifest is refused before
    anything is allocated. `what` names the model in the message."""
    from safetensors import safe_open
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build(manifest).state_dict().items()}
    except Exception as e:  # whatever a bad manifest makes the model builder raise
        raise BundleError(f"{weights.parent}: the manifest's model ({what}) cannot be built here "
                          f"({type(e).__name__}: {e}). Re-export it with this fastlearn.") from None
    with safe_open(str(weights), "pt") as f:
        found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    if expected != found:
        differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        shown = "; ".join(f"{k}: manifest {expected.get(k)}, weights {found.get(k)}" for k in differ[:3])
        raise BundleError(f"{weights.parent}: the manifest describes another model than its weights "
                          f"({len(differ)} tensor(s) differ, e.g. {shown}): the bundle was altered. Re-export it.")
