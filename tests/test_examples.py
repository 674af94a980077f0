"""The lesson scripts in examples/ run start to finish on the embedded data."""
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


def test_lesson1_threes_and_eights(tmp_path):
    res = _run("lesson1.py", tmp_path)
    assert res["accuracy"] > 0.97 and res["tta_accuracy"] > 0.95
    for view in res["views"]:
        assert (tmp_path / "out" / f"{view}.png").is_file()
    sub = pd.read_csv(tmp_path / "out" / "submission.csv")
    assert list(sub.columns) == ["id", "8"] and len(sub) == 60 and sub["8"].between(0, 1).all()


def test_lesson2_digits_from_a_csv(tmp_path):
    res = _run("lesson2.py", tmp_path)
    assert res["tta_accuracy"] > 0.88 and res["log_loss"] < 0.4
    sub = pd.read_csv(tmp_path / "out" / "submission.csv")
    assert list(sub.columns) == ["id"] + [str(d) for d in range(10)] and len(sub) == 50


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
