"""`load_learner`: the predictor for an export bundle, of the bundle's data kind."""
from __future__ import annotations

from pathlib import Path

import torch

from fastlearn.infer.bundle import read_manifest
from fastlearn.infer.predictor import Predictor

__all__ = ["load_learner"]


def _kind_checks() -> dict:
    from fastlearn.tabular.predictor import validate_table_manifest
    from fastlearn.text.predictor import validate_text_manifest
    from fastlearn.vision.predictor import validate_image_manifest
    return {"image": validate_image_manifest, "table": validate_table_manifest, "text": validate_text_manifest}


def load_learner(path: str | Path, device: str | torch.device | None = None, **options) -> Predictor:
    """The predictor for a bundle written by `learn.export(path)`: an `ImagePredictor`, a
    `TablePredictor` or a `TextPredictor`, as the manifest's `kind` says. Refuses bundles whose files do not match
    their digests, whose manifest has a field missing or out of range, or whose weights do not
    fit the model the manifest describes (see `fastlearn.infer.bundle`). `options` go to the
    kind's predictor (images: `max_pixels`)."""
    manifest, weights = read_manifest(path, _kind_checks())
    device = torch.device(device) if device else None
    if manifest["kind"] == "table":
        from fastlearn.tabular.predictor import load_table_predictor
        return load_table_predictor(manifest, weights, device, **options)
    if manifest["kind"] == "text":
        from fastlearn.text.predictor import load_text_predictor
        return load_text_predictor(manifest, weights, device, **options)
    from fastlearn.vision.predictor import load_image_predictor
    return load_image_predictor(manifest, weights, device, **options)
