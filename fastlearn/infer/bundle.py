"""Export bundles: safetensors weights plus a JSON manifest that says how to rebuild and feed
the model. No pickle: loading runs no code from the bundle.

    bundle/
      model.safetensors   the model's weights
      manifest.json       kind, classes, the model's configuration, the data kind's preprocessing,
                          temperature, version, sha256 of the weights
      SHA256SUMS          sha256 of manifest.json and model.safetensors (`sha256sum -c SHA256SUMS`)

Loading checks every byte (the digests), then every field's type and range (the fields every
bundle has here; the kind's own, such as an image's size or a table's columns, in its
predictor), then that the weights' tensors have the shapes the manifest's model would have,
all before any model is built: a changed manifest or an absurd one is refused with a message,
never loaded. The digests detect damage and edits; they are not a signature.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Callable

from fastlearn.utils.atomic import atomic_path

__all__ = ["BundleError", "COMMON_FIELDS", "write_bundle", "read_manifest", "validate_common", "require_fields",
           "fail", "is_number", "FORMAT"]

FORMAT = "fastlearn-bundle/3"
_IMAGES_ONLY = "fastlearn-bundle/2"  # before bundles named their kind: every one holds an image model
SUMS = "SHA256SUMS"
COMMON_FIELDS = ("format", "fastlearn_version", "kind", "classes", "multi_label", "temperature", "threshold",
                 "weights_file", "weights_sha256")


class BundleError(ValueError):
    """An export bundle that is incomplete, altered or from an unknown format."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_bundle(folder: str | Path, model, manifest: dict, files: dict[str, bytes] | None = None) -> Path:
    """Write the weights and `files` (name -> bytes), hash them, then write the manifest (last, so
    a bundle with a manifest is whole). The manifest's `files` maps each extra file to its sha256."""
    from fastlearn.train.serialization import save_state
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.safetensors"
    save_state(model, weights)
    extra = {}
    for name, data in (files or {}).items():
        if Path(name).name != name or name in ("manifest.json", SUMS, weights.name):
            raise BundleError(f"cannot export: {name!r} is not a plain file name of its own")
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(data)
        extra[name] = hashlib.sha256(data).hexdigest()
    manifest = dict(manifest, format=FORMAT, weights_file=weights.name, weights_sha256=_sha256(weights))
    if extra:
        manifest["files"] = extra
    missing = [f for f in COMMON_FIELDS if f not in manifest]
    if missing:
        raise BundleError(f"cannot export: manifest fields missing {missing}")
    validate_common(manifest, folder / "manifest.json")
    text = json.dumps(manifest, indent=2)
    sums = f"{hashlib.sha256(text.encode()).hexdigest()}  manifest.json\n{manifest['weights_sha256']}  {weights.name}\n"
    sums += "".join(f"{digest}  {name}\n" for name, digest in extra.items())
    # the digests first: a manifest without matching sums is refused, so a half-written bundle never loads
    with atomic_path(folder / SUMS) as tmp:
        tmp.write_text(sums)
    with atomic_path(folder / "manifest.json") as tmp:
        tmp.write_text(text)
    return folder


def fail(where: Path, field: str, why: str):
    """Raise the BundleError for a field that is out of type or range."""
    raise BundleError(f"{where}: {field} {why}. The bundle was altered or damaged: re-export it.")


def is_number(x) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def require_fields(m: dict, where: Path, fields: tuple[str, ...]) -> None:
    """BundleError naming the fields of `fields` that `m` lacks."""
    missing = [f for f in fields if f not in m]
    if missing:
        raise BundleError(f"{where} is missing the field(s) {', '.join(missing)}; re-export the model.")


def validate_common(m: dict, where: Path) -> None:
    """Types and ranges of the fields every bundle has; BundleError naming the field."""
    if not isinstance(m.get("kind"), str) or not m["kind"]:
        fail(where, "kind", "must name a data kind ('image', 'table')")
    classes = m.get("classes")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        fail(where, "classes", "must be a list of class names (non-empty strings)")
    if len(set(classes)) != len(classes):
        fail(where, "classes", "must be distinct; some names repeat")
    if not isinstance(m.get("multi_label"), bool):
        fail(where, "multi_label", "must be true or false")
    if not is_number(m.get("temperature")) or m["temperature"] <= 0:
        fail(where, "temperature", f"must be a positive number, got {m.get('temperature')!r}")
    t = m.get("threshold")
    ts = t if isinstance(t, list) else [t]
    if not all(is_number(x) and 0 < x < 1 for x in ts) or (isinstance(t, list) and len(t) != len(classes)):
        fail(where, "threshold", f"must be a number in (0, 1), or one per class, got {t!r}")
    w = m.get("weights_file")
    if not isinstance(w, str) or not w or Path(w).name != w or w in (".", "..") or "\\" in w:
        fail(where, "weights_file", f"must be a plain file name inside the bundle, got {w!r}")


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


def read_manifest(folder: str | Path, kinds: dict[str, Callable[[dict, Path], None]] | None = None
                  ) -> tuple[dict, Path]:
    """The manifest and the weights path of a bundle, after checking the digests, every field
    (the kind's own with `kinds[manifest["kind"]]`, which raises BundleError naming a bad one)
    and the weights' hash."""
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
    if manifest.get("format") not in (FORMAT, _IMAGES_ONLY):
        raise BundleError(f"{mpath}: unknown bundle format {manifest.get('format')!r} (this fastlearn reads {FORMAT}; "
                          "re-export the model with it).")
    sums = _read_sums(folder)
    if sums.get("manifest.json") != hashlib.sha256(raw).hexdigest():
        raise BundleError(f"{mpath} does not match its digest in {SUMS}: the manifest was edited or damaged. "
                          "Re-export the model; do not load a manifest you cannot vouch for.")
    if manifest["format"] == _IMAGES_ONLY:
        manifest = dict(manifest, kind="image")
    require_fields(manifest, mpath, COMMON_FIELDS)
    validate_common(manifest, mpath)
    if kinds is not None:
        check = kinds.get(manifest["kind"])
        if check is None:
            raise BundleError(f"{mpath}: a model for {manifest['kind']!r} data, which this fastlearn does not know "
                              f"(it knows {', '.join(kinds)}); upgrade fastlearn.")
        check(manifest, mpath)
    weights = folder / manifest["weights_file"]
    if not weights.is_file():
        raise BundleError(f"{weights} is missing from the bundle.")
    actual = _sha256(weights)
    if actual != manifest["weights_sha256"] or sums.get(manifest["weights_file"]) != actual:
        raise BundleError(f"{weights} does not match the sha256 in its manifest (expected "
                          f"{manifest['weights_sha256'][:12]}..., found {actual[:12]}...): the bundle was altered "
                          "or damaged. Re-export it; do not load weights you cannot vouch for.")
    files = manifest.get("files") or {}
    if not isinstance(files, dict):
        fail(mpath, "files", "must map file names to their sha256")
    for name, digest in files.items():
        path = folder / name
        if Path(name).name != name or name in (".", "..") or not path.is_file():
            raise BundleError(f"{folder}: the file {name!r} the manifest lists is missing or not a plain name.")
        if _sha256(path) != digest or sums.get(name) != digest:
            raise BundleError(f"{path} does not match its sha256 in the manifest: the bundle was altered or damaged. "
                              "Re-export it.")
    return manifest, weights
