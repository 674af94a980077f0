"""The names the 2018 course lessons use, as thin aliases over fastlearn, so the lessons' cells run
as written (with these imports in place of `from fastai.conv_learner import *`):

    from fastlearn.course import ImageClassifierData, ConvLearner, tfms_from_model, transforms_side_on
    tfms = tfms_from_model(arch, sz, aug_tfms=transforms_side_on, max_zoom=1.1)
    data = ImageClassifierData.from_paths(PATH, tfms=tfms, bs=64)
    learn = ConvLearner.pretrained(arch, data, precompute=True)
    learn.lr_find(); learn.sched.plot()
    learn.fit(1e-2, 3, cycle_len=1)
    log_preds, y = learn.TTA(); probs = np.mean(np.exp(log_preds), 0)

`arch` is a timm name (`fastlearn.course.resnet34` and the lessons' other architectures download
their weights on first use; "tf_efficientnet_lite0" works offline). Each alias says what it maps to.
"""
from fastlearn.course.archs import (
    dn121, inception_4, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50, resnext101, vgg16, wrn,
)
from fastlearn.course.data import (
    CourseImageData, ImageClassifierData, Tfms, get_cv_idxs, tfms_from_model, transforms_basic, transforms_side_on,
    transforms_top_down,
)
from fastlearn.course.learner import ConvLearner, CourseMetric
from fastlearn.course.metrics import accuracy_np, f2, to_np
from fastlearn.course.plots import plot_confusion_matrix, plots, plots_from_files

__all__ = ["ImageClassifierData", "CourseImageData", "ConvLearner", "CourseMetric", "tfms_from_model", "Tfms",
           "transforms_side_on", "transforms_top_down", "transforms_basic", "get_cv_idxs", "accuracy_np", "f2",
           "to_np", "plots", "plots_from_files", "plot_confusion_matrix", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnet152", "resnext50", "resnext101", "wrn", "dn121", "inception_4", "vgg16"]
