"""The packaged network with its own ImageNet head names what is in real photos."""
import os
import subprocess
import sys

import pytest

from fastlearn import pretrained_predictor


@pytest.fixture(scope="module")
def photos():
    foolbox = pytest.importorskip("foolbox", reason="foolbox ships the labelled photos (the dev extra installs it)")
    folder = os.path.join(os.path.dirname(foolbox.__file__), "data")
    files = sorted(f for f in os.listdir(folder) if f.startswith("imagenet_") and f.endswith(".jpg"))
    return [os.path.join(folder, f) for f in files], [int(f.rsplit("_", 1)[1].split(".")[0]) for f in files]


def test_the_packaged_lite0_names_imagenet_categories_of_real_photos(photos):
    paths, labels = photos
    predictor = pretrained_predictor("tf_efficientnet_lite0")
    assert len(predictor.classes) == 1000 and predictor.classes[281].startswith("tabby")
    probs = predictor.probs(paths)
    top5 = probs.topk(5, dim=1).indices.tolist()
    top1 = sum(t[0] == y for t, y in zip(top5, labels))
    assert len(paths) == 20 and top1 >= 15 and sum(y in t for t, y in zip(top5, labels)) >= 18
    yurt = predictor.predict(paths[8])  # imagenet_08_915: a yurt
    assert yurt.label == "yurt" and yurt.probability > 0.5


def test_predict_pretrained_from_the_command_line(photos):
    paths, _ = photos
    out = subprocess.run([sys.executable, "-m", "fastlearn", "predict", "--pretrained", "tf_efficientnet_lite0",
                          paths[13], paths[8]], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert [line.split("\t")[1] for line in out.stdout.strip().splitlines()] == ["cannon", "yurt"]
