"""The notebooks and scripts in examples/ run start to finish on the embedded data, as a user runs them."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script, out, *extra):
    """As each script's header says: `python examples/SCRIPT OUT_DIR`, OUT_DIR relative to where it runs."""
    r = subprocess.run([sys.executable, str(EXAMPLES / script), "out", *extra], capture_output=True, text=True,
                       timeout=900, env=dict(os.environ, PYTHONUNBUFFERED="1"), cwd=out)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads((out / "out" / "results.json").read_text())


def _execute(notebook, where):
    """The notebook top to bottom in a fresh kernel, from `where` (its outputs go to runs/ there)."""
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(EXAMPLES / notebook, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(where)}}).execute()
    return nb


def test_every_notebook_is_tested():
    assert {p.name for p in EXAMPLES.glob("*.ipynb")} == set(NOTEBOOKS)


NOTEBOOKS = {"lesson1_2018.ipynb": "lesson1", "lesson2_2018.ipynb": "lesson2", "lesson2_2017.ipynb": "lesson2_2017",
             "lesson3_2022.ipynb": "lesson3"}


def _results(notebook, tmp_path):
    _execute(notebook, tmp_path)
    return json.loads((tmp_path / "runs" / NOTEBOOKS[notebook] / "results.json").read_text())


def test_lesson1_2018_threes_and_eights(tmp_path):
    res = _results("lesson1_2018.ipynb", tmp_path)
    assert res["accuracy"] > 0.97 and res["tta_accuracy"] > 0.95
    for view in res["views"]:
        assert (tmp_path / "runs" / "lesson1" / f"{view}.png").is_file()
    sub = pd.read_csv(tmp_path / "runs" / "lesson1" / "submission.csv")
    assert list(sub.columns) == ["id", "8"] and len(sub) == 60 and sub["8"].between(0, 1).all()


def test_lesson2_2018_digits_from_a_csv(tmp_path):
    res = _results("lesson2_2018.ipynb", tmp_path)
    assert res["tta_accuracy"] > 0.88 and res["log_loss"] < 0.4
    sub = pd.read_csv(tmp_path / "runs" / "lesson2" / "submission.csv")
    assert list(sub.columns) == ["id"] + [str(d) for d in range(10)] and len(sub) == 50


def test_lesson2_2017_categories_a_linear_model_on_them_and_a_new_head(tmp_path):
    res = _results("lesson2_2017.ipynb", tmp_path)
    assert res["imagenet_top1"] >= 0.75 and res["linear_on_probabilities"] > 0.55
    assert res["dense_head"] > 0.9 and res["fine_tuned"] > 0.9


def test_lesson3_2022_foundations_and_the_spreadsheet(tmp_path):
    res = _results("lesson3_2022.ipynb", tmp_path)
    assert abs(res["quadratic"][0] - 3.0) < 0.5 and res["relu_errors"]["32"] < res["relu_errors"]["1"] / 10
    assert res["accuracy"] > 0.75 and res["accuracy"] >= res["logistic_regression"] - 0.03
    assert (tmp_path / "runs" / "lesson3" / "titanic.xlsx").is_file() and 0.05 < res["spreadsheet_loss"] < 0.25


def test_planet_progressive_resizing(tmp_path):
    res = _run("planet.py", tmp_path, "--quick")  # 64 then 128 px in CI; the full run goes on to 256
    f2 = res["f2_at_0.2"]
    assert set(f2) == {"64", "128"} and min(f2.values()) > 0.85 and res["f2_optimised"] > 0.93
    assert len(res["thresholds"]) == 5 and (tmp_path / "out" / "model" / "manifest.json").is_file()


def test_sentiment_fine_tuning_regression_and_tags(tmp_path):
    res = _run("sentiment.py", tmp_path, "--quick")  # 1,500 sentences in CI
    assert res["accuracy"] > 0.72 and res["accuracy"] >= res["baseline_accuracy"] - 0.03
    assert res["calibration"]["ece_after"] <= res["calibration"]["ece_before"] + 1e-6
    assert res["pearson"] > 0.5 and res["f2_optimised"] >= res["f2"] and len(res["tag_thresholds"]) == 3
    assert res["predictions"] == ["positive", "negative"]
    assert (tmp_path / "out" / "top_losses.png").is_file() and (tmp_path / "out" / "sentiment" / "manifest.json").is_file()
