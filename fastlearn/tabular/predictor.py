"""Predicting table rows with an exported model: rows as dicts or a DataFrame, processed with
the training's own categories, medians and statistics, read from the bundle's JSON."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from fastlearn.infer.bundle import fail, is_number, require_fields
from fastlearn.infer.predictions import probabilities
from fastlearn.infer.predictor import Prediction, Predictor, check_shapes
from fastlearn.tabular.gbm import gbm_features, gbm_probs, load_gbm
from fastlearn.tabular.model import TabularModel
from fastlearn.tabular.processor import TabularProcessor
from fastlearn.utils.atomic import atomic_path

__all__ = ["TablePredictor", "TABLE_FIELDS", "validate_table_manifest", "load_table_predictor", "rows_frame"]

TABLE_FIELDS = ("arch", "model", "processor", "target", "regression")
USES = ("net", "gbm", "ensemble")  # which model predicts: the network, LightGBM, or their average
GBM_FILE = "lightgbm.txt"


def validate_table_manifest(m: dict, where: Path) -> None:
    """The table fields of a bundle: present, of their type and in range (BundleError naming one)."""
    require_fields(m, where, TABLE_FIELDS)
    if m["arch"] != "tabular_mlp":
        fail(where, "arch", f"must be 'tabular_mlp' for a table, got {m['arch']!r}")
    c = m["model"]
    if not isinstance(c, dict):
        fail(where, "model", "must be an object")
    whole = lambda v, lo, hi: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi  # noqa: E731
    if not isinstance(c.get("cardinalities"), list) or not all(whole(v, 1, 10_000_000) for v in c["cardinalities"]):
        fail(where, "model.cardinalities", "must be a list of whole numbers from 1 to 10,000,000")
    if not whole(c.get("n_cont"), 0, 100_000) or not whole(c.get("n_out"), 1, 100_000):
        fail(where, "model.n_cont / n_out", "must be whole numbers (0 to 100,000; n_out at least 1)")
    if not isinstance(c.get("layers"), list) or not all(whole(v, 1, 65536) for v in c["layers"]):
        fail(where, "model.layers", "must be a list of whole numbers from 1 to 65536")
    if not isinstance(c.get("ps"), list) or len(c["ps"]) != len(c["layers"]) or \
            not all(is_number(p) and 0 <= p < 1 for p in c["ps"]):
        fail(where, "model.ps", "must be one dropout rate in [0, 1) per layer")
    if not is_number(c.get("emb_drop")) or not 0 <= c["emb_drop"] < 1:
        fail(where, "model.emb_drop", "must be a dropout rate in [0, 1)")
    y = c.get("y_range")
    if y is not None and (not isinstance(y, list) or len(y) != 2 or not all(is_number(v) for v in y) or y[0] >= y[1]):
        fail(where, "model.y_range", "must be null or [low, high] with low < high")
    p = m["processor"]
    keys = ("cat_names", "cont_names", "date_names", "categories", "medians", "means", "stds", "na_names")
    if not isinstance(p, dict) or any(k not in p for k in keys):
        fail(where, "processor", f"must be an object with {', '.join(keys)}")
    if set(p["categories"]) != set(p["cat_names"]) or any(not all(isinstance(v, str) for v in vals)
                                                           for vals in p["categories"].values()):
        fail(where, "processor.categories", "must list the categories (strings) of every categorical column")
    for field in ("medians", "means", "stds"):
        if set(p[field]) != set(p["cont_names"]) or not all(is_number(v) for v in p[field].values()):
            fail(where, f"processor.{field}", "must give a number for every continuous column")
    if not all(v > 0 for v in p["stds"].values()):
        fail(where, "processor.stds", "must be positive")
    if not set(p["na_names"]) <= set(p["cont_names"]):
        fail(where, "processor.na_names", "must name continuous columns")
    if not isinstance(m["target"], str) or not isinstance(m["regression"], bool):
        fail(where, "target / regression", "must be a column name and true or false")
    use = m.get("use", "net")
    if use not in USES:
        fail(where, "use", f"must be one of {', '.join(USES)}, got {use!r}")
    if use != "net" and GBM_FILE not in (m.get("files") or {}):
        fail(where, "files", f"must hold {GBM_FILE} for use {use!r}")


def rows_frame(items) -> pd.DataFrame:
    """A DataFrame of rows given as a DataFrame, one dict, or a list of dicts."""
    if isinstance(items, pd.DataFrame):
        return items.reset_index(drop=True)
    if isinstance(items, dict):
        return pd.DataFrame([items])
    items = list(items)
    if not all(isinstance(r, dict) for r in items):
        bad = next(type(r).__name__ for r in items if not isinstance(r, dict))
        raise TypeError(f"a row to predict is a dict of column -> value (or pass a DataFrame); got a {bad}")
    return pd.DataFrame(items)


class TablePredictor(Predictor):
    """Predicts rows of a table with an exported model. Build one with `load_learner(path)`.
    `predict({"sex": "female", "age": 30, ...})`, `predict_many(rows)`, `probs(df)`: a row may
    leave out columns (treated as missing, with a warning) and may hold others (ignored). For a
    regression, a Prediction's `probability` is the predicted value and `probs` gives (n, 1)."""

    def __init__(self, manifest: dict, model: torch.nn.Module, device: torch.device | None = None,
                 mixed_precision: str | bool = "auto", gbm=None):
        super().__init__(manifest, model, device, mixed_precision)
        self.processor = TabularProcessor.from_json(manifest["processor"])
        self.target, self.regression = manifest["target"], manifest["regression"]
        self.use, self.gbm = manifest.get("use", "net"), gbm

    @property
    def columns(self) -> list[str]:
        """The columns a row may give (dates before they are expanded into parts)."""
        return self.processor.input_names

    @torch.no_grad()
    def _probs(self, items, bs: int, tta: int, errors: dict[int, str] | None) -> torch.Tensor:
        if tta:
            raise ValueError("tables have no augmentation, so no test-time augmentation; predict without tta")
        frame = rows_frame(items)
        cats, conts = self.processor.transform(frame)
        net = None
        if self.use != "gbm":
            outs = []
            for start in range(0, len(frame), bs):
                x = (cats[start:start + bs].to(self.device), conts[start:start + bs].to(self.device))
                outs.append(self._model(self.model, x).float().cpu())
            out = torch.cat(outs) if outs else torch.zeros((0, 1 if self.regression else len(self.classes)))
            net = out if self.regression else probabilities(out, self.multi_label, self.temperature)
            if self.use == "net":
                return net
        gbm = torch.from_numpy(gbm_probs(self.gbm, gbm_features(cats, conts), self.regression,
                                         len(self.classes))).float()
        return gbm if net is None else (net + gbm) / 2

    def _prediction(self, p: torch.Tensor, k: int) -> Prediction:
        if self.regression:
            v = float(p[0])
            return Prediction(f"{v:.6g}", v, [(self.target, v)])
        return super()._prediction(p, k)

    def predict_table(self, rows, csv: str | Path | None = None, bs: int = 1024) -> pd.DataFrame:
        """Every row of a DataFrame (or CSV path): the rows, then the predicted label (or value),
        its probability and one column per class; written to `csv` (atomically) if given."""
        frame = pd.read_csv(rows) if isinstance(rows, (str, Path)) else rows_frame(rows)
        p = self._probs(frame, bs, 0, None)
        preds = [self._prediction(row, 1) for row in p]
        out = frame.copy()
        name = f"predicted_{self.target}" if f"predicted_{self.target}" not in frame.columns else "prediction"
        out[name] = [x.probability if self.regression else x.label for x in preds]
        if not self.regression:
            out["probability"] = [x.probability for x in preds]
            for i, c in enumerate(self.classes):
                out[f"p_{c}"] = p[:, i].numpy()
        if csv is not None:
            with atomic_path(csv) as tmp:
                out.to_csv(tmp, index=False)
        return out

    def __repr__(self) -> str:
        what = f"regression of {self.target}" if self.regression else f"{len(self.classes)} classes of {self.target}"
        return f"TablePredictor({what}, {len(self.columns)} columns, model {self.use}, temperature {self.temperature:.3f})"


def load_table_predictor(manifest: dict, weights: Path, device: torch.device | None = None) -> TablePredictor:
    """The TablePredictor of a bundle whose manifest `read_manifest` has checked."""
    from fastlearn.train.serialization import load_state
    build = lambda m: TabularModel.from_config(m["model"])  # noqa: E731
    check_shapes(manifest, weights, build, "tabular_mlp")
    model = build(manifest)
    load_state(model, weights)
    gbm = load_gbm((weights.parent / GBM_FILE).read_text()) if manifest.get("use", "net") != "net" else None
    return TablePredictor(manifest, model, device, gbm=gbm)
