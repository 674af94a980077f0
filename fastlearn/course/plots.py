"""The plotting helpers the lessons import from fastai 0.7's `fastai.plots`. Each returns its figure."""
from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["plots", "plots_from_files", "plot_confusion_matrix"]


def plots(ims, figsize=(12, 6), rows: int = 1, titles=None, maintitle: str | None = None):
    """Images (arrays, (H, W, 3) or (H, W)) in `rows` rows, each with its title if given."""
    import matplotlib.pyplot as plt
    ims = list(ims)
    fig = plt.figure(figsize=figsize)
    if maintitle is not None:
        fig.suptitle(maintitle, fontsize=16)
    cols = max(1, -(-len(ims) // rows))
    for i, im in enumerate(ims):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axis("off")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=16)
        im = np.asarray(im)
        ax.imshow(im, cmap="gray" if im.ndim == 2 else None)
    return fig


def plots_from_files(imspaths, figsize=(10, 5), rows: int = 1, titles=None, maintitle: str | None = None):
    """`plots` of the images in these files."""
    ims = [np.array(Image.open(p).convert("RGB")) for p in imspaths]
    return plots(ims, figsize=figsize, rows=rows, titles=titles, maintitle=maintitle)


def plot_confusion_matrix(cm, classes, normalize: bool = False, title: str = "Confusion matrix", cmap=None,
                          figsize=None):
    """A confusion matrix (rows: actual, columns: predicted) with its counts written in the cells;
    `normalize` divides each row by its total."""
    import matplotlib.pyplot as plt
    cm = np.asarray(cm, dtype=np.float64 if normalize else None)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=figsize)
    ax.imshow(cm, interpolation="nearest", cmap=cmap or plt.cm.Blues)
    ax.set_title(title)
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, [str(c) for c in classes], rotation=45)
    ax.set_yticks(ticks, [str(c) for c in classes])
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}", ha="center",
                    color="white" if cm[i, j] > threshold else "black")
    ax.set_ylabel("True label")
    ax.set_xlabel("Predicted label")
    fig.tight_layout()
    return fig
