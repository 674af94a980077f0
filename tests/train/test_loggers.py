"""CSV and TensorBoard logs, written while training runs."""
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
