"""Export bundles: safetensors weights plus a JSON manifest that says how to rebuild and feed
the model. No pickle: loading runs no code from the bundle.

    bundle/
      model.safetensors   the classifier's weights
      manifest.json       arch, classes, preprocessing, temperature, version, sha256 of the weights
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastlearn.utils.atomic import atomic_path

__all__ = ["BundleError", "MANIFEST_FIELDS", "write_bundle", "read_manifest", "FORMAT"]

FORMAT = "fastlearn-bundle/1"
MANIFEST_FIELDS = ("format", "fastlearn_version", "arch", "n_features", "n_groups", "hidden", "ps", "classes",
                   "multi_label", "size", "cache_size", "resize_method", "mean", "std", "temperature",
                   "threshold", "weights_file", "weights_sha256")


class BundleError(ValueError):
    """An export bundle that is incomplete, altered or from an unknown format."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_bundle(folder: str | Path, model, manifest: dict) -> Path:
    """Write the weights, hash them, then write the manifest (last, so a bundle with a manifest is whole)."""
    from fastlearn.train.serialization import save_state
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.safetensors"
    save_state(model, weights)
    manifest = dict(manifest, format=FORMAT, weights_file=weights.name, weights_sha256=_sha256(weights))
    missing = [f for f in MANIFEST_FIELDS if f not in manifest]
    if missing:
        raise BundleError(f"cannot export: manifest fields missing {missing}")
    with atomic_path(folder / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2))
    return folder


def read_manifest(folder: str | Path) -> tuple[dict, Path]:
    """The manifest and the weights path of a bundle, after checking every field and the hash."""
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise BundleError(f"{folder} is not a fastlearn bundle: {mpath.name} is missing. Create one with learn.export().")
    try:
        manifest = json.loads(mpath.read_text())
    except json.JSONDecodeError as e:
        raise BundleError(f"{mpath} is not valid JSON ({e}).") from None
    missing = [f for f in MANIFEST_FIELDS if f not in manifest]
    if missing:
        raise BundleError(f"{mpath} is missing the field(s) {', '.join(missing)}; re-export the model.")
    if manifest["format"] != FORMAT:
        raise BundleError(f"{mpath}: unknown bundle format {manifest['format']!r} (this fastlearn reads {FORMAT}).")
    weights = folder / manifest["weights_file"]
    if not weights.is_file():
        raise BundleError(f"{weights} is missing from the bundle.")
    actual = _sha256(weights)
    if actual != manifest["weights_sha256"]:
        raise BundleError(f"{weights} does not match the sha256 in its manifest (expected "
                          f"{manifest['weights_sha256'][:12]}..., found {actual[:12]}...): the bundle was altered "
                          "or damaged. Re-export it; do not load weights you cannot vouch for.")
    return manifest, weights
