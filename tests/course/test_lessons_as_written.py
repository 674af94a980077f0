"""The 2018 course's lesson 1 and lesson 2 (Planet) notebooks, their code cells as published, run
top to bottom on `fastlearn.course` and the embedded data.

What differs from the published notebooks, and only this: the cells importing fastai 0.7
(`from fastai.conv_learner import *`, `from planet import f2`) are replaced by one cell of explicit
imports from fastlearn.course that binds `resnet34` to the Lite0 network a package ships (the
machine is offline); lesson 1 runs at `sz=64` instead of 224 (a 2-core CPU); the data are the
embedded MNIST 3s ("cats") and 8s ("dogs") laid out as dogscats/ is, and generated shape tiles laid
out as Planet's train-jpg/ and train_v2.csv. Cells that linked Crestle's copy of the data are left out.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fastlearn.datasets import mnist_folders, shape_tiles

LESSONS = Path(__file__).resolve().parent / "lessons"

SETUP = """\
import os, PIL, numpy as np, matplotlib.pyplot as plt, torch
from glob import glob
from fastlearn.course import (ConvLearner, ImageClassifierData, accuracy_np, f2, get_cv_idxs,
    plot_confusion_matrix, plots, plots_from_files, tfms_from_model, to_np, transforms_side_on, transforms_top_down)
resnet34 = "tf_efficientnet_lite0"  # the lessons' network needs a download; Lite0's weights are packaged
"""


FASTAI_IMPORTS = ("from fastai", "from planet import")  # lines the SETUP cell stands in for


def _run_lesson(name: str, cwd: Path, changes: dict[str, str], record: str) -> dict:
    """Runs the lesson's cells in a fresh kernel from `cwd`; `changes` maps a whole cell to its
    replacement; `record` is a last cell (added, not changing the lesson) writing what the test checks."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(LESSONS / name, as_version=4)
    cells, seen = [nbformat.v4.new_code_cell(SETUP)], set()
    for cell in nb.cells:
        src = "\n".join(ln for ln in cell.source.splitlines() if not ln.startswith(FASTAI_IMPORTS))
        if src in changes:
            seen.add(src)
            src = changes[src]
        cells.append(nbformat.v4.new_code_cell(src))
    assert seen == set(changes), f"cells not found in {name}: {set(changes) - seen}"
    cells.append(nbformat.v4.new_code_cell(record))
    nb.cells = cells
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return json.loads((cwd / "results.json").read_text())


def _dogscats(root: Path) -> Path:
    """MNIST 3s and 8s in dogscats/'s layout: {train,valid}/{cats,dogs}/."""
    src = mnist_folders(root / "digits", digits=(3, 8), seed=0)
    for split in ("train", "valid"):
        for digit, animal in (("3", "cats"), ("8", "dogs")):
            dest = root / "dogscats" / split / animal
            dest.mkdir(parents=True)
            for p in sorted((src / split / digit).glob("*.png")):
                (dest / p.name).write_bytes(p.read_bytes())
    return root / "dogscats"


def _planet(root: Path, n: int = 96, n_test: int = 8) -> Path:
    """Shape tiles in Planet's layout: train-jpg/train_<i>.jpg, train_v2.csv (image_name,tags), test-jpg/."""
    tiles = shape_tiles(root / "tiles", n=n + n_test, size=128, seed=0)
    labels = pd.read_csv(tiles / "labels.csv", keep_default_na=False)
    dest = root / "planet"
    (dest / "train-jpg").mkdir(parents=True)
    (dest / "test-jpg").mkdir()
    rows = []
    for i, (name, tags) in enumerate(zip(labels.image_name, labels.tags)):
        im = Image.open(tiles / "train" / f"{name}.png").convert("RGB")
        if i < n:
            im.save(dest / "train-jpg" / f"train_{i}.jpg", quality=95)
            rows.append((f"train_{i}", tags or "clear"))  # Planet has no tile without a tag
        else:
            im.save(dest / "test-jpg" / f"test_{i - n}.jpg", quality=95)
    pd.DataFrame(rows, columns=["image_name", "tags"]).to_csv(dest / "train_v2.csv", index=False)
    return dest


def test_lesson1_as_published_dogs_and_cats(tmp_path):
    _dogscats(tmp_path / "data")
    res = _run_lesson("lesson1.ipynb", tmp_path, {"sz=224": "sz=64"}, record="""\
import json
json.dump({"tta_accuracy": accuracy_np(np.stack([1 - probs, probs], 1), y), "classes": data.classes,
           "confusion": cm.tolist(), "binary_loss": float(binary_loss(acts, preds)),
           "saved": sorted(os.listdir(f"{PATH}models"))}, open("results.json", "w"))
""")
    assert res["classes"] == ["cats", "dogs"]
    assert res["tta_accuracy"] > 0.95, res
    assert np.trace(res["confusion"]) > 0.95 * np.sum(res["confusion"])
    assert abs(res["binary_loss"] - 0.164252) < 1e-5  # the lesson's worked example
    assert {"224_lastlayer.safetensors", "224_all.safetensors"} <= set(res["saved"]), res["saved"]


def test_lesson2_as_published_planet(tmp_path):
    _dogscats(tmp_path / "data")
    _planet(tmp_path / "data")
    res = _run_lesson("lesson2-image_models.ipynb", tmp_path, {}, record="""\
import json
all_tags = f2(np.ones_like(preds), y)  # the score of answering every tag everywhere
json.dump({"f2": float(f2(preds, y)), "all_tags": float(all_tags), "saved": sorted(os.listdir(f"{PATH}models")),
           "f2_by_epoch": learn.recorder.metric("f2")}, open("results.json", "w"))
""")
    assert res["f2"] > max(0.75, res["all_tags"] + 0.05), res
    assert {"64.safetensors", "128.safetensors", "256.safetensors"} <= set(res["saved"]), res["saved"]
    assert len(res["f2_by_epoch"]) == 42  # the metric, written for NumPy, scored every epoch of the 3 sizes
