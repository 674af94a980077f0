"""Which of lr_find's suggestion rules holds on small data: train `fastlearn train`'s recipe at
each rule's rate, on the small folders of bench/small_folders.py.

    python bench/lr_rules.py            # six folders, three rules (about 10 min on 2 cores)
    python bench/lr_rules.py --quick    # the colour folder and 30 digits a class
    python bench/lr_rules.py --record   # also append the table to bench/RESULTS.md

For each folder: one lr_find with the recipe's settings (its default length), then the whole
recipe (`--epochs 4`: a frozen epoch, three unfrozen under SGDR) once at the rate each rule
suggests (`valley`, `minimum` = the minimum's tenth, `steep`), every other setting default.
A rule that gives the same rate as another is trained once. Accuracy is on each folder's fixed
validation set; "best epoch" is the best of the run's epochs.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def run_case(case: dict, work: Path, epochs: int, seed: int) -> list[dict]:
    import pandas as pd
    from fastlearn import ImageData, Learner
    from fastlearn.recipe import RecipeConfig, run_recipe
    from fastlearn.train.lr_finder import RULES
    data = ImageData.from_folder(case["data"], size=case["size"], seed=seed, progress=False)
    learn = Learner.pretrained("tf_efficientnet_lite0", data, seed=seed, progress=False)
    finder = learn.lr_find()
    rates: dict[float, list[str]] = {}
    for rule in RULES:
        rates.setdefault(finder.suggest(rule), []).append(rule)
    rows = []
    for lr, rules in rates.items():
        with tempfile.TemporaryDirectory(dir=work) as out, contextlib.redirect_stdout(io.StringIO()):
            try:
                summary = run_recipe(RecipeConfig(data=str(case["data"]), size=case["size"], epochs=epochs, lr=lr,
                                                  out=out, seed=seed, progress=False))
            except FloatingPointError:  # the run stopped: the loss exploded
                summary = {"accuracy": float("nan"), "rollbacks": ["stopped: the loss exploded"]}
            metrics = pd.read_csv(Path(out) / "metrics.csv")
        rows.append(dict(case=case["name"], rules=", ".join(rules), lr=lr, accuracy=summary["accuracy"],
                         best=float(metrics["accuracy"].max()), rollbacks=len(summary.get("rollbacks", []))))
        print(f"{case['name']}: {rows[-1]['rules']} at {lr:.2e}: {summary['accuracy']:.1%} "
              f"(best epoch {rows[-1]['best']:.1%})", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| folder | rule(s) | rate | final accuracy | best epoch | rollbacks |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['case']} | {r['rules']} | {r['lr']:.1e} | {r['accuracy']:.1%} | {r['best']:.1%} | "
              f"{r['rollbacks']} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    import warnings
    warnings.filterwarnings("ignore")
    from small_folders import cases
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the colour folder and 30 digits a class only")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default=str(ROOT / "bench" / ".work" / "small"))
    p.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    a = p.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = [r for case in cases(work, a.quick) for r in run_case(case, work, a.epochs, a.seed)]
    text = table(rows)
    print(text)
    if a.record:
        with open(ROOT / "bench" / "RESULTS.md", "a") as f:
            f.write(f"\n### lr_find's rules on small folders (bench/lr_rules.py, {date.today()})\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
