"""Models: pretrained bodies by name, the classifier head, layer groups."""
from fastlearn.models.classifier import Classifier
from fastlearn.models.heads import ClassifierHead, ConcatPool
from fastlearn.models.weights import WeightsUnavailableError
from fastlearn.models.zoo import DEFAULT_ARCH, create_body, create_classifier, list_models

__all__ = ["Classifier", "ClassifierHead", "ConcatPool", "WeightsUnavailableError",
           "DEFAULT_ARCH", "create_body", "create_classifier", "list_models"]
