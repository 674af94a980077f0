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

import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def run_case(case: dict, work: Path, epochs: int, seed: int) -> list[dict]:
    from fastlearn import ImageData, Learner
    from fastlearn.train.lr_finder import RULES
    from small_folders import train_defaults
    data = ImageData.from_folder(case["data"], size=case["size"], seed=seed, progress=False)
    finder = Learner.pretrained("tf_efficientnet_lite0", data, seed=seed, progress=False).lr_find()
    rates: dict[float, list[str]] = {}
    for rule in RULES:
        rates.setdefault(finder.suggest(rule), []).append(rule)
    rows = []
    for lr, rules in rates.items():
        summary = train_defaults(case, work, epochs, seed, lr)
        rows.append(dict(case=case["name"], rules=", ".join(rules), lr=lr, accuracy=summary["accuracy"],
                         best=summary["best"], rollbacks=len(summary.get("rollbacks", [])),
                         stopped=summary.get("stopped", "")))
        print(f"{case['name']}: {rows[-1]['rules']} at {lr:.2e}: {summary['accuracy']:.1%} "
              f"(best epoch {rows[-1]['best']:.1%}) {rows[-1]['stopped']}", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| folder | rule(s) | rate | final accuracy | best epoch | rollbacks |", "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['case']} | {r['rules']} | {r['lr']:.1e} | "
              f"{'stopped: ' + r['stopped'] if r['stopped'] else format(r['accuracy'], '.1%')} | {r['best']:.1%} | "
              f"{r['rollbacks']} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    import warnings
    warnings.filterwarnings("ignore")
    from small_folders import arguments, cases, record
    a = arguments(__doc__.splitlines()[0], argv)
    rows = [r for case in cases(a.work, a.quick) for r in run_case(case, a.work, a.epochs, a.seed)]
    text = table(rows)
    print(text)
    if a.record:
        record(f"lr_find's rules on small folders (bench/lr_rules.py, {date.today()})", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
