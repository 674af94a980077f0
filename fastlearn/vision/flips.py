"""`augment="auto"`: after the first epoch, find out whether mirror images (and 90-degree turns)
mean the same thing to the model, and augment with them only if they do."""
from __future__ import annotations

import torch

from fastlearn.train.callbacks import Callback

__all__ = ["check_flips", "CheckFlips"]


def check_flips(learn, margin: float = 0.03) -> dict | None:
    """For data augmented with `augment="auto"` (no flips so far): compare the validation
    accuracy on the images, on their mirror images and, when mirroring is harmless, on the
    images turned by 90 degrees. Where a change loses clearly more images than it gains (by
    `margin` of the set, and beyond chance), the images mean something else once changed so
    (mirrored: digits, text, road signs; turned: side-on photos) and training goes on without
    it: side_on's flips for photos, all 8 turns (top_down) for images with no "up", no flips
    for digits. Says what it decided; returns what was measured and decided (also kept as
    `data.flip_check`), or None when the data is not on "auto" (or is multi-label)."""
    data = learn.data
    if getattr(data, "augment_spec", None) != "auto" or learn.multi_label:
        return None
    loader = data.loader("valid", augment=False, shuffle=False)

    class Changed:
        def __init__(self, change):
            self.change = change

        def __iter__(self):
            return ((self.change(xb), yb) for xb, yb in loader)

    (plain, targets), (mirrored, _), (turned, _) = learn._outputs(
        learn.model, loader, Changed(lambda x: x.flip(3)), Changed(lambda x: x.rot90(1, (2, 3))))
    right = plain.argmax(1) == targets

    def harmless(outputs: torch.Tensor) -> bool:
        # images only one of the two gets right: the change hurts when it loses clearly more
        # than it gains, by `margin` of the set and by twice the noise of such a count (McNemar's)
        right_changed = outputs.argmax(1) == targets
        lost, gained = int((right & ~right_changed).sum()), int((~right & right_changed).sum())
        return lost - gained <= max(margin * len(targets), 2 * (lost + gained) ** 0.5)

    flips = harmless(mirrored)
    turns = flips and harmless(turned)
    data.set_flips(flips, turns)
    acc = lambda outputs: float((outputs.argmax(1) == targets).float().mean())  # noqa: E731
    data.flip_check = {"accuracy": acc(plain), "mirrored_accuracy": acc(mirrored),
                       "turned_accuracy": acc(turned), "flips": flips, "turns": turns}
    print(f"augment auto: validation accuracy {acc(plain):.1%} on the images, {acc(mirrored):.1%} mirrored, "
          f"{acc(turned):.1%} turned 90 degrees: "
          + ("all 8 turns and mirrors from now on (top_down)" if turns else
             "flips on from now on (side_on)" if flips else "mirroring changes them, so no flips"))
    return data.flip_check


class CheckFlips(Callback):
    """Runs `check_flips` at the end of the first epoch of any fit on data with `augment="auto"`
    (a no-op once decided). `ImageData` gives every Learner one; it runs before the callbacks
    passed to `fit`, so a checkpoint saved at that epoch records the decision."""

    def epoch_end(self, learn, epoch, row):
        check_flips(learn)
