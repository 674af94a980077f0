"""Run under torchrun by tests/train/test_distributed.py: one short fit, then rank 0 writes what
the test compares. argv: MNIST_ROOT OUT MODE, MODE one of equal, accumulate (batches of 8, two
to a step), nan, kill."""
import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fastlearn.train import Callback  # noqa: E402
from fastlearn.utils import distributed  # noqa: E402
from tests.train.toolbox_models import digits_at, linear_learner  # noqa: E402


class Trouble(Callback):
    """On rank 1 only, at its third batch: a NaN in the inputs, or the process killed."""

    def __init__(self, mode):
        self.mode, self.n = mode, 0

    def batch_begin(self, learn, xb, yb):
        self.n += 1
        if distributed.rank() == 1 and self.n == 3:
            if self.mode == "nan":
                return xb * float("nan"), yb
            if self.mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
        return xb, yb


root, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
learn = linear_learner(digits_at(root, 8), accumulate=2) if mode == "accumulate" else linear_learner(digits_at(root, 16))
learn.fit(1e-3, 2, callbacks=[Trouble(mode)])
if distributed.is_main():
    torch.save(learn.model.state_dict(), out / "weights.pt")
    (out / "result.json").write_text(json.dumps({"rows": learn.recorder.rows, "world_size": learn.world_size,
                                                 "steps": len(learn.recorder.losses)}))
