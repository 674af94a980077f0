"""Looking at the model: which images it gets right, wrong, or is unsure of, and what it confuses.

Every `plot_*` has a twin that returns the selected indices (into the split, in loader order),
so what a grid shows can be checked against the probabilities. The items are drawn by their
data kind (`data.items_of(split)`): images from the decode-once cache, table rows as a table.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Interpretation"]


@dataclass
class Interpretation:
    """Predictions of a learner on one labelled split, with views to inspect them."""

    probs: np.ndarray  # (n, c)
    targets: np.ndarray  # (n,)
    classes: list[str]
    items: object  # the split's items, with show(idxs, titles, cols) -> figure (data.items_of)
    seed: int = 0

    @classmethod
    def from_learner(cls, learn, split: str = "valid", tta: bool = False) -> "Interpretation":
        """Predict `split` (with TTA if asked) and keep what the views need."""
        if learn.multi_label:
            raise ValueError("Interpretation covers single-label data; for tags use the per-tag metrics")
        from fastlearn.infer import predictions as infer
        probs, targets = infer.tta(learn, split=split) if tta else infer.predict(learn, split)
        return cls.from_predictions(learn.data, split, probs, targets)

    @classmethod
    def from_predictions(cls, data, split: str, probs, targets) -> "Interpretation":
        """From probabilities and targets already computed for `split` of `data` (in loader order)."""
        return cls(np.asarray(probs), np.asarray(targets), list(data.classes), data.items_of(split),
                   getattr(data, "seed", 0))

    # ----- derived ---------------------------------------------------------------------------
    @property
    def preds(self) -> np.ndarray:
        return self.probs.argmax(1)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted class."""
        return self.probs.max(1)

    @property
    def losses(self) -> np.ndarray:
        """Per-item log loss of the true class."""
        return -np.log(np.clip(self.probs[np.arange(len(self.targets)), self.targets], 1e-15, 1))

    def _cls(self, cls: int | str) -> int:
        return self.classes.index(cls) if isinstance(cls, str) else int(cls)

    # ----- selections --------------------------------------------------------------------------
    def random_correct(self, k: int = 4) -> np.ndarray:
        """k correctly classified items chosen at random (seeded)."""
        pool = np.flatnonzero(self.preds == self.targets)
        return np.random.default_rng(self.seed).permutation(pool)[:k]

    def random_incorrect(self, k: int = 4) -> np.ndarray:
        """k misclassified items chosen at random (seeded)."""
        pool = np.flatnonzero(self.preds != self.targets)
        return np.random.default_rng(self.seed).permutation(pool)[:k]

    def most_correct(self, cls: int | str, k: int = 4) -> np.ndarray:
        """Items of class `cls` predicted as `cls` with the highest probability."""
        c = self._cls(cls)
        pool = np.flatnonzero((self.targets == c) & (self.preds == c))
        return pool[np.argsort(-self.probs[pool, c], kind="stable")][:k]

    def most_incorrect(self, cls: int | str, k: int = 4) -> np.ndarray:
        """Items of class `cls` predicted as something else, most confidently first."""
        c = self._cls(cls)
        pool = np.flatnonzero((self.targets == c) & (self.preds != c))
        return pool[np.argsort(-self.confidence[pool], kind="stable")][:k]

    def most_uncertain(self, k: int = 4, cls: int | str | None = None) -> np.ndarray:
        """Items whose top two probabilities are closest (of class `cls` if given)."""
        top2 = np.sort(self.probs, axis=1)[:, -2:]
        margin = top2[:, 1] - top2[:, 0]
        pool = np.arange(len(self.targets)) if cls is None else np.flatnonzero(self.targets == self._cls(cls))
        return pool[np.argsort(margin[pool], kind="stable")][:k]

    def top_losses(self, k: int = 9) -> np.ndarray:
        """The k items with the largest log loss."""
        return np.argsort(-self.losses, kind="stable")[:k]

    def confusion_matrix(self) -> np.ndarray:
        """Counts: rows are actual classes, columns predicted ones."""
        c = len(self.classes)
        return np.bincount(self.targets * c + self.preds, minlength=c * c).reshape(c, c)

    def most_confused(self, min_count: int = 1) -> list[tuple[str, str, int]]:
        """(actual, predicted, count) for off-diagonal cells with at least `min_count`, largest first."""
        cm = self.confusion_matrix()
        pairs = [(self.classes[i], self.classes[j], int(cm[i, j])) for i in range(len(cm)) for j in range(len(cm))
                 if i != j and cm[i, j] >= min_count]
        return sorted(pairs, key=lambda t: -t[2])

    # ----- plots ---------------------------------------------------------------------------------
    def plot(self, idxs, title: str = "", cols: int = 4):
        """A grid of the items `idxs`: actual / predicted and the probability of the prediction."""
        idxs = list(idxs)
        if not idxs:
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(4, 1))
            ax.axis("off")
            ax.text(0.5, 0.5, f"{title}: none", ha="center", va="center")
            return fig
        titles = [f"{self.classes[self.targets[i]]} / {self.classes[self.preds[i]]}\np={self.confidence[i]:.3f}"
                  for i in idxs]
        fig = self.items.show(idxs, titles, min(cols, len(idxs)))
        if title:
            fig.suptitle(f"{title} (actual / predicted)", y=1.02)
        return fig

    def plot_random_correct(self, k: int = 4):
        return self.plot(self.random_correct(k), "correct, at random")

    def plot_random_incorrect(self, k: int = 4):
        return self.plot(self.random_incorrect(k), "incorrect, at random")

    def plot_most_correct(self, cls: int | str, k: int = 4):
        return self.plot(self.most_correct(cls, k), f"most confident correct {self.classes[self._cls(cls)]}")

    def plot_most_incorrect(self, cls: int | str, k: int = 4):
        return self.plot(self.most_incorrect(cls, k), f"most confident incorrect {self.classes[self._cls(cls)]}")

    def plot_most_uncertain(self, k: int = 4, cls: int | str | None = None):
        return self.plot(self.most_uncertain(k, cls), "most uncertain")

    def plot_top_losses(self, k: int = 9):
        idxs = self.top_losses(k)
        titles = [f"{self.classes[self.targets[i]]} / {self.classes[self.preds[i]]}\n"
                  f"loss {self.losses[i]:.2f}, p={self.probs[i, self.targets[i]]:.3f}" for i in idxs]
        fig = self.items.show(idxs, titles, int(np.ceil(np.sqrt(len(idxs)))))
        fig.suptitle("top losses (actual / predicted, loss, probability of actual)", y=1.02)
        return fig

    def plot_confusion_matrix(self, normalize: bool = False, cmap: str = "Blues"):
        """Colour-coded confusion matrix with the count (or row fraction) in every cell."""
        import matplotlib.pyplot as plt
        cm = self.confusion_matrix().astype(float)
        if normalize:
            cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        n = len(self.classes)
        fig, ax = plt.subplots(figsize=(max(4, 0.6 * n + 2), max(4, 0.6 * n + 2)))
        im = ax.imshow(cm, cmap=cmap)
        fig.colorbar(im, ax=ax, fraction=0.046)
        ax.set_xticks(range(n), self.classes, rotation=90 if n > 8 else 0)
        ax.set_yticks(range(n), self.classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        thresh = cm.max() / 2 if cm.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}", ha="center", va="center",
                        color="white" if cm[i, j] > thresh else "black", fontsize=8)
        ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else ""))
        fig.tight_layout()
        return fig
