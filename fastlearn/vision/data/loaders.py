"""Batches from the image cache to the training device, augmented there.

A background thread slices the next uint8 batch out of the memory-mapped cache (one fancy
index, no decoding, no per-image Python) while the current batch trains. When the whole cache
is already on the device (`resident`: on a GPU with room for it), batches are gathered there
instead and the host does nothing per batch. On the device the batch is turned to float,
augmented (training) or resized (validation, test) and normalised.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator, Sequence

import numpy as np
import torch

from fastlearn.vision.data.augment import BatchAugment, resize_batch
from fastlearn.utils.device import default_device
from fastlearn.utils.distributed import ShardedBatches
from fastlearn.utils.transfer import to_device

__all__ = ["DeviceLoader", "default_device", "eval_batch"]


def eval_batch(x: torch.Tensor, size: int, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """The deterministic transform: uint8 NHWC (on its device) -> resized, normalised float NCHW.

    Validation, test, TTA's centre view and exported models all use exactly this.
    """
    x = resize_batch(x.permute(0, 3, 1, 2), size).float()
    mean, std = mean.to(x.device).view(1, 3, 1, 1), std.to(x.device).view(1, 3, 1, 1)
    return x.mul_(1 / (255 * std)).add_(-mean / std)


class DeviceLoader(ShardedBatches):
    """Iterates `(images, targets)`: images float (N, 3, size, size) normalised, on `device`.

    `pixels` is the (n, S, S, 3) uint8 cache; `index` selects this split's rows of it;
    `targets` holds one target per selected row (class indices, multi-hot rows, or -1 for
    unlabelled data). `augment=None` means the deterministic validation transform.
    `resident`: the same cache as one uint8 tensor already on `device` (`ImageCache.on_device`);
    batches are then gathered from it there, the same batches as from `pixels`.
    """

    def __init__(
        self,
        pixels: np.ndarray,
        index: Sequence[int],
        targets: torch.Tensor,
        size: int,
        bs: int,
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device,
        shuffle: bool = False,
        drop_last: bool = False,
        augment: BatchAugment | None = None,
        seed: int = 42,
        prefetch: int = 2,
        resident: torch.Tensor | None = None,
    ):
        if len(index) != len(targets):
            raise ValueError(f"{len(index)} images but {len(targets)} targets")
        if resident is not None and (resident.device.type != torch.device(device).type or resident.shape != pixels.shape):
            raise ValueError(f"resident pixels {tuple(resident.shape)} on {resident.device} are not the cache "
                             f"{tuple(pixels.shape)} on {device}: pass ImageCache.on_device(device)")
        self.pixels, self.index, self.targets = pixels, np.asarray(index, dtype=np.int64), targets
        self.size, self.bs, self.device = size, bs, torch.device(device)
        self.shuffle, self.augment, self.prefetch = shuffle, augment, prefetch
        # Dropping a last batch is only worth it when it would be tiny (BatchNorm dislikes 1 sample).
        self.drop_last = drop_last and len(self.index) > bs
        self.generator = torch.Generator().manual_seed(seed)
        self.aug_generator = self.generator  # its own per rank when sharded (see `shard`)
        self.seed = seed
        # on the device once, not copied there for every batch
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self.resident = resident
        if resident is not None:  # this split's rows of the cache, and its targets, on the device once
            self._rows = torch.from_numpy(self.index).to(resident.device)
            self._device_targets = targets.to(resident.device)

    def shard(self, rank: int, world: int) -> "DeviceLoader":
        """As `ShardedBatches.shard`, the augmentation drawn from a generator of the rank's own."""
        self.aug_generator = self.generator if world <= 1 else \
            torch.Generator().manual_seed(self.seed * 1000 + 7919 * (rank + 1))
        return super().shard(rank, world)

    def _all_batches(self) -> int:
        n = len(self.index)
        return n // self.bs if self.drop_last else -(-n // self.bs)

    @property
    def dataset_size(self) -> int:
        """Number of images this loader covers."""
        return len(self.index)

    def _order(self) -> np.ndarray:
        if self.shuffle:
            return torch.randperm(len(self.index), generator=self.generator).numpy()
        return np.arange(len(self.index))

    def _host_batches(self, order: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        pin = self.device.type == "cuda"
        for b in self._own_batches():
            sel = order[b * self.bs:(b + 1) * self.bs]
            if self.shuffle:
                sel = np.sort(sel)  # order within a batch does not matter; sorted reads are faster
            x = torch.from_numpy(self.pixels[self.index[sel]])
            y = self.targets[torch.from_numpy(sel)]
            yield (x.pin_memory(), y.pin_memory()) if pin else (x, y)

    def _resident_batches(self, order: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order_t = torch.from_numpy(order).to(self.resident.device)  # one copy an epoch, not one a batch
        for b in self._own_batches():
            sel = order_t[b * self.bs:(b + 1) * self.bs]
            if self.shuffle:
                sel = sel.sort().values  # as on the host: the same batches either way
            yield self.resident.index_select(0, self._rows[sel]), self._device_targets[sel]

    def _prefetched(self, order: np.ndarray) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        q: queue.Queue = queue.Queue(maxsize=self.prefetch)
        done = object()
        stop = threading.Event()

        def fill() -> None:
            try:
                for item in self._host_batches(order):
                    if stop.is_set():
                        return
                    q.put(item)
                q.put(done)
            except BaseException as e:  # surface reader errors in the consumer
                q.put(e)

        t = threading.Thread(target=fill, daemon=True)
        t.start()
        try:
            while (item := q.get()) is not done:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while t.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    t.join(0.01)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 NHWC host batch -> normalised float NCHW on the device, augmented if training.

        Values stay in 0..255 through the warp; brightness/contrast and normalisation are then
        one in-place multiply-add per channel and image, and a clip when lighting changed them.
        """
        x = x.to(self.device, non_blocking=True)
        aug = self.augment
        if aug is None:
            return eval_batch(x, self.size, self.mean, self.std)
        x = x.permute(0, 3, 1, 2)
        mean, std = self.mean, self.std
        scale, shift = 1 / (255 * std), -mean / std
        if aug.pixel_fns:  # arbitrary pixel functions want [0, 1] values
            x = aug(x.float().div_(255), self.size, self.aug_generator).mul_(255)
        else:
            x = aug.warp(x.float(), self.size, self.aug_generator)
            if (ss := aug.value_scale_shift(x.shape[0], self.aug_generator)) is not None:
                s, b = (to_device(v, x.device).view(-1, 1, 1, 1) for v in ss)
                x = x.mul_(scale * s).add_(shift + b / std)
                return torch.clamp_(x, -mean / std, (1 - mean) / std)
        return x.mul_(scale).add_(shift)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._order()
        if self.resident is not None:
            source = self._resident_batches(order)
        else:
            source = self._prefetched(order) if self.prefetch > 0 else self._host_batches(order)
        for x, y in source:
            yield self.to_device(x), y.to(self.device, non_blocking=True)
