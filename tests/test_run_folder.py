"""A run folder: a crash loses at most the epoch in flight, and a resume finishes on the same schedule."""
import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.test_cli import FASTLEARN, run


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from fastlearn.datasets import mnist_folders
    return mnist_folders(tmp_path_factory.mktemp("runfolder") / "digits", n=400)


ARGS = ("--size", "32", "--bs", "32", "--epochs", "3", "--augment", "side_on", "--lr", "auto")


def _kill_after_epochs(cmd: list[str], metrics, n: int) -> None:
    """Start `cmd`, SIGKILL it as soon as metrics.csv has `n` epoch rows."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            try:
                if len(pd.read_csv(metrics)) >= n:
                    break
            except (FileNotFoundError, pd.errors.EmptyDataError):
                pass
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)


def test_kill_9_then_resume_gives_the_uninterrupted_run(digits, tmp_path):
    whole = tmp_path / "whole"
    run("train", digits, *ARGS, "--out", whole)
    killed = tmp_path / "killed"
    _kill_after_epochs([FASTLEARN, "train", str(digits), *ARGS, "--out", str(killed)], killed / "metrics.csv", 1)
    state = json.loads((killed / "state.json").read_text())
    assert not state["finished"] and state["epoch"] >= 1
    r = run("train", digits, *ARGS, "--out", killed, check=False)  # without --resume: refused, offered
    assert r.returncode == 1 and "unfinished run" in r.stderr and "--resume" in r.stderr
    r = run("train", digits, *ARGS, "--out", killed, "--resume")
    assert f"resuming the run in {killed} after epoch {state['epoch']} of 3" in r.stdout
    a, b = pd.read_csv(whole / "metrics.csv"), pd.read_csv(killed / "metrics.csv")
    assert list(b["epoch"]) == [0, 1, 2]  # every epoch exactly once, numbered from 0
    for col in ("train_loss", "valid_loss", "accuracy"):
        assert b[col].tolist() == pytest.approx(a[col].tolist(), rel=1e-4, abs=1e-6), col
    assert json.loads((killed / "summary.json").read_text())["accuracy"] == pytest.approx(
        json.loads((whole / "summary.json").read_text())["accuracy"], abs=1e-6)
    ckpts = sorted(p.name for p in (killed / "checkpoints").iterdir() if not p.name.startswith("best-"))
    assert ckpts == ["checkpoint.json", "epoch-3.opt.safetensors", "epoch-3.safetensors"]  # the last one only
    assert len(list((killed / "checkpoints").glob("best-*.safetensors"))) == 1  # and the best epoch's weights


def test_resume_refuses_other_data_naming_it(digits, tmp_path):
    out = tmp_path / "run"
    _kill_after_epochs([FASTLEARN, "train", str(digits), *ARGS, "--out", str(out)], out / "metrics.csv", 1)
    extra = digits / "train" / "3" / "extra.png"
    extra.write_bytes((digits / "train" / "3" / sorted(os.listdir(digits / "train" / "3"))[0]).read_bytes())
    try:
        r = run("train", digits, *ARGS, "--out", out, "--resume", check=False)
    finally:
        extra.unlink()
    assert r.returncode == 1 and "the data changed" in r.stderr


def test_a_diverging_loss_that_never_becomes_nan_stops_the_run(digits, tmp_path):
    out = tmp_path / "run"
    r = run("train", digits, "--size", "32", "--bs", "32", "--epochs", "2", "--lr", "1e6", "--out", out, check=False)
    assert r.returncode == 1 and "exploded" in r.stderr and "smaller --lr" in r.stderr
    assert not (out / "model").exists()  # no model exported from a diverged run
    assert json.loads((out / "checkpoints" / "checkpoint.json").read_text())["epoch"] == 0  # the last good weights
