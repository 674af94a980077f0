"""Precomputed activations: run a frozen body over the data once, then train the head on them.

Train images are taken unaugmented (augmenting would change the activations every epoch).
Activations are cached on disk, keyed on the data's fingerprint (files, splits, size,
normalisation), the architecture and a hash of the body's weights, so a second run, or a
second learner on the same data and weights, starts training the head at once.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

import torch
from safetensors.torch import load_file, save_file

from fastlearn.vision.data.cache import default_cache_dir
from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded
from fastlearn.utils.atomic import atomic_path
from fastlearn.utils.distributed import ShardedBatches
from fastlearn.utils.hashing import state_hash

__all__ = ["Precomputed", "TensorLoader", "precomputed_activations"]


class TensorLoader(ShardedBatches):
    """(x, y) batches from tensors already in memory: shuffled each epoch if asked."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, bs: int, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 42):
        self.x, self.y, self.bs, self.shuffle = x, y, bs, shuffle
        self.drop_last = drop_last and len(x) > bs
        self.generator = torch.Generator().manual_seed(seed)

    def _all_batches(self) -> int:
        n = len(self.x)
        return n // self.bs if self.drop_last else -(-n // self.bs)

    @property
    def dataset_size(self) -> int:
        return len(self.x)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.generator) if self.shuffle else torch.arange(len(self.x))
        order = order.to(self.x.device)
        for b in self._own_batches():
            sel = order[b * self.bs:(b + 1) * self.bs]
            yield self.x[sel], self.y[sel]


@torch.no_grad()
def _compute(model, loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    with batchnorm_folded(model.body) as body:
        for xb, yb in loader:
            xs.append(model.features(xb, body).float().cpu())
            ys.append(yb.cpu())
    return torch.cat(xs), torch.cat(ys)


def precomputed_activations(model, data, cache_dir: str | Path | None = None, bs: int | None = None
                            ) -> tuple[dict[str, torch.Tensor], bool]:
    """{'train_x', 'train_y', 'valid_x', 'valid_y'} for `model.features` on `data`, and whether
    they came from the on-disk cache. The model is put in eval mode for the computation."""
    key = hashlib.sha256(
        f"{data.fingerprint()}|{model.meta.get('arch')}|{state_hash(model.body)}".encode()).hexdigest()[:24]
    path = Path(cache_dir or default_cache_dir()) / "activations" / f"{key}.safetensors"
    if path.is_file():
        try:
            return load_file(str(path)), True
        except Exception:
            pass  # unreadable: recompute below
    was_training = model.training
    model.eval()
    try:
        out = {}
        for split in ("train", "valid"):
            loader = data.loader(split, augment=False, shuffle=False, bs=bs or max(data.bs, 128))
            out[f"{split}_x"], out[f"{split}_y"] = _compute(model, loader)
    finally:
        model.train(was_training)
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in out.items()}, str(tmp))
    return out, False


class Precomputed:
    """The frozen body's activations of the training and validation images, kept on `device`,
    and loaders over them that train the head's last layers alone (`Learner.precompute`)."""

    def __init__(self, model, data, device: torch.device):
        acts, _ = precomputed_activations(model, data, getattr(data, "cache_dir", None))
        self.acts = {k: v.to(device) for k, v in acts.items()}
        self.model, self.data = model, data

    def loaders(self, epoch: int):
        """(train loader, valid loader, module to train) for `epoch` (its own shuffle)."""
        a, bs = self.acts, self.data.bs
        seed = getattr(self.data, "seed", 42) + epoch
        return (TensorLoader(a["train_x"], a["train_y"], bs, shuffle=True, drop_last=True, seed=seed),
                TensorLoader(a["valid_x"], a["valid_y"], bs), self.model.head.fc)
