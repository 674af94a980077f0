"""Every snippet of the README runs: the Python blocks in order, as one session, in a fresh
folder (the image folder it names is the real digits at a small size), and every command line
parses."""
import os
import re
import shlex
from pathlib import Path

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_the_readme_python_runs_as_written(tmp_path, monkeypatch):
    from fastlearn.datasets import mnist_folders
    matplotlib.use("Agg")
    images = mnist_folders(tmp_path / "digits", n=400)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FASTLEARN_CACHE", str(tmp_path / "cache"))
    namespace: dict = {}
    blocks = _blocks("python")
    assert len(blocks) >= 7
    for i, block in enumerate(blocks):
        # a small copy of the digits stands for "path/to/images", at a size a CPU test can afford
        code = block.replace("path/to/images", str(images)).replace("size=224", "size=32")
        try:
            exec(compile(code, f"README.md python block {i + 1}", "exec"), namespace)
        except Exception as e:
            pytest.fail(f"README python block {i + 1} failed: {type(e).__name__}: {e}\n{block}")
    assert (tmp_path / "titanic-model" / "manifest.json").is_file() and (tmp_path / "digits-model").is_dir()
    assert namespace["summary"]["model"] in ("net", "gbm", "ensemble")


def test_every_readme_command_line_parses():
    from fastlearn.cli import _parser
    lines = [ln for block in _blocks("bash") for ln in block.splitlines() if ln.startswith("fastlearn ")]
    assert len(lines) >= 7
    for line in lines:
        args = shlex.split(line.split("#")[0])[1:]
        _parser().parse_args(args)  # exits (failing the test) on an argument the command line does not take


def test_the_make_targets_the_readme_names_exist():
    make = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", README, flags=re.M):
        assert re.search(rf"^{target}:", make, flags=re.M), target
    assert os.path.exists(ROOT / "tests" / "test_layers.py") and os.path.exists(ROOT / "tests" / "test_contract.py")
