"""A one-shot supernet trained by sampled paths, and architectures measured with its inherited weights.

The supernet holds the seven operations a discrete cell uses (no ``none``) on all 14 edges. A path
is a genotype of the space: per node, two inputs with one operation each; the node sums them, so
every genotype of the space (any reference architecture included) is a sub-network. Sampling:

* ``random`` (SPOS, uniform single path): each step trains one uniformly drawn genotype. The random
  level says what is drawn independently: ``edge``, an operation per edge; ``cell``, one
  operation for all the edges of a cell type (coarser, as the paper's "random level" varies);
* ``fair`` (FairNAS): each step draws the inputs of every node and one permutation of the seven
  operations per edge, then runs seven sub-steps (sub-step ``k`` gives every edge the ``k``-th
  operation of its permutation), accumulating the gradients into one update: every operation of
  an edge is trained exactly as often as the others.

An architecture's accuracy with inherited weights is measured after re-estimating the batch norm
statistics on a few training batches with its path alone: the supernet's running statistics mix
every path and would misjudge any single one.
"""

from __future__ import annotations

import random
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from nas._errors import NasError
from nas.estimation._budget import Budget
from nas.data import Dataset, resize, subsample
from nas.estimation._trainer import autocast, default_device, evaluate, make_splits, training_batches
from nas.oneshot._supernet import check_supernet_budget, FixedChoices, build_supernet, genotype_path
from nas.oneshot._training import MIXED_DTYPE, evaluation_loader, weight_optimizer
from nas.space._genotype import SAMPLED_OPERATIONS, Cell, Genotype, sample_genotype

SAMPLINGS = ("random", "fair")
RANDOM_LEVELS = ("edge", "cell")
VALID_IMAGES = 1000
RECALIBRATION_BATCHES = 1


def check_sampling(sampling: str, level: str) -> None:
    if sampling not in SAMPLINGS:
        raise NasError(f"unknown sampling {sampling!r} (known: {', '.join(SAMPLINGS)})")
    if level not in RANDOM_LEVELS:
        raise NasError(f"unknown random level {level!r} (known: {', '.join(RANDOM_LEVELS)})")


def step_genotypes(sampling: str, level: str, rng: random.Random, operations: Sequence[str] = SAMPLED_OPERATIONS) -> list[Genotype]:
    """The genotypes one training step runs: one for ``random``, one per operation for ``fair``."""
    if sampling == "random" and level == "edge":
        return [sample_genotype(rng, operations)]
    if sampling == "random":
        normal_op, reduce_op = rng.choice(operations), rng.choice(operations)
        return [Genotype(normal=sample_genotype(rng, [normal_op]).normal, reduce=sample_genotype(rng, [reduce_op]).reduce)]
    inputs = sample_genotype(rng, operations)
    orders = {
        name: [[rng.sample(list(operations), len(operations)) for _ in node] for node in cell.nodes]
        for name, cell in inputs.cells().items()
    }

    def sub_step(k: int) -> Genotype:
        cells = {}
        for name, cell in inputs.cells().items():
            nodes = tuple(
                tuple((orders[name][position][slot][k], source) for slot, (_, source) in enumerate(node))
                for position, node in enumerate(cell.nodes)
            )
            cells[name] = Cell(nodes, cell.concat)
        return Genotype(**cells)

    return [sub_step(k) for k in range(len(operations))]


class PathTraining:
    """Train a supernet by sampled paths under ``budget``, one epoch at a time; measure genotypes on it.

    Accuracies use ``valid_images`` images of the budget's validation split (a stratified sample, the
    same for every architecture and epoch) after re-estimating batch norm statistics on
    ``recalibration_batches`` fixed, unaugmented training batches.
    """

    def __init__(
        self,
        budget: Budget,
        dataset: Dataset,
        *,
        sampling: str,
        level: str = "edge",
        device: torch.device | str | None = None,
        valid_images: int = VALID_IMAGES,
        recalibration_batches: int = RECALIBRATION_BATCHES,
    ) -> None:
        check_sampling(sampling, level)
        check_supernet_budget(budget)
        if valid_images < 1 or recalibration_batches < 1:
            raise NasError(f"need at least one validation image and one recalibration batch, got {valid_images} and {recalibration_batches}")
        self.budget, self.sampling, self.level = budget, sampling, level
        self.device = torch.device(device) if device is not None else default_device()
        splits = make_splits(dataset, budget)
        torch.manual_seed(budget.seed)
        self.model = build_supernet(SAMPLED_OPERATIONS, budget, dataset.num_classes, self.device)
        # The learning rate anneals to 0 as the trainer's (DARTS's search stops at 0.001).
        self.optimizer, self.scheduler = weight_optimizer(self.model.parameters(), budget)
        self.loader = training_batches(splits.train, dataset, budget, self.device, seed=budget.seed)
        self.rng = random.Random(budget.seed)
        valid = splits.held_out if valid_images >= len(splits.held_out) else subsample(splits.held_out, valid_images / len(splits.held_out), seed=0)
        self.valid_loader = evaluation_loader(valid, dataset, self.device)
        first = torch.arange(min(len(splits.train), recalibration_batches * budget.batch_size))
        calibration = resize(splits.train.subset(first), budget.image_size)
        self.valid_images, self.recalibration_images = len(valid), len(calibration)
        self.calibration_batches = [x for x, _ in evaluation_loader(calibration, dataset, self.device)]
        self.epoch = 0

    def run_epoch(self) -> list[Genotype]:
        """Train one epoch; returns the genotypes it trained, in order."""
        self.model.train()
        trained = []
        for x, y in self.loader:
            genotypes = step_genotypes(self.sampling, self.level, self.rng)
            self.optimizer.zero_grad(set_to_none=True)
            for genotype in genotypes:
                with autocast(self.budget, self.device, MIXED_DTYPE):
                    loss = F.cross_entropy(self.model(x, genotype_path(genotype, SAMPLED_OPERATIONS)).float(), y)
                loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.budget.grad_clip)
            self.optimizer.step()
            trained.extend(genotypes)
        self.scheduler.step()
        self.epoch += 1
        return trained

    @torch.no_grad()
    def accuracy(self, genotype: Genotype) -> float:
        """``genotype``'s validation accuracy with the supernet's weights. The supernet is left as it
        was: the batch norms' statistics, all that measuring changes, are saved and put back."""
        norms = [module for module in self.model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
        saved = [({name: buffer.clone() for name, buffer in norm.named_buffers()}, norm.momentum) for norm in norms]
        was_training = self.model.training
        try:
            for norm in norms:
                norm.reset_running_stats()
                norm.momentum = None  # a plain average over the recalibration batches
            path = FixedChoices(self.model, genotype_path(genotype, SAMPLED_OPERATIONS))
            self.model.train()
            for x in self.calibration_batches:
                with autocast(self.budget, self.device, MIXED_DTYPE):
                    path(x)
            return evaluate(path, self.valid_loader, self.budget, self.device, MIXED_DTYPE)
        finally:
            for norm, (buffers, momentum) in zip(norms, saved):
                for name, buffer in norm.named_buffers():
                    buffer.copy_(buffers[name])
                norm.momentum = momentum
            self.model.train(was_training)

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": self.rng.getstate(),
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.rng.setstate(state["rng"])
        self.epoch = self.loader.epoch = state["epoch"]
