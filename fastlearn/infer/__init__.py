"""Inference: predictions, TTA, evaluation, submissions, export bundles, the predictor protocol."""
from fastlearn.infer.bundle import BundleError
from fastlearn.infer.predictions import Evaluation, evaluate, predict, probabilities, tta
from fastlearn.infer.predictor import Prediction, Predictor

__all__ = ["BundleError", "Evaluation", "evaluate", "predict", "probabilities", "tta", "Prediction", "Predictor"]
