"""Train one architecture under a budget and measure its accuracy on held-out images."""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from nas.estimation._budget import Budget
from nas.data import BatchLoader, DataError, Dataset, ImageSet, resize, subsample, train_valid_split
from nas._errors import BudgetError
from nas._result import TrainResult
from nas._progress import format_seconds
from nas.space._genotype import Genotype
from nas.space import DARTS_SPACE, Network, count_flops, count_parameters
from nas.store import Checkpoint

VALID_SIZE = 0.1  # 45,000 / 5,000 on CIFAR-10, as the paper
SPLIT_SEED = 0  # one validation split for every budget and seed, so rankings compare the same images
def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class Splits:
    """The training images of a budget (at the dataset's size: :func:`training_batches` crops, then
    resizes them) and the held-out images it measures, resized to its image size."""

    train: ImageSet
    held_out: ImageSet


def make_splits(dataset: Dataset, budget: Budget) -> Splits:
    """The budget's training and held-out images; raises before any training when they cannot serve.

    Evaluations on the validation split train on the rest of the training images; evaluations on
    the test split train on all of them, as DARTS's final training does.
    """
    splits = _splits(dataset, budget.image_size, budget.train_fraction, budget.seed, budget.evaluation.startswith("test"))
    if len(splits.train) < budget.batch_size:
        raise BudgetError(
            f"budget field 'batch_size' ({budget.batch_size}) is larger than this budget's "
            f"{len(splits.train)} training images"
        )
    return splits


@functools.lru_cache(maxsize=2)
def _splits(dataset: Dataset, image_size: int, train_fraction: float, seed: int, on_test: bool) -> Splits:
    # Cached: a budget search trains many architectures under one budget, and often revisits it.
    if on_test:
        if len(dataset.test) == 0:
            raise DataError(f"{dataset.name} has no test images, which a 'test-...' evaluation measures")
        train, held_out = dataset.train, dataset.test
    else:
        train, held_out = train_valid_split(dataset.train, valid_size=VALID_SIZE, seed=SPLIT_SEED)
        if len(held_out) == 0:
            raise DataError(f"{dataset.name}: {len(dataset.train)} training images are too few to set apart a validation split")
    if train_fraction < 1:
        train = subsample(train, train_fraction, seed=seed)
    # Training images keep their size: the loader crops them there and then resizes (the authors' order).
    return Splits(train, resize(held_out, image_size))


def numerics(budget: Budget, device: torch.device | str) -> str:
    """The arithmetic a training under ``budget`` really runs on ``device``, part of a result's key.

    ``mixed`` is fp16 on CUDA and bf16 on CPU; ``fp32`` convolutions on CUDA run in TF32 while
    cuDNN allows it (PyTorch's default on Ampere and newer), which changes results slightly.
    ``half`` (an fp16 network) runs on CUDA only: on CPU it raises a one-line :class:`BudgetError`.
    """
    device = torch.device(device)
    if budget.precision == "half" and device.type != "cuda":
        raise BudgetError(
            f"budget precision 'half' (an fp16 network, as the authors' 16-bit budgets) needs a CUDA device, "
            f"not {device.type}: use precision=mixed (bf16 autocast) or precision=fp32"
        )
    if device.type == "cuda":
        if budget.precision == "half":
            return "cuda-half"
        if budget.precision == "mixed":
            return "cuda-fp16"
        return "cuda-fp32-tf32" if torch.backends.cudnn.allow_tf32 else "cuda-fp32"
    return "cpu-bf16" if budget.precision == "mixed" else "cpu-fp32"


def autocast(budget: Budget, device: torch.device | str, dtype: torch.dtype | None = None) -> contextlib.AbstractContextManager:
    """Autocast on ``device`` for a ``mixed`` budget (nothing for ``fp32`` and ``half``): in ``dtype``, by
    default float16 on CUDA (the trainer scales its loss) and bfloat16 on CPU (what CPUs run fast)."""
    if budget.precision != "mixed":
        return contextlib.nullcontext()
    device_type = torch.device(device).type
    if dtype is None:
        dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device_type, dtype=dtype)


def training_batches(images: ImageSet, dataset: Dataset, budget: Budget, device: torch.device, *, seed: int) -> BatchLoader:
    """The budget's training batches of ``images`` on ``device``, shuffled and augmented as ``seed`` draws them."""
    return BatchLoader(
        images,
        batch_size=budget.batch_size,
        train=True,
        mean=dataset.mean,
        std=dataset.std,
        device=device,
        seed=seed,
        cutout=budget.cutout,
        size=budget.image_size,
    )


def build_network(genotype: Genotype, budget: Budget, num_classes: int, device: torch.device) -> Network:
    """The budget's network on ``device``, channels-last: depth-wise convolutions, most of this
    space's work, run several times faster that way on both oneDNN (CPU) and cuDNN. Its affine batch
    norms start as ``budget.batchnorm_init`` says (U(0, 1) drawn after the other weights)."""
    model = DARTS_SPACE.to_network(
        genotype,
        network=budget.network,
        channels=budget.channels,
        layers=budget.layers,
        num_classes=num_classes,
        auxiliary=budget.auxiliary_weight > 0,
    )
    if budget.batchnorm_init == "uniform":
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d) and module.weight is not None:
                nn.init.uniform_(module.weight)
    model = model.to(device, memory_format=torch.channels_last)
    return model.half() if budget.precision == "half" else model


def network_flops(genotype: Genotype, budget: Budget, num_classes: int) -> int:
    """:func:`count_flops` of the budget's network, without arithmetic: the network is built and run
    on the ``meta`` device (shapes only), and the count is cached by what shapes the network, since
    a budget search builds the same networks under many budgets."""
    return _network_flops(genotype, budget.network, budget.layers, budget.channels, budget.image_size, num_classes)


@functools.lru_cache(maxsize=4096)
def _network_flops(genotype: Genotype, network: str, layers: int, channels: int, image_size: int, num_classes: int) -> int:
    return count_flops(_meta_network(genotype, network, layers, channels, num_classes), image_size)


def network_params(genotype: Genotype, budget: Budget, num_classes: int) -> int:
    """Parameters of the budget's network (no auxiliary head), without building its weights."""
    return count_parameters(_meta_network(genotype, budget.network, budget.layers, budget.channels, num_classes))


def _meta_network(genotype: Genotype, network: str, layers: int, channels: int, num_classes: int) -> Network:
    with torch.device("meta"):
        return DARTS_SPACE.to_network(genotype, network=network, channels=channels, layers=layers, num_classes=num_classes)


EpochHook = Callable[[int, float], None]
"""Called after each finished epoch with its number (from 1) and the held-out accuracy then; it may
raise (``optuna.TrialPruned``) to stop the training, which then returns no result."""


def train(
    genotype: Genotype,
    budget: Budget,
    dataset: Dataset,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    on_epoch: EpochHook | None = None,
    checkpoint: Checkpoint | None = None,
) -> TrainResult:
    """Train ``genotype`` under ``budget`` on ``dataset`` and return its held-out accuracy.

    Which images are held out and which epoch counts follow ``budget.evaluation``. The held-out
    images are measured after every epoch, for the result's learning curve (``TrainResult.curve``,
    read by learning-curve estimators); measuring changes no state, so it does not change the result.
    It costs a forward pass over the held-out images per epoch: a few percent of an epoch on all
    45,000 training images, about a fifth on a 15 % subsample.

    ``progress`` shows a bar when stderr is a terminal and otherwise (a log, a notebook) a line
    per epoch, since a bar's carriage returns pile up there.

    With ``checkpoint``, the state after each epoch is saved there, and a training found there is
    continued from its last finished epoch: on CPU it ends exactly as an uninterrupted one.

    A non-finite loss ends the run as a ``failed`` result naming the epoch; it never raises, so a
    batch of runs goes on. The data are prepared once per budget (:func:`make_splits` caches them)
    for all the architectures trained under it. The same seed on CPU gives the same accuracy.
    """
    device = torch.device(device) if device is not None else default_device()
    numerics(budget, device)  # a precision the device cannot run fails here, before any work
    if device.type == "cuda":
        # As the authors: deterministic cuDNN convolutions, so a cached GPU result can be reproduced.
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    splits = make_splits(dataset, budget)
    torch.manual_seed(budget.seed)
    model = build_network(genotype, budget, dataset.num_classes, device)
    flops = network_flops(genotype, budget, dataset.num_classes)
    params = count_parameters(model)
    train_loader = training_batches(splits.train, dataset, budget, device, seed=budget.seed)
    held_out_loader = BatchLoader(
        splits.held_out, batch_size=512, train=False, mean=dataset.mean, std=dataset.std, device=device
    )
    step = TrainingStep(model, budget, device)
    # Epoch e trains at the cosine rate of e, as the authors' code under the PyTorch 1.0 it pinned
    # (scheduler stepped at each epoch's start, which then gave epoch e the rate of e).
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(step.optimizer, budget.epochs)
    stateful = {"model": model, "optimizer": step.optimizer, "scheduler": scheduler, "scaler": step.scaler}
    # What a resumed run needs besides the modules: the last loss, the best accuracy, the time spent,
    # the curve so far (None from a checkpoint of an older version: the result then has no curve,
    # rather than one missing its first epochs).
    run: dict[str, Any] = {"loss": None, "best": None, "seconds": 0.0, "curve": []}
    done = 0
    saved = checkpoint.load(map_location=device) if checkpoint is not None else None
    if saved is not None:
        done, state = saved
        for name, module in stateful.items():
            module.load_state_dict(state[name])
        run = {"curve": None, **state["run"]}
        train_loader.epoch = done
    keep_best = budget.evaluation.endswith("best")
    last_accuracy: float | None = None
    started = time.perf_counter()

    def seconds() -> float:
        return run["seconds"] + time.perf_counter() - started

    # Progress: a bar on a terminal; in a log (carriage returns pile up there), a line per epoch.
    bar = tqdm(
        total=budget.epochs * len(train_loader),
        initial=done * len(train_loader),
        desc="train",
        unit="batch",
        disable=not (progress and sys.stderr.isatty()),
        leave=False,
    )
    log_epochs = progress and bar.disable
    with bar:
        for epoch in range(done, budget.epochs):
            model.train()
            model.drop_path_prob = budget.drop_path * epoch / budget.epochs
            loss_sum = torch.zeros((), device=device)
            for x, y in train_loader:
                loss_sum += step(x, y)
                bar.update()
            scheduler.step()
            # One host sync per epoch: checking every step would stall a GPU.
            run["loss"] = loss_sum.item() / len(train_loader)
            bar.set_postfix(epoch=epoch + 1, loss=f"{run['loss']:.3f}")
            if not math.isfinite(run["loss"]):
                reason = f"non-finite training loss ({run['loss']}) in epoch {epoch + 1}"
                curve = () if run["curve"] is None else (*run["curve"], (run["loss"], None))
                return TrainResult("failed", None, seconds(), flops, params, run["loss"], epoch + 1, reason, device.type, curve)
            last_accuracy = evaluate(model, held_out_loader, budget, device)
            run["best"] = last_accuracy if run["best"] is None else max(run["best"], last_accuracy)
            if run["curve"] is not None:
                run["curve"].append((run["loss"], last_accuracy))
            if log_epochs:
                left = (time.perf_counter() - started) / (epoch + 1 - done) * (budget.epochs - epoch - 1)
                print(f"train epoch {epoch + 1}/{budget.epochs} | loss {run['loss']:.3f} | held-out accuracy {last_accuracy:.4f} | "
                      f"elapsed {format_seconds(seconds())} | left ~{format_seconds(left)}", file=sys.stderr, flush=True)  # fmt: skip
            if checkpoint is not None:
                state = {name: module.state_dict() for name, module in stateful.items()}
                checkpoint.save(epoch + 1, {**state, "run": {**run, "seconds": seconds()}})
            if on_epoch is not None:
                on_epoch(epoch + 1, last_accuracy)
    if keep_best:
        accuracy = run["best"]
    else:
        accuracy = last_accuracy if last_accuracy is not None else evaluate(model, held_out_loader, budget, device)
    return TrainResult("ok", accuracy, seconds(), flops, params, run["loss"], budget.epochs, None, device.type, tuple(run["curve"] or ()))


class TrainingStep:
    """One optimization step as DARTS trains: SGD with momentum and weight decay, gradient clipping,
    an auxiliary loss when the network has a head, and autocast (with loss scaling on CUDA) for
    mixed precision; a ``half`` network gets fp16 images and, as the authors', no loss scaling.
    Returns the step's loss as a tensor, without a host sync."""

    def __init__(self, model: Network, budget: Budget, device: torch.device) -> None:
        self.model, self.budget, self.device = model, budget, device
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=budget.lr, momentum=budget.momentum, weight_decay=budget.weight_decay
        )
        self.scaler = torch.amp.GradScaler(enabled=budget.precision == "mixed" and device.type == "cuda")

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast(self.budget, self.device):
            logits, auxiliary_logits = self.model(_inputs(x, self.budget))
            loss = F.cross_entropy(logits, y)
            if auxiliary_logits is not None:
                loss = loss + self.budget.auxiliary_weight * F.cross_entropy(auxiliary_logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.budget.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach().float()


@torch.no_grad()
def evaluate(model: Network, loader: BatchLoader, budget: Budget, device: torch.device, dtype: torch.dtype | None = None) -> float:
    """Top-1 accuracy of ``model`` on ``loader``'s images, under :func:`autocast` in ``dtype`` (the training's)."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    total = 0
    for x, y in loader:
        with autocast(budget, device, dtype):
            logits, _ = model(_inputs(x, budget))
        correct += (logits.argmax(dim=1) == y).sum()
        total += y.numel()
    return correct.item() / total


def _inputs(x: torch.Tensor, budget: Budget) -> torch.Tensor:
    """The loader's float32 images in the network's precision: fp16 for a ``half`` network."""
    return x.half() if budget.precision == "half" else x
