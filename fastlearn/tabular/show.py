"""Showing table rows in a figure, titled as interpretation titles images."""
from __future__ import annotations

import pandas as pd

__all__ = ["RowItems"]


class RowItems:
    """A split's rows; `show` draws the chosen ones as a table with the interpretation's title
    (actual / predicted, probability) as the first column."""

    def __init__(self, rows: pd.DataFrame):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def frame(self, idxs, titles: list[str]) -> pd.DataFrame:
        """The rows `idxs` (positions in the split) with the titles in front."""
        out = self.rows.iloc[list(idxs)].copy()
        out.insert(0, "actual / predicted", [t.replace("\n", ", ") for t in titles])
        return out

    def show(self, idxs, titles: list[str], cols: int = 0):
        import matplotlib.pyplot as plt
        frame = self.frame(idxs, titles)
        cells = [[f"{v:.4g}" if isinstance(v, float) else str(v)[:24] for v in row] for row in frame.itertuples(False)]
        fig, ax = plt.subplots(figsize=(min(2 + 1.4 * frame.shape[1], 24), 0.6 + 0.35 * (len(frame) + 1)))
        ax.axis("off")
        table = ax.table(cellText=cells, colLabels=[str(c) for c in frame.columns], loc="center", cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(8)
        table.auto_set_column_width(list(range(frame.shape[1])))
        fig.tight_layout()
        return fig
