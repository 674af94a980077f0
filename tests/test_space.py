"""`fastlearn space`: a Hugging Face Space folder whose app.py, run as the Space runs it, predicts."""
import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.test_cli import run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_space_folder_serves_its_model_with_python_app_py(trained_digits, tmp_path):
    bundle = trained_digits.export(tmp_path / "run" / "model")
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"accuracy": 0.97, "epochs": 4}))
    out = tmp_path / "space"
    run("space", bundle, "--out", out, "--title", "Digits")
    assert {p.name for p in out.iterdir()} == {"app.py", "requirements.txt", "README.md", "model"}
    card = (out / "README.md").read_text()
    assert card.startswith("---\ntitle: Digits\nsdk: gradio\napp_file: app.py") and "accuracy 0.9700" in card
    assert "`3`" in card and "temperature" in card and "fastlearn[app]" in (out / "requirements.txt").read_text()
    assert "Pass --overwrite" in run("space", bundle, "--out", out, check=False).stderr  # finished work kept

    port = _free_port()
    server = subprocess.Popen([sys.executable, "app.py"], cwd=out, env={**__import__("os").environ, "PORT": str(port)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert json.loads(r.read())["status"] == "ok"
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"app.py did not start:\n{server.stdout.read().decode()[-3000:]}")
                time.sleep(0.5)
        path = trained_digits.data.paths_of("valid")[0]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=path.read_bytes(),
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
        assert answer["label"] == path.parent.name  # the digit the folder says
    finally:
        server.terminate()
        server.wait(timeout=30)
