"""Predictions, TTA, metrics and submissions from a trained learner on the real digits."""
import numpy as np
import pandas as pd
import pytest
import torch

from fastlearn.infer.submission import best_clip, kaggle_log_loss


def test_predict_probabilities_and_log_probabilities(trained_digits):
    learn = trained_digits
    probs, targets = learn.predict()
    assert probs.shape == (1000, 10) and torch.allclose(probs.sum(1), torch.ones(1000), atol=1e-5)
    log_probs, _ = learn.predict(log=True)
    assert torch.allclose(log_probs.exp(), probs, atol=1e-6)
    acc = (probs.argmax(1) == targets).float().mean().item()
    assert acc == pytest.approx(learn.recorder.metric("accuracy")[-1], abs=1e-6)
    test_probs, names = learn.predict("test")
    assert test_probs.shape == (40, 10) and names[0].endswith(".png")


def test_tta_matches_or_improves_accuracy(trained_digits):
    learn = trained_digits
    probs, targets = learn.predict()
    tta_probs, tta_targets = learn.tta(n=4)
    assert torch.equal(targets, tta_targets) and not torch.allclose(probs, tta_probs)
    plain = (probs.argmax(1) == targets).float().mean().item()
    tta = (tta_probs.argmax(1) == targets).float().mean().item()
    print(f"\\naccuracy: plain {plain:.4f}, TTA (4 views + centre) {tta:.4f}")
    assert tta >= plain


def test_tta_views_are_the_centre_then_distinct_repeatable_draws(trained_digits):
    learn = trained_digits
    probs, _ = learn.predict()
    views, _ = learn.tta(n=3, reduce=False)
    assert views.shape == (4, 1000, 10)
    torch.testing.assert_close(views[0], probs)  # the centre view is the plain prediction
    for a in range(4):
        for b in range(a + 1, 4):
            assert not torch.allclose(views[a], views[b]), (a, b)
    again, _ = learn.tta(n=3, reduce=False)
    torch.testing.assert_close(again, views)  # each view's draw comes from its own seed
    torch.testing.assert_close(learn.tta(n=3)[0], views.mean(0))


def test_evaluate_reports_consistent_metrics(trained_digits):
    ev = trained_digits.evaluate()
    assert ev.confusion.sum() == 1000 and ev.confusion.shape == (10, 10)
    assert ev.accuracy == pytest.approx(np.trace(ev.confusion) / 1000)
    per = ev.per_class
    assert list(per.index) == [str(d) for d in range(10)] and per["support"].sum() == 1000
    col = ev.confusion[:, 3]
    assert per.loc["3", "precision"] == pytest.approx(ev.confusion[3, 3] / col.sum())
    assert "accuracy" in str(ev)


def test_submission_csv_in_kaggle_layout(trained_digits, tmp_path):
    learn = trained_digits
    df = learn.submission(tmp_path / "sub.csv")
    back = pd.read_csv(tmp_path / "sub.csv", dtype={"id": str})
    assert list(back.columns) == ["id"] + [str(d) for d in range(10)] and len(back) == 40 == len(df)
    assert back["id"][0] == sorted(p.stem for p in learn.data.paths_of("test"))[0]
    probs, targets = learn.predict()
    clip, loss = best_clip(probs.numpy(), targets.numpy())
    assert back.iloc[:, 1:].to_numpy().min() >= clip - 1e-12
    assert loss <= kaggle_log_loss(probs.numpy(), targets.numpy(), 0.0) + 1e-12


def test_two_class_submission_has_positive_class_column(tmp_path):
    from fastlearn.infer.submission import write_submission
    df = write_submission(tmp_path / "s.csv", ["a/1.jpg", "b/2.jpg"], np.array([[0.9, 0.1], [0.2, 0.8]]),
                          ["cat", "dog"], clip=0.05)
    assert list(df.columns) == ["id", "dog"] and df["dog"].tolist() == pytest.approx([0.1, 0.8])
    assert df["id"].tolist() == ["1", "2"]
    redux = write_submission(tmp_path / "r.csv", ["1.jpg"], np.array([[0.3, 0.7]]), ["cat", "dog"], label_column="label")
    assert list(redux.columns) == ["id", "label"]
