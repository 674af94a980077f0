"""Everything needed to continue a fit exactly where it stopped: weights, optimizer state, the
epoch reached and the random states, written so that a kill at any moment leaves the last
complete checkpoint intact (as Keras' `BackupAndRestore` and Lightning's `ckpt_path` do)."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import torch

from safetensors.torch import load_file, save_file

from fastlearn.train.callbacks import Callback
from fastlearn.train.divergence import RollbackOnDivergence
from fastlearn.train.serialization import load_optimizer, load_state, save_optimizer, save_state
from fastlearn.utils.atomic import atomic_path
from fastlearn.utils import distributed

__all__ = ["EpochCheckpoint", "save_checkpoint", "load_checkpoint", "read_checkpoint"]

_INFO = "checkpoint.json"


def _encode(state: torch.Tensor) -> str:
    return base64.b64encode(state.numpy().tobytes()).decode("ascii")


def _decode(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def _random_states(learn) -> dict:
    states = {"torch": _encode(torch.get_rng_state())}
    loader = getattr(learn.data, "train_dl", None)
    if getattr(loader, "generator", None) is not None:
        states["train_loader"] = _encode(loader.generator.get_state())
    if torch.cuda.is_available() and learn.device.type == "cuda":
        states["cuda"] = _encode(torch.cuda.get_rng_state(learn.device))
    return states


def save_checkpoint(learn, folder: str | Path, extra: dict | None = None) -> Path:
    """Write `folder/epoch-N.safetensors` (+ `.opt.safetensors`) for the learner's epoch N, then
    `folder/checkpoint.json` pointing at them with the random states and `extra`; older
    checkpoints are removed only after the new one is complete. Returns the info file. Under
    torchrun, rank 0 writes it (the ranks hold the same weights) and the others wait."""
    folder = Path(folder)
    if not distributed.is_main():
        distributed.barrier()
        return folder / _INFO
    try:
        return _write_checkpoint(learn, folder, extra)
    finally:
        distributed.barrier()


def _write_checkpoint(learn, folder: Path, extra: dict | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"epoch-{learn.epoch}"
    save_state(learn.model, folder / f"{name}.safetensors", getattr(learn.model, "meta", {}))
    if learn.opt is not None:
        save_optimizer(learn.opt, folder / f"{name}.opt.safetensors")
    info = {"epoch": learn.epoch, "weights": f"{name}.safetensors",
            "optimizer": f"{name}.opt.safetensors" if learn.opt is not None else None,
            "random": _random_states(learn), "lr_scale": learn.lr_scale, "rollbacks": learn.rollbacks,
            "best": _save_best(learn, folder), **(extra or {})}
    with atomic_path(folder / _INFO) as tmp:
        tmp.write_text(json.dumps(info), encoding="utf-8")
    keep = {f"{name}.safetensors", f"{name}.opt.safetensors", (info["best"] or {}).get("weights")}
    for old in [*folder.glob("epoch-*.safetensors"), *folder.glob("best-*.safetensors")]:
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return folder / _INFO


def _rollback(learn):
    return next((cb for cb in learn.callbacks if isinstance(cb, RollbackOnDivergence)), None)


def _save_best(learn, folder: Path) -> dict | None:
    """The divergence guard's best epoch, its weights in `best-N.safetensors` (written once per best epoch)."""
    cb = _rollback(learn)
    best = cb.best() if cb is not None else None
    if best is None:
        return None
    path = folder / f"best-{best['epoch']}.safetensors"
    if not path.is_file():
        with atomic_path(path) as tmp:
            save_file({k: v.detach().contiguous().cpu() for k, v in best["model"].items()}, str(tmp))
    return {"epoch": best["epoch"], "valid_loss": best["valid_loss"], "score": best["score"], "weights": path.name}


def read_checkpoint(folder: str | Path) -> dict | None:
    """The info of the last complete checkpoint in `folder`, or None when there is none."""
    path = Path(folder) / _INFO
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{path} cannot be read ({e}); the checkpoint is damaged. Start again with --overwrite.") from None
    if not isinstance(info, dict) or not isinstance(info.get("epoch"), int) or not isinstance(info.get("weights"), str):
        raise ValueError(f"{path} is not a fastlearn checkpoint; start again with --overwrite.")
    return info


def load_checkpoint(learn, folder: str | Path) -> dict:
    """Put the learner back where the last checkpoint in `folder` left it (weights, optimizer,
    epoch, random states); returns the checkpoint's info."""
    folder = Path(folder)
    info = read_checkpoint(folder)
    if info is None:
        raise FileNotFoundError(f"no checkpoint in {folder}")
    for key in ("weights", "optimizer"):
        if info.get(key) is not None and Path(info[key]).name != info[key]:
            raise ValueError(f"{folder / _INFO}: {key} must be a file name inside the folder, got {info[key]!r}")
    load_state(learn.model, folder / info["weights"])
    learn._activations = None
    if info.get("optimizer"):
        load_optimizer(learn._optimizer(), folder / info["optimizer"])
    learn.epoch = info["epoch"]
    learn.lr_scale = float(info.get("lr_scale", 1.0))
    learn.rollbacks = list(info.get("rollbacks", []))
    best, cb = info.get("best"), _rollback(learn)
    if best and cb is not None and Path(best["weights"]).name == best["weights"]:
        state = {k: v.to(learn.device) for k, v in load_file(str(folder / best["weights"])).items()}
        cb.set_best(learn, best["epoch"], best["valid_loss"], best["score"], state)
    states = info.get("random", {})
    if "torch" in states:
        torch.set_rng_state(_decode(states["torch"]))
    if "train_loader" in states:
        learn.data.train_dl.generator.set_state(_decode(states["train_loader"]))
    if "cuda" in states and torch.cuda.is_available() and learn.device.type == "cuda":
        torch.cuda.set_rng_state(_decode(states["cuda"]), learn.device)
    return info


class EpochCheckpoint(Callback):
    """A checkpoint after every epoch (see `save_checkpoint`); `extra(learn)` adds to its info,
    and `after(learn, row)` runs once it is written (e.g. to update a metrics file)."""

    def __init__(self, folder: str | Path, extra=None, after=None):
        self.folder, self.extra, self.after = Path(folder), extra, after

    def epoch_end(self, learn, epoch, row):
        learn.epoch = epoch + 1  # the epoch is complete; the loop advances the counter after callbacks
        try:
            save_checkpoint(learn, self.folder, self.extra(learn, row) if self.extra else None)
        finally:
            learn.epoch = epoch
        if self.after:
            self.after(learn, row)
