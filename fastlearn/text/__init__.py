"""Texts: Hugging Face encoders (offline by default: the all-MiniLM-L6-v2 a package ships),
texts tokenized once and cached, batches of similar lengths, the text predictor."""
from fastlearn.text.data import TextData
from fastlearn.text.model import TextClassifier

__all__ = ["TextData", "TextClassifier"]
