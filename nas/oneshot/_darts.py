"""DARTS (Liu et al., 2019): differentiable architecture search under a budget.

The supernet's weights ``w`` and the architecture weights ``alpha`` (one ``(EDGES, 8)`` matrix per
cell type) are trained in alternation on two halves of the budget's training images: ``w`` by SGD
on the first half (as the trainer: momentum, weight decay, gradient clipping, a cosine learning
rate, which DARTS's search anneals to 0.001), ``alpha`` by Adam on the second, with either

* the first-order approximation: the gradient of the validation loss at the current ``w``; or
* the second-order one: the gradient of ``L_val(w', alpha)`` at the weights one virtual step of
  the weight optimizer would give, ``w' = w - xi * (mu * m + grad_w L_train(w, alpha) + lambda * w)``
  (``xi`` the current learning rate, ``mu`` the momentum, ``m`` the momentum buffer (zero before
  the first step), ``lambda`` the weight decay), as DARTS's code computes it; its Hessian term is a
  finite difference of ``grad_alpha L_train`` at ``w +- eps * grad_w' L_val(w', alpha)`` with
  ``eps = 0.01 / ||grad_w' L_val||``.

  pt.darts, and the authors' ``architect.py`` built on it, divide that difference by 2 and then
  multiply by ``eps`` (``(p - n) / 2.*eps``, pt.darts issues #34 and #43): their Hessian term is
  ``eps**2`` times the correct one (about 1e-4 / ||grad_w' L_val||**2), so their second order is in
  effect the first-order gradient at ``w'``. Their ``clip_grad_norm_`` of the unrolled gradients
  does nothing (gradient tensors have no ``.grad``). We keep the correct product.

The budget sets epochs, batch size, learning rate, layers, channels, image size, precision, cutout
and data fraction, so "DARTS + BPE-1" is the ``bpe1`` budget. Each finished epoch can be
checkpointed (weights, alpha, both optimizers, the schedule, every generator): a killed search
resumes where it stopped and ends exactly as an uninterrupted one would (on CPU).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from nas._errors import BudgetError, NasError
from nas._progress import Progress
from nas.estimation._budget import Budget
from nas.store import Checkpoint
from nas.data import Dataset, train_valid_split
from nas.estimation._estimate import dataset_key
from nas._result import CODE_VERSION
from nas.estimation._trainer import autocast, default_device, evaluate, make_splits, training_batches
from nas.oneshot._supernet import check_supernet_budget, CELL_TYPES, EDGES, FixedChoices, Supernet, build_supernet, edge_index
from nas.oneshot._training import MIXED_DTYPE, evaluation_loader, weight_optimizer
from nas.space._genotype import CELL_INPUTS, NODES, OPERATIONS, Cell, Genotype

ORDERS = (1, 2)
GENOTYPE_EPOCHS = ("last", "best")
ALPHA_LR = 3e-4
ALPHA_BETAS = (0.5, 0.999)
ALPHA_WEIGHT_DECAY = 1e-3
ALPHA_INIT_SCALE = 1e-3
HESSIAN_EPSILON = 0.01
WEIGHT_MIN_LR = 0.001  # DARTS's search anneals the weights' rate to 0.001, not 0 (learning_rate_min)


def check_genotype_epoch(genotype_epoch: str) -> str:
    if genotype_epoch not in GENOTYPE_EPOCHS:
        raise NasError(f"DARTS genotype epoch must be one of {', '.join(GENOTYPE_EPOCHS)}, got {genotype_epoch!r}")
    return genotype_epoch


def check_order(order: int) -> int:
    if order not in ORDERS:
        raise NasError(f"DARTS order must be 1 (first order) or 2 (second order), got {order!r}")
    return order


def derive_genotype(alphas: dict[str, torch.Tensor], operations: Sequence[str] = OPERATIONS) -> Genotype:
    """DARTS's discrete cell: per node, the two inputs whose strongest non-``none`` operation weighs
    most, each with that operation (weights are the softmax over an edge's operations)."""
    allowed = torch.tensor([name != "none" for name in operations])
    cells = {}
    for cell_name in CELL_TYPES:
        weights = F.softmax(alphas[cell_name].detach().double(), dim=-1).cpu()
        weights = weights.masked_fill(~allowed, -1.0)
        nodes = []
        for node in range(NODES):
            candidates = []
            for source in range(node + CELL_INPUTS):
                strength, best = weights[edge_index(node, source)].max(dim=0)
                candidates.append((-float(strength), source, operations[int(best)]))
            chosen = sorted(candidates)[:2]  # strongest first; ties to the lower input
            nodes.append(tuple((operation, source) for _, source, operation in sorted(chosen, key=lambda c: c[1])))
        cells[cell_name] = Cell(tuple(nodes), tuple(range(CELL_INPUTS, CELL_INPUTS + NODES)))
    return Genotype(**cells)


def relaxed_loss(model: Supernet, alphas: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the supernet whose edges mix their operations by ``softmax(alpha)``."""
    logits = model(x, {name: F.softmax(alphas[name], dim=-1) for name in CELL_TYPES})
    return F.cross_entropy(logits.float(), y)


def unrolled_alpha_gradients(
    model: Supernet,
    alphas: dict[str, torch.Tensor],
    train_batch: tuple[torch.Tensor, torch.Tensor],
    valid_batch: tuple[torch.Tensor, torch.Tensor],
    weight_optimizer: torch.optim.SGD,
    loss: Callable[..., torch.Tensor] = relaxed_loss,
    hessian_epsilon: float = HESSIAN_EPSILON,
) -> list[torch.Tensor]:
    """DARTS's second-order gradient of ``L_val(w', alpha)`` w.r.t. alpha, where
    ``w' = w - xi * (mu * m + grad_w L_train(w, alpha) + lambda * w)`` is the step ``weight_optimizer``
    (SGD, one parameter group) would take next: ``xi`` its learning rate, ``mu`` its momentum, ``m``
    its momentum buffer (zero before its first step), ``lambda`` its weight decay. Only the gradient
    depends on alpha, so ``dw'/dalpha = -xi * d2 L_train / (dalpha dw)``, as with plain SGD.

    The Hessian-vector product is a central difference with step ``hessian_epsilon`` (in weight-space
    norm). DARTS's 0.01 is coarse: ReLU and max-pool kinks make ``grad_alpha L_train`` jump, so it
    is an estimate; smaller steps converge to the exact product in float64.

    Works on the model's weights in place (the unrolled and the perturbed weights) and puts them back
    exactly; returns one gradient per cell type, in :data:`CELL_TYPES` order.
    """
    (group,) = weight_optimizer.param_groups
    xi, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
    weights = [p for p in model.parameters() if p.requires_grad]
    alpha_list = [alphas[name] for name in CELL_TYPES]
    originals = [w.detach().clone() for w in weights]
    train_grads = torch.autograd.grad(loss(model, alphas, *train_batch), weights, materialize_grads=True)
    try:
        with torch.no_grad():
            for w, g in zip(weights, train_grads):
                step = g + weight_decay * w
                buffer = weight_optimizer.state.get(w, {}).get("momentum_buffer")
                if buffer is not None:
                    step += momentum * buffer
                w.sub_(xi * step)
        grads = torch.autograd.grad(loss(model, alphas, *valid_batch), weights + alpha_list, materialize_grads=True)
        valid_w_grads, valid_alpha_grads = grads[: len(weights)], grads[len(weights) :]
        epsilon = hessian_epsilon / torch.cat([g.flatten() for g in valid_w_grads]).norm().clamp_min(1e-12)
        hessian_terms = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, w0, v in zip(weights, originals, valid_w_grads):
                    w.copy_(w0 + sign * epsilon * v)
            hessian_terms.append(torch.autograd.grad(loss(model, alphas, *train_batch), alpha_list, materialize_grads=True))
    finally:
        with torch.no_grad():
            for w, w0 in zip(weights, originals):
                w.copy_(w0)
    return [
        g - xi * (plus - minus) / (2 * epsilon)
        for g, plus, minus in zip(valid_alpha_grads, hessian_terms[0], hessian_terms[1])
    ]


@dataclass(frozen=True)
class EpochRecord:
    """What one search epoch ended with: the supernet's validation accuracy and the derived genotype."""

    epoch: int
    accuracy: float
    genotype: str


@dataclass(frozen=True)
class DartsResult:
    """``genotype`` and ``accuracy`` are the last epoch's (DARTS's code keeps the last genotype);
    :meth:`chosen` picks the first epoch of best validation accuracy instead, as pt.darts and the
    authors' ``search.py`` do."""

    genotype: Genotype
    alphas: dict[str, list[list[float]]]
    history: tuple[EpochRecord, ...]

    @property
    def accuracy(self) -> float:
        return self.history[-1].accuracy

    def chosen(self, genotype_epoch: str) -> EpochRecord:
        """The epoch whose genotype a search returns: ``"last"``, or ``"best"`` (ties: the earliest)."""
        if check_genotype_epoch(genotype_epoch) == "last":
            return self.history[-1]
        return max(self.history, key=lambda record: (record.accuracy, -record.epoch))


class DartsSearch:
    """One DARTS search under ``budget`` (its ``seed`` seeds everything), one epoch at a time.

    The supernet's validation accuracy after each epoch is measured on the budget's validation
    split (images neither ``w`` nor ``alpha`` was trained on), with the relaxed (mixed) edges.
    """

    def __init__(self, budget: Budget, dataset: Dataset, *, order: int, device: torch.device | str | None = None) -> None:
        self.budget, self.order = budget, check_order(order)
        check_supernet_budget(budget)
        self.device = torch.device(device) if device is not None else default_device()
        splits = make_splits(dataset, budget)
        weight_images, alpha_images = train_valid_split(splits.train, valid_size=0.5, seed=budget.seed)
        if len(alpha_images) < budget.batch_size:
            raise BudgetError(
                f"budget field 'batch_size' ({budget.batch_size}) is larger than the {len(alpha_images)} images "
                "of each half DARTS splits this budget's training images into"
            )
        torch.manual_seed(budget.seed)
        self.model = build_supernet(OPERATIONS, budget, dataset.num_classes, self.device)
        self.alphas = {
            name: (ALPHA_INIT_SCALE * torch.randn(EDGES, len(OPERATIONS))).to(self.device).requires_grad_()
            for name in CELL_TYPES
        }
        self.weight_optimizer, self.scheduler = weight_optimizer(
            self.model.parameters(), budget, min_lr=min(WEIGHT_MIN_LR, budget.lr)  # never a rising rate
        )
        self.alpha_optimizer = torch.optim.Adam(
            list(self.alphas.values()), lr=ALPHA_LR, betas=ALPHA_BETAS, weight_decay=ALPHA_WEIGHT_DECAY
        )
        self.weight_loader = training_batches(weight_images, dataset, budget, self.device, seed=budget.seed)
        self.alpha_loader = training_batches(alpha_images, dataset, budget, self.device, seed=budget.seed + 1)
        self.valid_loader = evaluation_loader(splits.held_out, dataset, self.device)
        self.history: list[EpochRecord] = []

    @property
    def epoch(self) -> int:
        return len(self.history)

    @property
    def steps_per_epoch(self) -> int:
        return min(len(self.weight_loader), len(self.alpha_loader))

    def _loss(self, model: Supernet, alphas: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast(self.budget, self.device, MIXED_DTYPE):
            return relaxed_loss(model, alphas, x, y)

    def _alpha_step(self, train_batch: tuple[torch.Tensor, torch.Tensor], valid_batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_list = [self.alphas[name] for name in CELL_TYPES]
        if self.order == 1:
            grads = torch.autograd.grad(self._loss(self.model, self.alphas, *valid_batch), alpha_list)
        else:
            grads = unrolled_alpha_gradients(self.model, self.alphas, train_batch, valid_batch, self.weight_optimizer, self._loss)
        for alpha, grad in zip(alpha_list, grads):
            alpha.grad = grad
        self.alpha_optimizer.step()

    def _weight_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.weight_optimizer.zero_grad(set_to_none=True)
        loss = self._loss(self.model, self.alphas, x, y)
        loss.backward(inputs=list(self.model.parameters()))
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.budget.grad_clip)
        self.weight_optimizer.step()
        return loss.detach()

    def step(self, train_batch: tuple[torch.Tensor, torch.Tensor], valid_batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        """One bilevel step: ``alpha`` on a batch of its half, then ``w`` on a batch of the other."""
        self._alpha_step(train_batch, valid_batch)
        self._weight_step(*train_batch)

    def run_epoch(self) -> EpochRecord:
        """Train ``alpha`` and ``w`` in alternation for one epoch, then measure and derive."""
        self.model.train()
        for train_batch, valid_batch in zip(self.weight_loader, self.alpha_loader):
            self.step(train_batch, valid_batch)
        self.scheduler.step()
        accuracy = self.validation_accuracy()
        record = EpochRecord(self.epoch + 1, accuracy, str(self.genotype()))
        self.history.append(record)
        return record

    @torch.no_grad()
    def validation_accuracy(self) -> float:
        weights = {name: F.softmax(alpha.detach(), dim=-1) for name, alpha in self.alphas.items()}
        return evaluate(FixedChoices(self.model, weights), self.valid_loader, self.budget, self.device, MIXED_DTYPE)

    def genotype(self) -> Genotype:
        return derive_genotype(self.alphas)

    def result(self) -> DartsResult:
        alphas = {name: alpha.detach().cpu().tolist() for name, alpha in self.alphas.items()}
        return DartsResult(self.genotype(), alphas, tuple(self.history))

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "alphas": {name: alpha.detach().clone() for name, alpha in self.alphas.items()},
            "weight_optimizer": self.weight_optimizer.state_dict(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": [asdict(record) for record in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        with torch.no_grad():
            for name, alpha in self.alphas.items():
                alpha.copy_(state["alphas"][name])
        self.weight_optimizer.load_state_dict(state["weight_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = [EpochRecord(**record) for record in state["history"]]
        self.weight_loader.epoch = self.alpha_loader.epoch = self.epoch


def checkpoint_folder(root: str | os.PathLike, budget: Budget, order: int, dataset: Dataset) -> Path:
    """Where the search of (budget with its seed, order, dataset) keeps its checkpoint.

    Keyed by what determines the search, not by a trial number: a trial killed with its worker
    is marked failed, and the trial that retries the same parameters must find its checkpoint.
    """
    key = json.dumps(
        {"budget": budget.to_dict(), "order": order, "dataset": dataset_key(dataset), "code_version": CODE_VERSION},
        sort_keys=True,
    )
    return Path(root) / f"darts-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def run_darts(
    budget: Budget,
    dataset: Dataset,
    *,
    order: int,
    checkpoint_dir: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
    on_epoch: Callable[[EpochRecord], None] | None = None,
    progress: bool = True,
) -> DartsResult:
    """Run (or resume) one DARTS search; ``on_epoch`` sees every epoch's record, replayed ones included.

    With ``checkpoint_dir``, each finished epoch is saved under :func:`checkpoint_folder`; a
    search found there resumes after its last finished epoch (a finished one returns at once).
    """
    search = DartsSearch(budget, dataset, order=order, device=device)
    checkpoint = Checkpoint(checkpoint_folder(checkpoint_dir, budget, order, dataset)) if checkpoint_dir else None
    saved = checkpoint.load(map_location=search.device) if checkpoint else None
    if saved is not None:
        search.load_state_dict(saved[1])
    for record in search.history:
        if on_epoch is not None:
            on_epoch(record)
    with Progress(budget.epochs, f"darts (order {order}) epoch", done=search.epoch, quiet=not progress) as bar:
        while search.epoch < budget.epochs:
            record = search.run_epoch()
            if checkpoint is not None:
                checkpoint.save(search.epoch, search.state_dict())
            bar.step(f"valid accuracy {record.accuracy:.4f}")
            if on_epoch is not None:
                on_epoch(record)
    return search.result()
