"""Training: the Learner, schedules, callbacks (early stopping, logs, MixUp/CutMix, EMA), metrics."""
from fastlearn.train.callbacks import Callback, KeepBest, ProgressTable, SaveEveryEpoch, StopOnNaN
from fastlearn.train.early_stopping import EarlyStopping
from fastlearn.train.ema import EMA
from fastlearn.train.learner import Learner, PrecomputeWarning
from fastlearn.train.loggers import CSVLogger, TensorBoardLogger
from fastlearn.train.lr_finder import LRFind
from fastlearn.train.metrics import accuracy, error_rate, log_loss, rmse, top5_accuracy, top_k_accuracy
from fastlearn.train.mixup import CutMix, MixUp
from fastlearn.train.recorder import Recorder
from fastlearn.train.snapshots import SaveCycles

__all__ = ["Learner", "PrecomputeWarning", "LRFind", "Recorder", "Callback", "ProgressTable", "SaveEveryEpoch",
           "KeepBest", "StopOnNaN", "EarlyStopping", "CSVLogger", "TensorBoardLogger", "MixUp", "CutMix", "EMA",
           "SaveCycles", "accuracy", "error_rate", "log_loss", "rmse", "top_k_accuracy", "top5_accuracy"]
