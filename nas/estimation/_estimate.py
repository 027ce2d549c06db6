"""Estimate many architectures under one budget, through the result store, resumably."""

from __future__ import annotations

from typing import Sequence

import torch

from nas._progress import Progress
from nas.estimation._budget import Budget
from nas.estimation._data import Dataset
from nas.space._genotype import Genotype
from nas.estimation._store import ResultStore
from nas.estimation._tables import Architecture
from nas.estimation._checkpoint import Checkpoint
from nas.estimation._trainer import SPLIT_SEED, VALID_SIZE, EpochHook, TrainResult, default_device, numerics, train


def dataset_key(dataset: Dataset) -> str:
    """The dataset's identity in the result store, including how its validation split is drawn."""
    return f"{dataset.name}|valid={VALID_SIZE}|split={SPLIT_SEED}"


def estimate(
    architectures: Sequence[Architecture],
    budget: Budget,
    dataset: Dataset,
    store: ResultStore,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict[str, TrainResult]:
    """Results of every architecture under ``budget``, training only those the store lacks.

    Each result is stored as soon as it is measured, so an interrupted call resumes where it
    stopped and several workers on one database share their results.
    """
    results: dict[str, TrainResult] = {}
    with Progress(len(architectures), "estimate", quiet=not progress) as overall:
        inner = progress and not overall.plain  # training bars only on a terminal: in a log they are fragments
        for architecture in architectures:
            result = get_or_train(architecture.genotype, budget, dataset, store, device=device, progress=inner)
            results[architecture.name] = result
            accuracy = "" if result.accuracy is None else f" {result.accuracy:.3f}"
            overall.step(f"{architecture.name} {result.status}{accuracy}")
    return results


def get_or_train(
    genotype: Genotype,
    budget: Budget,
    dataset: Dataset,
    store: ResultStore | None,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    on_epoch: EpochHook | None = None,
    checkpoint: Checkpoint | None = None,
) -> TrainResult:
    """The stored result of ``genotype`` under ``budget``, or a new training, stored at once.

    A training stopped by ``on_epoch`` (a pruned trial) raises through and stores nothing."""
    key = dataset_key(dataset)
    device = torch.device(device) if device is not None else default_device()
    arithmetic = numerics(budget, device)
    result = store.get(genotype, budget, key, arithmetic) if store else None
    if result is None:
        result = train(genotype, budget, dataset, device=device, progress=progress, on_epoch=on_epoch, checkpoint=checkpoint)
        if store:
            store.put(genotype, budget, key, arithmetic, result)
    return result
