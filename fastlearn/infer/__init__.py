"""Inference: predictions, TTA, evaluation, submissions, export bundles, ONNX."""
from fastlearn.infer.bundle import BundleError
from fastlearn.infer.predictions import Evaluation, evaluate, predict, probabilities, tta
from fastlearn.infer.predictor import Prediction, Predictor, load_learner

__all__ = ["BundleError", "Evaluation", "evaluate", "predict", "probabilities", "tta", "Prediction", "Predictor",
           "load_learner"]
