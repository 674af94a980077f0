"""The 2018 lessons' names work as the lessons use them."""
import numpy as np
import pandas as pd
import pytest

from fastlearn.course import (
    ConvLearner, ImageClassifierData, accuracy_np, get_cv_idxs, tfms_from_model, transforms_side_on,
    transforms_top_down,
)


def test_data_aliases(mnist_root, tmp_path):
    tfms = tfms_from_model("tf_efficientnet_lite0", 32, aug_tfms=transforms_top_down, max_zoom=1.2)
    data = ImageClassifierData.from_paths(mnist_root, tfms=tfms, bs=16)
    assert data.size == 32 and data.bs == 16 and data.augment_spec == "top_down" and data.max_zoom == 1.2
    assert len(get_cv_idxs(100)) == 20 and (get_cv_idxs(100) == get_cv_idxs(100)).all()
    (tmp_path / "train").mkdir()
    from PIL import Image
    rows = []
    for i in range(10):
        Image.new("RGB", (20, 20), (i * 20, 0, 0)).save(tmp_path / "train" / f"{i}.jpg")
        rows.append((str(i), "clear road" if i % 2 else "haze"))
    pd.DataFrame(rows, columns=["image_name", "tags"]).to_csv(tmp_path / "labels.csv", index=False)
    multi = ImageClassifierData.from_csv(tmp_path, "train", tmp_path / "labels.csv", suffix=".jpg",
                                         val_idxs=[0, 1], tfms=tfms_from_model(None, 16, transforms_side_on))
    assert multi.multi_label and multi.classes == ["clear", "haze", "road"]


def test_conv_learner_course_calls(mnist_root):
    tfms = tfms_from_model("tf_efficientnet_lite0", 32)
    data = ImageClassifierData.from_paths(mnist_root, tfms=tfms, bs=32).sample(256)
    learn = ConvLearner.pretrained("tf_efficientnet_lite0", data, precompute=True, progress=False)
    with pytest.raises(RuntimeError, match="lr_find"):
        learn.sched.plot()
    learn.lr_find()
    assert learn.sched.plot() is not None and learn.sched.plot_lr() is not None
    learn.fit(1e-2, 2, cycle_len=1)
    log_preds = learn.predict()
    assert isinstance(log_preds, np.ndarray) and log_preds.shape == (len(data.valid_idx), 10)
    assert np.allclose(np.exp(log_preds).sum(1), 1, atol=1e-5)
    learn.precompute = False
    views, y = learn.TTA(n_aug=2)
    assert views.shape == (3, len(data.valid_idx), 10)
    probs = np.mean(np.exp(views), 0)
    assert accuracy_np(probs, y) > 0.3
    # lesson 1 reads the labels and file names off the data
    assert np.array_equal(y, data.val_y) and accuracy_np(probs, data.val_y) > 0.3
    assert len(data.trn_y) == len(data.trn_ds) == len(data.train_idx) and data.trn_y.max() == 9
    first = data.val_ds.fnames[0]
    assert first.split("/")[0] in ("valid", "train") and (mnist_root / first).is_file()
    assert data.classes[data.val_y[0]] == first.split("/")[1]  # the class folder the file sits in
