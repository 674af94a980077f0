"""The layering the architecture promises, checked by import-linter on every import (lazy
ones inside functions too): the core imports no data kind, and the kinds not each other."""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_core_imports_no_data_kind_and_the_kinds_not_each_other():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    r = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0 and "3 kept, 0 broken" in r.stdout, r.stdout[-3000:]
