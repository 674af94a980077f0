"""Models: pretrained bodies by name, the classifier head, layer groups."""
from fastlearn.vision.models.classifier import Classifier
from fastlearn.vision.models.heads import ClassifierHead, ConcatPool
from fastlearn.vision.models.weights import WeightsUnavailableError
from fastlearn.vision.models.zoo import DEFAULT_ARCH, create_body, create_classifier, list_models

__all__ = ["Classifier", "ClassifierHead", "ConcatPool", "WeightsUnavailableError",
           "DEFAULT_ARCH", "create_body", "create_classifier", "list_models"]
