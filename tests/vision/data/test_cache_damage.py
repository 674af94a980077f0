"""Any damage to the image cache is noticed, said in one line, and rebuilt; never fatal, never silent."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastlearn.vision.data.cache import CacheWarning, ImageCache
from tests.conftest import run_as_user


@pytest.fixture
def built(shapes_root, tmp_path):
    paths = sorted(shapes_root.rglob("*.png"))
    cache = ImageCache.open(paths, 16, cache_dir=tmp_path / "c")
    arr, meta = tmp_path / "c" / f"{cache.key}.npy", tmp_path / "c" / f"{cache.key}.json"
    return paths, cache, arr, meta


def _reopen(paths, tmp_path, match):
    with pytest.warns(CacheWarning, match=match):
        again = ImageCache.open(paths, 16, cache_dir=tmp_path / "c")
    assert again.built
    return again


def test_a_zero_byte_array_left_by_a_power_cut_is_rebuilt(built, tmp_path):
    paths, cache, arr, _ = built
    good = np.array(cache.pixels)
    del cache  # unmap it before the file shrinks under it
    arr.write_bytes(b"")
    again = _reopen(paths, tmp_path, "damaged .*empty")
    np.testing.assert_array_equal(again.pixels, good)


def test_flipped_bytes_in_a_cache_of_the_right_size_are_caught_by_the_checksum(built, tmp_path):
    paths, cache, arr, _ = built
    good = np.array(cache.pixels)
    raw = bytearray(arr.read_bytes())
    raw[-5000:] = bytes(255 - b for b in raw[-5000:])
    arr.write_bytes(bytes(raw))
    again = _reopen(paths, tmp_path, "checksum does not match")
    np.testing.assert_array_equal(again.pixels, good)
    assert not ImageCache.open(paths, 16, cache_dir=tmp_path / "c").built  # and the rebuilt one is trusted


@pytest.mark.parametrize("change", [
    lambda m: {**m, "shapes": "oops"},
    lambda m: {**m, "bad": ["a list"]},
    lambda m: {**m, "bad": {"999999": "far outside"}},
    lambda m: {**m, "retry": "x"},
    lambda m: {k: v for k, v in m.items() if k != "checksum"},
    lambda m: [m],
], ids=["shapes", "bad-type", "bad-index", "retry", "no-checksum", "not-an-object"])
def test_metadata_with_wrong_types_is_damage(built, tmp_path, change):
    paths, cache, _, meta = built
    meta.write_text(json.dumps(change(json.loads(meta.read_text()))))
    _reopen(paths, tmp_path, "damaged")


def test_a_missing_or_truncated_metadata_file_is_rebuilt(built, tmp_path):
    paths, cache, _, meta = built
    meta.write_text('{"version": 1, "si')
    _reopen(paths, tmp_path, "metadata unreadable")
    meta.unlink()
    _reopen(paths, tmp_path, "metadata file is missing")


def test_temporary_files_of_a_killed_build_are_swept_when_their_process_is_gone(built, tmp_path):
    paths, cache, _, _ = built
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    leftover = tmp_path / "c" / f".{'0' * 24}.{dead_pid}.tmp.npy"
    leftover.write_bytes(b"\0" * 10_000)
    live = tmp_path / "c" / f".{'1' * 24}.{os.getppid()}.tmp.npy"  # a build still running elsewhere
    live.write_bytes(b"\0" * 100)
    ImageCache.open(paths, 16, cache_dir=tmp_path / "c")
    assert not leftover.exists() and live.exists()


def test_a_read_only_cache_folder_falls_back_to_a_temporary_folder_with_a_warning(shapes_root, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    (tmp_path / "tmp").mkdir()  # the temporary folder the fallback must use
    result = run_as_user(
        "import warnings; warnings.simplefilter('always')\n"
        "from pathlib import Path\n"
        "from fastlearn.vision.data.cache import ImageCache\n"
        f"paths = sorted(Path({str(shapes_root)!r}).rglob('*.png'))\n"
        f"c = ImageCache.open(paths, 16, cache_dir={str(ro)!r})\n"
        "print('ok', c.pixels.shape, c.pixels.mean() > 0)",
        env={"TMPDIR": str(tmp_path / "tmp")})
    os.chmod(ro, 0o755)
    assert result.returncode == 0, result.stderr
    assert "ok (48, 16, 16, 3) True" in result.stdout
    assert "CacheWarning" in result.stderr and str(ro) in result.stderr and "FASTLEARN_CACHE" in result.stderr
    assert list((tmp_path / "tmp").glob("fastlearn-cache-*/*.npy"))  # the cache went there


def test_cache_files_get_the_usual_permissions(built):
    _, _, arr, meta = built
    mask = os.umask(0o022)
    os.umask(mask)
    assert (arr.stat().st_mode & 0o777) == 0o666 & ~mask
    assert (meta.stat().st_mode & 0o777) == 0o666 & ~mask
