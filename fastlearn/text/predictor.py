"""Predicting texts with an exported model: the bundle holds the encoder's config, the
tokenizer's files and the weights, so nothing is downloaded and nothing is unpickled."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from fastlearn.infer.bundle import fail, is_number, require_fields
from fastlearn.infer.predictions import probabilities
from fastlearn.infer.predictor import Prediction, Predictor, check_shapes
from fastlearn.text.loader import TextLoader
from fastlearn.text.model import TextClassifier
from fastlearn.text.tokens import tokenize

__all__ = ["TextPredictor", "TEXT_FIELDS", "validate_text_manifest", "load_text_predictor"]

TEXT_FIELDS = ("arch", "model", "max_len", "target", "regression", "files")


def validate_text_manifest(m: dict, where: Path) -> None:
    """The text fields of a bundle: present, of their type and in range (BundleError naming one)."""
    require_fields(m, where, TEXT_FIELDS)
    c = m["model"]
    if not isinstance(c, dict) or not isinstance(c.get("n_out"), int) or not 1 <= c["n_out"] <= 100_000:
        fail(where, "model.n_out", "must be a whole number from 1 to 100,000")
    if not isinstance(c.get("hidden"), int) or not 1 <= c["hidden"] <= 65536:
        fail(where, "model.hidden", "must be a whole number from 1 to 65536")
    if not isinstance(c.get("ps"), list) or len(c["ps"]) != 2 or not all(is_number(p) and 0 <= p < 1 for p in c["ps"]):
        fail(where, "model.ps", "must be two dropout rates in [0, 1)")
    if not isinstance(m["max_len"], int) or not 2 <= m["max_len"] <= 65536:
        fail(where, "max_len", "must be a whole number from 2 to 65536")
    if "config.json" not in m["files"]:
        fail(where, "files", "must hold the encoder's config.json")


def _rebuild(manifest: dict, folder: Path) -> TextClassifier:
    from transformers import AutoConfig, AutoModel
    encoder = AutoModel.from_config(AutoConfig.from_pretrained(str(folder)))
    c = manifest["model"]
    return TextClassifier(encoder, c["n_out"], c["hidden"], tuple(c["ps"]), arch=manifest["arch"])


class TextPredictor(Predictor):
    """Predicts texts: `predict("A gorgeous, moving film.")`, `predict_many(texts)`, `probs(texts)`.
    For a regression a Prediction's `probability` is the predicted score."""

    def __init__(self, manifest: dict, model: torch.nn.Module, tokenizer, device: torch.device | None = None,
                 mixed_precision: str | bool = "auto"):
        super().__init__(manifest, model, device, mixed_precision)
        self.tokenizer, self.max_len = tokenizer, int(manifest["max_len"])
        self.target, self.regression = manifest["target"], manifest["regression"]

    @torch.no_grad()
    def _probs(self, items: Sequence[str], bs: int, tta: int, errors: dict[int, str] | None) -> torch.Tensor:
        if tta:
            raise ValueError("texts have no augmentation, so no test-time augmentation; predict without tta")
        if isinstance(items, str):
            items = [items]
        texts = [str(t) for t in items]
        tokens = tokenize(texts, self.tokenizer, self.max_len, cache=False)
        y = torch.zeros(len(texts), dtype=torch.long)
        loader = TextLoader(tokens, y, np.arange(len(texts)), bs, self.tokenizer.pad_token_id or 0, self.device)
        outs = [self._model(self.model, x).float().cpu() for x, _ in loader]
        out = torch.cat(outs) if outs else torch.zeros((0, len(self.classes)))
        return out if self.regression else probabilities(out, self.multi_label, self.temperature)

    def _prediction(self, p: torch.Tensor, k: int) -> Prediction:
        if self.regression:
            v = float(p[0])
            return Prediction(f"{v:.6g}", v, [(self.target, v)])
        return super()._prediction(p, k)

    def __repr__(self) -> str:
        what = f"regression of {self.target}" if self.regression else f"{len(self.classes)} classes"
        return f"TextPredictor({self.manifest['arch']}, {what}, max_len {self.max_len}, temperature {self.temperature:.3f})"


def load_text_predictor(manifest: dict, weights: Path, device: torch.device | None = None) -> TextPredictor:
    """The TextPredictor of a bundle whose manifest `read_manifest` has checked."""
    from transformers import AutoTokenizer

    from fastlearn.train.serialization import load_state
    folder = weights.parent
    check_shapes(manifest, weights, lambda m: _rebuild(m, folder), manifest["arch"])
    model = _rebuild(manifest, folder)
    load_state(model, weights)
    return TextPredictor(manifest, model, AutoTokenizer.from_pretrained(str(folder), use_fast=True), device)
