"""An exponential moving average of the weights (Polyak averaging): a shadow model that follows
training slowly, which often validates better than the last step's weights."""
from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from fastlearn.train.callbacks import Callback

__all__ = ["EMA"]


class EMA(Callback):
    """Keeps `shadow = decay * shadow + (1 - decay) * weights` after every optimizer step
    (PyTorch's `AveragedModel`, BatchNorm statistics averaged too). Validation at each epoch's
    end scores the shadow weights, and when the fit ends they become the model's, so `export`,
    `predict` and later fits use them. Training itself goes on from its own weights. `decay`
    0.999 suits fits of thousands of steps; for a few hundred, 0.99. After a rollback
    (`RollbackOnDivergence`) the shadow starts again from the restored weights."""

    order = -10  # the training weights come back before other callbacks look at the model

    def __init__(self, decay: float = 0.999):
        if not 0 < decay < 1:
            raise ValueError(f"decay must be between 0 and 1, got {decay}")
        self.decay = decay
        self.shadow: AveragedModel | None = None
        self._training_state: dict | None = None
        self._rollbacks = 0

    def fit_begin(self, learn):
        if self.shadow is None:
            self.shadow = AveragedModel(learn.model, multi_avg_fn=get_ema_multi_avg_fn(self.decay), use_buffers=True)
        self._rollbacks = len(learn.rollbacks)

    def batch_end(self, learn, loss):
        if len(learn.rollbacks) != self._rollbacks:  # the weights were put back: follow them from there
            self._rollbacks = len(learn.rollbacks)
            self._copy(learn.model.state_dict(), self.shadow.module)
        self.shadow.update_parameters(learn.model)

    def validate_begin(self, learn):
        self._training_state = {k: v.clone() for k, v in learn.model.state_dict().items()}
        self._copy(self.shadow.module.state_dict(), learn.model)

    def epoch_end(self, learn, epoch, row):
        if self._training_state is not None:
            learn.model.load_state_dict(self._training_state)
            self._training_state = None

    def fit_end(self, learn):
        if self._training_state is not None:  # a fit interrupted between validation and epoch_end
            learn.model.load_state_dict(self._training_state)
            self._training_state = None
        if self.shadow is not None and self.shadow.n_averaged.item() > 0:
            self._copy(self.shadow.module.state_dict(), learn.model)

    @staticmethod
    @torch.no_grad()
    def _copy(state: dict, module: torch.nn.Module) -> None:
        for k, v in module.state_dict().items():
            v.copy_(state[k])
