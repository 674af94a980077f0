"""Showing texts in a figure, titled as interpretation titles images."""
from __future__ import annotations

import textwrap

__all__ = ["TextItems"]


class TextItems:
    """A split's texts; `show` draws the chosen ones, each under its title."""

    def __init__(self, texts: list[str]):
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def show(self, idxs, titles: list[str], cols: int = 0):
        import matplotlib.pyplot as plt
        idxs = list(idxs)
        fig, ax = plt.subplots(figsize=(10, 0.4 + 0.9 * len(idxs)))
        ax.axis("off")
        lines = [f"{t.replace(chr(10), ', ')}\n    " + textwrap.shorten(self.texts[i], 150) for i, t in zip(idxs, titles)]
        ax.text(0, 1, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=8, wrap=True)
        fig.tight_layout()
        return fig
