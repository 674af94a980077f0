"""ImageData from folders and tables: splits, labels, bad files, variants and views."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from fastlearn.vision.data import BadImageWarning, DataError, ImageData, random_split
from fastlearn.datasets import mnist_digits
from tests.conftest import SHAPES, draw_shape, make_shape_folders


def test_from_folder_with_valid_folder(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8)
    assert data.classes == sorted(SHAPES) and data.c == 3
    assert len(data.train_idx) == 36 and len(data.valid_idx) == 12 and len(data.test_idx) == 0
    assert all(p.parent.parent.name == "valid" for p in data.paths_of("valid"))


def test_from_folder_random_split_is_seeded(tmp_path):
    root = make_shape_folders(tmp_path / "s", n_train=20, valid=False)
    a = ImageData.from_folder(root, size=32)
    b = ImageData.from_folder(root, size=32)
    c = ImageData.from_folder(root, size=32, seed=7, valid_pct=0.25)
    assert len(a.valid_idx) == 12 and (a.valid_idx == b.valid_idx).all()
    assert len(c.valid_idx) == 15 and set(c.valid_idx) != set(a.valid_idx)
    assert not set(a.paths_of("train")) & set(a.paths_of("valid"))


def test_class_folders_directly_under_path(tmp_path):
    root = make_shape_folders(tmp_path / "s", valid=False) / "train"
    data = ImageData.from_folder(root, size=32)
    assert data.classes == sorted(SHAPES) and len(data.train_idx) + len(data.valid_idx) == 36


def test_test_folder_is_unlabelled(shapes_root):
    (shapes_root / "test").mkdir()
    for i in range(5):
        draw_shape("circle", seed=100 + i).save(shapes_root / "test" / f"t{i}.jpg")
    data = ImageData.from_folder(shapes_root, test="test", size=32, bs=4)
    assert len(data.test_idx) == 5 and [p.name for p in data.paths_of("test")][0] == "t0.jpg"
    x, y = next(iter(data.test_dl))
    assert x.shape == (4, 3, 32, 32) and (y == -1).all()


def test_bad_files_are_listed_in_one_warning_and_left_out(shapes_root):
    bad = [shapes_root / "train" / "circle" / "empty.jpg", shapes_root / "train" / "square" / "page.png",
           shapes_root / "valid" / "triangle" / "cut.jpg"]
    bad[0].write_bytes(b"")
    bad[1].write_text("<html><body>404</body></html>")
    draw_shape("triangle", 200).save(bad[2], quality=90)
    bad[2].write_bytes(bad[2].read_bytes()[:300])
    (shapes_root / "train" / "circle" / "notes.txt").write_text("ignored: not an image extension")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = ImageData.from_folder(shapes_root, size=32)
    bad_warnings = [w for w in caught if issubclass(w.category, BadImageWarning)]
    assert len(bad_warnings) == 1
    for p in bad:
        assert str(p) in str(bad_warnings[0].message)
    assert len(data.train_idx) == 36 and len(data.valid_idx) == 12  # 3 bad of 51 files left out
    assert not set(bad) & set(data.paths_of("train") + data.paths_of("valid"))
    with pytest.raises(DataError) as e:
        ImageData.from_folder(shapes_root, size=32, on_bad="error")
    assert all(str(p) in str(e.value) for p in bad)


def test_label_only_in_validation_is_an_error(shapes_root):
    (shapes_root / "valid" / "hexagon").mkdir()
    draw_shape("circle").save(shapes_root / "valid" / "hexagon" / "h.png")
    with pytest.raises(DataError, match=r"only in the validation split: 'hexagon'.*h\.png"):
        ImageData.from_folder(shapes_root, size=32)


def _csv_layout(root, n=30):
    (root / "train").mkdir(parents=True)
    rows = []
    for i in range(n):
        shape = SHAPES[i % 3]
        draw_shape(shape, seed=i).save(root / "train" / f"{i:04d}.jpg")
        rows.append((f"{i:04d}", shape))
    pd.DataFrame(rows, columns=["id", "breed"]).to_csv(root / "labels.csv", index=False)
    return root


def test_from_csv_dog_breeds_layout(tmp_path):
    root = _csv_layout(tmp_path / "dogs")
    val = random_split(30, 0.2, seed=3)
    data = ImageData.from_csv(root, "labels.csv", fn_col="id", label_col="breed", suffix=".jpg",
                              valid_idxs=val, size=32, bs=5)
    assert data.classes == sorted(SHAPES) and len(data.valid_idx) == 6
    assert [p.stem for p in data.paths_of("valid")] == [f"{i:04d}" for i in val]  # names kept as text
    x, y = next(iter(data.valid_dl))
    assert x.shape == (5, 3, 32, 32) and y.dtype == torch.long


def test_from_csv_errors_name_the_problem(tmp_path):
    root = _csv_layout(tmp_path / "dogs")
    with pytest.raises(DataError, match=r"row 2: .*0000\.png"):
        ImageData.from_csv(root, "labels.csv", suffix=".png")
    with pytest.raises(DataError, match=r"labels\.csv: no column named 'label'"):
        ImageData.from_csv(root, "labels.csv", label_col="label", suffix=".jpg")
    with pytest.raises(DataError, match="does not exist"):
        ImageData.from_csv(root, "nope.csv")


def test_from_df_multi_label_targets_are_multi_hot(tmp_path):
    (tmp_path / "train").mkdir()
    rows = []
    for i in range(12):
        draw_shape("circle", seed=i).save(tmp_path / "train" / f"{i}.png")
        rows.append((str(i), ["clear road", "clear", "haze water", ""][i % 4]))
    df = pd.DataFrame(rows, columns=["image_name", "tags"])
    data = ImageData.from_df(tmp_path, df, suffix=".png", multi_label=True, valid_idxs=[0, 1, 2, 3], size=32, bs=16)
    assert data.classes == ["clear", "haze", "road", "water"] and data.multi_label
    _, y = next(iter(data.valid_dl))
    assert y.tolist() == [[1, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]]


def test_sample_and_resize(shapes_root):
    data = ImageData.from_folder(shapes_root, size=32, bs=8)
    small = data.sample(9)
    assert len(small.train_idx) == 9 and len(small.valid_idx) == 3
    assert small.cache is data.cache  # no decoding for a sample
    assert set(small.train_idx) <= set(data.train_idx)
    big = data.resize(48)
    assert (big.train_idx == data.train_idx).all() and (big.valid_idx == data.valid_idx).all()
    assert next(iter(big.valid_dl))[0].shape[-1] == 48
    assert ImageData.from_folder(shapes_root, size=32, sample=6).train_idx.size == 6


def test_show_batch_and_summary(shapes_root, tmp_path):
    data = ImageData.from_folder(shapes_root, size=32, bs=8)
    fig = data.show_batch(rows=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4 and set(titles) <= set(SHAPES)
    fig.savefig(tmp_path / "batch.png")
    assert (tmp_path / "batch.png").stat().st_size > 1000
    s = data.summary(show=False)
    assert s.counts.loc["circle", "train"] == 12 and s.counts.loc["circle", "valid"] == 4
    assert (s.heights == 64).all() and "median 64" in str(s)
    s.plot().savefig(tmp_path / "summary.png")


def test_real_mnist_digits_as_a_folder_tree(mnist_root):
    data = ImageData.from_folder(mnist_root, size=28, bs=100, augment="none", max_zoom=1.0,
                                 stats=((0, 0, 0), (1, 1, 1)))
    assert data.classes == [str(d) for d in range(10)]
    assert len(data.train_idx) == 4000 and len(data.valid_idx) == 1000
    images, labels = mnist_digits()
    x, y = next(iter(data.valid_dl))
    for img, lab, path in zip(x[:20].cpu(), y[:20].cpu(), data.paths_of("valid")[:20]):
        i = int(path.stem)  # mnist_folders names each file by its row
        assert data.classes[lab] == str(labels[i])
        assert np.abs(img[0].numpy() * 255 - images[i]).max() < 1.0  # the pixels, unchanged at 28 px


def test_valid_pct_beside_a_valid_folder_says_which_wins(shapes_root):
    from fastlearn.vision.data.items import DataWarning
    with pytest.warns(DataWarning, match=r"has a valid/ folder, but valid_pct=0.25 was given.*valid/ unused"):
        data = ImageData.from_folder(shapes_root, size=32, bs=8, valid_pct=0.25)
    assert len(data.valid_idx) == 9 and all(p.parent.parent.name == "train" for p in data.paths_of("valid"))
