"""One contract every data kind passes: every verb a user has, from lr_find to the web app's
POST /predict, on images and on tables. A new data kind passes it or is not done."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from fastlearn import ImageData, Learner, TabularData, load_learner
from fastlearn.train import EMA, CSVLogger, EarlyStopping, TensorBoardLogger


class ImageKind:
    name = "image"
    bar = 0.4  # ten digits: chance is 0.1
    epochs = 3

    def __init__(self, mnist_root, titanic_df):
        data = ImageData.from_folder(mnist_root, size=32, bs=32, augment="none", max_zoom=1.0, progress=False)
        self.data = data.sample(320)

    def learner(self, **options):
        return Learner.pretrained("tf_efficientnet_lite0", self.data, seed=0, progress=False, **options)

    def items(self, tmp_path):
        """Held-out items as a user would pass them to a predictor, and as one web request body."""
        paths = self.data.paths_of("valid")[:8]
        return paths, paths[0].read_bytes(), "application/octet-stream"

    def script(self):  # how a fresh process reads the same items
        return "items = [Path(p) for p in json.loads(sys.argv[2])]"

    def arg(self, items, tmp_path):
        return json.dumps([str(p) for p in items])


class TableKind:
    name = "table"
    bar = 0.75  # survival: the majority class is 0.59
    epochs = 6  # a few steps an epoch (9 batches, accumulated in pairs): tables train for more epochs

    def __init__(self, mnist_root, titanic_df):
        self.df = titanic_df
        self.data = TabularData.from_df(titanic_df, "survived", valid_pct=0.2, seed=0)

    def learner(self, **options):
        return Learner.tabular(self.data, seed=0, progress=False, **options)

    def items(self, tmp_path):
        rows = self.df.iloc[self.data.valid_idx[:8]].drop(columns=["survived"])
        return rows, json.dumps(rows.iloc[0].to_dict()).encode(), "application/json"

    def script(self):
        return "import pandas as pd; items = pd.read_csv(sys.argv[2])"

    def arg(self, items, tmp_path):
        items.to_csv(tmp_path / "rows.csv", index=False)
        return str(tmp_path / "rows.csv")


class TextKind:
    name = "text"
    bar = 0.6  # positive or negative: chance is 0.5
    epochs = 3

    def __init__(self, mnist_root, titanic_df, reviews_df):
        from fastlearn import TextData
        self.data = TextData.from_df(reviews_df.sample(400, random_state=0), "text", "label", seed=0)

    def learner(self, **options):
        return Learner.pretrained("all-MiniLM-L6-v2", self.data, seed=0, progress=False, **options)

    def items(self, tmp_path):
        texts = [self.data.texts.iloc[i] for i in self.data.valid_idx[:8]]
        return texts, json.dumps({"text": texts[0]}).encode(), "application/json"

    def script(self):
        return "items = json.loads(sys.argv[2])"

    def arg(self, items, tmp_path):
        return json.dumps(items)


@pytest.fixture(params=[ImageKind, TableKind, TextKind], ids=lambda k: k.name)
def kind(request, mnist_root, titanic_df):
    if request.param is TextKind:
        return TextKind(mnist_root, titanic_df, request.getfixturevalue("reviews_df"))
    return request.param(mnist_root, titanic_df)


def test_every_verb_works_on_every_kind_of_data(kind, tmp_path):
    learn = kind.learner()
    finder = learn.lr_find()
    assert finder.lrs[0] <= finder.suggestion <= finder.lrs[-1]
    learn.fit_one_cycle(2, finder.suggestion)
    summary = learn.summary()  # every parameter in one layer group; frozen ones say so
    assert summary.groups["parameters"].sum() == sum(p.numel() for p in learn.model.parameters())
    frozen = [not any(p.requires_grad for p in g) for g in learn.model.layer_groups]
    assert list(~summary.groups["trainable"]) == frozen and "parameters" in str(summary)
    assert learn.validate()["accuracy"] > kind.bar  # well above chance
    probs, targets = learn.predict()
    n = len(kind.data.valid_idx)
    assert probs.shape == (n, kind.data.c) and torch.allclose(probs.sum(1), torch.ones(n), atol=1e-5)
    interp = learn.interpret()
    assert interp.confusion_matrix().sum() == n and interp.plot_top_losses(4) is not None
    report = learn.calibrate()
    assert report.temperature > 0 and learn.temperature == report.temperature
    bundle = learn.export(tmp_path / "model")

    items, body, content_type = kind.items(tmp_path)
    here = load_learner(bundle).probs(items)
    expected = learn.predict()[0]
    assert float((here - expected[:8]).abs().max()) < 1e-5  # the bundle predicts as the learner
    script = ("import sys, json, numpy as np; from pathlib import Path; from fastlearn import load_learner; "
              f"{kind.script()}; np.save(sys.argv[3], load_learner(sys.argv[1]).probs(items).numpy())")
    subprocess.run([sys.executable, "-c", script, str(bundle), kind.arg(items, tmp_path), str(tmp_path / "p.npy")],
                   check=True, timeout=300)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), here.numpy(), atol=1e-6)  # a fresh process agrees

    from starlette.testclient import TestClient

    from fastlearn.app import make_app
    with TestClient(make_app(bundle)) as client:
        r = client.post("/predict", content=body, headers={"Content-Type": content_type})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["label"] in kind.data.classes and answer["probability"] == pytest.approx(float(here[0].max()), abs=1e-5)
        assert client.post("/predict", content=b"", headers={"Content-Type": content_type}).status_code == 400


def test_the_training_toolbox_works_on_every_kind_of_data(kind, tmp_path):
    learn = kind.learner(accumulate=2, clip_grad=1.0, label_smoothing=0.1, model_dir=tmp_path / "models")
    lr = learn.lr_find().suggestion
    steps = learn.iters_per_epoch
    assert steps == -(-len(kind.data.train_dl) // 2)
    stopper = EarlyStopping(monitor="valid_loss", patience=2, restore_best=True)
    logs = [CSVLogger(tmp_path / "log.csv"), TensorBoardLogger(tmp_path / "tb")]
    learn.fit_one_cycle(kind.epochs, lr, callbacks=[stopper, *logs, EMA(0.8)])
    assert len(learn.recorder.losses) == learn.epoch * steps
    assert len((tmp_path / "log.csv").read_text().splitlines()) == learn.epoch + 1
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
    assert learn.validate()["accuracy"] > kind.bar
    learn.fit(lr / 2, 2, cycle_len=1, cycle_save_name="snap")
    probs, targets = learn.predict_ensemble("snap")
    assert float((probs.argmax(1) == targets).float().mean()) > kind.bar
    bundle = learn.export(tmp_path / "model")  # exports the weights the learner validates with
    items, _, _ = kind.items(tmp_path)
    assert float((load_learner(bundle).probs(items) - learn.predict()[0][:8]).abs().max()) < 1e-5
