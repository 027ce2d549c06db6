"""The supernet: every operation on every edge of a cell, shared by all the networks of the space.

A cell has ``EDGES`` = 2 + 3 + 4 + 5 = 14 edges (node ``k`` takes every earlier state as input).
Each edge holds one module per operation. The supernet runs either

* DARTS's continuous relaxation: an edge outputs the weighted sum of all its operations, with a
  ``(EDGES, len(operations))`` weight matrix per cell type (softmax of the architecture weights); or
* a path: an edge runs the operations listed for it (usually one, or none when the node does not
  take that input), so a discrete genotype is a sub-network that inherits the supernet's weights.

As in DARTS's search, batch norms inside cells are not affine (pools are followed by one too): a
learned scale would let an operation's output grow or shrink against the architecture weights.
The cell is the fixed networks' (:class:`nas.space._cell.DartsCell`), the operations those of
:mod:`nas.space._ops`: only what an edge holds differs.
"""

from __future__ import annotations

from typing import Sequence, Union

import torch
from torch import nn

from nas._errors import BudgetError, GenotypeError
from nas.estimation._budget import Budget, refuse_test_split
from nas.space._cell import DartsCell
from nas.space._genotype import CELL_INPUTS, NODES, Genotype
from nas.space._ops import build_operation

# First edge of each node: node k (0-based) has k + CELL_INPUTS inputs.
NODE_OFFSETS: tuple[int, ...] = tuple(sum(k + CELL_INPUTS for k in range(node)) for node in range(NODES))
EDGES = NODE_OFFSETS[-1] + NODES - 1 + CELL_INPUTS
CELL_TYPES = ("normal", "reduce")

# What one cell type runs per edge: a row of operation weights, or the operation indices to sum.
EdgeChoice = Union[torch.Tensor, Sequence[int]]
Path = tuple[tuple[int, ...], ...]  # per edge, the indices of the operations it runs


def edge_index(node: int, source: int) -> int:
    """The edge from state ``source`` into intermediate node ``node`` (0-based)."""
    return NODE_OFFSETS[node] + source


def reduction_layers(layers: int) -> tuple[int, int]:
    return layers // 3, 2 * layers // 3


def check_supernet_budget(budget: Budget) -> None:
    """Raise :class:`BudgetError` for budgets a supernet cannot train (one line, before any work).

    The auxiliary head and drop-path are ignored during a search, as DARTS does. Images of any
    size a budget allows (>= 8 px) keep at least 2 px after the two reductions. A search measures
    on the validation split only: selecting by test accuracy would make the test result meaningless.
    """
    refuse_test_split(budget, "a supernet or DARTS search")
    if budget.precision == "half":
        raise BudgetError("budget precision 'half' is for training one network; a supernet or DARTS search runs precision=mixed (bf16) or fp32")
    if budget.batchnorm_init != "ones":
        raise BudgetError(
            f"budget batchnorm_init '{budget.batchnorm_init}' is for training one network; a supernet or DARTS search starts its batch norms at 1"
        )
    if budget.layers < 3:
        raise BudgetError(
            f"budget field 'layers' must be >= 3 for a supernet (a normal cell besides the two reductions), got {budget.layers}"
        )


class MixedEdge(nn.Module):
    """An edge that holds every operation of ``operations`` (non-affine) and runs a choice among them."""

    def __init__(self, operations: Sequence[str], c: int, stride: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(build_operation(name, c, stride, affine=False) for name in operations)

    def forward(self, x: torch.Tensor, choice: EdgeChoice) -> torch.Tensor:
        if isinstance(choice, torch.Tensor):
            return sum(weight * op(x) for weight, op in zip(choice, self.ops))
        return sum(self.ops[index](x) for index in choice)


class SuperCell(DartsCell):
    """The cell with a :class:`MixedEdge` from every earlier state into every node (edge
    :func:`edge_index`), concatenating all nodes; ``forward``'s third argument is the choice of each edge."""

    def __init__(
        self, operations: Sequence[str], c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool
    ) -> None:
        def mixed(c: int, stride: int) -> MixedEdge:
            return MixedEdge(operations, c, stride)

        nodes = [[(source, mixed) for source in range(node + CELL_INPUTS)] for node in range(NODES)]
        concat = range(CELL_INPUTS, CELL_INPUTS + NODES)
        super().__init__(nodes, concat, c_prev_prev, c_prev, c, reduction, reduction_prev, affine=False)

    def edge_output(self, edge: int, x: torch.Tensor, choices: Sequence[EdgeChoice]) -> torch.Tensor | None:
        choice = choices[edge]
        if isinstance(choice, torch.Tensor) or choice:  # a path skips the inputs a node does not take
            return self.edges[edge](x, choice)
        return None


class Supernet(nn.Module):
    """DARTS's search network: a stem, ``layers`` cells (reductions at 1/3 and 2/3), a classifier.

    ``forward(x, {"normal": choices, "reduce": choices})`` returns the logits; every cell of a type
    runs the same choices, as every cell of a type shares one genotype.
    """

    def __init__(self, operations: Sequence[str], *, channels: int, layers: int, num_classes: int) -> None:
        super().__init__()
        self.operations = tuple(operations)
        self.stem = nn.Sequential(nn.Conv2d(3, 3 * channels, 3, padding=1, bias=False), nn.BatchNorm2d(3 * channels))
        c_prev_prev = c_prev = 3 * channels
        c = channels
        reduction_prev = False
        self.cells = nn.ModuleList()
        for index in range(layers):
            reduction = index in reduction_layers(layers)
            if reduction:
                c *= 2
            self.cells.append(SuperCell(operations, c_prev_prev, c_prev, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, NODES * c
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor, choices: dict[str, Sequence[EdgeChoice]]) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, choices["reduce" if cell.reduction else "normal"])
        return self.classifier(self.pool(s1).flatten(1))


class FixedChoices(nn.Module):
    """The supernet running fixed choices, called as the trainer's networks are: ``(logits, None)``,
    so :func:`nas.estimation._trainer.evaluate` measures it."""

    def __init__(self, model: Supernet, choices: dict[str, Sequence[EdgeChoice]]) -> None:
        super().__init__()
        self.model, self.choices = model, choices

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.model(x, self.choices), None


def build_supernet(operations: Sequence[str], budget: Budget, num_classes: int, device: torch.device) -> Supernet:
    """The budget's supernet on ``device``, channels-last as the trainer's networks (faster depth-wise convolutions)."""
    model = Supernet(operations, channels=budget.channels, layers=budget.layers, num_classes=num_classes)
    return model.to(device, memory_format=torch.channels_last)


def genotype_path(genotype: Genotype, operations: Sequence[str]) -> dict[str, Path]:
    """The path of the supernet that is ``genotype``: per cell type, per edge, the operations it runs.

    Raises :class:`GenotypeError` for a genotype that is no sub-network of this supernet (an
    operation it lacks, or a cell that does not concatenate all its nodes).
    """
    genotype.validate()
    paths = {}
    for cell_name, cell in genotype.cells().items():
        if cell.concat != tuple(range(CELL_INPUTS, CELL_INPUTS + NODES)):
            raise GenotypeError(f"{cell_name}_concat must be all {NODES} nodes to be a path of the supernet")
        edges: list[list[int]] = [[] for _ in range(EDGES)]
        for node, inputs in enumerate(cell.nodes):
            for operation, source in inputs:
                if operation not in operations:
                    raise GenotypeError(f"operation {operation!r} is not in this supernet ({', '.join(operations)})")
                edges[edge_index(node, source)].append(operations.index(operation))
        paths[cell_name] = tuple(tuple(ops) for ops in edges)
    return paths

