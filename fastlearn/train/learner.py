"""The Learner: a model, data, an optimizer and the training loop with the course's techniques.

The loop (`_fit`) reads top to bottom: for each epoch, for each batch, let the callbacks see
the batch, add its gradients, and every `accumulate` batches set the scheduled rates, step and
tell the callbacks; then validate and tell them again. Everything else (progress, recording,
checkpoints, early stopping, EMA, MixUp) is a callback. Under torchrun the same loop trains
data-parallel: the module is wrapped in DDP, the step's loss and the decision to stop are
agreed over the ranks (`fastlearn.utils.distributed`). Nothing here assumes a kind of data; what is
specific to one comes from its data object (`ImageData`, `TabularData`):

- `train_dl`, `valid_dl`, `loader(split, augment=, shuffle=, bs=)`, `classes`, `c`, `multi_label`;
- `build_model(**options)`: the model `Learner.pretrained` / `Learner.tabular` trains;
- `bundle_state()`: the preprocessing an export bundle records (with the model's `bundle_config()`);
- `items_of(split)`, `item_names(split)`: what interpretation shows and predictions name;
- optionally `callbacks` (added to every fit), `precomputed(model, device)` (`precompute`),
  `statistics_batches()` (the training set for `precise_bn`, in fewer, larger batches than
  training's), `loss_fn` and `metrics` (defaults), `to_onnx(...)`, `split_hints`,
  `bundle_files(model)` (more files for the bundle: a text model's tokenizer).

A model may offer `for_evaluation()`, a context giving a faster equivalent of itself to
evaluate with (an image model folds its BatchNorm), and gives an export its `bundle_config()`.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import time
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from fastlearn.train import schedules
from fastlearn.train.callbacks import Callback, ProgressTable, StopOnNaN
from fastlearn.train.divergence import RollbackOnDivergence
from fastlearn.train.label_smoothing import smoothed
from fastlearn.train.lr_finder import LRFind, lr_find_iterations, should_stop, smooth_losses, sweep_beta
from fastlearn.train.metrics import accuracy
from fastlearn.train.precise_bn import recompute_batchnorm
from fastlearn.train.recorder import Recorder
from fastlearn.train.snapshots import SaveCycles, cycle_ends, ensemble_predictions
from fastlearn.train.serialization import load_optimizer, load_state, save_optimizer, save_state
from fastlearn.utils import distributed
from fastlearn.utils.denormals import flush_denormals
from fastlearn.utils.memory import reuse_freed_memory
from fastlearn.utils.precision import amp_dtype, autocast

__all__ = ["Learner", "PrecomputeWarning", "SHORT_EPOCH_STEPS"]

SHORT_EPOCH_STEPS = 50
"""An epoch of fewer steps is short: BatchNorm's running averages lag and a few images cannot
move a pretrained body far. `Learner.short_epochs` decides the small-data defaults with it."""

LRs = float | Sequence[float] | slice


class PrecomputeWarning(UserWarning):
    """Training on precomputed activations: data augmentation has no effect."""


def _is_norm_or_bias(p: nn.Parameter) -> bool:
    return p.ndim <= 1  # biases and normalisation weights: no weight decay


def fuses_adamw(device: torch.device) -> bool:
    """Whether the Learner uses PyTorch's fused AdamW on `device`: on CUDA, and on the CPU from
    torch 2.4 (one kernel per step instead of ~10 per parameter tensor: 21 -> 6 ms a step for
    Lite0 on 2 CPU cores). The benchmark's ceiling asks the same question."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4)


def _speed_settings(method):
    """Run a Learner method that trains with denormal floats flushed to zero
    (`learn.flush_denormal`) and, on the CPU, freed memory kept for reuse (`learn.reuse_memory`)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with flush_denormals(self.flush_denormal), \
                reuse_freed_memory(bool(self.reuse_memory) and self.device.type == "cpu",
                                   keep_large=self.reuse_memory is True or _small_batches(self.data)):
            return method(self, *args, **kwargs)
    return wrapper


# Up to this many pixels a batch (64 images at 128 px), every freed block is kept for reuse; above
# it, blocks over 32 MB go back to the system: keeping them raised the peak at 224 px from 6.4 GB
# to 7.1-7.5 GB for no speed (fastlearn.utils.memory).
_KEEP_LARGE_PIXELS = 64 * 128 * 128


def _small_batches(data) -> bool:
    size, bs = getattr(data, "size", None), getattr(data, "bs", None)
    return size is None or bs is None or bs * size * size <= _KEEP_LARGE_PIXELS


def _eval_settings(method):
    """Run a Learner method that only evaluates (`_outputs`, through which predict, TTA,
    get_preds and validation all pass) with denormal floats flushed to zero. Freed memory
    is kept only inside training (validation): for predict and TTA alone it raised resnet18's
    peak by 14-37 MB and saved 0-2% of the time (TTA 5.07-6.58 s kept, 5.03-7.13 s not)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with flush_denormals(self.flush_denormal):
            return method(self, *args, **kwargs)
    return wrapper


def sync_loader_order(loader) -> None:
    """Rank 0's shuffling state in every rank's training loader: the ranks share one order of
    batches and each takes its own, so their generators must agree (torch's or NumPy's)."""
    gen = getattr(loader, "generator", None)
    if gen is not None:
        gen.set_state(distributed.broadcast_object(gen.get_state()))
    rng = getattr(loader, "rng", None)
    if rng is not None:
        rng.bit_generator.state = distributed.broadcast_object(rng.bit_generator.state)


def grads_kept_local(trained: nn.Module, local: bool):
    """Under DDP, a context in which backward adds to this rank's gradients without averaging
    them over the ranks yet (batches accumulated before a step); otherwise nothing."""
    return trained.no_sync() if local and hasattr(trained, "no_sync") else contextlib.nullcontext()


def data_parallel(module: nn.Module, device: torch.device, sync_bn: bool = False) -> nn.Module:
    """`module` in DistributedDataParallel under torchrun (rank 0's weights sent to every rank
    first), else `module` itself. `sync_bn` (GPUs): its BatchNorm layers become SyncBatchNorm,
    in place (the same parameters and statistics), normalising with every rank's batch."""
    if not distributed.ensure_process_group():
        return module
    from torch.nn.parallel import DistributedDataParallel
    if sync_bn:
        nn.SyncBatchNorm.convert_sync_batchnorm(module)  # the root is never a BatchNorm: children replaced in place
    # A weight with a dimension of size 1 (a depthwise convolution's) has the same memory in
    # channels_last and contiguous layouts, but DDP compares their strides and warns each step.
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None)


def for_evaluation(module: nn.Module):
    """A context giving the module to evaluate with: the model's own faster equivalent when it
    offers one (`for_evaluation()`), else the module itself."""
    offer = getattr(module, "for_evaluation", None)
    return offer() if offer is not None else contextlib.nullcontext(module)


class Learner:
    """Trains `model` on `data`.

    `model` must have `layer_groups` (lists of parameters, early first) and `freeze_to(n)`;
    `Learner.pretrained(arch, data)` builds one from a pretrained network. Defaults: AdamW
    (`opt="sgd"` for SGD with momentum 0.9), weight decay 0.01 (not on biases and norms),
    cross-entropy (binary cross-entropy for multi-label data), accuracy as the metric,
    channels_last memory on the CPU and GPU, bf16 autocast on a GPU (and for training steps on a
    CPU with native bf16 where the data kind says its models gain: `data.cpu_bf16`, texts), and denormal floats
    flushed to zero while training and predicting (`flush_denormal`; 1.36x faster on a CPU),
    and on the CPU, freed memory kept for reuse while training (`reuse_memory`, glibc only; see
    `fastlearn.utils.memory`): "auto" keeps every block for batches of up to 64 images at 128 px
    and the blocks up to 32 MB above that (at 224 px: peak 6.4 GB instead of 7.4, steps about
    1.7x slower on 2 cores); True keeps every block always (fastest, most memory); False none.
    `accumulate`: add up the gradients of this many batches before each optimizer step (a batch
    `accumulate` times larger without its memory; schedules count steps; BatchNorm still sees
    batches of the loader's size). `clip_grad`: clip the gradients' total norm to this before each
    step (mixed precision here is bf16, which needs no loss scaling to undo first).
    `label_smoothing`: train classification against targets smoothed by this much (validation
    and predictions are unaffected).
    `scale_lr`: under torchrun with N processes, multiply the rates by N for SGD and by sqrt(N) for
    AdamW (each process keeps its batch size, so the total batch is N times larger); off by default.
    Under torchrun the Learner trains data-parallel on its own (see `fastlearn.utils.distributed`);
    `sync_bn=True` (GPUs only) normalises BatchNorm over every rank's batch.
    `precise_bn`: after each epoch, recompute the running statistics of the BatchNorm layers
    that trained over one pass of the training set (`fastlearn.train.precise_bn`); "auto" does
    it for epochs of fewer than 50 steps, where the running averages lag most.
    """

    def __init__(self, model: nn.Module, data, loss_fn: Callable | None = None,
                 metrics: Sequence[Callable] | None = None, opt: str = "adamw", wd: float = 0.01,
                 model_dir: str | Path | None = None, callbacks: Sequence[Callback] = (),
                 mixed_precision: str | bool = "auto", channels_last: str | bool = "auto", progress: bool = True,
                 flush_denormal: bool = True, reuse_memory: bool | str = "auto", precise_bn: bool | str = "auto",
                 accumulate: int = 1, clip_grad: float | None = None, label_smoothing: float = 0.0,
                 scale_lr: bool = False, sync_bn: bool = False):
        if opt not in ("adamw", "sgd"):
            raise ValueError(f"opt must be 'adamw' or 'sgd', got {opt!r}")
        if precise_bn not in (True, False, "auto"):
            raise ValueError(f"precise_bn must be True, False or 'auto', got {precise_bn!r}")
        self.precise_bn = precise_bn
        if int(accumulate) != accumulate or accumulate < 1:
            raise ValueError(f"accumulate must be a whole number of batches, at least 1; got {accumulate!r}")
        if clip_grad is not None and not clip_grad > 0:
            raise ValueError(f"clip_grad is the largest gradient norm, a number above 0; got {clip_grad!r}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.accumulate, self.clip_grad, self.label_smoothing = int(accumulate), clip_grad, float(label_smoothing)
        self.scale_lr, self.sync_bn = scale_lr, sync_bn
        self.world_size = distributed.world_size()
        distributed.ensure_process_group()
        self.data = data
        self.device = getattr(data, "device", torch.device("cpu"))
        if sync_bn and self.device.type != "cuda":
            raise ValueError("sync_bn synchronises BatchNorm over GPUs (NCCL); on the CPU each process keeps its own "
                             "statistics: leave sync_bn off")
        self.model = model.to(self.device)
        self.multi_label = bool(getattr(data, "multi_label", False))
        self.regression = bool(getattr(data, "regression", False))
        self.loss_fn = loss_fn or getattr(data, "loss_fn", None) or (
            nn.BCEWithLogitsLoss() if self.multi_label else nn.CrossEntropyLoss())
        if self.label_smoothing:
            smoothed(self.loss_fn, self.label_smoothing)  # refuses a loss it cannot smooth, now rather than at fit
        if metrics is None:
            metrics = getattr(data, "metrics", None)
        if metrics is None:
            from fastlearn.train.multilabel import AccuracyThresh, FBeta
            metrics = [FBeta(2.0, 0.2), AccuracyThresh(0.2)] if self.multi_label else [accuracy]
        self.metrics = list(metrics)
        self.opt_name, self.wd, self.progress = opt, wd, progress
        data_path = getattr(data, "path", None)
        self.model_dir = Path(model_dir) if model_dir else (Path(data_path) / "models" if data_path else Path("models"))
        self.recorder = Recorder()
        self.lr_scale = 1.0  # every rate is multiplied by it: a rollback after divergence lowers it
        self.rollbacks: list[dict] = []  # what RollbackOnDivergence did
        shown = [ProgressTable(bar=progress)] if distributed.is_main() else []  # under torchrun, rank 0 shows progress
        self.callbacks: list[Callback] = [self.recorder, StopOnNaN(), RollbackOnDivergence(), *shown,
                                          *getattr(data, "callbacks", ()), *callbacks]
        # Training steps may use the CPU's bf16; evaluation decides as the exported Predictor does,
        # so that the bundle's probabilities are the learner's (bf16 moves them by 1e-3 with the batching).
        self.amp_dtype = amp_dtype(mixed_precision, self.device, bool(getattr(data, "cpu_bf16", False)))
        self.eval_amp_dtype = amp_dtype(mixed_precision, self.device)
        # channels_last pays on the CPU too (oneDNN: Lite0 at 64 px trains 1.36x and evaluates 1.29x faster
        # on 2 cores, bench/step_variants.py); Apple's MPS is left as it is, unmeasured.
        self.channels_last = channels_last is True or (channels_last == "auto" and self.device.type in ("cuda", "cpu"))
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.flush_denormal, self.reuse_memory = flush_denormal, reuse_memory
        self.opt: torch.optim.Optimizer | None = None
        self.epoch = 0
        self.stop_training = False
        self.lr_finder: LRFind | None = None
        self._precompute = False
        self._activations = None  # the data's precomputed activations, while precompute is on
        self._warned_precompute = False
        self._sched: schedules.Schedule | None = None
        self.temperature = 1.0  # set by calibrate(); predictions, TTA and export divide logits by it
        self.threshold: float | list[float] = 0.2 if self.multi_label else 0.5  # multi-label tag cut-off(s)

    @classmethod
    def pretrained(cls, arch: str | Callable = "tf_efficientnet_lite0", data=None, pretrained: bool = True,
                   weights: str | Path | None = None, precompute: bool = False, n_groups: int = 3,
                   ps: tuple[float, float] = (0.25, 0.5), seed: int | None = None, train_bn: bool | None = None,
                   head: nn.Module | Callable | None = None, **kwargs) -> "Learner":
        """Fine-tune a pretrained network: its body (frozen) plus a new head for `data.c` classes.

        `arch`: for images, a timm name or a torchvision model function. Weights: `weights=PATH`,
        else the packaged ImageNet weights for tf_efficientnet_lite0/1/2, else timm's download;
        `pretrained=False` for random weights. The data is normalised with the model's statistics.
        `train_bn`: train the normalisation layers of frozen groups (default: for a random body only).
        `head`: a module, or a function of (n_features, n_out) making one, in place of the default
        head (see `replace_head`). The data builds the model (`data.build_model`).
        """
        if data is None:
            raise ValueError("Learner.pretrained(arch, data): pass the data to train on")
        if getattr(data, "kind", None) == "table":
            raise ValueError("tables have no pretrained models: use Learner.tabular(data)")
        # `arch` is the model's name: for texts a Hugging Face name or folder
        if seed is not None:
            torch.manual_seed(seed)
        model = data.build_model(arch, pretrained=pretrained, weights=weights, n_groups=n_groups, ps=ps,
                                 train_bn=train_bn)
        learn = cls(model, data, **kwargs)
        if head is not None:
            learn.replace_head(head)
        learn.precompute = precompute
        return learn

    def summary(self):
        """The model's layers (output shape for one validation batch, parameters, trainable,
        layer group) and per layer group the parameters and whether they train. Prints as a table."""
        from fastlearn.train.summary import model_summary
        xb, _ = next(iter(self.data.loader("valid", shuffle=False, bs=2)))
        with self._autocast(training=False):
            return model_summary(self.model, self._prepare(xb), self.model.layer_groups)

    def replace_head(self, head: nn.Module | Callable) -> "Learner":
        """Swap the model's head, Keras-style ("pop the last layer, add a Dense one"): `head` is a
        module, or a function of (n_features, n_out) that makes one. It becomes the last layer
        group (trainable, whatever else is frozen) and the optimizer starts over with it."""
        if not hasattr(self.model, "replace_head"):
            raise ValueError(f"{type(self.model).__name__} has no replaceable head")
        if not isinstance(head, nn.Module):
            head = head(self.model.n_features, self.data.c)
        self.model.replace_head(head.to(self.device))
        self.opt = None
        return self

    @classmethod
    def tabular(cls, data, layers: Sequence[int] = (200, 100), ps: Sequence[float] | None = None,
                emb_drop: float = 0.0, y_range: tuple[float, float] | None = None, seed: int | None = None,
                **kwargs) -> "Learner":
        """Train a network on a table (`TabularData`): an embedding per categorical column, then
        Linear-ReLU-BatchNorm-Dropout blocks of `layers` units (dropout `ps`, one per layer),
        then one output per class (one value for regression, squashed into `y_range` if given).
        Layer groups: inputs, hidden blocks, output."""
        if getattr(data, "kind", None) != "table":
            raise ValueError("Learner.tabular needs TabularData; for images use Learner.pretrained(arch, data)")
        if seed is not None:
            torch.manual_seed(seed)
        return cls(data.build_model(layers=layers, ps=ps, emb_drop=emb_drop, y_range=y_range), data, **kwargs)

    # ----- freezing and precompute ----------------------------------------------------------------
    @property
    def n_groups(self) -> int:
        return len(self.model.layer_groups)

    def freeze_to(self, n: int) -> None:
        """Train only layer groups n and later; a partly unfrozen body turns precompute off."""
        self.model.freeze_to(n)
        if self._precompute and not self.model.body_frozen():
            self.precompute = False

    def freeze(self) -> None:
        """Train the head only."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        """Train every layer group (and stop using precomputed activations)."""
        self.freeze_to(0)

    def bn_freeze(self, value: bool = True) -> None:
        """Keep the body's BatchNorm layers on their pretrained running statistics even when unfrozen
        (their scale and shift still train). Unfreezing otherwise switches them to batch statistics,
        which for data unlike ImageNet changes every feature the head has learned at once."""
        self.model.bn_frozen = bool(value)
        self.model.train(self.model.training)

    @property
    def precompute(self) -> bool:
        """Train the head on cached activations of the frozen body (fast, no augmentation)."""
        return self._precompute

    @precompute.setter
    def precompute(self, value: bool) -> None:
        if value and not hasattr(self.data, "precomputed"):
            raise ValueError(f"precompute is for a pretrained body on images; this data ({getattr(self.data, 'kind', '?')}) "
                             "has none")
        if value and not (hasattr(self.model, "features") and self.model.body_frozen()):
            hint = ("set learn.model.train_bn = False (it trains the body's normalisation layers)"
                    if getattr(self.model, "train_bn", False) else "call learn.freeze() first")
            raise ValueError(f"precompute needs a frozen pretrained body: {hint}")
        self._precompute = bool(value)
        self._warned_precompute = False

    def _loaders(self):
        """(train loader, valid loader, module to train) for the current mode. Under torchrun the
        training loader yields this rank's share of each epoch (`utils.distributed.own_batches`)."""
        if not self._precompute:
            train, valid, module = self.data.train_dl, self.data.valid_dl, self.model
        else:
            if self._activations is None:  # computed (or read from disk) and moved to the device once
                with distributed.rank_zero_first():
                    self._activations = self.data.precomputed(self.model, self.device)
            train, valid, module = self._activations.loaders(self.epoch)
        if distributed.world_size() > 1:
            train.shard(distributed.rank(), distributed.world_size())
        return train, valid, module

    @property
    def iters_per_epoch(self) -> int:
        """Optimizer steps an epoch: its batches (this rank's, under torchrun), `accumulate` to a step."""
        return -(-len(self._loaders()[0]) // self.accumulate)

    def set_data(self, data) -> None:
        """Train on other data from now on (e.g. `data.resize(128)` for progressive resizing), weights kept."""
        if getattr(data, "c", None) != getattr(self.data, "c", None):
            raise ValueError(f"the new data has {getattr(data, 'c', '?')} classes, the model {self.data.c}")
        if hasattr(data, "set_stats") and "mean" in getattr(self.model, "meta", {}):
            data.set_stats(self.model.meta["mean"], self.model.meta["std"])
        self.data = data
        self._activations = None
        if hasattr(self.model, "meta"):
            self.model.meta["size"] = getattr(data, "size", None)

    # ----- optimizer and rates ---------------------------------------------------------------------
    def _optimizer(self) -> torch.optim.Optimizer:
        if self.opt is not None:  # a head replaced since: the optimizer must hold the parameters there are now
            held = {id(p) for g in self.opt.param_groups for p in g["params"]}
            if held != {id(p) for g in self.model.layer_groups for p in g}:
                self.opt = None
        if self.opt is None:
            groups, self._opt_layer = [], []
            for g, params in enumerate(self.model.layer_groups):
                decay = [p for p in params if not _is_norm_or_bias(p)]
                no_decay = [p for p in params if _is_norm_or_bias(p)]
                for ps, wd in ((decay, self.wd), (no_decay, 0.0)):
                    if ps:
                        groups.append({"params": ps, "weight_decay": wd, "lr": 1e-3})
                        self._opt_layer.append(g)
            if self.opt_name == "adamw":
                self.opt = torch.optim.AdamW(groups, betas=(0.9, 0.99), eps=1e-5,
                                             fused=fuses_adamw(self.device) or None)
            else:
                self.opt = torch.optim.SGD(groups, momentum=0.9, nesterov=False)
        return self.opt

    def group_lrs(self, lrs: LRs) -> list[float]:
        """One rate per layer group from a float, a list, or slice(lo, hi) (geometric from lo to hi)."""
        n = self.n_groups
        if isinstance(lrs, slice):
            hi = lrs.stop
            if lrs.start is None:
                return [hi / 10] * (n - 1) + [hi]
            return list(np.geomspace(lrs.start, hi, n))
        if np.ndim(lrs) == 0:
            return [float(lrs)] * n
        lrs = [float(x) for x in lrs]
        if len(lrs) != n:
            raise ValueError(f"{len(lrs)} learning rates for {n} layer groups; give one, or one per group")
        return lrs

    def _set_hparams(self, it: int) -> None:
        sched, opt = self._sched, self.opt
        i = min(it, len(sched) - 1)
        for group, g in zip(opt.param_groups, self._opt_layer):
            group["lr"] = self._base_lrs[g] * float(sched.lr[i]) * self.lr_scale
            if sched.mom is not None:
                if "betas" in group:
                    group["betas"] = (float(sched.mom[i]), group["betas"][1])
                else:
                    group["momentum"] = float(sched.mom[i])

    def current_lrs(self) -> list[float]:
        """The rate each layer group is training at now."""
        rates = {}
        for group, g in zip(self.opt.param_groups, self._opt_layer):
            rates.setdefault(g, group["lr"])
        return [rates[g] for g in sorted(rates)]

    def current_momentum(self) -> float | None:
        group = self.opt.param_groups[0]
        return group["betas"][0] if "betas" in group else group.get("momentum")

    # ----- the loop -------------------------------------------------------------------------------------
    def _autocast(self, training: bool = True):
        return autocast(self.device, self.amp_dtype if training else self.eval_amp_dtype)

    def _step(self, opt: torch.optim.Optimizer, batches: int) -> None:
        """One optimizer step on the gradients of `batches` batches (fewer than `accumulate` at
        an epoch's end: their sum is scaled up to the mean), clipped to `clip_grad` if set."""
        if batches < self.accumulate:
            for group in opt.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.mul_(self.accumulate / batches)
        if self.clip_grad is not None:
            nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.clip_grad)
        opt.step()
        opt.zero_grad(set_to_none=True)

    def _prepare(self, x):
        """A batch's inputs as the model takes them: images in channels_last memory when on;
        anything else (a table's (codes, values) pair) as it is."""
        if isinstance(x, torch.Tensor) and self.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    @_speed_settings
    def _fit(self, sched: schedules.Schedule, lrs: LRs, callbacks: Sequence[Callback] = (),
             initial_epoch: int = 0) -> "Learner":
        if self._precompute and not self._warned_precompute and getattr(getattr(self.data, "augment", None), "transforms", None):
            warnings.warn(PrecomputeWarning(
                "precompute is on: the head trains on fixed activations of unaugmented images, so data "
                "augmentation does nothing. Set learn.precompute = False to train on augmented images."), stacklevel=3)
            self._warned_precompute = True
        train_dl, valid_dl, module = self._loaders()
        opt = self._optimizer()
        self._sched, self._base_lrs = sched, self.group_lrs(lrs)
        if self.scale_lr:
            self._base_lrs = [distributed.scaled_rate(lr, self.opt_name) for lr in self._base_lrs]
        # Under torchrun: DistributedDataParallel averages the gradients; wrapped for each fit,
        # after freezing is decided (it registers hooks on the parameters that train now).
        trained = data_parallel(module, self.device, self.sync_bn)
        if trained is not module:
            sync_loader_order(train_dl)
        cbs = sorted(self.callbacks + list(callbacks), key=lambda cb: getattr(cb, "order", 0))
        train_loss = smoothed(self.loss_fn, self.label_smoothing) if self.label_smoothing else self.loss_fn
        self.stop_training = False
        if not 0 <= initial_epoch <= sched.epochs:
            raise ValueError(f"initial_epoch must be between 0 and the {sched.epochs} epochs of this fit, got {initial_epoch}")
        it = initial_epoch * (len(sched) // max(1, sched.epochs))  # where a resumed schedule picks up
        for cb in cbs:
            cb.fit_begin(self)
        try:
            for _ in range(initial_epoch, sched.epochs):
                t0 = time.perf_counter()
                module.train()
                for cb in cbs:
                    cb.epoch_begin(self, self.epoch)
                # The losses stay on the device: reading one (`.item()`) would wait for the device
                # after every step, and on a GPU the next step's kernels could not queue up meanwhile.
                loss_sum, n_steps = torch.zeros((), device=self.device), 0
                step_loss, n_acc, last = torch.zeros((), device=self.device), 0, len(train_dl)
                for i, (xb, yb) in enumerate(train_dl, 1):
                    for cb in cbs:
                        xb, yb = cb.batch_begin(self, xb, yb)
                    stepping = n_acc + 1 == self.accumulate or i == last
                    with self._autocast(), grads_kept_local(trained, not stepping):
                        loss = train_loss(trained(self._prepare(xb)), yb)
                        (loss / self.accumulate).backward()
                    step_loss, n_acc = step_loss + loss.detach(), n_acc + 1
                    if not stepping:
                        continue  # gradients add up over `accumulate` batches before a step
                    self._set_hparams(it)
                    self._step(opt, n_acc)
                    it += 1
                    loss, step_loss, n_acc = step_loss / n_acc, torch.zeros((), device=self.device), 0
                    loss = distributed.mean_over_ranks(loss)  # every rank sees, and decides on, the same loss
                    loss_sum += loss
                    n_steps += 1
                    for cb in cbs:
                        cb.batch_end(self, loss)
                    if distributed.any_rank(self.stop_training):
                        self.stop_training = True
                        break
                row = {"epoch": self.epoch, "train_loss": loss_sum.item() / n_steps if n_steps else float("nan")}
                if n_steps and (self.precise_bn is True or (self.precise_bn == "auto" and self.short_epochs)):
                    whole = getattr(self.data, "statistics_batches", None)  # a table: all its rows at once
                    recompute_batchnorm(module, whole() if whole and module is self.model else train_dl,
                                        self._prepare, self._autocast)
                distributed.broadcast_buffers(module)  # rank 0's BatchNorm statistics: every rank scores alike
                for cb in cbs:
                    cb.validate_begin(self)
                row.update(self._evaluate(module, valid_dl))  # the whole validation set, on every rank
                row["time"] = time.perf_counter() - t0
                for cb in cbs:
                    cb.epoch_end(self, self.epoch, row)
                self.epoch += 1
                if distributed.any_rank(self.stop_training):
                    self.stop_training = True
                    break
        finally:
            for cb in cbs:
                cb.fit_end(self)
        return self

    @_eval_settings
    @torch.no_grad()
    def _outputs(self, module: nn.Module, *loaders) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(outputs, targets) of each loader in turn, in evaluation mode with BatchNorm folded
        once for all of them (TTA's views: refolding resnet18 costs 30 ms a pass on a CPU)."""
        was = module.training
        module.eval()
        results = []
        try:
            with for_evaluation(module) as folded:
                for loader in loaders:
                    outs, ys = [], []
                    for xb, yb in loader:
                        with self._autocast(training=False):
                            outs.append(folded(self._prepare(xb)).float())
                        ys.append(yb)
                    # one copy to the host per pass: a copy per batch would wait for the device each time
                    results.append((torch.cat(outs).cpu(), torch.cat(ys).cpu()))
        finally:
            module.train(was)
        return results

    def _evaluate(self, module: nn.Module, loader) -> dict:
        if len(loader) == 0:  # nothing held out (a final model trained on every row)
            return {}
        (logits, targets), = self._outputs(module, loader)
        row = {"valid_loss": self.loss_fn(logits, targets).item()}
        for m in self.metrics:
            row[getattr(m, "__name__", type(m).__name__)] = float(m(logits, targets))
        return row

    def roll_back(self, why: str) -> bool:
        """Put back the best epoch's weights at a tenth of the rate (the Learner's
        `RollbackOnDivergence`), saying `why`; False when there is none to go back to."""
        for cb in self.callbacks:
            if isinstance(cb, RollbackOnDivergence):
                return cb.roll_back(self, self.epoch, why)
        return False

    def validate(self) -> dict:
        """Validation loss and metrics of the model as it is now."""
        _, valid_dl, module = self._loaders()
        return self._evaluate(module, valid_dl)

    def get_preds(self, split: str = "valid") -> tuple[torch.Tensor, torch.Tensor]:
        """Raw model outputs (logits) and targets for every item of `split`, in order, unaugmented."""
        return self._outputs(self.model, self.data.loader(split, augment=False, shuffle=False))[0]

    # ----- the verbs ------------------------------------------------------------------------------------
    def fit(self, lrs: LRs, n_cycle: int = 1, cycle_len: int | None = None, cycle_mult: int = 1,
            callbacks: Sequence[Callback] = (), initial_epoch: int = 0, cycle_save_name: str | None = None) -> "Learner":
        """Train as the course does. Without `cycle_len`: `n_cycle` epochs at constant rates.
        With it: SGDR, `n_cycle` cosine cycles, the first `cycle_len` epochs long, each next one
        `cycle_mult` times longer, restarting at `lrs`. `lrs`: one rate, one per layer group, or a slice.
        `initial_epoch`: start this many epochs into the schedule (resuming a checkpointed fit).
        `cycle_save_name`: save the weights at the end of each cycle as `<name>_cyc_<k>`, a
        snapshot ensemble for `predict_ensemble(name)`."""
        ipe = self.iters_per_epoch
        sched = schedules.constant(n_cycle, ipe) if cycle_len is None else \
            schedules.sgdr(n_cycle, cycle_len, cycle_mult, ipe)
        if cycle_save_name is not None:
            ends = cycle_ends(n_cycle, cycle_len, cycle_mult) if cycle_len else list(range(1, n_cycle + 1))
            callbacks = [*callbacks, SaveCycles(cycle_save_name, ends, initial_epoch)]
        return self._fit(sched, lrs, callbacks, initial_epoch)

    def fit_one_cycle(self, epochs: int, lr_max: LRs = 1e-3, pct_start: float = 0.25, div: float = 25.0,
                      final_div: float = 1e4, callbacks: Sequence[Callback] = (), initial_epoch: int = 0) -> "Learner":
        """One cycle: warm up to `lr_max` over `pct_start` of training, then anneal (momentum inverse).
        `initial_epoch`: start this many epochs into the cycle (resuming a checkpointed fit)."""
        sched = schedules.one_cycle(epochs, self.iters_per_epoch, pct_start, div, final_div)
        return self._fit(sched, lr_max, callbacks, initial_epoch)

    def fine_tune(self, epochs: int, base_lr: float = 2e-3, freeze_epochs: int = 1, lr_mult: float = 100,
                  callbacks: Sequence[Callback] = ()) -> "Learner":
        """The head for `freeze_epochs` with the body frozen, then everything for `epochs` with
        differential rates from base_lr/2/lr_mult (early layers) to base_lr/2 (head). The frozen
        body's BatchNorm statistics follow `settle_batchnorm`."""
        self.settle_batchnorm()
        self.freeze()
        self.fit_one_cycle(freeze_epochs, base_lr, callbacks=callbacks)
        self.unfreeze()
        base_lr /= 2
        return self.fit_one_cycle(epochs, slice(base_lr / lr_mult, base_lr), callbacks=callbacks)

    @property
    def short_epochs(self) -> bool:
        """True when an epoch of the training data is under `SHORT_EPOCH_STEPS` (50) steps: then
        lr_find suggests `valley`, `precise_bn="auto"` recomputes BatchNorm statistics after each
        epoch, and `settle_batchnorm` keeps the body's pretrained ones. Under torchrun, each rank's steps."""
        dl = self.data.train_dl
        if distributed.world_size() > 1:
            dl.shard(distributed.rank(), distributed.world_size())
        return len(dl) < SHORT_EPOCH_STEPS

    def settle_batchnorm(self) -> str | None:
        """Decide, before a frozen phase that unfreezing will follow, what the body's BatchNorm
        statistics do. With 50 or more steps an epoch they follow the data from the frozen
        phase on (`bn_adapt`), so the head learns on the features it will see once the body
        trains. With fewer, they keep their pretrained values throughout (`bn_freeze`), as Keras
        advises for fine-tuning on small data: a few steps move them too little while frozen,
        and unfreezing would switch them to statistics of batches of a few images, changing every
        feature the head learned (30 digits a class at 32 px, `fine_tune(3)`: 44.5% adapting,
        69.5% kept). Returns "adapt" or "keep" (None for a model without these settings)."""
        if not hasattr(self.model, "bn_adapt"):
            return None
        small = self.short_epochs
        self.model.bn_adapt = not small
        if small and not self.model.bn_frozen:
            self.bn_freeze(True)
            print(f"{len(self.data.train_dl)} steps an epoch: the body's BatchNorm layers keep their pretrained "
                  "statistics (bn_freeze); learn.bn_freeze(False) to let them follow the data")
        return "keep" if small else "adapt"

    @_speed_settings
    def lr_find(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int | None = None,
                rule: str = "auto", lrs: LRs | None = None) -> LRFind:
        """Sweep the rate up exponentially, one step per mini-batch, until the smoothed loss passes
        4x its minimum (or `num_it` steps); then restore weights and optimizer. Returns an `LRFind`
        whose `suggestion` follows `rule` (see `LRFind`), with `plot()` and `plot_lr()`.

        `num_it` defaults to three epochs' batches, between 40 and 100: the sweep costs at most
        a few epochs on a small training set (500 images: 4 epochs, not 14). `rule` "auto" is
        `valley` for epochs under 50 steps and `minimum` (the minimum's tenth) otherwise, the
        better of the two on each side in bench/lr_rules.py (bench/RESULTS.md, 2026-12-03: 30
        digits a class, 76.1% against 54.7%; 4,000 digits at 64 px, 96.0% against 97.4%).

        Differential rates keep their ratios, as in fastai 0.7: the sweep moves the last layer
        group's rate and the others follow at `lrs`' proportions (a list or a slice, as `fit`
        takes), or by default at those of the last `fit` if it gave the groups different rates.
        The suggestion is the last group's rate; `result.ratios` holds the proportions swept."""
        if distributed.world_size() > 1:  # one process sweeps; every rank gets its result
            if distributed.is_main():
                self._lr_find_here(start_lr, end_lr, num_it, rule, lrs)
            self.lr_finder = distributed.broadcast_object(self.lr_finder)
            sync_loader_order(self._loaders()[0])  # the sweep drew from rank 0's shuffling
            return self.lr_finder
        return self._lr_find_here(start_lr, end_lr, num_it, rule, lrs)

    def _lr_find_here(self, start_lr: float, end_lr: float, num_it: int | None, rule: str, lrs: LRs | None) -> LRFind:
        if lrs is not None:
            base = self.group_lrs(lrs)
        else:
            base = list(getattr(self, "_base_lrs", None) or [])
            if len(base) != self.n_groups:  # no fit yet, or the groups changed since (a new head)
                base = [1.0] * self.n_groups
        ratios = [b / base[-1] for b in base]
        if num_it is None:
            num_it = lr_find_iterations(len(self.data.train_dl))
        if rule == "auto":
            rule = "valley" if self.short_epochs else "minimum"
        train_dl, _, module = self._loaders()
        opt = self._optimizer()
        saved_model = copy.deepcopy(self.model.state_dict())
        saved_opt = copy.deepcopy(opt.state_dict())
        sweep = schedules.exponential(start_lr, end_lr, num_it)
        tried, raw, best = [], [], float("inf")
        from tqdm.auto import tqdm
        bar = tqdm(total=num_it, desc="lr_find", leave=False, unit="batch", disable=not self.progress)
        module.train()
        stop = False
        try:
            while not stop:  # as many passes over the data as the sweep needs
                for xb, yb in train_dl:
                    lr = float(sweep[len(tried)])
                    for group, g in zip(opt.param_groups, self._opt_layer):
                        group["lr"] = lr * ratios[g]
                    with self._autocast():
                        loss = self.loss_fn(module(self._prepare(xb)), yb)
                    loss.backward()
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                    tried.append(lr)
                    raw.append(loss.item())
                    bar.update()
                    smoothed = smooth_losses(raw, sweep_beta(num_it))[-1]
                    best = min(best, smoothed)
                    stop = should_stop(smoothed, best, len(tried)) or len(tried) >= num_it
                    if stop:
                        break
        finally:
            bar.close()
            self.model.load_state_dict(saved_model)
            opt.load_state_dict(saved_opt)
        self.lr_finder = LRFind.from_sweep(tried, raw, rule=rule, beta=sweep_beta(num_it))
        self.lr_finder.ratios = ratios
        return self.lr_finder

    # ----- predictions and evaluation (fastlearn.infer, fastlearn.interpret) ---------------------------
    def predict(self, split: str = "valid", log: bool = False):
        """(probabilities, targets) of `split` in order; for "test", (probabilities, file names).
        `log=True` for log-probabilities. Uses the calibrated temperature once fitted."""
        from fastlearn.infer.predictions import predict
        return predict(self, split, log)

    def predict_ensemble(self, name: str, split: str = "valid"):
        """(probabilities averaged over the snapshots saved by `fit(..., cycle_save_name=name)`,
        targets) of `split`; the Learner's weights are unchanged."""
        return ensemble_predictions(self, name, split)

    def tta(self, n: int = 4, split: str = "valid", log: bool = False, reduce: bool = True):
        """Like `predict`, averaging the centre view with `n` augmented views (`reduce=False`:
        every view, stacked as (n + 1, items, classes))."""
        from fastlearn.infer.predictions import tta
        return tta(self, n, split, log, reduce)

    def evaluate(self, split: str = "valid", tta: bool = False):
        """Accuracy, log loss, confusion matrix and per-class precision/recall/F1 on a labelled split."""
        from fastlearn.infer import predictions as infer
        probs, targets = infer.tta(self, split=split) if tta else infer.predict(self, split)
        return infer.evaluate(probs, targets, list(self.data.classes))

    def interpret(self, split: str = "valid", tta: bool = False):
        """An `Interpretation` of `split`: the most (in)correct, uncertain, top losses, confusion;
        for multi-label data a `MultiLabelInterpretation` (per-tag counts, top losses)."""
        if self.regression:
            raise ValueError("interpret() covers classification; for a regression, learn.predict() gives "
                             "(predicted values, targets) to compare")
        if self.multi_label:
            from fastlearn.interpret.multilabel import MultiLabelInterpretation
            return MultiLabelInterpretation.from_learner(self, split, tta)
        from fastlearn.interpret.interpretation import Interpretation
        return Interpretation.from_learner(self, split, tta)

    def calibrate(self):
        """Fit temperature scaling on the validation set; returns the before/after report."""
        if self.regression:
            raise ValueError("calibrate() scales class probabilities; a regression has none")
        from fastlearn.infer.predictions import probabilities
        from fastlearn.interpret.calibration import CalibrationReport, expected_calibration_error, fit_temperature
        logits, targets = self.get_preds("valid")
        before = probabilities(logits, self.multi_label, 1.0)
        t = fit_temperature(logits, targets, self.multi_label)
        after = probabilities(logits, self.multi_label, t)
        nll = self.loss_fn
        self.temperature = t
        return CalibrationReport(
            t, nll(logits, targets).item(), nll(logits / t, targets).item(),
            expected_calibration_error(before, targets, multi_label=self.multi_label),
            expected_calibration_error(after, targets, multi_label=self.multi_label),
            before, after, targets, self.multi_label)

    def optimize_thresholds(self, beta: float = 2.0, tta: bool = False):
        """Multi-label: one threshold per tag maximising validation F-beta (from the current shared
        one); sets `learn.threshold`, used by export. Returns the before/after report."""
        from fastlearn.infer import predictions as infer
        from fastlearn.train.multilabel import optimize_thresholds
        if not self.multi_label:
            raise ValueError("optimize_thresholds is for multi-label data")
        probs, targets = infer.tta(self) if tta else infer.predict(self)
        start = self.threshold if np.ndim(self.threshold) == 0 else 0.2
        report = optimize_thresholds(probs, targets, list(self.data.classes), beta, float(start))
        self.threshold = report.thresholds
        return report

    def submission(self, path: str | Path, split: str = "test", clip: float | None = None, tta: bool = False,
                   label_column: str | None = None):
        """A Kaggle-style CSV of `split`'s probabilities; `clip` defaults to the bound that minimises
        validation log loss; `label_column` names a two-class file's probability column (default the
        second class). Multi-label data: `image_name,tags` with the tags over `learn.threshold`.
        Returns the DataFrame written."""
        from fastlearn.infer import predictions as infer
        from fastlearn.infer.submission import best_clip, write_submission, write_tag_submission
        infer.require_split(self.data, split)  # before the validation pass, not after it
        names = self.data.item_names(split)
        if self.multi_label:
            probs = (infer.tta(self, split=split) if tta else infer.predict(self, split))[0]
            return write_tag_submission(path, names, probs, list(self.data.classes), self.threshold)
        if clip is None:
            vp, vt = infer.tta(self) if tta else infer.predict(self)
            clip, _ = best_clip(vp.numpy(), vt.numpy())
        probs = (infer.tta(self, split=split) if tta else infer.predict(self, split))[0]
        return write_submission(path, names, probs, list(self.data.classes), clip, label_column=label_column)

    def export(self, path: str | Path, files: dict[str, bytes] | None = None, **fields) -> Path:
        """A self-describing bundle (safetensors + JSON manifest) for `fastlearn.load_learner`:
        the model's configuration, the data's preprocessing, calibration and thresholds. `files`
        (name -> bytes) and `fields` add other models and what says how to use them (the table
        recipe's LightGBM); every file is covered by the bundle's digests."""
        from fastlearn import __version__
        from fastlearn.infer.bundle import write_bundle
        manifest = {"fastlearn_version": __version__, "kind": self.data.kind, "classes": list(self.data.classes),
                    "multi_label": self.multi_label, "temperature": self.temperature, "threshold": self.threshold,
                    **self.model.bundle_config(), **self.data.bundle_state(), **fields}
        kind_files = getattr(self.data, "bundle_files", None)  # a text model's tokenizer and config
        try:
            if distributed.is_main():  # under torchrun, rank 0 writes the bundle and the others wait for it
                write_bundle(path, self.model, manifest, {**(kind_files(self.model) if kind_files else {}),
                                                          **(files or {})})
        finally:
            distributed.barrier()
        return Path(path)

    def to_onnx(self, path: str | Path) -> Path:
        """An ONNX file of the model returning calibrated probabilities (images: taking normalised
        images (N, 3, size, size))."""
        if not hasattr(self.data, "to_onnx"):
            raise ValueError(f"ONNX export is not available for {getattr(self.data, 'kind', 'this')} data")
        try:
            return self.data.to_onnx(self.model, path, self.temperature, self.multi_label)
        finally:
            self.model.to(self.device)

    def report(self, path: str | Path, predictions=None, tables=None) -> Path:
        """One self-contained HTML page: curves, lr_find, confusion matrix, top losses, reliability,
        per-class metrics. `predictions`: the validation (probabilities, targets), if already computed."""
        from fastlearn.interpret.report import write_report
        return write_report(self, path, predictions=predictions, tables=tables)

    # ----- saving ---------------------------------------------------------------------------------------
    def save(self, name: str, with_opt: bool = False) -> Path:
        """Weights to `model_dir/name.safetensors` (and the optimizer to `name.opt.safetensors`), atomically."""
        path = self.model_dir / f"{name}.safetensors"
        try:
            if distributed.is_main():  # under torchrun, rank 0 writes and the others wait for the file
                save_state(self.model, path, getattr(self.model, "meta", {}))
                if with_opt and self.opt is not None:
                    save_optimizer(self.opt, self.model_dir / f"{name}.opt.safetensors")
        finally:
            distributed.barrier()
        return path

    def load(self, name: str, with_opt: bool = False) -> "Learner":
        """Weights saved by `save` (and the optimizer state, if asked and saved)."""
        path = Path(name) if str(name).endswith(".safetensors") else self.model_dir / f"{name}.safetensors"
        load_state(self.model, path)
        self._activations = None
        opt_path = path.with_name(path.name.replace(".safetensors", ".opt.safetensors"))
        if with_opt:
            if not opt_path.is_file():
                raise FileNotFoundError(f"no optimizer state at {opt_path}; save with with_opt=True")
            load_optimizer(self._optimizer(), opt_path)
        return self

    def __repr__(self) -> str:
        arch = getattr(self.model, "meta", {}).get("arch", type(self.model).__name__)
        frozen = getattr(self.model, "frozen_groups", 0)
        return (f"Learner({arch}, {self.n_groups} layer groups, {frozen} frozen, precompute={self._precompute}, "
                f"device {self.device.type}, data {self.data!r})")
