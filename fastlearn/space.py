"""`fastlearn space MODEL --out DIR`: a folder ready to push to a Hugging Face Space (the 2022
lesson's deployment): the bundle, an `app.py` that serves it with fastlearn's Gradio page and
JSON endpoint, a `requirements.txt`, and a README whose front matter configures the Space and
whose text is the model's card (classes, scores, calibration)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastlearn.infer.bundle import read_manifest
from fastlearn.utils.errors import DataError

__all__ = ["write_space"]

APP = '''"""Serves the fastlearn model in ./model: the web page at /, POST /predict, GET /health."""
import os

from fastlearn.app import serve

serve("model", host="0.0.0.0", port=int(os.environ.get("PORT", "7860")))
'''

EXTRAS = {"image": "app", "table": "app", "text": "app,text"}


def _scores(model: Path) -> dict:
    """What the run that made the model measured (its summary.json, beside the bundle), if there."""
    summary = model.parent / "summary.json"
    if not summary.is_file():
        return {}
    s = json.loads(summary.read_text())
    return {k: s[k] for k in ("accuracy", "tta_accuracy", "f2_optimised", "pearson", "valid_loss", "epochs", "arch")
            if s.get(k) is not None}


def write_space(model: str | Path, out: str | Path, title: str | None = None, overwrite: bool = False) -> Path:
    """Write the Space folder `out` for the bundle at `model`; returns `out`. An existing `out`
    is left alone unless `overwrite`."""
    from fastlearn import __version__
    model, out = Path(model), Path(out)
    manifest, _ = read_manifest(model)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError(f"{out} exists and is not empty; nothing was written. Pass --overwrite to replace it.")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model, tmp / "model")
    (tmp / "app.py").write_text(APP)
    major_minor = ".".join(__version__.split(".")[:2])
    (tmp / "requirements.txt").write_text(f"fastlearn[{EXTRAS[manifest['kind']]}]>={major_minor},<{int(major_minor.split('.')[0]) + 1}\n")
    title = title or (f"{manifest['kind']} regression" if manifest.get("regression") else f"{manifest['kind']} classifier")
    classes = manifest["classes"]
    scores = _scores(model)
    lines = ["---", f"title: {title}", "sdk: gradio", "app_file: app.py", "pinned: false", "---", "",
             f"# {title}", "", f"A fastlearn {manifest['kind']} model ({manifest.get('arch', 'tabular network')}), "
             f"served with its web page at `/` and a JSON endpoint at `POST /predict`.", "",
             f"**{'Tags' if manifest['multi_label'] else 'Classes'}** ({len(classes)}): "
             + ", ".join(f"`{c}`" for c in classes[:50]) + (" ..." if len(classes) > 50 else ""), ""]
    if scores:
        lines += ["**Validation**: " + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                                                 for k, v in scores.items()), ""]
    lines += [f"**Calibration**: temperature {manifest['temperature']:.3f} (probabilities are divided by it "
              "before the softmax, fitted on the validation set).", "",
              f"Made with fastlearn {__version__}. The bundle in `model/` holds safetensors weights and a JSON "
              "manifest, with SHA-256 digests of every file; nothing in it is pickled."]
    (tmp / "README.md").write_text("\n".join(lines) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
