"""DARTS as an Optuna objective: one trial is one DARTS search under a budget."""

from __future__ import annotations

import os
from pathlib import Path

import optuna
import torch

from nas.estimation._budget import Budget
from nas.data import Dataset
from nas.estimation._trainer import network_flops
from nas.oneshot._darts import ORDERS, EpochRecord, check_genotype_epoch, check_order, run_darts
from nas.oneshot._supernet import check_supernet_budget
from nas.space._genotype import parse_genotype
from nas.space._model import cifar_network, count_parameters

MAX_SEED = 2**31 - 1


class DartsObjective:
    """``study.optimize(DartsObjective(budget, dataset, checkpoint_dir=...))``: each trial searches once.

    Trial parameters: ``seed`` (seeds the supernet, architecture weights and batches) and ``order``
    (1 or 2) unless fixed here. Every epoch the trial reports the supernet's validation accuracy
    (``trial.report``, so pruners apply) and records the genotype derived at that epoch as the user
    attribute ``genotype_epoch_<k>``. A finished trial holds ``genotype`` (with its ``hash``, ``params``
    and ``flops`` at the budget's size, as an architecture search's trials), ``alpha_normal`` and
    ``alpha_reduce`` (nested lists, rows = edges, columns = :data:`nas.space.OPERATIONS`, the last
    epoch's), ``order``, ``budget``, and which epoch's genotype it is (``genotype_choice``: ``"last"``,
    DARTS's code, or ``"best"``, the first epoch of best validation accuracy as pt.darts and the
    authors keep; ``genotype_from_epoch``: its number); it returns that epoch's supernet validation
    accuracy (maximise). The study's best
    trial is thus the seed whose supernet scores best, and a supernet's accuracy ranks the derived
    architectures poorly (Zheng et al.): train several trials' genotypes rather than trusting one.

    Checkpoints are keyed by (budget, seed, order, dataset), not by trial: a worker killed mid-trial
    leaves a RUNNING trial that Optuna fails once its heartbeat stops; a new trial with the same
    parameters (e.g. re-enqueued by ``optuna.storages.RetryFailedTrialCallback``, or drawn again by a
    seeded sampler) resumes from the last finished epoch and ends with the same genotype.
    """

    def __init__(
        self,
        budget: Budget,
        dataset: Dataset,
        *,
        checkpoint_dir: str | os.PathLike,
        order: int | None = None,
        genotype_epoch: str = "last",
        device: torch.device | str | None = None,
        progress: bool = True,
    ) -> None:
        check_supernet_budget(budget)
        self.genotype_epoch = check_genotype_epoch(genotype_epoch)
        self.budget, self.dataset = budget, dataset
        self.checkpoint_dir = Path(checkpoint_dir)
        self.order = None if order is None else check_order(order)
        self.device, self.progress = device, progress

    def __call__(self, trial: optuna.Trial) -> float:
        seed = trial.suggest_int("seed", 0, MAX_SEED)
        order = self.order if self.order is not None else trial.suggest_categorical("order", list(ORDERS))
        budget = self.budget.replace(seed=seed)
        trial.set_user_attr("budget", budget.to_dict())
        trial.set_user_attr("order", order)

        def on_epoch(record: EpochRecord) -> None:
            trial.set_user_attr(f"genotype_epoch_{record.epoch}", record.genotype)
            trial.report(record.accuracy, record.epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {record.epoch}")

        result = run_darts(
            budget,
            self.dataset,
            order=order,
            checkpoint_dir=self.checkpoint_dir,
            device=self.device,
            on_epoch=on_epoch,
            progress=self.progress,
        )
        chosen = result.chosen(self.genotype_epoch)
        genotype = parse_genotype(chosen.genotype)
        trial.set_user_attr("genotype", str(genotype))
        trial.set_user_attr("hash", genotype.hash())
        trial.set_user_attr("genotype_choice", self.genotype_epoch)
        trial.set_user_attr("genotype_from_epoch", chosen.epoch)
        with torch.device("meta"):  # shapes only: the derived network's size at the budget's
            network = cifar_network(genotype, channels=budget.channels, layers=budget.layers, num_classes=self.dataset.num_classes)
        trial.set_user_attr("params", count_parameters(network))
        trial.set_user_attr("flops", network_flops(genotype, budget, self.dataset.num_classes))
        trial.set_user_attr("alpha_normal", result.alphas["normal"])
        trial.set_user_attr("alpha_reduce", result.alphas["reduce"])
        return chosen.accuracy
