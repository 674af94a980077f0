"""The `fastlearn` command line (also `python -m fastlearn`).

    fastlearn train DATA [--csv FILE] [--arch NAME] [--size 224] [--epochs 4] [--lr auto] ...
    fastlearn lr-find DATA ...        fastlearn evaluate MODEL DATA
    fastlearn predict MODEL PATH...   fastlearn export MODEL --onnx FILE
    fastlearn serve MODEL [--port]    fastlearn demo

Errors are one line on stderr and a non-zero exit; --debug shows the traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="folder with train/ and valid/ class folders (or class folders), or the CSV's root")
    p.add_argument("--csv", help="labels CSV inside DATA (file names, labels), images in DATA/train")
    p.add_argument("--multi-label", action="store_true", help="space-separated tags per image (with --csv)")
    p.add_argument("--folder", default="train", help="image folder inside DATA for --csv (default train)")
    p.add_argument("--suffix", default="", help="appended to the CSV's file names, e.g. .jpg (with --csv)")
    p.add_argument("--arch", default="tf_efficientnet_lite0", help="timm model name (default tf_efficientnet_lite0)")
    p.add_argument("--size", type=int, default=224, help="image size in pixels (default 224)")
    p.add_argument("--bs", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--augment", default="side_on", choices=["side_on", "top_down", "none"])
    p.add_argument("--seed", type=int, default=0)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastlearn", description="Image classifiers with the fast.ai course's recipe.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="lr_find, frozen epoch, unfreeze, SGDR; writes a run folder")
    _data_args(t)
    t.add_argument("--epochs", type=int, default=4, help="all epochs: 1 frozen + the rest unfrozen (default 4)")
    t.add_argument("--lr", default="auto", help="'auto' (lr_find's suggestion) or a number")
    t.add_argument("--precompute", action="store_true", help="train the head on cached activations first")
    t.add_argument("--no-unfreeze", action="store_true", help="train the head only")
    t.add_argument("--tta", action="store_true", help="also report test-time-augmented accuracy")
    t.add_argument("--out", default=None, help="run folder (default runs/<data folder name>)")
    t.add_argument("--resume", action="store_true", help="skip phases already finished in --out")

    f = sub.add_parser("lr-find", help="run the learning-rate finder and save its plot")
    _data_args(f)
    f.add_argument("--out", default="lr_find.png", help="plot file (default lr_find.png)")

    e = sub.add_parser("evaluate", help="accuracy, log loss and per-class metrics of a model on labelled images")
    e.add_argument("model", help="bundle folder written by train/export")
    e.add_argument("data", help="folder of class folders (its valid/ if it has one)")

    pr = sub.add_parser("predict", help="predict image files or folders")
    pr.add_argument("model")
    pr.add_argument("paths", nargs="+")
    pr.add_argument("--top", type=int, default=3, help="classes to show per image")
    pr.add_argument("--csv", help="write all predictions to this CSV")
    pr.add_argument("--tta", action="store_const", const=4, default=0,
                    help="average with 4 views under the training augmentation")

    x = sub.add_parser("export", help="convert a bundle to ONNX")
    x.add_argument("model")
    x.add_argument("--onnx", required=True, help="output .onnx file")

    s = sub.add_parser("serve", help="web page and JSON endpoint for a model")
    s.add_argument("model")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7860)

    d = sub.add_parser("demo", help="train on the embedded MNIST digits and report accuracy")
    d.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    d.add_argument("--size", type=int, default=64)
    d.add_argument("--epochs", type=int, default=4)
    d.add_argument("--arch", default="tf_efficientnet_lite0")
    return p


def _cmd_train(a) -> None:
    from fastlearn.recipe import RecipeConfig, run_recipe
    out = a.out or str(Path("runs") / Path(a.data).resolve().name)
    run_recipe(RecipeConfig(data=a.data, csv=a.csv, folder=a.folder, suffix=a.suffix, arch=a.arch, size=a.size,
                            bs=a.bs, epochs=a.epochs, lr=a.lr, augment=a.augment, precompute=a.precompute,
                            unfreeze=not a.no_unfreeze, tta=a.tta, multi_label=a.multi_label, out=out,
                            resume=a.resume, seed=a.seed))


def _cmd_lr_find(a) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from fastlearn import Learner
    from fastlearn.recipe import RecipeConfig, _load_data
    data = _load_data(RecipeConfig(data=a.data, csv=a.csv, folder=a.folder, suffix=a.suffix, size=a.size, bs=a.bs,
                                   augment=a.augment, multi_label=a.multi_label, seed=a.seed))
    result = Learner.pretrained(a.arch, data, seed=a.seed).lr_find()
    result.plot().savefig(a.out)
    print(f"{result}\nplot: {a.out}")


def _cmd_evaluate(a) -> None:
    from fastlearn import load_learner
    from fastlearn.data.items import items_from_folders
    from fastlearn.infer.predictions import evaluate
    import torch
    pred = load_learner(a.model)
    root = Path(a.data)
    folder = root / "valid" if (root / "valid").is_dir() else root
    items = items_from_folders(folder, exclude={"train", "test"})
    unknown = sorted({lab[0] for lab in items.labels} - set(pred.classes))
    if unknown:
        raise ValueError(f"{folder} has classes the model does not know: {', '.join(unknown)}")
    probs = pred.probs(items.paths)
    targets = torch.tensor([pred.classes.index(lab[0]) for lab in items.labels])
    print(evaluate(probs, targets, pred.classes))


def _cmd_predict(a) -> None:
    import pandas as pd
    from fastlearn import load_learner
    from fastlearn.data.items import list_images
    pred = load_learner(a.model)
    files = []
    for p in map(Path, a.paths):
        if p.is_dir():
            files += list_images(p)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist")
    results = pred.predict_many(files, k=a.top, tta=a.tta)
    for f, r in zip(files, results):
        label = " ".join(r.label) if isinstance(r.label, list) else r.label
        print(f"{f}\t{label}\t" + "  ".join(f"{c} {p:.4f}" for c, p in r.top))
    if a.csv:
        pd.DataFrame({"file": [str(f) for f in files],
                      "label": [" ".join(r.label) if isinstance(r.label, list) else r.label for r in results],
                      "probability": [r.probability for r in results]}).to_csv(a.csv, index=False)


def _cmd_export(a) -> None:
    from fastlearn import load_learner
    from fastlearn.infer.onnx_export import export_onnx
    pred = load_learner(a.model, device="cpu")
    print(export_onnx(pred.model, a.onnx, pred.size, pred.temperature, pred.multi_label))


def _cmd_serve(a) -> None:
    from fastlearn.app import serve
    serve(a.model, a.host, a.port)


def _cmd_demo(a) -> None:
    from fastlearn.demo import run_demo
    run_demo(a.out, a.size, arch=a.arch, epochs=a.epochs)


COMMANDS = {"train": _cmd_train, "lr-find": _cmd_lr_find, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
            "export": _cmd_export, "serve": _cmd_serve, "demo": _cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            raise
        msg = "; ".join(line.strip() for line in str(e).splitlines() if line.strip()) or type(e).__name__
        print(f"fastlearn {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
