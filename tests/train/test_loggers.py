"""CSV and TensorBoard logs, written while training runs."""
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from fastlearn.train import Callback, CSVLogger, TensorBoardLogger
from tests.train.toolbox_models import digits_at, linear_learner


class _ReadsTheLog(Callback):
    order = 10  # after the logger

    def __init__(self, path):
        self.path, self.seen = path, []

    def epoch_end(self, learn, epoch, row):
        self.seen.append(len(pd.read_csv(self.path)))


def test_csv_logger_writes_each_epoch_as_it_ends_and_keeps_existing_files(mnist_root, tmp_path):
    path = tmp_path / "logs" / "train.csv"
    learn = linear_learner(digits_at(mnist_root, 32))
    reader = _ReadsTheLog(path)
    logger = CSVLogger(path)
    learn.fit(1e-3, 3, callbacks=[logger, reader])
    assert reader.seen == [1, 2, 3]  # on disk after every epoch, not at the end
    log = pd.read_csv(path)
    assert list(log.columns) == ["epoch", "train_loss", "valid_loss", "accuracy", "time"]
    assert log["valid_loss"].tolist() == pytest.approx(learn.recorder.metric("valid_loss"))
    learn.fit(1e-3, 1, callbacks=[logger])  # the same logger goes on in its file
    assert len(pd.read_csv(path)) == 4
    with pytest.raises(FileExistsError, match="append=True"):
        learn.fit(1e-3, 1, callbacks=[CSVLogger(path)])
    assert len(pd.read_csv(path)) == 4  # untouched
    learn.fit(1e-3, 1, callbacks=[CSVLogger(path, append=True)])
    assert pd.read_csv(path)["epoch"].tolist() == [0, 1, 2, 3, 4]
    learn.fit(1e-3, 1, callbacks=[CSVLogger(path, overwrite=True)])
    assert pd.read_csv(path)["epoch"].tolist() == [5]


def test_tensorboard_logger_writes_scalars_tensorboard_reads(mnist_root, tmp_path):
    pytest.importorskip("tensorboard", reason="pip install tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    learn = linear_learner(digits_at(mnist_root, 32))
    learn.fit(slice(1e-3), 2, callbacks=[TensorBoardLogger(tmp_path / "tb", every=1)])
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "lr/group_0", "epoch/valid_loss", "epoch/accuracy", "epoch/train_loss"} <= tags
    assert len(events.Scalars("train/loss")) == 2 * learn.iters_per_epoch
    valid = [e.value for e in events.Scalars("epoch/valid_loss")]
    assert valid == pytest.approx(learn.recorder.metric("valid_loss"))
    assert events.Scalars("lr/group_0")[0].value == pytest.approx(1e-3)


def _tensorboard_scalars(log_dir, run: str, tag: str) -> list:
    """The scalars a real `tensorboard` server shows for `tag` (started on a free port, then stopped)."""
    exe = Path(sys.executable).with_name("tensorboard")
    proc = subprocess.Popen([str(exe), "--logdir", str(log_dir), "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, url = time.time() + 120, None
        while url is None and time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError("tensorboard exited before serving")
            m = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            url = m.group(1) if m else None
        assert url, "tensorboard did not start within 2 minutes"
        query = f"{url}/data/plugin/scalars/scalars?run={run}&tag={tag}"
        for _ in range(60):  # it reads the event files in the background after starting
            try:
                with urllib.request.urlopen(query, timeout=10) as r:
                    values = [value for _, _, value in json.loads(r.read())]
                    if values:
                        return values
            except urllib.error.HTTPError:  # the run is not loaded yet
                pass
            time.sleep(1)
        raise AssertionError(f"tensorboard never showed {tag}")
    finally:
        proc.kill()
        proc.wait()


def test_a_tensorboard_server_shows_the_validation_loss(mnist_root, tmp_path):
    pytest.importorskip("tensorboard", reason="pip install tensorboard")
    learn = linear_learner(digits_at(mnist_root, 32))
    learn.fit(1e-3, 2, callbacks=[TensorBoardLogger(tmp_path / "tb" / "digits")])
    shown = _tensorboard_scalars(tmp_path / "tb", "digits", "epoch/valid_loss")
    assert shown == pytest.approx(learn.recorder.metric("valid_loss"))
