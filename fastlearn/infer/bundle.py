"""Export bundles: safetensors weights plus a JSON manifest that says how to rebuild and feed
the model. No pickle: loading runs no code from the bundle.

    bundle/
      model.safetensors   the classifier's weights
      manifest.json       arch, classes, preprocessing, temperature, version, sha256 of the weights
      SHA256SUMS          sha256 of manifest.json and model.safetensors (`sha256sum -c SHA256SUMS`)

Loading checks every byte (the digests), then every field's type and range, then that the
weights' tensors have the shapes the manifest's model would have, all before any model is
built: a changed manifest or an absurd one is refused with a message, never loaded.
The digests detect damage and edits; they are not a signature.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from fastlearn.utils.atomic import atomic_path

__all__ = ["BundleError", "MANIFEST_FIELDS", "write_bundle", "read_manifest", "validate_manifest", "FORMAT"]

FORMAT = "fastlearn-bundle/2"
SUMS = "SHA256SUMS"
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
    validate_manifest(manifest, folder / "manifest.json")
    text = json.dumps(manifest, indent=2)
    sums = f"{hashlib.sha256(text.encode()).hexdigest()}  manifest.json\n{manifest['weights_sha256']}  {weights.name}\n"
    # the digests first: a manifest without matching sums is refused, so a half-written bundle never loads
    with atomic_path(folder / SUMS) as tmp:
        tmp.write_text(sums)
    with atomic_path(folder / "manifest.json") as tmp:
        tmp.write_text(text)
    return folder


def _fail(where: Path, field: str, why: str):
    raise BundleError(f"{where}: {field} {why}. The bundle was altered or damaged: re-export it.")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_manifest(m: dict, where: Path) -> None:
    """Types and ranges of every field that decides what the model computes; BundleError naming the field."""
    if not isinstance(m.get("arch"), str) or not m["arch"]:
        _fail(where, "arch", "must be a model name")
    for field, lo, hi in (("n_features", 1, 65536), ("n_groups", 2, 64), ("size", 8, 4096), ("cache_size", 8, 4096)):
        if not isinstance(m.get(field), int) or isinstance(m[field], bool) or not lo <= m[field] <= hi:
            _fail(where, field, f"must be a whole number from {lo} to {hi}, got {m.get(field)!r}")
    if m["cache_size"] < m["size"]:
        _fail(where, "cache_size", f"({m['cache_size']}) must be at least size ({m['size']})")
    if m.get("hidden") is not None and (not isinstance(m["hidden"], int) or not 1 <= m["hidden"] <= 65536):
        _fail(where, "hidden", f"must be a whole number from 1 to 65536 or null, got {m.get('hidden')!r}")
    if not isinstance(m.get("ps"), list) or not all(_number(p) and 0 <= p < 1 for p in m["ps"]):
        _fail(where, "ps", f"must be a list of dropout rates in [0, 1), got {m.get('ps')!r}")
    classes = m.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        _fail(where, "classes", "must be a list of class names (non-empty strings)")
    if len(set(classes)) != len(classes):
        _fail(where, "classes", "must be distinct; some names repeat")
    if not isinstance(m.get("multi_label"), bool):
        _fail(where, "multi_label", "must be true or false")
    if m.get("resize_method") not in ("crop", "squish"):
        _fail(where, "resize_method", f"must be 'crop' or 'squish', got {m.get('resize_method')!r}")
    for field in ("mean", "std"):
        v = m.get(field)
        if not isinstance(v, list) or len(v) != 3 or not all(_number(x) for x in v):
            _fail(where, field, "must be a list of 3 numbers (one per colour channel)")
    if not all(s > 0 for s in m["std"]):
        _fail(where, "std", f"must be positive, got {m['std']}")
    if not _number(m.get("temperature")) or m["temperature"] <= 0:
        _fail(where, "temperature", f"must be a positive number, got {m.get('temperature')!r}")
    t = m.get("threshold")
    ts = t if isinstance(t, list) else [t]
    if not all(_number(x) and 0 < x < 1 for x in ts) or (isinstance(t, list) and len(t) != len(classes)):
        _fail(where, "threshold", f"must be a number in (0, 1), or one per class, got {t!r}")
    w = m.get("weights_file")
    if not isinstance(w, str) or not w or Path(w).name != w or w in (".", "..") or "\\" in w:
        _fail(where, "weights_file", f"must be a plain file name inside the bundle, got {w!r}")
    v = m.get("valid_files")
    if v is not None and (not isinstance(v, list) or not all(isinstance(f, str) for f in v)):
        _fail(where, "valid_files", "must be a list of file paths or null")
    if m.get("augment") is not None and not isinstance(m["augment"], list):
        _fail(where, "augment", "must be a list of transforms or null")


def _read_sums(folder: Path) -> dict[str, str]:
    path = folder / SUMS
    if not path.is_file():
        raise BundleError(f"{folder}: {SUMS} is missing, so the manifest cannot be verified (a bundle from an older "
                          "fastlearn, or an incomplete copy). Re-export the model.")
    sums = {}
    for line in path.read_text(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 64 and name:
            sums[name] = digest
    return sums


def read_manifest(folder: str | Path) -> tuple[dict, Path]:
    """The manifest and the weights path of a bundle, after checking every field and the hash."""
    folder = Path(folder)
    mpath = folder / "manifest.json"
    if not mpath.is_file():
        raise BundleError(f"{folder} is not a fastlearn bundle: {mpath.name} is missing. Create one with learn.export().")
    raw = mpath.read_bytes()  # parsed and hashed from the same bytes
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{mpath} is not valid JSON ({e}).") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mpath} is not a manifest (a JSON object). Re-export the model.")
    if manifest.get("format") != FORMAT:
        raise BundleError(f"{mpath}: unknown bundle format {manifest.get('format')!r} (this fastlearn reads {FORMAT}; "
                          "re-export the model with it).")
    sums = _read_sums(folder)
    if sums.get("manifest.json") != hashlib.sha256(raw).hexdigest():
        raise BundleError(f"{mpath} does not match its digest in {SUMS}: the manifest was edited or damaged. "
                          "Re-export the model; do not load a manifest you cannot vouch for.")
    missing = [f for f in MANIFEST_FIELDS if f not in manifest]
    if missing:
        raise BundleError(f"{mpath} is missing the field(s) {', '.join(missing)}; re-export the model.")
    validate_manifest(manifest, mpath)
    weights = folder / manifest["weights_file"]
    if not weights.is_file():
        raise BundleError(f"{weights} is missing from the bundle.")
    actual = _sha256(weights)
    if actual != manifest["weights_sha256"] or sums.get(manifest["weights_file"]) != actual:
        raise BundleError(f"{weights} does not match the sha256 in its manifest (expected "
                          f"{manifest['weights_sha256'][:12]}..., found {actual[:12]}...): the bundle was altered "
                          "or damaged. Re-export it; do not load weights you cannot vouch for.")
    return manifest, weights
