"""Model and optimizer state in safetensors files: no pickle, written atomically."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fastlearn.utils.atomic import atomic_path

__all__ = ["save_state", "load_state", "save_optimizer", "load_optimizer"]


def save_state(module: torch.nn.Module, path: str | Path, metadata: dict | None = None) -> Path:
    """Write `module.state_dict()` to `path` (.safetensors), with JSON-able `metadata`."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    meta = {"fastlearn": json.dumps(metadata or {})}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def load_state(module: torch.nn.Module, path: str | Path) -> dict:
    """Load weights saved by `save_state` into `module`; returns the metadata."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    tensors = load_file(str(path))
    own = module.state_dict()
    missing = [k for k in own if k not in tensors]
    unexpected = [k for k in tensors if k not in own]
    misfit = [f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in tensors and tensors[k].shape != v.shape]
    if missing or unexpected or misfit:
        raise ValueError(
            f"{path} does not fit this model: {len(missing)} missing, {len(unexpected)} unexpected and "
            f"{len(misfit)} misshapen tensors (e.g. {(missing + unexpected + misfit)[:3]}). "
            "Was it saved from another architecture or number of classes?")
    module.load_state_dict(tensors)
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        return json.loads((f.metadata() or {}).get("fastlearn", "{}"))


def save_optimizer(opt: torch.optim.Optimizer, path: str | Path) -> Path:
    """Optimizer state: tensors as `<param index>.<key>`, hyper-parameters as JSON metadata."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, state in sd["state"].items():
        for k, v in state.items():
            if isinstance(v, torch.Tensor):
                tensors[f"{idx}.{k}"] = v.detach().contiguous().cpu()
            else:
                scalars[f"{idx}.{k}"] = v
    meta = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return Path(path)


def load_optimizer(opt: torch.optim.Optimizer, path: str | Path) -> None:
    """Restore optimizer state written by `save_optimizer`."""
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    state: dict[int, dict] = {}
    for key, v in list(tensors.items()) + list(json.loads(meta["scalars"]).items()):
        idx, k = key.split(".", 1)
        state.setdefault(int(idx), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
