"""The `fastlearn` command line (also `python -m fastlearn`).

    fastlearn train DATA [--csv FILE] [--arch NAME] [--size 224] [--epochs 4] [--lr auto] ...
    fastlearn train TABLE.csv --target COLUMN [--folds 5] [--model auto] [--layers 200,100] ...
    fastlearn lr-find DATA ...        fastlearn evaluate MODEL DATA
    fastlearn predict MODEL PATH...   fastlearn export MODEL --onnx FILE
    fastlearn serve MODEL [--port]    fastlearn demo

Errors are one line on stderr and a non-zero exit; --debug (before or after the command)
shows the traceback. Arguments are checked before any work starts.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

__all__ = ["main"]

MIN_SIZE = 16  # below this the pretrained networks' feature maps vanish


class _Parser(argparse.ArgumentParser):
    """argparse with a bad argument reported as one line, not the whole usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole(minimum: int, what: str = "a whole number"):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what} >= {minimum}, got {value}")
        return value
    return parse


def _rate(text: str) -> str | float:
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive number such as 1e-3, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive, finite number such as 1e-3, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1 such as 0.2, got {text!r}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number such as 0.4, got {text!r}")
    return value


def _training(a):
    """The training toolbox's flags as the recipes take them."""
    from fastlearn.train.options import TrainingOptions
    return TrainingOptions(accumulate=a.accumulate, clip_grad=a.clip_grad, label_smoothing=a.label_smoothing,
                           early_stop=a.early_stop, mixup=a.mixup, cutmix=a.cutmix, ema=a.ema, tensorboard=a.tensorboard,
                           scale_lr=a.scale_lr, sync_bn=a.sync_bn)


def _delim(text: str) -> str:
    text = {"\\t": "\t", "tab": "\t", "space": " "}.get(text, text)
    if not text:
        raise argparse.ArgumentTypeError("must not be empty (use 'space' or 'tab' for those)")
    return text


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("must name at least one column, e.g. age,fare")
    return names


def _layers(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(n) for n in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be layer sizes separated by commas, such as 200,100; got {text!r}")
    return sizes


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", help="folder with train/ and valid/ class folders (or class folders), or the CSV's root; "
                                "or a table (a .csv file) with --target")
    p.add_argument("--csv", help="labels CSV inside DATA (file names, labels), images in DATA/train")
    p.add_argument("--multi-label", action="store_true", help="several tags per image (with --csv) or text, space-separated")
    p.add_argument("--label-delim", type=_delim, default=" ",
                   help="what separates the tags with --multi-label: ';', ',', '|', tab or space (default space)")
    p.add_argument("--folder", default="train", help="image folder inside DATA for --csv (default train)")
    p.add_argument("--suffix", default="", help="appended to the CSV's file names, e.g. .jpg (with --csv)")
    p.add_argument("--arch", default="tf_efficientnet_lite0", help="timm model name (default tf_efficientnet_lite0)")
    p.add_argument("--size", type=_whole(MIN_SIZE), default=224, help="image size in pixels (default 224)")
    p.add_argument("--bs", type=_whole(1), default=None,
                   help="batch size (default 64, less when that gives fewer than 30 steps an epoch)")
    p.add_argument("--augment", default="auto", choices=["auto", "side_on", "top_down", "none"],
                   help="auto (default): rotation, zoom and lighting, and after the first epoch flips (side_on) "
                        "or all 8 turns (top_down) unless mirroring or turning the images hurts; or force "
                        "side_on (flips, rotation, zoom, lighting), top_down (all 8 turns) or none")
    p.add_argument("--valid-pct", type=_fraction, default=None,
                   help="validate on this random share of the images (default: DATA's valid/ folder if it has "
                        "one, else 0.2 of the images)")
    p.add_argument("--seed", type=int, default=0)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="fastlearn", description="Image and table models with the fast.ai course's recipes.")
    p.add_argument("--debug", action="store_true", help="show full tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    debug = _Parser(add_help=False)  # --debug after the command works too
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show full tracebacks")

    t = sub.add_parser("train", parents=[debug], help="train on images or a table; writes a run folder")
    _data_args(t)
    t.add_argument("--epochs", type=_whole(1), default=None,
                   help="images: all epochs, 1 frozen + the rest unfrozen (default 4); tables: one-cycle epochs "
                        "(default 10)")
    tab = t.add_argument_group("tables (DATA is a .csv file)")
    tab.add_argument("--target", help="the column to predict")
    tab.add_argument("--cat", type=_names, help="categorical columns, comma-separated (default: decided per column)")
    tab.add_argument("--cont", type=_names, help="continuous columns, comma-separated (default: decided per column)")
    tab.add_argument("--layers", type=_layers, default=(200, 100), help="hidden layer sizes (default 200,100)")
    tab.add_argument("--folds", type=_whole(2), default=None,
                     help="K-fold cross-validation, then the bundle trained on every row (default: one split)")
    tab.add_argument("--model", choices=["auto", "net", "gbm", "ensemble"], default="auto",
                     help="what the bundle predicts with: the network, LightGBM, their average, or auto (default): "
                          "the best of the three by validation")
    tab.add_argument("--encoding", help="the CSV's text encoding when not UTF-8, e.g. latin-1")
    txt = t.add_argument_group("texts (DATA is a .csv file with --text)")
    txt.add_argument("--text", type=_names, help="the text column (several, comma-separated, are joined)")
    txt.add_argument("--max-len", type=_whole(2), default=128, help="tokens a text keeps (default 128)")
    tool = t.add_argument_group("training options (every kind of data unless said)")
    tool.add_argument("--early-stop", type=_whole(1), metavar="PATIENCE", default=None,
                      help="stop a fit after PATIENCE epochs without a lower validation loss; keep the best epoch")
    tool.add_argument("--accumulate", type=_whole(1), metavar="K", default=1,
                      help="add up the gradients of K batches before each step (a K times larger batch)")
    tool.add_argument("--clip-grad", type=_positive, metavar="X", default=None, help="clip the gradient norm to X")
    tool.add_argument("--label-smoothing", type=_fraction, metavar="E", default=0.0,
                      help="train against targets smoothed by E, e.g. 0.1 (classification)")
    tool.add_argument("--mixup", type=_positive, metavar="ALPHA", default=None, help="MixUp training images (images)")
    tool.add_argument("--cutmix", type=_positive, metavar="ALPHA", default=None, help="CutMix training images (images)")
    tool.add_argument("--ema", type=_fraction, metavar="DECAY", default=None,
                      help="validate and export a moving average of the weights, e.g. 0.999")
    tool.add_argument("--tensorboard", metavar="DIR", default=None, help="write TensorBoard logs to DIR")
    t.add_argument("--nproc", type=_whole(1), default=1,
                   help="train data-parallel on N processes of this machine (launches torchrun: GPUs, or the CPU with gloo)")
    tool.add_argument("--sync-bn", action="store_true", help="under several GPUs, BatchNorm over every GPU's batch")
    tool.add_argument("--scale-lr", action="store_true",
                      help="under several processes, scale the rate with the total batch (SGD: linearly; AdamW: square root)")
    t.add_argument("--lr", type=_rate, default="auto", help="'auto' (lr_find's suggestion) or a number")
    t.add_argument("--precompute", action="store_true", help="train the head on cached activations first")
    t.add_argument("--no-unfreeze", action="store_true", help="train the head only")
    t.add_argument("--tta", action="store_true", help="also report test-time-augmented accuracy")
    t.add_argument("--out", default=None, help="run folder (default runs/<data folder name>)")
    again = t.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue the run in --out from its last completed epoch (same settings and data)")
    again.add_argument("--overwrite", action="store_true", help="replace the run already in --out")

    f = sub.add_parser("lr-find", parents=[debug], help="run the learning-rate finder and save its plot")
    _data_args(f)
    f.add_argument("--out", default="lr_find.png", help="plot file (default lr_find.png)")

    e = sub.add_parser("evaluate", parents=[debug],
                       help="accuracy, log loss and per-class metrics of a model on labelled data")
    e.add_argument("model", help="bundle folder written by train/export")
    e.add_argument("data", help="folder of class folders (its valid/ if it has one); for a table or text model, "
                                "a CSV with the target column (and `text`)")

    pr = sub.add_parser("predict", parents=[debug],
                        help="predict image files or folders, the rows of CSV files, or texts (strings or CSVs)")
    pr.add_argument("model", help="the exported model's folder (with --pretrained: a network name)")
    pr.add_argument("paths", nargs="+", help="images or folders, CSV files of rows or texts, or texts")
    pr.add_argument("--pretrained", action="store_true",
                    help="MODEL is a network (e.g. tf_efficientnet_lite0): ImageNet's 1,000 categories, its own head")
    pr.add_argument("--top", type=_whole(1), default=3, help="classes to show per image")
    pr.add_argument("--csv", help="write all predictions to this CSV")
    pr.add_argument("--tta", action="store_const", const=4, default=0,
                    help="average with 4 views under the training augmentation")

    x = sub.add_parser("export", parents=[debug], help="convert a bundle to ONNX")
    x.add_argument("model")
    x.add_argument("--onnx", required=True, help="output .onnx file")

    s = sub.add_parser("serve", parents=[debug], help="web page and JSON endpoint for a model")
    s.add_argument("model")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_whole(0), default=7860)
    s.add_argument("--max-mb", type=_whole(1), default=20, help="largest upload in megabytes (default 20)")
    s.add_argument("--max-megapixels", type=_whole(1), default=40,
                   help="largest image, refused from its header before decoding (default 40)")
    s.add_argument("--max-batch", type=_whole(1), default=16,
                   help="requests that arrive together share one forward pass, up to this many (1: no batching)")

    sp = sub.add_parser("space", parents=[debug], help="a folder ready to push to a Hugging Face Space")
    sp.add_argument("model")
    sp.add_argument("--out", required=True, help="the folder to write (app.py, requirements.txt, README.md, model/)")
    sp.add_argument("--title", help="the Space's title (default: the kind of model)")
    sp.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty --out")

    d = sub.add_parser("demo", parents=[debug], help="train on the embedded MNIST digits and report accuracy")
    d.add_argument("--out", default="runs/demo", help="run folder (default runs/demo)")
    d.add_argument("--size", type=_whole(MIN_SIZE), default=64)
    d.add_argument("--epochs", type=_whole(1), default=4)
    d.add_argument("--arch", default="tf_efficientnet_lite0")
    return p


def _cmd_train(a) -> None:
    data = Path(a.data)
    if a.text:
        return _train_text(a)
    if data.is_file() or a.target:
        return _train_table(a)
    from fastlearn.vision.recipe import RecipeConfig, run_recipe
    out = a.out or str(Path("runs") / data.resolve().name)
    run_recipe(RecipeConfig(data=a.data, csv=a.csv, folder=a.folder, suffix=a.suffix, arch=a.arch, size=a.size,
                            bs=a.bs, epochs=a.epochs or 4, lr=a.lr, augment=a.augment, precompute=a.precompute,
                            unfreeze=not a.no_unfreeze, tta=a.tta, multi_label=a.multi_label,
                            label_delim=a.label_delim, valid_pct=a.valid_pct, out=out, resume=a.resume,
                            overwrite=a.overwrite, seed=a.seed, training=_training(a)))


def _train_table(a) -> None:
    data = Path(a.data)
    if not data.is_file():
        raise ValueError(f"{data} is not a file: --target is for a table (a .csv file); for images, leave it out")
    if not a.target:
        raise ValueError(f"{data} is a file: pass --target COLUMN to learn that column from the table "
                         "(for images, pass a folder)")
    if a.resume:
        raise ValueError("--resume is for image runs; a table trains in seconds: pass --overwrite to run again")
    from fastlearn.tabular.recipe import TableRecipeConfig, run_table_recipe
    out = a.out or str(Path("runs") / data.stem)
    run_table_recipe(TableRecipeConfig(
        data=a.data, target=a.target, cat=a.cat, cont=a.cont, layers=a.layers, epochs=a.epochs or 10, lr=a.lr,
        bs=a.bs or 64, folds=a.folds, model=a.model, valid_pct=a.valid_pct or 0.2, out=out, overwrite=a.overwrite,
        seed=a.seed, encoding=a.encoding, training=_training(a)))


def _train_text(a) -> None:
    data = Path(a.data)
    if not data.is_file() or not a.target:
        raise ValueError("--text needs a CSV file as DATA and --target COLUMN (the label to learn)")
    from fastlearn.text.recipe import TextRecipeConfig, run_text_recipe
    arch = a.arch if a.arch != "tf_efficientnet_lite0" else "all-MiniLM-L6-v2"  # the images' default is not a text model
    run_text_recipe(TextRecipeConfig(
        data=a.data, text=a.text, target=a.target, arch=arch, epochs=a.epochs or 2, lr=a.lr, bs=a.bs or 32,
        max_len=a.max_len, valid_pct=a.valid_pct or 0.2, out=a.out or str(Path("runs") / data.stem),
        overwrite=a.overwrite, seed=a.seed, encoding=a.encoding, label_delim=a.label_delim if a.multi_label else None,
        training=_training(a)))


def _cmd_lr_find(a) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from fastlearn import Learner
    from fastlearn.vision.recipe import RecipeConfig, _load_data
    data = _load_data(RecipeConfig(data=a.data, csv=a.csv, folder=a.folder, suffix=a.suffix, size=a.size, bs=a.bs,
                                   augment=a.augment, multi_label=a.multi_label, label_delim=a.label_delim,
                                   valid_pct=a.valid_pct, seed=a.seed))
    result = Learner.pretrained(a.arch, data, seed=a.seed).lr_find()
    result.plot().savefig(a.out)
    print(f"{result}\nplot: {a.out}")


def _cmd_evaluate(a) -> None:
    import torch
    from fastlearn import load_learner
    from fastlearn.vision.data.items import items_from_folders
    from fastlearn.infer.predictions import evaluate
    pred = load_learner(a.model)
    if pred.kind in ("table", "text"):
        return _evaluate_table(pred, a)
    root = Path(a.data)
    folder = root / "valid" if (root / "valid").is_dir() else root
    items = items_from_folders(folder, exclude={"train", "test"} if folder == root else set())
    if folder == root:
        items = _held_out(items, root, pred.manifest.get("valid_files"))
    unknown = sorted({lab[0] for lab in items.labels} - set(pred.classes))
    if unknown:
        raise ValueError(f"{folder} has classes the model does not know: {', '.join(unknown)}")
    probs = pred.probs(items.paths)
    targets = torch.tensor([pred.classes.index(lab[0]) for lab in items.labels])
    print(evaluate(probs, targets, pred.classes))


def _evaluate_table(pred, a) -> None:
    """A table or text model scored on a labelled CSV (a text model reads its `text` column)."""
    import torch
    from fastlearn.infer.predictions import evaluate
    from fastlearn.utils.csv_files import read_table
    from fastlearn.utils.targets import category_key
    df = read_table(a.data)
    needed = [pred.target] + (["text"] if pred.kind == "text" else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{a.data} has no {', '.join(map(repr, missing))} column to score against; its columns are "
                         f"{', '.join(map(str, df.columns))}")
    df = df[df[pred.target].notna()]
    probs = pred.probs(df if pred.kind == "table" else df["text"].fillna("").astype(str).tolist())
    if pred.regression:
        err = probs.view(-1) - torch.tensor(df[pred.target].to_numpy(dtype="float32"))
        print(f"RMSE {float(err.pow(2).mean().sqrt()):.4f} on {len(df)} rows")
        return
    if pred.multi_label:
        from fastlearn.train.multilabel import fbeta_probs, per_tag_report
        delim = pred.manifest.get("label_delim") or " "
        tags = [[t for t in str(v).split(delim) if t.strip()] for v in df[pred.target]]
        unknown = sorted({t for ts in tags for t in ts} - set(pred.classes))
        if unknown:
            raise ValueError(f"{a.data} has tags the model does not know: {', '.join(unknown)}")
        y = torch.tensor([[float(c in ts) for c in pred.classes] for ts in tags])
        print(per_tag_report(probs, y, list(pred.classes), pred.threshold).to_string())
        print(f"F2 {fbeta_probs(probs, y, 2.0, pred.threshold):.4f} on {len(df)} rows")
        return
    keys = df[pred.target].map(category_key)
    unknown = sorted(set(keys) - set(pred.classes))
    if unknown:
        raise ValueError(f"{a.data} has classes the model does not know: {', '.join(unknown)}")
    print(evaluate(probs, torch.tensor([pred.classes.index(k) for k in keys]), pred.classes))


def _held_out(items, root: Path, valid_files: list[str] | None):
    """Of the images in `root` (a folder without valid/), those the model was validated on, when
    the bundle records them and `root` has them; else all, with a warning that the score flatters."""
    import warnings
    from fastlearn.vision.data.items import Items
    if valid_files:
        wanted, base = set(valid_files), root.resolve()
        # recorded relative to the folder training was given: this one, or the one above it (DATA/train)
        keep = [i for i, p in enumerate(items.paths) if p.resolve().is_relative_to(base) and (
            (rel := p.resolve().relative_to(base).as_posix()) in wanted or f"{base.name}/{rel}" in wanted)]
        if keep:
            print(f"evaluating on the {len(keep)} image(s) of {root} that the model was validated on "
                  f"(held out from its training); {len(items) - len(keep)} training image(s) left out")
            return Items([items.paths[i] for i in keep], [items.labels[i] for i in keep])
    warnings.warn(f"{root} has no valid/ folder and the model does not record which of these images it was "
                  "validated on: the score below includes any images it trained on and flatters it. Evaluate on a "
                  "folder of images the model has not seen.")
    return items


def _cmd_predict(a) -> None:
    import warnings

    import pandas as pd
    from fastlearn import load_learner
    from fastlearn.vision.data.items import list_images, printable
    from fastlearn.utils.atomic import atomic_path
    if a.pretrained:
        from fastlearn.vision.imagenet import pretrained_predictor
        pred = pretrained_predictor(a.model)
    else:
        pred = load_learner(a.model)
    if pred.kind == "table":
        return _predict_table(pred, a)
    if pred.kind == "text":
        return _predict_texts(pred, a)
    files = []
    for p in map(Path, a.paths):
        files += list_images(p) if p.is_dir() else [p]  # a missing file gets a row saying so
    results = pred.predict_many(files, k=a.top, tta=a.tta, errors="keep")
    labels = [None if r.error else " ".join(r.label) if isinstance(r.label, list) else r.label for r in results]
    for f, r, label in zip(files, results, labels):
        shown = f"error: {r.error}" if r.error else f"{label}\t" + "  ".join(f"{c} {p:.4f}" for c, p in r.top)
        print(f"{printable(f)}\t{shown}")
    bad = [(f, r.error) for f, r in zip(files, results) if r.error]
    if a.csv:
        table = pd.DataFrame({"file": [printable(f) for f in files], "label": labels,
                              "probability": [None if r.error else r.probability for r in results],
                              "error": [r.error or "" for r in results]})
        with atomic_path(a.csv) as tmp:
            table.to_csv(tmp, index=False)
    if bad and len(bad) == len(files):
        raise ValueError(f"none of the {len(files)} file(s) could be read as an image, e.g. {printable(bad[0][0])}: "
                         f"{bad[0][1]}")
    if bad:
        warnings.warn(f"{len(bad)} of {len(files)} file(s) could not be read and have an error instead of a "
                      f"prediction{' (the error column of ' + a.csv + ')' if a.csv else ''}: "
                      + "; ".join(f"{printable(f)}: {why}" for f, why in bad[:5]) + (" ..." if len(bad) > 5 else ""))


def _predict_table(pred, a) -> None:
    import pandas as pd
    from fastlearn.utils.csv_files import read_table
    frames = []
    for p in map(Path, a.paths):
        if p.suffix.lower() != ".csv":
            raise ValueError(f"{p}: a table model predicts the rows of CSV files; pass one or more .csv files")
        frames.append(read_table(p))
    table = pred.predict_table(pd.concat(frames, ignore_index=True), csv=a.csv)
    print(table.to_string(max_rows=40))
    if a.csv:
        print(f"{len(table)} predictions written to {a.csv}")


def _predict_texts(pred, a) -> None:
    """Texts from CSV files (their `text` column, or the first) or given on the command line."""
    import pandas as pd
    from fastlearn.utils.atomic import atomic_path
    from fastlearn.utils.csv_files import read_table
    texts = []
    for item in a.paths:
        if item.lower().endswith(".csv") and Path(item).is_file():
            df = read_table(item)
            texts += df["text" if "text" in df.columns else df.columns[0]].fillna("").astype(str).tolist()
        else:
            texts.append(item)
    results = pred.predict_many(texts, k=a.top)
    labels = [" ".join(r.label) if isinstance(r.label, list) else r.label for r in results]  # tags: space-separated
    for t, r, label in zip(texts, results, labels):
        print(f"{label}\t{r.probability:.4f}\t{t[:80]}")
    if a.csv:
        with atomic_path(a.csv) as tmp:
            pd.DataFrame({"text": texts, "label": labels,
                          "probability": [r.probability for r in results]}).to_csv(tmp, index=False)


def _cmd_export(a) -> None:
    from fastlearn import load_learner
    from fastlearn.vision.onnx_export import export_onnx
    pred = load_learner(a.model, device="cpu")
    if pred.kind != "image":
        raise ValueError(f"ONNX export is for image models; {a.model} holds a {pred.kind} model")
    print(export_onnx(pred.model, a.onnx, pred.size, pred.temperature, pred.multi_label))


def _cmd_serve(a) -> None:
    from fastlearn.app import serve
    serve(a.model, a.host, a.port, max_bytes=a.max_mb * 1024 * 1024, max_pixels=a.max_megapixels * 1_000_000,
          max_batch=a.max_batch)


def _cmd_demo(a) -> None:
    from fastlearn.demo import run_demo
    run_demo(a.out, a.size, arch=a.arch, epochs=a.epochs)


def _cmd_space(a) -> None:
    from fastlearn.space import write_space
    out = write_space(a.model, a.out, a.title, a.overwrite)
    print(f"{out}/: app.py, requirements.txt, README.md and model/. Push it to a Space created with the Gradio SDK.")


COMMANDS = {"train": _cmd_train, "lr-find": _cmd_lr_find, "evaluate": _cmd_evaluate, "predict": _cmd_predict,
            "export": _cmd_export, "serve": _cmd_serve, "space": _cmd_space, "demo": _cmd_demo}


def _launch(argv: list[str], nproc: int) -> int:
    """`fastlearn train ... --nproc N` as `torchrun --nproc_per_node N -m fastlearn train ...` on this machine."""
    import socket
    import subprocess
    rest, skip = [], False
    for i, arg in enumerate(argv):  # the same arguments without --nproc
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            rest.append(arg)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1",
           "--master_port", str(port), "-m", "fastlearn", *rest]
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    if getattr(args, "nproc", 1) > 1 and "WORLD_SIZE" not in os.environ:
        return _launch(argv, args.nproc)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone prints; errors still show
        sys.stdout = open(os.devnull, "w")
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
