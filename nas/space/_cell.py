"""The DARTS cell, built once for the fixed networks and the supernet.

A cell preprocesses its two inputs (the outputs of the two cells before it), then each intermediate
node sums one edge per input state it takes, and the cell concatenates some of the states. What an
edge holds is all that differs: one operation of a genotype (:class:`FixedCell`), or a choice among
every operation (:class:`nas.oneshot._supernet.SuperCell`, whose edges are
:class:`nas.oneshot._supernet.MixedEdge`).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import torch
from torch import nn

from nas.space._genotype import CELL_INPUTS, Cell
from nas.space._ops import FactorizedReduce, ReLUConvBN, build_operation

EdgeFactory = Callable[[int, int], nn.Module]
"""Builds an edge's module from (channels, stride)."""


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples of a branch with probability ``drop_prob``, rescaling the others."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class DartsCell(nn.Module):
    """A cell whose node ``k`` sums the edges ``nodes[k]``, each a ``(source state, factory)`` pair.

    An edge from one of the two inputs of a reduction cell has stride 2. ``affine=False`` builds the
    preprocessing without learned batch-norm scales, as DARTS's search does. Subclasses say what an
    edge outputs (:meth:`edge_output`), given the argument ``forward`` passes through.
    """

    def __init__(
        self,
        nodes: Sequence[Sequence[tuple[int, EdgeFactory]]],
        concat: Sequence[int],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
        *,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(c_prev_prev, c, affine)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, c, 1, 1, 0, affine)
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0, affine)
        self.sources = [[source for source, _ in node] for node in nodes]
        self.edges = nn.ModuleList(
            make(c, 2 if reduction and source < CELL_INPUTS else 1) for node in nodes for source, make in node
        )
        self.concat = list(concat)
        self.multiplier = len(self.concat)

    def edge_output(self, edge: int, x: torch.Tensor, how: Any) -> torch.Tensor | None:
        """Edge ``edge``'s output for input ``x``; None when it is not taken (adds nothing)."""
        raise NotImplementedError

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, how: Any) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        edge = 0
        for sources in self.sources:
            total = 0
            for source in sources:
                h = self.edge_output(edge, states[source], how)
                if h is not None:
                    total = total + h
                edge += 1
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class FixedCell(DartsCell):
    """The cell of a genotype: one operation per input of each node; ``forward``'s third argument is
    the drop-path probability (applied while training, to every edge but an identity)."""

    def __init__(self, cell: Cell, c_prev_prev: int, c_prev: int, c: int, reduction: bool, reduction_prev: bool) -> None:
        nodes = [[(source, functools.partial(build_operation, operation)) for operation, source in node] for node in cell.nodes]
        super().__init__(nodes, cell.concat, c_prev_prev, c_prev, c, reduction, reduction_prev)

    def edge_output(self, edge: int, x: torch.Tensor, drop_prob: float) -> torch.Tensor:
        op = self.edges[edge]
        h = op(x)
        if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
            h = drop_path(h, drop_prob)
        return h
