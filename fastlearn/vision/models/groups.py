"""Layer groups (early body, late body, head) derived from each model's own structure.

timm models describe their stages with `group_matcher`; other bodies are split by their
top-level children. The ordered blocks are cut into `n - 1` contiguous body groups holding
about equal numbers of blocks (ResNets split after layer2, as fastai does), and the head
is the last group.
"""
from __future__ import annotations

from torch import nn

__all__ = ["body_blocks", "split_groups"]


def body_blocks(body: nn.Module) -> list[list[str]]:
    """Ordered blocks of the body, each a list of parameter names."""
    if hasattr(body, "group_matcher"):
        from timm.models import group_parameters
        groups = group_parameters(body, body.group_matcher(coarse=True))
        return [names for _, names in sorted(groups.items())]
    blocks = []
    for child_name, child in body.named_children():
        names = [f"{child_name}.{n}" for n, _ in child.named_parameters()]
        if names:
            blocks.append(names)
    return blocks


def split_groups(blocks: list[list[str]], n_body_groups: int) -> list[list[str]]:
    """Cut ordered blocks into `n_body_groups` contiguous groups, earlier groups never smaller."""
    if not 1 <= n_body_groups <= len(blocks):
        raise ValueError(f"the body has {len(blocks)} blocks; it cannot be cut into {n_body_groups} groups")
    out, start = [], 0
    for g in range(n_body_groups):
        end = start + -(-(len(blocks) - start) // (n_body_groups - g))
        out.append([name for block in blocks[start:end] for name in block])
        start = end
    return out
