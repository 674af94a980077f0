"""The HTML report is one self-contained page that a real browser renders without errors."""
import os
import shutil
import subprocess

import pytest


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI"):
        pytest.fail("CI must test the report in Chromium: .ci/run installs Debian's chromium package")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


def test_report_renders_in_headless_chromium(trained_digits, tmp_path):
    learn = trained_digits
    path = learn.report(tmp_path / "report.html")
    page = path.read_text()
    for section in ("Training", "Learning-rate finder", "Confusion matrix", "Top losses", "Calibration",
                    "Per-class metrics"):
        assert f"<h2>{section}</h2>" in page
    assert page.count("data:image/png;base64,") == 6 and "http" not in page.replace("http-equiv", "")
    out = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert 'data-figures="ok"' in out.stdout, "an embedded figure failed to decode in the browser"
