"""Snapshot ensembles (Huang et al. 2017; fastai 0.7's `cycle_save_name`): the weights at the end
of each SGDR cycle, where the rate has annealed to a minimum, saved; their predictions averaged."""
from __future__ import annotations

import copy
import re

from fastlearn.train.callbacks import Callback

__all__ = ["SaveCycles", "cycle_ends", "snapshot_names", "ensemble_predictions"]


def cycle_ends(n_cycle: int, cycle_len: int, cycle_mult: int) -> list[int]:
    """The epochs (counted from 1 within the fit) at which each SGDR cycle ends."""
    ends, total = [], 0
    for k in range(n_cycle):
        total += cycle_len * cycle_mult ** k
        ends.append(total)
    return ends


class SaveCycles(Callback):
    """Saves the weights as `<name>_cyc_<k>` (in the Learner's model_dir) at the end of cycle k.
    `Learner.fit(..., cycle_save_name=name)` adds one."""

    def __init__(self, name: str, ends: list[int], initial_epoch: int = 0):
        self.name, self.ends, self.initial_epoch = name, ends, initial_epoch
        self._done = 0

    def fit_begin(self, learn):
        self._done = self.initial_epoch

    def epoch_end(self, learn, epoch, row):
        self._done += 1
        if self._done in self.ends:
            learn.save(f"{self.name}_cyc_{self.ends.index(self._done)}")


def snapshot_names(learn, name: str) -> list[str]:
    """The saved snapshots `<name>_cyc_<k>` in the Learner's model_dir, in cycle order."""
    found = []
    for p in learn.model_dir.glob(f"{name}_cyc_*.safetensors"):
        m = re.fullmatch(rf"{re.escape(name)}_cyc_(\d+)\.safetensors", p.name)
        if m:
            found.append((int(m.group(1)), p.name[: -len(".safetensors")]))
    return [n for _, n in sorted(found)]


def ensemble_predictions(learn, name: str, split: str = "valid"):
    """(probabilities averaged over the snapshots `name_cyc_*`, targets) of `split`; the
    Learner's own weights are back in place afterwards."""
    names = snapshot_names(learn, name)
    if not names:
        raise FileNotFoundError(f"no snapshots {name}_cyc_<k>.safetensors in {learn.model_dir}: "
                                f"train with learn.fit(lr, n_cycle, cycle_len=1, cycle_save_name={name!r}) first")
    current = copy.deepcopy(learn.model.state_dict())
    total, targets = None, None
    try:
        for n in names:
            learn.load(n)
            probs, targets = learn.predict(split)
            total = probs if total is None else total + probs
    finally:
        learn.model.load_state_dict(current)
    return total / len(names), targets
