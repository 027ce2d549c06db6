"""Train one architecture under a budget and measure its validation accuracy."""

from __future__ import annotations

import contextlib
import functools
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from nas.estimation._budget import Budget
from nas.estimation._data import BatchLoader, DataError, Dataset, ImageSet, resize, subsample, train_valid_split
from nas._errors import BudgetError
from nas.space._genotype import Genotype
from nas.space._model import Network, cifar_network, count_flops, count_parameters

VALID_SIZE = 0.1  # 45,000 / 5,000 on CIFAR-10, as the paper
SPLIT_SEED = 0  # one validation split for every budget and seed, so rankings compare the same images
# Bump whenever a change to the networks, the data pipeline or the trainer changes results: stored
# results of another version are not comparable and are not reused. 2: pooling followed by batch
# norm, auxiliary head and drop-path in the BPE presets (the authors' training).
CODE_VERSION = 2
NUMERICS = ("cpu-fp32", "cpu-bf16", "cuda-fp32", "cuda-fp32-tf32", "cuda-fp16")


@dataclass(frozen=True)
class TrainResult:
    """What one training run measured. ``accuracy`` is top-1 validation accuracy as a fraction."""

    status: str  # "ok" or "failed"
    accuracy: float | None
    seconds: float
    flops: int
    params: int
    loss: float | None
    epochs: int
    reason: str | None = None
    device: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class Splits:
    """The training and validation images of a budget, resized to its image size."""

    train: ImageSet
    valid: ImageSet


def make_splits(dataset: Dataset, budget: Budget) -> Splits:
    """The budget's training and validation images; raises before any training when they cannot serve."""
    splits = _splits(dataset, budget.image_size, budget.train_fraction, budget.seed)
    if len(splits.train) < budget.batch_size:
        raise BudgetError(
            f"budget field 'batch_size' ({budget.batch_size}) is larger than this budget's "
            f"{len(splits.train)} training images"
        )
    return splits


@functools.lru_cache(maxsize=2)
def _splits(dataset: Dataset, image_size: int, train_fraction: float, seed: int) -> Splits:
    # Cached: a budget search trains many architectures under one budget, and often revisits it.
    train, valid = train_valid_split(dataset.train, valid_size=VALID_SIZE, seed=SPLIT_SEED)
    if len(valid) == 0:
        raise DataError(f"{dataset.name}: {len(dataset.train)} training images are too few to set apart a validation split")
    if train_fraction < 1:
        train = subsample(train, train_fraction, seed=seed)
    return Splits(resize(train, image_size), resize(valid, image_size))


def numerics(budget: Budget, device: torch.device | str) -> str:
    """The arithmetic a training under ``budget`` really runs on ``device``, part of a result's key.

    ``mixed`` is fp16 on CUDA and bf16 on CPU; ``fp32`` convolutions on CUDA run in TF32 while
    cuDNN allows it (PyTorch's default on Ampere and newer), which changes results slightly.
    """
    device = torch.device(device)
    if device.type == "cuda":
        if budget.precision == "mixed":
            return "cuda-fp16"
        return "cuda-fp32-tf32" if torch.backends.cudnn.allow_tf32 else "cuda-fp32"
    return "cpu-bf16" if budget.precision == "mixed" else "cpu-fp32"


def _autocast(budget: Budget, device: torch.device) -> contextlib.AbstractContextManager:
    if budget.precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    return torch.autocast(device_type=device.type, dtype=dtype)


def build_network(genotype: Genotype, budget: Budget, num_classes: int, device: torch.device) -> Network:
    """The budget's network on ``device``, channels-last: depth-wise convolutions, most of this
    space's work, run several times faster that way on both oneDNN (CPU) and cuDNN."""
    model = cifar_network(
        genotype,
        channels=budget.channels,
        layers=budget.layers,
        num_classes=num_classes,
        auxiliary=budget.auxiliary_weight > 0,
    )
    return model.to(device, memory_format=torch.channels_last)


@functools.lru_cache(maxsize=4096)
def network_flops(genotype: Genotype, layers: int, channels: int, image_size: int, num_classes: int) -> int:
    """:func:`count_flops` of a CIFAR network, without arithmetic: the network is built and run on
    the ``meta`` device (shapes only), and the count is cached, since a budget search builds the
    same networks under many budgets."""
    with torch.device("meta"):
        model = cifar_network(genotype, channels=channels, layers=layers, num_classes=num_classes)
    return count_flops(model, image_size)


def train(
    genotype: Genotype,
    budget: Budget,
    dataset: Dataset,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``genotype`` under ``budget`` on ``dataset`` and return its validation accuracy.

    A non-finite loss ends the run as a ``failed`` result naming the epoch; it never raises, so a
    batch of runs goes on. The data are prepared once per budget (:func:`make_splits` caches them)
    for all the architectures trained under it. The same seed on CPU gives the same accuracy.
    """
    device = torch.device(device) if device is not None else default_device()
    splits = make_splits(dataset, budget)
    torch.manual_seed(budget.seed)
    model = build_network(genotype, budget, dataset.num_classes, device)
    flops = network_flops(genotype, budget.layers, budget.channels, budget.image_size, dataset.num_classes)
    params = count_parameters(model)
    train_loader = BatchLoader(
        splits.train,
        batch_size=budget.batch_size,
        train=True,
        mean=dataset.mean,
        std=dataset.std,
        device=device,
        seed=budget.seed,
        cutout=budget.cutout,
    )
    valid_loader = BatchLoader(
        splits.valid, batch_size=512, train=False, mean=dataset.mean, std=dataset.std, device=device
    )
    step = TrainingStep(model, budget, device)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(step.optimizer, budget.epochs)
    started = time.perf_counter()
    loss_value: float | None = None
    bar = tqdm(total=budget.epochs * len(train_loader), desc="train", unit="batch", disable=not progress, leave=False)
    with bar:
        for epoch in range(budget.epochs):
            model.train()
            model.drop_path_prob = budget.drop_path * epoch / budget.epochs
            loss_sum = torch.zeros((), device=device)
            for x, y in train_loader:
                loss_sum += step(x, y)
                bar.update()
            scheduler.step()
            # One host sync per epoch: checking every step would stall a GPU.
            loss_value = loss_sum.item() / len(train_loader)
            bar.set_postfix(epoch=epoch + 1, loss=f"{loss_value:.3f}")
            if not math.isfinite(loss_value):
                seconds = time.perf_counter() - started
                reason = f"non-finite training loss ({loss_value}) in epoch {epoch + 1}"
                return TrainResult("failed", None, seconds, flops, params, loss_value, epoch + 1, reason, device.type)
    accuracy = evaluate(model, valid_loader, budget, device)
    seconds = time.perf_counter() - started
    return TrainResult("ok", accuracy, seconds, flops, params, loss_value, budget.epochs, None, device.type)


class TrainingStep:
    """One optimisation step as DARTS trains: SGD with momentum and weight decay, gradient clipping,
    an auxiliary loss when the network has a head, and autocast (with loss scaling on CUDA) for
    mixed precision. Returns the step's loss as a tensor, without a host sync."""

    def __init__(self, model: Network, budget: Budget, device: torch.device) -> None:
        self.model, self.budget, self.device = model, budget, device
        self.optimizer = torch.optim.SGD(
            model.parameters(), lr=budget.lr, momentum=budget.momentum, weight_decay=budget.weight_decay
        )
        self.scaler = torch.amp.GradScaler(enabled=budget.precision == "mixed" and device.type == "cuda")

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with _autocast(self.budget, self.device):
            logits, auxiliary_logits = self.model(x)
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
def evaluate(model: Network, loader: BatchLoader, budget: Budget, device: torch.device) -> float:
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    total = 0
    for x, y in loader:
        with _autocast(budget, device):
            logits, _ = model(x)
        correct += (logits.argmax(dim=1) == y).sum()
        total += y.numel()
    return correct.item() / total
