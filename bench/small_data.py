"""Small folders: `fastlearn train`'s defaults against fastai 2.8's `fine_tune` with its own
lr_find suggestion and `aug_transforms()`, same folders, image size and epochs.

    python bench/small_data.py            # six folders (about 10 min on 2 cores)
    python bench/small_data.py --quick    # the colour folder and 30 digits a class
    python bench/small_data.py --record   # also append the table to bench/RESULTS.md

Needs fastai and scikit-image: pip install -e '.[bench]'. The folders (bench/small_folders.py):
two solid colours with noise (60 training images a class), MNIST samples of 10, 30 and 100
training digits a class with the same 1,000 validation digits, scikit-image's LFW faces against
non-faces, the tests' generated shapes. fastlearn: `fastlearn train DATA --size S --epochs 4`,
every other setting default. fastai: `vision_learner(dls, "tf_efficientnet_lite0")` with the
same packaged ImageNet weights, `ImageDataLoaders.from_folder(..., item_tfms=Resize(S),
batch_tfms=aug_transforms())` (its defaults, batch 64), `lr_find().valley`, `fine_tune(3)`: 4
epochs too. "best" is the best epoch's validation accuracy; a final score a point or more below
it is a run that ended worse than it had been.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def run_fastlearn(case: dict, work: Path, epochs: int, seed: int) -> dict:
    from small_folders import train_defaults
    t0 = time.perf_counter()
    summary = train_defaults(case, work, epochs, seed)
    check = summary.get("augment_auto", {})
    note = "stopped: " + summary["stopped"] if "stopped" in summary else f"bs {summary['bs']}"
    note += (", flips off" if check.get("flips") is False else ", all 8 turns" if check.get("turns") else "")
    note += f", {len(summary['rollbacks'])} rollback(s)" if summary.get("rollbacks") else ""
    return dict(accuracy=summary["accuracy"], best=summary["best"], seconds=time.perf_counter() - t0,
                lr=summary["lr"], note=note)


def run_fastai(case: dict, epochs: int, seed: int) -> dict:
    import warnings
    warnings.filterwarnings("ignore")
    from compare_fastai import lite0_state_dict
    from fastai.callback.progress import ProgressCallback
    from fastai.vision.all import (ImageDataLoaders, Normalize, Resize, accuracy, aug_transforms, set_seed,
                                   vision_learner)
    set_seed(seed)
    t0 = time.perf_counter()
    dls = ImageDataLoaders.from_folder(case["data"], train="train", valid="valid", item_tfms=Resize(case["size"]),
                                       batch_tfms=[*aug_transforms(), Normalize.from_stats([0.5] * 3, [0.5] * 3)],
                                       seed=seed, num_workers=0)
    learn = vision_learner(dls, "tf_efficientnet_lite0", pretrained=False, metrics=accuracy)
    learn.remove_cb(ProgressCallback)
    learn.logger = lambda *a, **k: None
    learn.model[0].model.load_state_dict(lite0_state_dict())
    learn.freeze()
    lr = float(learn.lr_find(show_plot=False).valley)
    learn.fine_tune(epochs - 1, lr)
    accs = [float(v[2]) for v in learn.recorder.values]
    return dict(accuracy=float(learn.validate()[1]), best=max(accs), seconds=time.perf_counter() - t0, lr=lr,
                note=f"bs {dls.bs}")


def table(rows: list[dict]) -> str:
    lines = ["| folder | fastlearn | (best epoch) | fastai | (best epoch) | fastlearn rate, notes | fastai rate | "
             "fastlearn s | fastai s |", "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        fl, fa = r["fastlearn"], r["fastai"]
        lines.append(f"| {r['case']} | {fl['accuracy']:.1%} | {fl['best']:.1%} | {fa['accuracy']:.1%} | "
                     f"{fa['best']:.1%} | {fl['lr']:.1e}, {fl['note']} | {fa['lr']:.1e} | {fl['seconds']:.0f} | "
                     f"{fa['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import warnings
    warnings.filterwarnings("ignore")
    from compare_fastai import machine
    from small_folders import arguments, cases, record
    a = arguments(__doc__.splitlines()[0], argv)
    rows = []
    for case in cases(a.work, a.quick):
        row = dict(case=case["name"], fastlearn=run_fastlearn(case, a.work, a.epochs, a.seed),
                   fastai=run_fastai(case, a.epochs, a.seed))
        rows.append(row)
        print(f"{case['name']}: fastlearn {row['fastlearn']['accuracy']:.1%}, fastai {row['fastai']['accuracy']:.1%}",
              flush=True)
    text = f"{machine()}; `--epochs {a.epochs}`, seed {a.seed}\n\n{table(rows)}"
    print(text)
    if a.record:
        record("Small folders, fastlearn train against fastai fine_tune (bench/small_data.py)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
