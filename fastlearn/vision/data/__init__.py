"""Image data: finding, decoding, caching, augmenting and batching labelled images."""
from fastlearn.vision.data.augment import BatchAugment, Dihedral, Flip, Lighting, Rotate, Zoom
from fastlearn.vision.data.image_data import IMAGENET_STATS, BadImageWarning, ImageData
from fastlearn.vision.data.images import BadImageError, open_rgb
from fastlearn.vision.data.items import IMAGE_EXTENSIONS, DataError, random_split

__all__ = [
    "ImageData", "random_split", "DataError", "BadImageWarning", "BadImageError", "open_rgb",
    "IMAGE_EXTENSIONS", "IMAGENET_STATS",
    "BatchAugment", "Flip", "Dihedral", "Rotate", "Zoom", "Lighting",
]
