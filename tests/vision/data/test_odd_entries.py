"""One odd entry in a folder never aborts the whole data set: it is named and left out."""
import os
import warnings

import pytest

from fastlearn.vision.data import ImageData
from fastlearn.vision.data.image_data import BadImageWarning
from fastlearn.vision.data.items import DataWarning, printable
from tests.conftest import draw_shape, run_as_user


def _bad_names(data):
    return {printable(p.name): why for p, why in data.bad_files}


def test_a_symlink_loop_and_a_non_utf8_name_are_listed_as_bad_and_training_goes_on(shapes_root, tmp_path):
    circles = shapes_root / "train" / "circle"
    (circles / "a.png").symlink_to(circles / "b.png")
    (circles / "b.png").symlink_to(circles / "a.png")
    (circles / "gone.png").symlink_to(tmp_path / "nowhere.png")
    raw = os.fsencode(circles) + b"/bad\xffname.png"
    draw_shape("circle").save(raw.decode("utf-8", "surrogateescape"), format="PNG")
    with pytest.warns(BadImageWarning) as caught:
        data = ImageData.from_folder(shapes_root, size=32, bs=8, cache_dir=tmp_path / "c")
    bad = _bad_names(data)
    assert "symbolic link loop" in bad["a.png"] and "symbolic link loop" in bad["b.png"]
    assert "broken symbolic link" in bad["gone.png"]
    assert "not valid UTF-8" in bad["bad\\xffname.png"] and "rename" in bad["bad\\xffname.png"]
    message = str(caught[0].message)
    assert "bad\\xffname.png" in message and message.encode("utf-8")  # printable, writable to any log
    assert len(data.train_idx) == 36  # the 12 good images per class are all there
    # a warm cache gives the same list, keyed on the raw bytes of the name
    with pytest.warns(BadImageWarning):
        again = ImageData.from_folder(shapes_root, size=32, bs=8, cache_dir=tmp_path / "c")
    assert not again.cache.built and _bad_names(again) == bad


def test_an_unreadable_subfolder_is_named_in_a_warning(shapes_root, tmp_path):
    locked = shapes_root / "train" / "circle" / "more"
    locked.mkdir()
    draw_shape("circle").save(locked / "extra.png")
    os.chmod(locked, 0)
    try:
        result = run_as_user(
            "import warnings; warnings.simplefilter('always')\n"
            "from fastlearn.vision.data import ImageData\n"
            f"d = ImageData.from_folder({str(shapes_root)!r}, size=32, cache_dir={str(tmp_path / 'c')!r})\n"
            "print('train', len(d.train_idx))")
    finally:
        os.chmod(locked, 0o755)
    assert result.returncode == 0, result.stderr
    assert "train 36" in result.stdout
    assert "DataWarning" in result.stderr and str(locked) in result.stderr and "could not be read" in result.stderr


def test_a_file_unreadable_for_a_passing_reason_is_used_once_it_can_be_read(shapes_root, tmp_path):
    locked = shapes_root / "train" / "circle" / "circle_0.png"
    os.chmod(locked, 0)
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from fastlearn.vision.data import ImageData\n"
            f"d = ImageData.from_folder({str(shapes_root)!r}, size=32, cache_dir={str(tmp_path / 'c')!r})\n"
            "print('built', d.cache.built, 'bad', [p.name for p, _ in d.bad_files], 'train', len(d.train_idx))")
    try:
        first = run_as_user(code)
    finally:
        os.chmod(locked, 0o644)  # chmod changes no size or time: the cache key stays the same
    second = run_as_user(code)
    third = run_as_user(code)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert "bad ['circle_0.png'] train 35" in first.stdout and "Permission denied" in first.stderr
    assert "built False bad [] train 36" in second.stdout, second.stdout + second.stderr
    assert "built False bad [] train 36" in third.stdout


def test_list_images_warns_about_unreadable_folders_directly(tmp_path):
    from fastlearn.vision.data.items import list_images
    (tmp_path / "ok.png").write_bytes(b"x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [p.name for p in list_images(tmp_path)] == ["ok.png"]
    assert issubclass(DataWarning, UserWarning)
