"""Training: the Learner, schedules, callbacks, metrics, precomputed activations."""
from fastlearn.train.callbacks import Callback, KeepBest, ProgressTable, SaveEveryEpoch, StopOnNaN
from fastlearn.train.learner import Learner, PrecomputeWarning
from fastlearn.train.lr_finder import LRFind
from fastlearn.train.metrics import accuracy, error_rate, log_loss, rmse, top5_accuracy, top_k_accuracy
from fastlearn.train.recorder import Recorder

__all__ = ["Learner", "PrecomputeWarning", "LRFind", "Recorder", "Callback", "ProgressTable", "SaveEveryEpoch",
           "KeepBest", "StopOnNaN", "accuracy", "error_rate", "log_loss", "rmse", "top_k_accuracy", "top5_accuracy"]
