"""The fastai comparison's own side runs on a tiny data set (not timed: no speed is asserted)."""
import importlib.util
from pathlib import Path

import pytest
import torch
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "compare_fastai.py"


@pytest.fixture(scope="module")
def compare():
    spec = importlib.util.spec_from_file_location("compare_fastai", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fastlearn_side_and_ceiling_run_and_the_table_reports_every_phase(compare, tmp_path):
    from fastlearn.datasets import mnist_folders
    root = mnist_folders(tmp_path / "digits", n=300)
    case = dict(name="tiny digits", data=str(root), arch="tf_efficientnet_lite0", pretrained=True, size=32, bs=32,
                epochs=1, lr=1e-2, accuracy=True, warm=True)
    run = compare.spawn("fastlearn", case, tmp_path, seed=0)  # a fresh process, its memory sampled from here
    assert list(run["phases"]) == ["load", "lr_find", "frozen epoch", "frozen epoch, warm", "unfrozen epoch",
                                   "unfrozen epoch, warm", "predict", "tta"]
    assert run["n_train"] + run["n_valid"] == 300
    for phase, row in run["phases"].items():
        assert row["seconds"] > 0 and row["peak_mb"] > 50, phase
        # the model alone, measured right before and after every phase that has an efficiency
        assert ("ceilings" in row) == (phase not in ("load", "lr_find")), phase
    assert [set(c) for c in run["phases"]["frozen epoch"]["ceilings"]] == [{"frozen_train_img_s", "eval_img_s"}] * 2
    for c in run["phases"]["unfrozen epoch"]["ceilings"]:  # a whole training step costs more than a forward pass
        assert c["eval_img_s"] > c["train_img_s"] > 0
    assert run["phases"]["tta"]["images"] == 5 * run["n_valid"]
    assert 0.15 < run["accuracy"] <= 1.0  # better than chance (0.1) on ten digits
    # The table as the script prints it; here fastlearn is in both columns, so every ratio is 1.
    text = compare.table(case, {"fastlearn": [run], "fastai": [run]})
    for phase in run["phases"]:
        row = next(line for line in text.splitlines() if line.startswith(f"| {phase} |"))
        assert row.split("|")[4].strip() == "1.00", row
    # accuracy beside every training phase's time, and the predictions' and TTA's
    assert "| fastlearn accuracy | fastai accuracy |" in text
    assert 0 <= run["phases"]["frozen epoch"]["accuracy"] <= 1
    frozen_row = next(line for line in text.splitlines() if line.startswith("| frozen epoch |"))
    assert frozen_row.count(f"{100 * run['phases']['frozen epoch']['accuracy']:.1f}%") == 2
    predict_row = next(line for line in text.splitlines() if line.startswith("| predict |"))
    assert f"{100 * run['accuracy']:.1f}%" in predict_row
    # Two runs: efficiency from the warm (second) run, against the ceilings measured around it.
    slow = {**run, "phases": {name: {**row, "ceilings": [{k: v / 2 for k, v in c.items()} for c in row["ceilings"]]}
                              if "ceilings" in row else row for name, row in run["phases"].items()}}
    two = compare.table(case, {"fastlearn": [run, slow], "fastai": [run, run]})
    one = compare.table(case, {"fastlearn": [run], "fastai": [run]})
    eff = lambda t: float(next(ln for ln in t.splitlines() if ln.startswith("| predict |")).split("|")[9])  # noqa: E731
    assert eff(two) == pytest.approx(eff(one) * 2, rel=0.05)  # half the speed: twice the ceiling time


def test_the_ceiling_measures_a_copy_and_leaves_the_model_as_it_was(compare):
    from fastlearn.vision.models.zoo import create_classifier
    model = create_classifier("resnet18", 10, pretrained=False)
    model.freeze_to(-1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = [p.requires_grad for p in model.parameters()]
    case = dict(size=32, bs=8)
    speeds = compare.model_ceiling(model, case, ("train_img_s", "frozen_train_img_s", "eval_img_s"), steps=2)
    assert set(speeds) == {"train_img_s", "frozen_train_img_s", "eval_img_s"} and min(speeds.values()) > 0
    assert [p.requires_grad for p in model.parameters()] == trainable
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_generated_photos_are_photo_sized_jpegs_in_class_folders(compare, tmp_path):
    root = compare.generated_photos(tmp_path / "photos", n=50, classes=10)
    files = sorted(root.rglob("*.jpg"))
    classes = {f"class{c}" for c in range(10)}
    assert len(files) == 50 and {f.parent.name for f in files} == classes
    for split in ("train", "valid"):  # every class in both splits, or no library can train on it
        assert {f.parent.name for f in (root / split).rglob("*.jpg")} == classes
    with Image.open(files[0]) as im:
        assert im.format == "JPEG" and 440 <= im.width < 560 and 330 <= im.height < 420
    assert compare.generated_photos(tmp_path / "photos", n=50, classes=10) == root  # reused, not rewritten


def test_measuring_the_ceiling_leaves_the_random_stream_of_the_measured_run_alone(compare):
    from fastlearn.vision.models.zoo import create_classifier
    model = create_classifier("resnet18", 10, pretrained=False)  # its head has dropout
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    compare.model_ceiling(model, dict(size=32, bs=8), ("train_img_s",), steps=1)
    assert torch.equal(torch.rand(3), expected)


def test_a_run_told_not_to_measures_no_ceiling_and_still_times_every_phase(compare, tmp_path):
    # main() skips the cold first run's ceilings when warm runs follow: their efficiency is not reported
    from fastlearn.datasets import mnist_folders
    root = mnist_folders(tmp_path / "digits", n=80)
    case = dict(name="tiny digits", data=str(root), arch="tf_efficientnet_lite0", pretrained=True, size=32, bs=16,
                epochs=1, lr=1e-2, accuracy=True, ceilings=False)
    run = compare.worker_fastlearn(case, tmp_path, seed=0)
    assert list(run["phases"]) == ["load", "lr_find", "frozen epoch", "unfrozen epoch", "predict", "tta"]
    assert all(row["seconds"] > 0 and "ceilings" not in row for row in run["phases"].values())
