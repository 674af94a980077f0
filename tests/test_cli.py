"""Every subcommand through the real command line."""
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

FASTLEARN = str(Path(sys.executable).with_name("fastlearn"))


def run(*args, check=True, timeout=600):
    out = subprocess.run([FASTLEARN, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"fastlearn {' '.join(map(str, args))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


@pytest.fixture(scope="module")
def small_digits(tmp_path_factory):
    from fastlearn.datasets import mnist_folders
    return mnist_folders(tmp_path_factory.mktemp("cli") / "digits", n=600)


@pytest.fixture(scope="module")
def trained_run(small_digits, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    result = run("train", small_digits, "--size", 32, "--bs", 32, "--epochs", 2, "--lr", "auto", "--augment", "none",
                 "--tta", "--out", out)
    return out, result


def test_train_writes_the_run_folder(trained_run):
    out, result = trained_run
    for name in ("metrics.csv", "lr_find.png", "confusion.png", "report.html", "summary.json",
                 "model/manifest.json", "model/model.safetensors"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["classes"] == [str(d) for d in range(10)]
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns) == ["epoch", "train_loss", "valid_loss", "accuracy", "time"] and len(metrics) == 2
    # the exported model's score: the last epoch's, or the best epoch's when the last fell below it
    assert any(summary["accuracy"] == pytest.approx(a, abs=1e-6) for a in metrics["accuracy"])
    assert summary["accuracy"] >= metrics["accuracy"].iloc[-1] - 1e-6
    assert 0 <= summary["tta_accuracy"] <= 1 and summary["images_per_second"] > 0
    assert {"arch", "size", "seconds", "valid_loss"} <= set(summary)
    # 15 steps an epoch: the small-data choices, each said and recorded
    assert summary["lr_rule"] == "valley" and "rule: valley" in result.stdout
    assert summary["body_batchnorm"] == "keep" and "keep their pretrained statistics" in result.stdout
    assert "epoch" in result.stdout and "train_loss" in result.stdout


def test_predict_gives_an_unreadable_file_a_row_and_predicts_the_rest(trained_run, small_digits, tmp_path):
    import shutil
    out, _ = trained_run
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in sorted((small_digits / "valid" / "4").glob("*.png"))[:3]:
        shutil.copy(p, folder / p.name)
    (folder / "broken.png").write_bytes(b"not a png")
    r = run("predict", out / "model", folder, "--csv", tmp_path / "p.csv")
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert len(table) == 4 and list(table.columns) == ["file", "label", "probability", "error"]
    broken = table[table["file"].str.endswith("broken.png")].iloc[0]
    assert "not an image" in broken["error"] and broken["label"] == ""
    assert (table["error"] == "").sum() == 3 and "1 of 4 file(s) could not be read" in r.stderr
    r = run("predict", out / "model", folder / "broken.png", check=False)
    assert r.returncode == 1 and "none of the 1 file(s)" in r.stderr


def test_evaluate_scores_only_the_held_out_images_of_a_folder_without_valid(tmp_path):
    from fastlearn.datasets import mnist_folders
    flat = mnist_folders(tmp_path / "digits", n=300) / "train"  # class folders, no valid/: a random split
    out = tmp_path / "run"
    run("train", flat, "--size", 32, "--bs", 32, "--epochs", 1, "--augment", "none", "--valid-pct", 0.3, "--out", out)
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    n = summary["train_images"] + summary["valid_images"]
    assert summary["valid_images"] == round(0.3 * n)  # the share asked for, not the default 0.2
    assert len(manifest["valid_files"]) == summary["valid_images"]
    r = run("evaluate", out / "model", flat)
    assert f"evaluating on the {summary['valid_images']} image(s)" in r.stdout
    accuracy = float(r.stdout.split("accuracy ")[1].split(",")[0])
    assert accuracy == pytest.approx(summary["accuracy"], abs=1e-3)  # the run's own held-out score


def test_a_finished_run_is_never_replaced_by_accident(small_digits, trained_run):
    out, _ = trained_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    r = run("train", small_digits, "--size", 32, "--bs", 32, "--epochs", 1, "--out", out, check=False)
    assert r.returncode == 1 and "already holds a finished run" in r.stderr and "--resume" in r.stderr
    assert "--overwrite" in r.stderr and _one_error_line(r.stderr)
    again = run("train", small_digits, "--size", 32, "--bs", 32, "--epochs", 2, "--lr", "auto", "--augment", "none",
                "--tta", "--out", out, "--resume")
    assert "already finished" in again.stdout
    r = run("train", small_digits, "--size", 32, "--bs", 32, "--epochs", 3, "--augment", "none", "--out", out,
            "--resume", check=False)
    assert r.returncode == 1 and "epochs: 2 then, 3 now" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before  # nothing changed
    state = json.loads((out / "state.json").read_text())
    assert state["finished"] and state["epoch"] == 2 and state["settings"]["size"] == 32


def test_lr_find_evaluate_predict_export(small_digits, trained_run, tmp_path):
    out, _ = trained_run
    r = run("lr-find", small_digits, "--size", 32, "--bs", 32, "--out", tmp_path / "lr.png")
    assert (tmp_path / "lr.png").is_file() and "suggestion=" in r.stdout
    r = run("evaluate", out / "model", small_digits)
    assert "accuracy" in r.stdout and "precision" in r.stdout
    some = sorted((small_digits / "valid" / "7").glob("*.png"))[:3]
    r = run("predict", out / "model", *some, small_digits / "valid" / "1", "--csv", tmp_path / "p.csv", "--top", 2)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 + len(list((small_digits / "valid" / "1").glob("*.png")))
    assert lines[0].startswith(str(some[0])) and (tmp_path / "p.csv").is_file()
    r = run("predict", out / "model", *some, "--tta", check=False)  # trained with --augment none
    assert r.returncode == 1 and "no training augmentation" in r.stderr
    run("export", out / "model", "--onnx", tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").stat().st_size > 1_000_000


def _one_error_line(stderr: str) -> bool:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "error:" in lines[-1] and sum("error" in line for line in lines) == 1 and "Traceback" not in stderr


@pytest.mark.parametrize("args, says", [
    (["--epochs", "0"], "--epochs: must be a whole number >= 1, got 0"),
    (["--epochs", "-2"], "--epochs: must be a whole number >= 1, got -2"),
    (["--lr", "0"], "--lr: must be 'auto' or a positive"),
    (["--lr", "inf"], "--lr: must be 'auto' or a positive"),
    (["--bs", "0"], "--bs: must be a whole number >= 1"),
    (["--size", "4"], "--size: must be a whole number >= 16"),
    (["--resume", "--overwrite"], "not allowed with argument"),
    (["--valid-pct", "1.5"], "--valid-pct: must be a share between 0 and 1"),
    (["--valid-pct", "0"], "--valid-pct: must be a share between 0 and 1"),
])
def test_bad_arguments_are_refused_in_one_line_before_any_work(tmp_path, args, says):
    r = run("train", tmp_path / "nowhere", *args, "--out", tmp_path / "run", check=False)
    assert r.returncode == 2 and says in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_errors_are_one_line_with_nonzero_exit(tmp_path, small_digits):
    r = run("train", tmp_path / "nowhere", check=False)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "nowhere" in r.stderr and _one_error_line(r.stderr)
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    r = run("train", tmp_path / "empty", check=False)
    assert r.returncode == 1 and "no images" in r.stderr and _one_error_line(r.stderr)
    r = run("train", small_digits, "--arch", "resnet3", "--size", 32, check=False)
    assert r.returncode == 1 and "unknown architecture" in r.stderr and r.stderr.count("\n") == 1  # before any decoding
    r = run("--debug", "train", tmp_path / "nowhere", check=False)
    assert r.returncode == 1 and "Traceback" in r.stderr
    r = run("train", tmp_path / "nowhere", "--debug", check=False)  # after the command too
    assert r.returncode == 1 and "Traceback" in r.stderr
    r = subprocess.run([sys.executable, "-m", "fastlearn", "predict", tmp_path / "no-model", "x.png"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "not a fastlearn bundle" in r.stderr


def test_serve_answers_json_and_survives_bad_uploads(trained_run, small_digits):
    out, _ = trained_run
    proc = subprocess.Popen([FASTLEARN, "serve", str(out / "model"), "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        digit = sorted((small_digits / "valid" / "7").glob("*.png"))[0].read_bytes()
        ok = json.loads(urllib.request.urlopen(urllib.request.Request(url + "predict", data=digit)).read())
        assert ok["label"] in [str(d) for d in range(10)] and len(ok["top"]) == 5
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url + "predict", data=b"<html>no</html>"))
        assert e.value.code == 400 and "not an image" in json.loads(e.value.read())["error"]
        again = json.loads(urllib.request.urlopen(urllib.request.Request(url + "predict", data=digit)).read())
        assert again == ok
    finally:
        proc.terminate()
        proc.wait(10)


def test_demo_runs_through_the_cli(tmp_path):
    out = tmp_path / "demo"
    r = run("demo", "--out", out, "--size", 32, "--epochs", 1)
    assert "validation" not in r.stderr.lower()
    assert (out / "batch.png").is_file() and (out / "report.html").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["train_images"] == 4000 and "tta_accuracy" in summary


def test_train_multi_label_from_a_csv(tmp_path):
    from fastlearn.datasets import shape_tiles
    root = shape_tiles(tmp_path / "tiles", n=200)
    out = tmp_path / "run"
    r = run("train", root, "--csv", "labels.csv", "--suffix", ".png", "--multi-label", "--size", 32, "--bs", 32,
            "--epochs", 1, "--lr", "1e-2", "--augment", "top_down", "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["classes"] == ["circle", "cross", "square", "stripe", "triangle"]
    assert summary["f2_optimised"] >= summary["f2"] and len(summary["thresholds"]) == 5
    assert "F2" in r.stdout and (out / "model" / "manifest.json").is_file()
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["multi_label"] and manifest["threshold"] == summary["thresholds"]
    r = run("predict", out / "model", root / "train" / "tile_00000.png")
    assert r.stdout.startswith(str(root / "train" / "tile_00000.png"))
    r = run("predict", out / "model", "--tta", root / "train" / "tile_00000.png", root / "train" / "tile_00001.png")
    assert len(r.stdout.strip().splitlines()) == 2  # top_down views replayed from the bundle


def test_help_and_argument_errors_answer_without_loading_pytorch():
    # what makes `fastlearn --help` answer at once: nothing heavy is imported to parse arguments
    code = ("import sys; from fastlearn.cli import main\n"
            "try:\n    main(['train', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'pandas', 'timm', 'lightgbm') if m in sys.modules]\n"
            "print('heavy:', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "--target" in r.stdout and "heavy: []" in r.stdout, r.stdout + r.stderr


def test_train_with_the_training_toolbox(small_digits, tmp_path, titanic_csv):
    out, tb = tmp_path / "run", tmp_path / "tb"
    run("train", small_digits, "--size", 32, "--bs", 16, "--epochs", 3, "--lr", "2e-3", "--augment", "none",
        "--accumulate", 2, "--clip-grad", 1.0, "--label-smoothing", 0.1, "--mixup", 0.2, "--ema", 0.9,
        "--early-stop", 1, "--tensorboard", tb, "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["training"] == {"accumulate": 2, "clip_grad": 1.0, "label_smoothing": 0.1, "mixup": 0.2,
                                   "ema": 0.9, "early_stop": 1, "tensorboard": str(tb)}
    assert summary["accuracy"] > 0.5 and (out / "model" / "manifest.json").is_file()
    assert any(tb.glob("events.out.tfevents.*"))
    r = run("train", titanic_csv, "--target", "survived", "--mixup", 0.4, "--out", tmp_path / "t", check=False)
    assert r.returncode != 0 and "--mixup and --cutmix mix images; this data is table" in r.stderr
    assert not (tmp_path / "t").exists()
    run("train", titanic_csv, "--target", "survived", "--epochs", 4, "--accumulate", 2, "--label-smoothing", 0.1,
        "--tensorboard", tb / "titanic", "--out", tmp_path / "t")
    assert json.loads((tmp_path / "t" / "summary.json").read_text())["settings"]["training"]["accumulate"] == 2
