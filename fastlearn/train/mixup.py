"""MixUp and CutMix for images: each training batch blended with itself reversed (MixUp: the
pixels; CutMix: a pasted rectangle), the targets in the same proportion. timm's `Mixup` does the
mixing; these callbacks apply it to training batches only (validation and predictions see plain
images). Cross-entropy takes the mixed (soft) targets as they are, label smoothing included."""
from __future__ import annotations

import torch

from fastlearn.train.callbacks import Callback

__all__ = ["MixUp", "CutMix"]


class _Mix(Callback):
    def __init__(self, mixup_alpha: float, cutmix_alpha: float):
        if max(mixup_alpha, cutmix_alpha) <= 0:
            raise ValueError("alpha must be above 0 (it shapes the Beta distribution the mixing weight is drawn from)")
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self._mixer = None

    def fit_begin(self, learn):
        name = type(self).__name__
        if getattr(learn.data, "kind", None) != "image":
            raise ValueError(f"{name} mixes images; this data is {getattr(learn.data, 'kind', '?')}")
        if learn.precompute:
            raise ValueError(f"{name} mixes images, and precompute trains on fixed activations: "
                             "set learn.precompute = False")
        from timm.data import Mixup
        # targets go in dense (one-hot or multi-hot) for both kinds, so timm's multi-label path serves both
        self._mixer = Mixup(mixup_alpha=self.mixup_alpha, cutmix_alpha=self.cutmix_alpha, label_smoothing=0.0,
                            num_classes=learn.data.c, multi_label=True)

    def batch_begin(self, learn, xb, yb):
        n = len(xb) - len(xb) % 2  # timm mixes pairs: an odd batch's last image stays as it is
        if n < 2:
            return xb, yb
        if not learn.multi_label:
            yb = torch.nn.functional.one_hot(yb, learn.data.c).float()
        xb, yb = xb.clone(), yb.float().clone()
        xb[:n], mixed = self._mixer(xb[:n], yb[:n])
        yb[:n] = mixed
        return xb, yb


class MixUp(_Mix):
    """MixUp (Zhang et al. 2018): each training image blended with another by a weight drawn
    from Beta(alpha, alpha), and the targets alike. `alpha` 0.2-0.4 is usual."""

    def __init__(self, alpha: float = 0.4):
        super().__init__(alpha, 0.0)


class CutMix(_Mix):
    """CutMix (Yun et al. 2019): a rectangle of another training image pasted in, the targets
    mixed by its area (drawn from Beta(alpha, alpha)). `alpha` 1.0 is usual."""

    def __init__(self, alpha: float = 1.0):
        super().__init__(0.0, alpha)
