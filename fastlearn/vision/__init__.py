"""Images: folders and CSVs of labelled images, the decode-once cache, batch augmentation,
pretrained bodies with the course's head, precomputed activations, the image predictor, and the
CPU convolution kernels (`fastlearn.vision.kernels`)."""
from fastlearn.vision.data import ImageData, random_split
from fastlearn.vision.models import list_models

__all__ = ["ImageData", "random_split", "list_models"]
