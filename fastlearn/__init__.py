"""fastlearn: point it at labelled images, get a state-of-the-art classifier.

    from fastlearn import ImageData, Learner
    data = ImageData.from_folder("path/to/images", size=224)
    learn = Learner.pretrained("tf_efficientnet_lite0", data); learn.fine_tune(3)
"""
from fastlearn.vision.data import ImageData, random_split
from fastlearn.infer import load_learner
from fastlearn.interpret import Interpretation
from fastlearn.vision.models import list_models
from fastlearn.train import Learner
from fastlearn.utils.seed import seed_everything

__version__ = "0.1.0"
__all__ = ["ImageData", "Learner", "Interpretation", "list_models", "load_learner", "random_split",
           "seed_everything", "__version__"]
