"""Texts: the data's checks, the token cache, the batches, and the command line on real reviews."""
import json

import numpy as np
import pandas as pd
import pytest

from fastlearn import TextData
from fastlearn.utils.errors import DataError, DataWarning
from tests.test_cli import run


def test_bad_texts_get_messages_that_say_what_to_do(tmp_path):
    df = pd.DataFrame({"text": ["good", "bad", "", "fine", None], "label": ["p", "n", "p", "p", "n"]})
    with pytest.raises(DataError, match="no text column 'Text'; the columns are text, label"):
        TextData.from_df(df, "Text", "label")
    with pytest.raises(DataError, match="no target column 'y'"):
        TextData.from_df(df, "text", "y")
    with pytest.raises(DataError, match="one class only"):
        TextData.from_df(df.assign(label="p"), "text", "label")
    with pytest.warns(DataWarning, match="left out 2 of 5 rows: 2 with an empty text"):
        assert len(TextData.from_df(df, "text", "label", valid_idx=[0]).texts) == 3
    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9,p\nth\xe9,n\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8.*encoding='latin-1'"):
        TextData.from_csv(tmp_path / "latin.csv", "text", "label")


def test_tokens_are_cached_cut_to_max_len_and_batched_by_length(reviews_df, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTLEARN_CACHE", str(tmp_path / "cache"))
    sample = reviews_df.sample(300, random_state=0)
    data = TextData.from_df(sample, "text", "label", max_len=24, bs=16, device="cpu")
    with pytest.warns(DataWarning, match="longer than 24 tokens and were cut"):
        data.tokenize_for("all-MiniLM-L6-v2")
    assert data.tokens.lengths.max() == 24 and list((tmp_path / "cache" / "tokens").glob("*.npz"))
    again = TextData.from_df(sample, "text", "label", max_len=24, bs=16, device="cpu")
    with pytest.warns(DataWarning):
        again.tokenize_for("all-MiniLM-L6-v2")  # read back from the cache, the same ids
    assert np.array_equal(again.tokens.ids, data.tokens.ids)
    widths = []
    for (ids, mask), y in data.train_dl:
        assert ids.shape == mask.shape and (mask.sum(1).max() == ids.shape[1])  # padded to the longest only
        lengths = mask.sum(1)
        widths.append(int(lengths.max() - lengths.min()))
    assert np.mean(widths) <= 4  # similar lengths together (sortish)
    seen = np.concatenate([y.numpy() for _, y in data.valid_dl])
    assert np.array_equal(seen, data.y[data.valid_idx].numpy())  # validation in the order it came


def test_folders_of_text_files_per_class(tmp_path):
    for split, texts in (("train", ["great", "awful", "lovely", "dire"]), ("valid", ["superb", "bad"])):
        for i, t in enumerate(texts):
            cls = "pos" if t in ("great", "lovely", "superb") else "neg"
            (tmp_path / split / cls).mkdir(parents=True, exist_ok=True)
            (tmp_path / split / cls / f"{i}.txt").write_text(t)
    data = TextData.from_folder(tmp_path)
    assert data.classes == ["neg", "pos"] and len(data.train_idx) == 4 and len(data.valid_idx) == 2


def test_train_from_the_command_line_and_predict_sentences(reviews_df, tmp_path):
    reviews_df.sample(700, random_state=1).to_csv(tmp_path / "movie.csv", index=False)
    out = tmp_path / "run"
    run("train", tmp_path / "movie.csv", "--text", "text", "--target", "label", "--epochs", "2", "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accuracy"] >= 0.7 and summary["epochs"] == 2 and (out / "report.html").is_file()
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["kind"] == "text" and {"tokenizer.json", "config.json"} <= set(manifest["files"])
    r = run("predict", out / "model", "A gorgeous, moving film.", "Dull, lifeless and far too long.")
    first, second = (line.split("\t")[0] for line in r.stdout.strip().splitlines())
    assert (first, second) == ("positive", "negative")
    reviews_df.sample(100, random_state=3).to_csv(tmp_path / "labelled.csv", index=False)
    assert "accuracy" in run("evaluate", out / "model", tmp_path / "labelled.csv").stdout


def test_a_numeric_score_is_a_regression_scored_by_pearson_correlation(reviews_df):
    from fastlearn import Learner
    data = TextData.from_df(reviews_df.sample(400, random_state=2), "text", "rating", seed=0)
    assert data.regression and data.c == 1
    learn = Learner.pretrained("all-MiniLM-L6-v2", data, seed=0, progress=False)
    learn.fit_one_cycle(3, 1e-2)  # the head on the frozen encoder's sentence vectors
    assert learn.validate()["pearson"] > 0.3


def test_tags_per_text_train_predict_and_evaluate_from_the_command_line(reviews_df, tmp_path):
    # Real tags: the sign of the people's mean rating, and "strong" where its size is 2 or more (of 4).
    df = reviews_df.sample(600, random_state=4)
    df = df.assign(tags=df["label"] + np.where(df["rating"].abs() >= 2, ";strong", ""))
    df[["text", "tags"]].to_csv(tmp_path / "tagged.csv", index=False)
    with pytest.raises(DataError, match="separated by ';'.*label_delim=';'"):
        TextData.from_df(df, "text", "tags", label_delim=" ")
    out = tmp_path / "run"
    run("train", tmp_path / "tagged.csv", "--text", "text", "--target", "tags", "--multi-label", "--label-delim", ";",
        "--epochs", "2", "--out", out)
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["multi_label"] and manifest["classes"] == ["negative", "positive", "strong"]
    assert len(summary["thresholds"]) == 3 and summary["f2_optimised"] >= summary["f2"]
    r = run("predict", out / "model", "A gorgeous, moving film.", "Dull, lifeless and far too long.")
    first, second = (line.split("\t")[0].split() for line in r.stdout.strip().splitlines())
    assert "positive" in first and "negative" in second  # F2's thresholds favour recall: other tags may join
    from fastlearn import load_learner
    model = load_learner(out / "model")
    (neg1, pos1, _), (neg2, pos2, _) = model.probs(["A gorgeous, moving film.", "Dull, lifeless and far too long."])
    assert pos1 > neg1 and neg2 > pos2
    held = reviews_df.drop(df.index).sample(300, random_state=5)
    probs = model.probs(held["text"].tolist())
    said_positive = (probs[:, 1] > probs[:, 0]).numpy()
    assert (said_positive == (held["label"] == "positive").to_numpy()).mean() >= 0.65  # chance: 0.5
    held.assign(tags=held["label"])[["text", "tags"]].to_csv(tmp_path / "held.csv", index=False)
    report = run("evaluate", out / "model", tmp_path / "held.csv").stdout
    assert "negative" in report and "F2" in report
