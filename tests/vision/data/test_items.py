"""Finding images and labels in folders and tables, and random splits."""
import re

import numpy as np
import pandas as pd
import pytest

from fastlearn.vision.data.items import DataError, items_from_df, items_from_folders, list_images, random_split


def test_list_images_skips_hidden_and_non_image_files(tmp_path):
    for name in ("a.jpg", "b.PNG", "notes.txt", ".hidden.jpg", "c.jpeg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".thumbs").mkdir()
    (tmp_path / ".thumbs" / "d.jpg").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.jpeg"]


def test_list_images_walks_nested_folders_in_path_order_without_entering_linked_folders(tmp_path):
    # the order Path sorting gives ("a/z.jpg" before "a-b.jpg"), not the order of the strings
    for rel in ("a/z.jpg", "a-b.jpg", "a/b/c.png", "a/.cache/x.jpg", "B.JPG", "a/b/d.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "a" / "folder.jpg").mkdir()  # a folder named like an image is not one
    (tmp_path / "link.png").symlink_to(tmp_path / "B.JPG")  # a linked file is listed
    (tmp_path / "linked").symlink_to(tmp_path / "a", target_is_directory=True)  # a linked folder is not entered
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert found == ["B.JPG", "a/b/c.png", "a/z.jpg", "a-b.jpg", "link.png"]
    assert [p.name for p in list_images(tmp_path / "a", recursive=False)] == ["z.jpg"]


def test_empty_class_folder_is_named(tmp_path):
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "1.jpg").write_bytes(b"x")
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"no images: .*dog"):
        items_from_folders(tmp_path)


def test_missing_csv_file_names_row_and_path(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    df = pd.DataFrame({"id": ["a", "b"], "breed": ["x", "y"]})
    with pytest.raises(DataError) as e:
        items_from_df(df, tmp_path, suffix=".jpg", source="labels.csv")
    assert "row 3" in str(e.value) and "b.jpg" in str(e.value) and "suffix" in str(e.value)


def test_missing_column_lists_the_columns(tmp_path):
    df = pd.DataFrame({"id": ["a"], "breed": ["x"]})
    with pytest.raises(DataError, match=r"no column named 'label'.*'id', 'breed'"):
        items_from_df(df, tmp_path, label_col="label", source="labels.csv")
    with pytest.raises(DataError, match=r"column 5 does not exist"):
        items_from_df(df, tmp_path, fn_col=5)


def test_multi_label_splits_tags_and_allows_none(tmp_path):
    for n in ("a", "b"):
        (tmp_path / f"{n}.png").write_bytes(b"x")
    df = pd.DataFrame({"f": ["a", "b"], "tags": ["clear road water", ""]})
    items = items_from_df(df, tmp_path, suffix=".png", multi_label=True)
    assert items.labels == [["clear", "road", "water"], []]


def test_random_split_is_seeded_sorted_and_sized():
    a, b = random_split(1000, 0.2, seed=1), random_split(1000, 0.2, seed=1)
    assert (a == b).all() and len(a) == 200 and len(set(a)) == 200 and (np.diff(a) > 0).all()
    assert not (random_split(1000, 0.2, seed=2) == a).all()
    with pytest.raises(DataError, match="valid_pct"):
        random_split(10, 1.5)


def _table_folder(tmp_path, names):
    from tests.conftest import draw_shape
    for n in set(names):
        draw_shape("circle").save(tmp_path / n)
    return tmp_path


def test_repeated_rows_are_dropped_with_a_warning_and_conflicting_ones_refused(tmp_path):
    from fastlearn.vision.data.items import DataWarning
    folder = _table_folder(tmp_path, ["a.png", "b.png", "c.png"])
    same = pd.DataFrame({"f": ["a.png", "b.png", "a.png", "c.png"], "l": ["x", "y", "x", "y"]})
    with pytest.warns(DataWarning, match=r"dropped 1 repeated row.*a.png \(row 4\)"):
        items = items_from_df(same, folder)
    assert [p.name for p in items.paths] == ["a.png", "b.png", "c.png"] and items.rows == [0, 1, 3]
    conflicting = pd.DataFrame({"f": ["a.png", "b.png", "a.png", "b.png"], "l": ["x", "y", "z", "y"]})
    with pytest.raises(DataError, match=r"1 file name\(s\) appear more than once with different labels: a.png: \['x', 'z'\]"):
        items_from_df(conflicting, folder)


@pytest.mark.parametrize("sep, flag", [(";", "';'"), (",", "','"), ("|", "'|'"), ("\t", "'\\t'")])
def test_tags_joined_by_another_separator_are_detected_and_named(tmp_path, sep, flag):
    folder = _table_folder(tmp_path, ["a.png", "b.png"])
    df = pd.DataFrame({"f": ["a.png", "b.png"], "tags": [f"cat{sep}dog", "cat"]})
    with pytest.raises(DataError, match=rf"separated by .*label_delim={re.escape(repr(sep))}.*--label-delim {re.escape(flag)}"):
        items_from_df(df, folder, multi_label=True)
    items = items_from_df(df, folder, multi_label=True, label_delim=sep)
    assert items.labels == [["cat", "dog"], ["cat"]]


def test_a_csv_with_only_a_header_says_so(tmp_path):
    from fastlearn import ImageData
    (tmp_path / "train").mkdir()
    (tmp_path / "labels.csv").write_text("file,label\n")
    with pytest.raises(DataError, match="has no rows"):
        ImageData.from_csv(tmp_path, "labels.csv")
