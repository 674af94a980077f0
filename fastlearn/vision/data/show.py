"""Looking at the data first: a grid of a batch, and counts and image sizes."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["show_batch", "DataSummary", "ImageItems", "image_grid"]


def image_grid(images: np.ndarray, titles: list[str], cols: int, figsize: float = 2.0):
    """A matplotlib figure of HWC float images in [0, 1] (or uint8) with a title each."""
    import matplotlib.pyplot as plt  # falls back to the Agg backend by itself when headless
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(figsize * cols, figsize * rows + 0.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


class ImageItems:
    """A split's images (HWC uint8, from the cache) and paths, drawn in a grid with a title each."""

    def __init__(self, pixels: np.ndarray, paths: list):
        self.pixels, self.paths = pixels, paths

    def __len__(self) -> int:
        return len(self.pixels)

    def show(self, idxs, titles: list[str], cols: int):
        return image_grid(np.stack([self.pixels[i] for i in idxs]), titles, cols=cols)


def show_batch(data, rows: int = 3, split: str = "train", figsize: float = 2.0):
    """Figure of the first rows*rows images of one batch of `split`, as the model receives them."""
    n = rows * rows
    dl = data.loader(split, bs=n)
    x, y = next(iter(dl))
    mean = np.array(data.stats[0]).reshape(1, 3, 1, 1)
    std = np.array(data.stats[1]).reshape(1, 3, 1, 1)
    imgs = np.clip(x.cpu().float().numpy() * std + mean, 0, 1).transpose(0, 2, 3, 1)
    if split == "test":
        titles = [p.name for p in data.paths_of("test")[:n]]
    elif data.multi_label:
        titles = [";".join(data.classes[j] for j in np.flatnonzero(row)) or "(none)" for row in y.cpu().numpy()]
    else:
        titles = [data.classes[int(i)] for i in y.cpu()]
    return image_grid(imgs, titles, cols=rows, figsize=figsize)


@dataclass
class DataSummary:
    """Counts per class and split, and the original heights and widths of the images."""

    counts: pd.DataFrame  # index: class, columns: train, valid
    heights: np.ndarray
    widths: np.ndarray
    n_test: int
    n_bad: int
    multi_label: bool

    @classmethod
    def of(cls, data) -> "DataSummary":
        def count(split):
            return Counter(t for labels in data.labels_of(split) for t in labels)
        tr, va = count("train"), count("valid")
        counts = pd.DataFrame({"train": [tr.get(c, 0) for c in data.classes],
                               "valid": [va.get(c, 0) for c in data.classes]}, index=pd.Index(data.classes, name="class"))
        good = np.concatenate([data.train_idx, data.valid_idx, data.test_idx])
        shapes = data.cache.shapes[good]
        return cls(counts, shapes[:, 0], shapes[:, 1], len(data.test_idx), len(data.bad_files), data.multi_label)

    def __str__(self) -> str:
        kind = "tags" if self.multi_label else "classes"
        lines = [f"{len(self.counts)} {kind}; train {self.counts['train'].sum() if not self.multi_label else '-'} "
                 f"labels; images: train+valid+test {len(self.heights)} (test {self.n_test}), "
                 f"left out as unreadable: {self.n_bad}",
                 self.counts.to_string()]
        for name, v in (("height", self.heights), ("width", self.widths)):
            if len(v):
                q = np.percentile(v, [0, 25, 50, 75, 100]).astype(int)
                lines.append(f"{name}: min {q[0]}, 25% {q[1]}, median {q[2]}, 75% {q[3]}, max {q[4]}")
        return "\n".join(lines)

    def plot(self, figsize=(10, 3)):
        """Figure: images per class (train and valid) and histograms of heights and widths."""
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=figsize)
        self.counts.plot.bar(ax=axes[0], title="images per class")
        axes[1].hist([self.heights, self.widths], bins=30, label=["height", "width"])
        axes[1].set_title("original image sizes (pixels)")
        axes[1].legend()
        fig.tight_layout()
        return fig
