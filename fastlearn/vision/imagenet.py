"""A pretrained network with its own ImageNet head, as a Predictor over ImageNet's 1,000
categories: "get the categories of a model" (the 2022 lesson), and the 2017 lesson's starting
point (its probabilities as features for a linear model)."""
from __future__ import annotations

from pathlib import Path

import torch

from fastlearn.vision.models.weights import (OFFLINE_ARCHS, WeightsUnavailableError, load_positional,
                                             packaged_weights_file, read_state_dict)
from fastlearn.vision.predictor import ImagePredictor

__all__ = ["imagenet_classes", "pretrained_predictor"]


def imagenet_classes() -> list[str]:
    """ImageNet-1k's category names in the order of the classifier's outputs (timm's list)."""
    from timm.data import ImageNetInfo
    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(info.num_classes())]


def _model(arch: str, weights: str | Path | None) -> torch.nn.Module:
    import timm
    source = weights or packaged_weights_file(arch)
    if source is None:  # timm's hub: needs the network, as for any other name
        try:
            return timm.create_model(arch, pretrained=True, num_classes=1000)
        except Exception as e:
            packaged = ", ".join(OFFLINE_ARCHS)
            raise WeightsUnavailableError(f"no ImageNet weights for {arch!r} here ({type(e).__name__}: {e}). "
                                          f"Offline, these load from installed packages: {packaged}; or pass "
                                          "weights=PATH") from None
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    sd = read_state_dict(source)
    missing, _ = model.load_state_dict(sd, strict=False)
    if missing:  # the packaged file names tensors in efficientnet_pytorch's way, in the same order
        load_positional(model, sd, str(source))
    return model


def pretrained_predictor(arch: str = "tf_efficientnet_lite0", weights: str | Path | None = None,
                         size: int | None = None, device: torch.device | str | None = None) -> ImagePredictor:
    """`arch` with its ImageNet classifier as an ImagePredictor: `classes` are ImageNet's 1,000
    names; `predict`, `predict_many` and `probs` as for an exported model. Weights: `weights=PATH`,
    else the file a package ships (tf_efficientnet_lite0/1/2, offline), else timm's hub."""
    model = _model(arch, weights)
    cfg = model.pretrained_cfg
    size = int(size or cfg["input_size"][-1])
    manifest = {"kind": "image", "arch": arch, "classes": imagenet_classes(), "multi_label": False,
                "temperature": 1.0, "threshold": 0.5, "size": size, "cache_size": size, "resize_method": "crop",
                "mean": list(cfg["mean"]), "std": list(cfg["std"]), "augment": None}
    return ImagePredictor(manifest, model, torch.device(device) if device is not None else None)
