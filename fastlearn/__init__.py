"""fastlearn: the fast.ai course's system on today's PyTorch, for images and tables.

    from fastlearn import ImageData, TabularData, Learner, load_learner
    data = ImageData.from_folder("path/to/images", size=224)
    learn = Learner.pretrained("tf_efficientnet_lite0", data); learn.fine_tune(3)

    data = TabularData.from_csv("titanic.csv", target="survived")
    learn = Learner.tabular(data); learn.fit_one_cycle(10, 1e-2)

The names below are the public API; they are imported when first used, so that `fastlearn
--help` answers without loading PyTorch.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_WHERE = {
    "ImageData": "fastlearn.vision.data", "random_split": "fastlearn.vision.data",
    "list_models": "fastlearn.vision.models", "pretrained_predictor": "fastlearn.vision.imagenet",
    "TabularData": "fastlearn.tabular.data",
    "TextData": "fastlearn.text.data",
    "Learner": "fastlearn.train.learner", "load_learner": "fastlearn.load",
    "Interpretation": "fastlearn.interpret.interpretation", "seed_everything": "fastlearn.utils.seed",
}
__all__ = [*_WHERE, "__version__"]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastlearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_WHERE))
