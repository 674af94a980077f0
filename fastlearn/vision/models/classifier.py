"""A pretrained body plus a new head, with layer groups that can be frozen and given their own rates."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fastlearn.vision.models.groups import body_blocks, split_groups
from fastlearn.vision.models.heads import ClassifierHead

__all__ = ["Classifier", "NORM_LAYERS"]

NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
"""Normalisation layers whose scale and shift `train_bn` trains in frozen groups (timm's
LayerNorm2d is an nn.LayerNorm)."""


class Classifier(nn.Module):
    """`head(body(x))` where `body` maps images to feature maps of `n_features` channels.

    `layer_groups` lists, for each group, the parameters in it (early body ... head);
    `freeze_to(n)` freezes groups before n, BatchNorm statistics included, so a frozen group
    stays exactly as it was (unless `bn_adapt` or `train_bn`, below). `meta` records what is
    needed to rebuild and feed the model (arch, input statistics, weights source).
    """

    def __init__(self, body: nn.Module, n_features: int, n_out: int, n_groups: int = 3,
                 ps: tuple[float, float] = (0.25, 0.5), hidden: int = 512, meta: dict | None = None,
                 train_bn: bool = False):
        super().__init__()
        if n_groups < 2:
            raise ValueError("n_groups must be at least 2 (one body group and the head)")
        self.body = body
        self.head = ClassifierHead(n_features, n_out, hidden, ps)
        self.n_features, self.n_out = n_features, n_out
        self.meta = dict(meta or {})
        named = dict(self.named_parameters())
        body_groups = split_groups(body_blocks(body), n_groups - 1)
        self._body_names = [[f"body.{n}" for n in g] for g in body_groups]
        covered = {n for g in self._body_names for n in g}
        missing = [n for n in named if n not in covered and not n.startswith("head.")]
        if missing:  # parameters outside the matcher's blocks go with the last body group
            self._body_names[-1].extend(missing)
        self.custom_head = False
        self._frozen_before = 0
        self.bn_frozen = False  # True: every BatchNorm keeps its running statistics, even unfrozen
        # True: BatchNorm layers in frozen groups still normalise with batch statistics in training
        # (and update their running statistics), though no gradient enters the body. The head then
        # learns on the features it will see once the body is unfrozen, instead of on ImageNet's
        # statistics that vanish at unfreeze; on data unlike ImageNet that switch lost most of what
        # the head had learned. It is for training that will unfreeze (fine_tune and the recipe
        # turn it on): a body that stays frozen did better on its pretrained statistics (shape
        # tiles F2 0.976 against 0.931 adapted). False: frozen groups keep them (fastai 0.7).
        self.bn_adapt = False
        self._train_bn = bool(train_bn)
        self.freeze_to(n_groups - 1)

    @property
    def _group_names(self) -> list[list[str]]:
        """Parameter names per layer group: the body's, fixed; the head's, whatever the head is now."""
        return self._body_names + [[n for n, _ in self.named_parameters() if n.startswith("head.")]]

    def replace_head(self, head: nn.Module) -> None:
        """Put `head` (features (n, n_features, h, w) -> outputs) in place of the head; it is the
        last layer group and trains whatever is frozen. A bundle cannot rebuild a head of your
        own (it holds no code), so `export` refuses one: save the weights with `learn.save`."""
        self.head = head
        self.custom_head = True
        self.freeze_to(self._frozen_before)

    @property
    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters of each layer group, early body first, head last."""
        named = dict(self.named_parameters())
        return [[named[n] for n in g] for g in self._group_names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def features(self, x: torch.Tensor, body: nn.Module | None = None) -> torch.Tensor:
        """The pooled body activations the head's trainable part starts from; `body` runs in
        place of `self.body` when given (the same body with its BatchNorm folded, say)."""
        return self.head.pool((self.body if body is None else body)(x))

    # ----- freezing -------------------------------------------------------------------------
    @property
    def train_bn(self) -> bool:
        """True: the scale and shift of frozen groups' normalisation layers (`NORM_LAYERS`) still
        train, BatchNorm on batch statistics, as fastai's `train_bn=True` does.

        `create_classifier` turns it on for random bodies only: a frozen random body otherwise
        leaves the head to learn from random features (resnet18 from scratch on the digits, one
        frozen and one unfrozen epoch: 76.4% without, 90.8% with, fastai 87.0%). A pretrained body
        keeps it off: its frozen epoch then needs no backward pass through the body, and its
        activations can be precomputed."""
        return self._train_bn

    @train_bn.setter
    def train_bn(self, value: bool) -> None:
        self._train_bn = bool(value)
        self.freeze_to(self._frozen_before)

    @property
    def n_groups(self) -> int:
        return len(self._group_names)

    @property
    def frozen_groups(self) -> int:
        """How many leading groups are frozen."""
        return self._frozen_before

    def freeze_to(self, n: int) -> None:
        """Freeze groups 0..n-1 and unfreeze the rest (negative n counts from the end)."""
        if n < 0:
            n += self.n_groups
        if not 0 <= n <= self.n_groups:
            raise ValueError(f"freeze_to({n}): the model has {self.n_groups} layer groups")
        self._frozen_before = n
        norms = {id(p) for m in self.modules() if isinstance(m, NORM_LAYERS)
                 for p in m.parameters()} if self._train_bn else set()
        for i, group in enumerate(self.layer_groups):
            for p in group:
                p.requires_grad_(i >= n or id(p) in norms)
        self.train(self.training)

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if mode:
            frozen = {id(p) for g in self.layer_groups[: self._frozen_before] for p in g}
            for name, m in self.named_modules():
                if not isinstance(m, nn.modules.batchnorm._BatchNorm):
                    continue
                if (self.bn_frozen and name.startswith("body.")) or (not (self.bn_adapt or self._train_bn)
                                                                     and any(id(p) in frozen for p in m.parameters())):
                    m.eval()  # running statistics stay put
        return self

    def body_frozen(self) -> bool:
        """True when every body group is frozen, BatchNorm included (its activations are fixed:
        precompute is possible)."""
        return self._frozen_before >= self.n_groups - 1 and not self._train_bn

    def for_evaluation(self):
        """A context giving this model with its BatchNorm folded into the convolutions before
        it: what the Learner evaluates with (the same outputs, fewer operations)."""
        from fastlearn.vision.kernels.fold_batchnorm import batchnorm_folded
        return batchnorm_folded(self)

    def bundle_config(self) -> dict:
        """What rebuilds this model for an export bundle (its weights apart)."""
        m = self.meta
        rebuilt = ClassifierHead(self.n_features, self.n_out, m["hidden"], tuple(m["ps"]))
        shapes = lambda head: [(n, tuple(t.shape)) for n, t in head.state_dict().items()]  # noqa: E731
        if self.custom_head or shapes(rebuilt) != shapes(self.head):
            raise ValueError("this model has a head of your own, which a bundle cannot rebuild (bundles hold "
                             "weights and settings, no code): save its weights with learn.save(name) and "
                             "rebuild the head before learn.load(name)")
        return {"arch": m["arch"], "n_features": self.n_features, "n_groups": m["n_groups"], "hidden": m["hidden"],
                "ps": m["ps"], "weights_source": m.get("weights")}

    def param_groups(self, lrs: Sequence[float]) -> list[dict]:
        """Optimizer parameter groups, one per layer group, each with its own `lr`."""
        return [{"params": g, "lr": lr} for g, lr in zip(self.layer_groups, lrs)]
