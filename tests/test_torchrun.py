"""`fastlearn train` data-parallel on two CPU processes (gloo), launched by `--nproc 2` (torchrun),
for images, a table and texts: the run folder as one process writes it, and the accuracy of one
process with the same total batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

FASTLEARN = str(Path(sys.executable).with_name("fastlearn"))


def train(*args, timeout=900):
    env = dict(os.environ, OMP_NUM_THREADS="1")  # two processes on two cores
    r = subprocess.run([FASTLEARN, "train", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def _summary(out):
    return json.loads((out / "summary.json").read_text())


def test_images_on_two_processes_match_one(tmp_path):
    from fastlearn.datasets import mnist_folders
    digits = mnist_folders(tmp_path / "digits", n=1000)
    common = ("--size", 32, "--epochs", 3, "--lr", "2e-3", "--augment", "none")
    r = train(digits, *common, "--bs", 16, "--nproc", 2, "--out", tmp_path / "two")
    train(digits, *common, "--bs", 32, "--out", tmp_path / "one")
    two, one = _summary(tmp_path / "two"), _summary(tmp_path / "one")
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert abs(two["accuracy"] - one["accuracy"]) <= 0.01, (two["accuracy"], one["accuracy"])
    assert r.stdout.count("run folder") == 1 and r.stdout.count("ImageData(") == 1  # rank 0 alone prints
    for name in ("model/manifest.json", "metrics.csv", "report.html", "checkpoints/checkpoint.json"):
        assert (tmp_path / "two" / name).is_file(), name


def test_a_table_on_two_processes_matches_one(tmp_path, titanic_csv):
    common = ("--target", "survived", "--lr", "2e-3", "--folds", 5)  # every row scored once: 1 point is 7 rows
    train(titanic_csv, *common, "--bs", 32, "--nproc", 2, "--out", tmp_path / "two")
    train(titanic_csv, *common, "--bs", 64, "--out", tmp_path / "one")
    two, one = _summary(tmp_path / "two"), _summary(tmp_path / "one")
    assert two["world_size"] == 2
    assert abs(two["models"]["net"]["mean"] - one["models"]["net"]["mean"]) <= 0.01, (two["models"], one["models"])


def test_texts_on_two_processes(tmp_path, reviews_df):
    reviews_df.sample(600, random_state=0).to_csv(tmp_path / "movie.csv", index=False)
    train(tmp_path / "movie.csv", "--text", "text", "--target", "label", "--epochs", 2, "--bs", 16, "--nproc", 2,
          "--out", tmp_path / "two")
    summary = _summary(tmp_path / "two")
    assert summary["world_size"] == 2 and summary["accuracy"] > 0.6
    assert (tmp_path / "two" / "model" / "manifest.json").is_file()
