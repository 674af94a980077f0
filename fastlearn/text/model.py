"""A pretrained Hugging Face encoder, mean-pooled, with a classifier head; layer groups for
freezing and differential rates as for images."""
from __future__ import annotations

import torch
from torch import nn

from fastlearn.train.freezing import GroupFreezing

__all__ = ["TextClassifier", "mean_pool"]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The average of the token vectors a text has (padding left out), as sentence-transformers
    pools MiniLM."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)


class TextClassifier(GroupFreezing, nn.Module):
    """`forward((input_ids, attention_mask))` -> (n, n_out). The head: BatchNorm, Dropout,
    Linear to `hidden`, ReLU, BatchNorm, Dropout, Linear (the image classifier's). Layer groups:
    the embeddings, the lower half of the encoder's layers, the upper half, the head."""

    def __init__(self, encoder: nn.Module, n_out: int, hidden: int = 512, ps: tuple[float, float] = (0.1, 0.2),
                 arch: str = ""):
        super().__init__()
        if getattr(encoder, "pooler", None) is not None:
            # BERT-style encoders carry a pooler that mean pooling never uses: weights that get no
            # gradient, which DistributedDataParallel refuses (and a bundle need not carry)
            encoder.pooler = None
        self.encoder = encoder
        dim = encoder.config.hidden_size
        self.head = nn.Sequential(nn.BatchNorm1d(dim), nn.Dropout(ps[0]), nn.Linear(dim, hidden), nn.ReLU(inplace=True),
                                  nn.BatchNorm1d(hidden), nn.Dropout(ps[1]), nn.Linear(hidden, n_out))
        self.config = {"arch": arch, "n_out": int(n_out), "hidden": int(hidden), "ps": [float(p) for p in ps]}
        self.freeze_to(self.n_groups - 1)

    def forward(self, x: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        ids, mask = x
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return self.head(mean_pool(hidden, mask))

    @property
    def layer_groups(self) -> list[list[nn.Parameter]]:
        enc = self.encoder
        layers = getattr(getattr(enc, "encoder", None), "layer", None)
        if layers is None or not hasattr(enc, "embeddings"):  # another layout: the encoder as one group
            return [[], list(enc.parameters()), [], list(self.head.parameters())]
        half = len(layers) // 2
        seen = set()
        groups = [list(enc.embeddings.parameters()), [p for l in layers[:half] for p in l.parameters()],
                  [p for l in layers[half:] for p in l.parameters()]]
        for g in groups:
            seen.update(id(p) for p in g)
        groups[2] += [p for p in enc.parameters() if id(p) not in seen]  # a pooler, a final norm
        return groups + [list(self.head.parameters())]

    def bundle_config(self) -> dict:
        """What rebuilds this model for an export bundle (its weights and the encoder's config apart)."""
        return {"arch": self.config["arch"], "model": dict(self.config)}
