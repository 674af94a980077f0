"""Data-parallel training on `torch.distributed`, as `torchrun` launches it.

`torchrun` starts one process per device and tells each its RANK, LOCAL_RANK and WORLD_SIZE
(and where to meet: MASTER_ADDR/MASTER_PORT or a rendezvous). Everything here reads those: with
no WORLD_SIZE, or 1, there is one process and every helper does nothing. The process group is
created on first use (gloo on the CPU, NCCL on CUDA), with a timeout
(`FASTLEARN_DIST_TIMEOUT` seconds, default 600) after which a collective that a dead or stuck
rank never joins raises instead of hanging.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import os

import torch

__all__ = ["world_size", "rank", "local_rank", "is_main", "ensure_process_group", "barrier", "broadcast_object",
           "all_reduce_sum", "mean_over_ranks", "any_rank", "broadcast_buffers", "rank_zero_first", "own_batches",
           "scaled_rate", "ShardedBatches"]


def world_size() -> int:
    """How many processes train together (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank among them (0 without torchrun)."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's rank on its machine: the GPU it uses."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Whether this process prints and writes files (rank 0)."""
    return rank() == 0


def ensure_process_group() -> bool:
    """Joins the process group torchrun describes, once; True when training on several processes."""
    if world_size() <= 1:
        return False
    import torch.distributed as dist
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=float(os.environ.get("FASTLEARN_DIST_TIMEOUT", "600")))
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local_rank())
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
        # Left to the interpreter's exit, gloo's threads can abort the process after it finished
        # ("terminate called without an active exception"), failing a run that succeeded.
        atexit.register(_leave_process_group)
    return True


def _leave_process_group() -> None:
    import torch.distributed as dist
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Waits until every process gets here (nothing with one process)."""
    if ensure_process_group():
        import torch.distributed as dist
        dist.barrier()


def broadcast_object(obj):
    """Rank 0's `obj` on every rank (a picklable value; internal messages only)."""
    if not ensure_process_group():
        return obj
    import torch.distributed as dist
    box = [obj if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """`t` summed over every rank, in place (as it is with one process)."""
    if ensure_process_group():
        import torch.distributed as dist
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def mean_over_ranks(t: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over every rank (the tensor itself with one process)."""
    if world_size() <= 1:
        return t
    return all_reduce_sum(t.detach().clone()) / world_size()


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any (so that all stop together, none waiting alone)."""
    if world_size() <= 1:
        return flag
    return bool(all_reduce_sum(torch.tensor([1.0 if flag else 0.0])).item() > 0)


def broadcast_buffers(module: torch.nn.Module) -> None:
    """Rank 0's buffers (BatchNorm's running statistics) on every rank, so all evaluate alike."""
    if not ensure_process_group():
        return
    import torch.distributed as dist
    for b in module.buffers():
        dist.broadcast(b.data, src=0)


def scaled_rate(lr: float, opt: str, world: int | None = None) -> float:
    """The rate for `world` processes each keeping the batch size one process trained with: the
    total batch grows `world`-fold, so the rate grows with it, linearly for SGD (Goyal et al.
    2017) and by the square root for Adam-type optimizers (their step is already normalised)."""
    world = world_size() if world is None else world
    return lr * (world if opt == "sgd" else world ** 0.5)


@contextlib.contextmanager
def rank_zero_first():
    """Rank 0 runs the block first (building a cache); the other ranks wait, then run it (reading it)."""
    several = ensure_process_group()
    if several and not is_main():
        barrier()
    try:
        yield
    finally:
        if several and is_main():
            barrier()


def own_batches(n_batches: int, rank_: int, world: int) -> list[int]:
    """The batches of an epoch (numbered 0..n_batches-1 in an order every rank shares) that
    `rank_` trains on: every world-th one, and as many for every rank, the short ranks taking
    batches from the start again, so that no rank waits in an all-reduce the others never reach."""
    if world <= 1:
        return list(range(n_batches))
    per_rank = -(-n_batches // world)
    return [(rank_ + k * world) % max(1, n_batches) for k in range(per_rank)] if n_batches else []


class ShardedBatches:
    """What a training loader needs to train under torchrun: `shard(rank, world)` and a length
    that counts this rank's batches. A loader gives `_all_batches()` (its batches an epoch) and
    iterates the batch numbers `_own_batches()` returns."""

    rank, world = 0, 1

    def shard(self, rank: int, world: int):
        """Yield only this rank's share of each epoch's batches (the order is the same on every rank)."""
        self.rank, self.world = rank, world
        return self

    def _all_batches(self) -> int:
        raise NotImplementedError

    def _own_batches(self, n_batches: int | None = None) -> list[int]:
        return own_batches(self._all_batches() if n_batches is None else n_batches, self.rank, self.world)

    def __len__(self) -> int:
        return len(self._own_batches())
