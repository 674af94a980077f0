"""Data-parallel training under torchrun, on the CPU with gloo and two processes."""
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.train.toolbox_models import digits_at, linear_learner

SCRIPT = Path(__file__).with_name("ddp_script.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(*args, nproc: int = 2, timeout: int = 600, env: dict | None = None):
    """`torchrun --nproc_per_node N ARGS` (as `python -m torch.distributed.run`), on a free port."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
           "--master_port", str(_free_port()), *map(str, args)]
    full_env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    return r, time.perf_counter() - t0


@pytest.mark.parametrize("mode", ["equal", "accumulate"])
def test_two_ranks_with_half_batches_train_as_one_process_with_whole_ones(mode, mnist_root, tmp_path):
    r, _ = torchrun(SCRIPT, mnist_root, tmp_path, mode)  # 2 x 16, or 2 x (2 x 8) accumulated
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    ranks = torch.load(tmp_path / "weights.pt")
    one = linear_learner(digits_at(mnist_root, 32))
    one.fit(1e-3, 2)
    for k, v in one.model.state_dict().items():
        torch.testing.assert_close(ranks[k], v, atol=1e-6, rtol=1e-5)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["world_size"] == 2 and result["steps"] == 2 * one.iters_per_epoch
    # the validation metrics are the whole validation set's, the training loss the mean over ranks
    for mine, theirs in zip(result["rows"], one.recorder.rows):
        assert abs(mine["valid_loss"] - theirs["valid_loss"]) < 1e-4 and mine["accuracy"] == theirs["accuracy"]
        assert abs(mine["train_loss"] - theirs["train_loss"]) < 1e-4


def test_a_nan_on_one_rank_stops_both(mnist_root, tmp_path):
    r, seconds = torchrun(SCRIPT, mnist_root, tmp_path, "nan", timeout=300)
    assert r.returncode != 0 and seconds < 240
    text = r.stdout + r.stderr
    assert text.count("FloatingPointError") >= 2, text[-3000:]  # both ranks stopped on the same step
    assert not (tmp_path / "weights.pt").exists()


def test_a_killed_rank_ends_the_job_instead_of_hanging(mnist_root, tmp_path):
    r, seconds = torchrun(SCRIPT, mnist_root, tmp_path, "kill", timeout=300, env={"FASTLEARN_DIST_TIMEOUT": "60"})
    assert r.returncode != 0 and seconds < 240
    assert "Signal 9" in r.stderr or "SIGKILL" in r.stderr, r.stderr[-3000:]


def test_every_rank_takes_as_many_batches_and_together_all():
    from fastlearn.utils.distributed import own_batches
    for n in (0, 1, 5, 10, 11):
        shares = [own_batches(n, r, 3) for r in range(3)]
        assert len({len(s) for s in shares}) == 1  # no rank waits alone in an all-reduce
        assert set().union(*shares) == set(range(n))
    assert own_batches(7, 0, 1) == list(range(7))


def test_the_rate_rule_and_sync_bn_say_what_they_do(mnist_root):
    from fastlearn.utils.distributed import scaled_rate
    assert scaled_rate(1e-3, "sgd", 4) == pytest.approx(4e-3) and scaled_rate(1e-3, "adamw", 4) == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="sync_bn synchronises BatchNorm over GPUs"):
        linear_learner(digits_at(mnist_root, 32), sync_bn=True)
