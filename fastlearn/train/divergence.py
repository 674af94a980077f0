"""Noticing and undoing a diverging fit: the weights of the best epoch come back, at a lower rate."""
from __future__ import annotations

import copy

from fastlearn.train.callbacks import Callback

__all__ = ["RollbackOnDivergence"]


class RollbackOnDivergence(Callback):
    """Keeps the weights of the best epoch so far (by the Learner's first metric, accuracy by
    default, else the validation loss). After an epoch whose validation loss rose above `factor`
    times the best epoch's (and by at least `min_rise`), puts back that epoch's weights and
    optimizer state, divides the learning rates by `lower` for the rest of training
    (`learn.lr_scale`), says so, and goes on; at most `max_rollbacks` times. At the end of a fit
    whose last epoch scores below the best by more than `final_margin` (of the metric; relative,
    for the loss), the best epoch's weights are put back, saying so. What happened is in
    `learn.rollbacks`. A training loss that explodes or becomes NaN in the middle of an epoch
    (`StopOnNaN`) is undone the same way, when a best epoch exists, instead of stopping the fit.
    Epochs are compared only on the same data: after `set_data` (progressive resizing) the best
    starts again. A Learner has one by default; remove it from
    `learn.callbacks` to turn it off."""

    def __init__(self, factor: float = 1.5, min_rise: float = 0.1, lower: float = 10.0, max_rollbacks: int = 3,
                 final_margin: float = 0.01):
        self.factor, self.min_rise, self.lower = factor, min_rise, lower
        self.max_rollbacks, self.final_margin = max_rollbacks, final_margin
        self._best: dict | None = None

    def fit_begin(self, learn):
        if self._best is not None and self._best["data"] is not learn.data:
            self._best = None  # scores on other data (another size, a sample) do not compare

    @staticmethod
    def _score(learn, row: dict) -> float | None:
        """Higher is better: the first metric (negated when it has `lower_is_better`, as RMSE),
        else minus the validation loss."""
        if learn.metrics:
            m = learn.metrics[0]
            name = getattr(m, "__name__", type(m).__name__)
            if name in row:
                return -row[name] if getattr(m, "lower_is_better", False) else row[name]
        return None if row.get("valid_loss") is None else -row["valid_loss"]

    def _keep(self, learn, epoch: int, loss: float, score: float) -> None:
        self._best = {"epoch": epoch, "valid_loss": loss, "score": score, "data": learn.data,
                      "model": {k: v.detach().clone() for k, v in learn.model.state_dict().items()},
                      "opt": copy.deepcopy(learn.opt.state_dict()) if learn.opt is not None else None}

    def _restore(self, learn) -> None:
        learn.model.load_state_dict(self._best["model"])
        if learn.opt is not None:
            if self._best["opt"] is not None:
                learn.opt.load_state_dict(self._best["opt"])
            else:  # a best epoch read back from a checkpoint: its moments were not kept
                learn.opt.state.clear()
        learn._activations = None

    def best(self) -> dict | None:
        """The best epoch so far: its number, validation loss, score and weights (a state dict)."""
        return None if self._best is None else {k: self._best[k] for k in ("epoch", "valid_loss", "score", "model")}

    def set_best(self, learn, epoch: int, valid_loss: float, score: float, model_state: dict) -> None:
        """Take the best epoch from a checkpoint (resuming a run): its weights, not its optimizer state."""
        self._best = {"epoch": epoch, "valid_loss": valid_loss, "score": score, "data": learn.data,
                      "model": model_state, "opt": None}

    def epoch_end(self, learn, epoch, row):
        loss, score = row.get("valid_loss"), self._score(learn, row)
        if loss is None or loss != loss or score is None or score != score:  # NaN: StopOnNaN's business
            return
        best = self._best
        if best is None or score > best["score"] or (score == best["score"] and loss < best["valid_loss"]):
            self._keep(learn, epoch, loss, score)
            return
        diverged = loss > best["valid_loss"] * self.factor and loss - best["valid_loss"] >= self.min_rise
        if diverged:
            self.roll_back(learn, epoch, f"validation loss {loss:.4f} rose far above the best "
                                         f"({best['valid_loss']:.4f}, epoch {best['epoch']})", valid_loss=loss)

    def can_roll_back(self, learn) -> bool:
        """Whether a best epoch on this data is kept and rollbacks are left."""
        return (self._best is not None and self._best["data"] is learn.data
                and len(learn.rollbacks) < self.max_rollbacks)

    def roll_back(self, learn, epoch: int, why: str, valid_loss: float | None = None) -> bool:
        """Put back the best epoch's weights and divide the rates by `lower`, saying `why`;
        False (nothing done) when `can_roll_back` is not."""
        if not self.can_roll_back(learn):
            return False
        best = self._best
        self._restore(learn)
        learn.lr_scale /= self.lower
        learn.rollbacks.append({"epoch": epoch, "valid_loss": valid_loss, "reason": why, "back_to_epoch": best["epoch"],
                                "best_valid_loss": best["valid_loss"], "lr_scale": learn.lr_scale})
        print(f"epoch {epoch}: {why}: the weights of epoch {best['epoch']} are back and the learning rates "
              f"are now {learn.lr_scale:g}x")
        return True

    def fit_end(self, learn):
        rows = [r for r in learn.recorder.rows if "valid_loss" in r]
        best = self._best
        if best is None or not rows or rows[-1]["epoch"] == best["epoch"]:
            return
        last = self._score(learn, rows[-1])
        if last is None or last != last:
            return
        relative = not learn.metrics or getattr(learn.metrics[0], "lower_is_better", False)
        margin = self.final_margin * (abs(best["score"]) if relative else 1.0)
        if last < best["score"] - margin:
            self._restore(learn)
            learn.rollbacks.append({"epoch": rows[-1]["epoch"], "valid_loss": rows[-1]["valid_loss"],
                                    "back_to_epoch": best["epoch"], "best_valid_loss": best["valid_loss"],
                                    "lr_scale": learn.lr_scale, "at_end": True})
            print(f"the last epoch (validation score {last:.4f}) is worse than epoch {best['epoch']} "
                  f"({best['score']:.4f}): the model keeps epoch {best['epoch']}'s weights")
