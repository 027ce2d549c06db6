"""Genotypes of the DARTS cell space: parsing, printing, validation, hashing, sampling and mutation.

A cell has two inputs (indices 0 and 1: the outputs of the two previous cells) and ``NODES``
intermediate nodes (indices 2, 3, ...). Each node sums one operation applied to each of its inputs,
and the cell's output concatenates the nodes listed in ``concat``. A network uses one normal and one
reduction cell.

One module, a little over 350 lines: parsing, Optuna parameters and mutation all keep the same
invariants of :class:`Genotype` (two distinct inputs a node, earlier states only), checked in one place.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import random
from dataclasses import dataclass
from typing import Sequence

from nas._errors import GenotypeError

OPERATIONS: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
# Discrete DARTS cells never keep the zero operation: it only matters inside the supernet.
SAMPLED_OPERATIONS: tuple[str, ...] = OPERATIONS[1:]
NODES = 4
CELL_INPUTS = 2

Edge = tuple[str, int]
Node = tuple[Edge, ...]


@dataclass(frozen=True)
class Cell:
    """One cell: ``nodes[i]`` lists the ``(operation, input index)`` edges of node ``i + 2``."""

    nodes: tuple[Node, ...]
    concat: tuple[int, ...]


@dataclass(frozen=True)
class Genotype:
    """An architecture of the DARTS space: a normal cell and a reduction cell."""

    normal: Cell
    reduce: Cell

    def cells(self) -> dict[str, Cell]:
        return {"normal": self.normal, "reduce": self.reduce}

    def validate(self, nodes: int = NODES) -> "Genotype":
        """Raise :class:`GenotypeError` naming the first problem; return ``self`` when valid."""
        for cell_name, cell in self.cells().items():
            if len(cell.nodes) != nodes:
                raise GenotypeError(
                    f"{cell_name} cell has {len(cell.nodes)} nodes, expected {nodes}"
                )
            for position, node in enumerate(cell.nodes):
                if not node:
                    raise GenotypeError(f"{cell_name} cell node {position + CELL_INPUTS} has no input")
                for operation, source in node:
                    if operation not in OPERATIONS:
                        raise GenotypeError(
                            f"unknown operation {operation!r} in {cell_name} cell "
                            f"(known: {', '.join(OPERATIONS)})"
                        )
                    if not 0 <= source < position + CELL_INPUTS:
                        raise GenotypeError(
                            f"{cell_name} cell node {position + CELL_INPUTS} takes input {source}, "
                            f"which is out of range 0..{position + CELL_INPUTS - 1}"
                        )
            last = nodes + CELL_INPUTS - 1
            if not cell.concat or any(not CELL_INPUTS <= i <= last for i in cell.concat):
                raise GenotypeError(
                    f"{cell_name}_concat {list(cell.concat)} must name nodes in {CELL_INPUTS}..{last}"
                )
        return self

    def to_str(self, style: str = "nested") -> str:
        """Print in the nested per-node form (the reference data's) or DARTS's flat form."""
        if style not in ("nested", "flat"):
            raise ValueError(f"style must be 'nested' or 'flat', got {style!r}")
        parts = []
        for cell_name, cell in self.cells().items():
            if style == "flat":
                edges = [edge for node in cell.nodes for edge in node]
                if any(len(node) != 2 for node in cell.nodes):
                    raise GenotypeError("the flat form needs exactly two inputs per node")
                parts.append(f"{cell_name}={edges!r}")
                parts.append(f"{cell_name}_concat={list(cell.concat)!r}")
            else:
                parts.append(f"{cell_name}={[list(node) for node in cell.nodes]!r}")
                parts.append(f"{cell_name}_concat={_format_concat(cell.concat)}")
        return f"Genotype({', '.join(parts)})"

    def __str__(self) -> str:
        return self.to_str()

    def canonical(self) -> str:
        """A text form equal for every genotype that builds the same network.

        Edges of a node are summed, so their order does not matter; intermediate nodes can be
        renumbered in any order that keeps inputs before their users. The canonical form is the
        smallest text over all such renumberings, with edges sorted.
        """
        return repr({name: _canonical_cell(cell) for name, cell in self.cells().items()})

    def hash(self) -> str:
        """A short stable hash of :meth:`canonical`, used as the architecture's key in result caches."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]


def _format_concat(concat: tuple[int, ...]) -> str:
    start = concat[0]
    if len(concat) > 1 and concat == tuple(range(start, start + len(concat))):
        return f"range({start}, {start + len(concat)})"
    return repr(list(concat))


def _canonical_cell(cell: Cell) -> tuple:
    count = len(cell.nodes)
    best = None
    for order in itertools.permutations(range(count)):
        # order[k] is the old position of the node placed at new position k.
        new_index = {old + CELL_INPUTS: new + CELL_INPUTS for new, old in enumerate(order)}
        relabel = {0: 0, 1: 1, **new_index}
        nodes = []
        for old in order:
            edges = tuple(sorted((op, relabel[src]) for op, src in cell.nodes[old]))
            if any(src >= new_index[old + CELL_INPUTS] for _, src in edges):
                break  # not a topological order
            nodes.append(edges)
        else:
            form = (tuple(nodes), tuple(sorted(relabel[i] for i in cell.concat)))
            if best is None or form < best:
                best = form
    return best


def parse_genotype(text: str) -> Genotype:
    """Parse either public text form of a genotype and validate it.

    Accepts DARTS's flat form (``normal=[('sep_conv_3x3', 0), ...]``, two edges per node) and the
    nested per-node form (``normal=[[('avg_pool_3x3', 0), ('dil_conv_5x5', 1)], ...]``, any number
    of edges per node), with ``*_concat`` as a list or ``range(a, b)``. Nothing is executed: the text
    is read as a syntax tree of literals.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise GenotypeError(f"not a genotype (syntax error): {_shorten(text)}") from None
    if not (isinstance(tree, ast.Call) and getattr(tree.func, "id", None) == "Genotype"):
        raise GenotypeError(f"not a genotype (expected Genotype(...)): {_shorten(text)}")
    fields = {keyword.arg: keyword.value for keyword in tree.keywords}
    expected = {"normal", "normal_concat", "reduce", "reduce_concat"}
    if set(fields) != expected or tree.args:
        raise GenotypeError(
            f"a genotype needs exactly the keywords {sorted(expected)}, got {sorted(map(str, fields))}"
        )
    cells = {
        name: Cell(
            nodes=_parse_nodes(fields[name], name),
            concat=_parse_concat(fields[f"{name}_concat"], name),
        )
        for name in ("normal", "reduce")
    }
    return Genotype(**cells).validate()


def _parse_nodes(node: ast.expr, cell_name: str) -> tuple[Node, ...]:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise GenotypeError(f"{cell_name} cell is not a literal list of (operation, input)") from None
    if not isinstance(value, (list, tuple)) or not value:
        raise GenotypeError(f"{cell_name} cell must be a non-empty list")
    nested = all(isinstance(item, list) for item in value)
    groups = value if nested else [value[i : i + 2] for i in range(0, len(value), 2)]
    if not nested and len(value) % 2:
        raise GenotypeError(f"{cell_name} cell in the flat form needs an even number of edges")
    nodes = []
    for group in groups:
        edges = []
        for edge in group:
            if not (
                isinstance(edge, tuple)
                and len(edge) == 2
                and isinstance(edge[0], str)
                and isinstance(edge[1], int)
            ):
                raise GenotypeError(f"{cell_name} cell edge {edge!r} is not (operation, input index)")
            edges.append((edge[0], edge[1]))
        nodes.append(tuple(edges))
    return tuple(nodes)


_MAX_CONCAT = 64


def _parse_concat(node: ast.expr, cell_name: str) -> tuple[int, ...]:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "range":
        try:
            nodes = range(*[ast.literal_eval(arg) for arg in node.args])
        except (ValueError, TypeError):
            pass
        else:
            if len(nodes) > _MAX_CONCAT:  # no cell has that many nodes; do not build the tuple
                raise GenotypeError(f"{cell_name}_concat {nodes} names {len(nodes)} nodes: far more than a cell has")
            return tuple(nodes)
    else:
        try:
            value = ast.literal_eval(node)
            if isinstance(value, (list, tuple)) and all(isinstance(i, int) for i in value):
                return tuple(value)
        except ValueError:
            pass
    raise GenotypeError(f"{cell_name}_concat must be a list of node indices or range(a, b)")


def _shorten(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def sample_genotype(
    seed: int | random.Random, operations: Sequence[str] = SAMPLED_OPERATIONS
) -> Genotype:
    """Draw a genotype uniformly: each node picks two distinct earlier inputs and an operation for each."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)

    def cell() -> Cell:
        nodes = []
        for position in range(NODES):
            sources = sorted(rng.sample(range(position + CELL_INPUTS), 2))
            nodes.append(tuple((rng.choice(operations), source) for source in sources))
        return Cell(tuple(nodes), tuple(range(CELL_INPUTS, CELL_INPUTS + NODES)))

    normal = cell()
    return Genotype(normal=normal, reduce=cell())


def mutate_genotype(
    genotype: Genotype, seed: int | random.Random, operations: Sequence[str] = SAMPLED_OPERATIONS
) -> Genotype:
    """Regularized evolution's mutation (Real et al.): with probability 1/2 a hidden-state mutation,
    one input of one edge moving to another earlier state (among the edges that have one: the first
    node's inputs are fixed), its operation going with it; otherwise an operation mutation, one
    edge's operation changing. Edge and new value uniformly."""
    rng = seed if isinstance(seed, random.Random) else random.Random(seed)
    cells = genotype.cells()
    edges = [(name, position, slot) for name in sorted(cells) for position, node in enumerate(cells[name].nodes) for slot in range(len(node))]

    def free_inputs(name: str, position: int, slot: int) -> list[int]:
        taken = {source for _, source in cells[name].nodes[position]}
        return [i for i in range(position + CELL_INPUTS) if i not in taken]

    movable = [edge for edge in edges if free_inputs(*edge)]
    move_input = bool(movable) and rng.random() < 0.5
    name, position, slot = rng.choice(movable if move_input else edges)
    cell = cells[name]
    node = list(cell.nodes[position])
    operation, source = node[slot]
    if move_input:
        node[slot] = (operation, rng.choice(free_inputs(name, position, slot)))
    else:
        node[slot] = (rng.choice([op for op in operations if op != operation]), source)
    nodes = cell.nodes[:position] + (tuple(node),) + cell.nodes[position + 1 :]
    cells[name] = Cell(nodes, cell.concat)
    return Genotype(**cells)


def _input_pairs(position: int) -> list[str]:
    return [f"{a}-{b}" for a, b in itertools.combinations(range(position + CELL_INPUTS), 2)]


def suggest_genotype(trial, operations: Sequence[str] = SAMPLED_OPERATIONS) -> Genotype:
    """Suggest a genotype through categorical parameters of an ``optuna.Trial``.

    Per cell and node: ``{cell}_node{k}_inputs`` picks the pair of distinct inputs (``"0-1"``, ...)
    and ``{cell}_node{k}_op0`` / ``_op1`` the operation on the lower / higher input. The space is
    static and flat, so any Optuna sampler can search it.
    """
    cells = {}
    for cell_name in ("normal", "reduce"):
        nodes = []
        for position in range(NODES):
            prefix = f"{cell_name}_node{position + CELL_INPUTS}"
            pair = trial.suggest_categorical(f"{prefix}_inputs", _input_pairs(position))
            sources = [int(i) for i in pair.split("-")]
            nodes.append(
                tuple(
                    (trial.suggest_categorical(f"{prefix}_op{slot}", list(operations)), source)
                    for slot, source in enumerate(sources)
                )
            )
        cells[cell_name] = Cell(tuple(nodes), tuple(range(CELL_INPUTS, CELL_INPUTS + NODES)))
    return Genotype(**cells)


def mutate_genotype_params(values: dict, search_space: dict, rng) -> tuple[dict, str | None]:
    """:func:`mutate_genotype` on :func:`suggest_genotype`'s parameters, for
    :class:`~nas.search.RegularizedEvolutionSampler` (``rng`` a NumPy generator, the operations
    those of ``search_space``). Returns the child's values and the name of the mutated parameter
    (``..._inputs`` for an input mutation, which may also swap ``_op0``/``_op1`` as they follow the
    sorted inputs); values that are not a whole genotype come back as they are, with ``None``. The
    first node's inputs (always ``"0-1"``) may be absent: a sampler leaves single-choice parameters out.
    """
    prefixes = [f"{cell}_node{position + CELL_INPUTS}" for cell in ("normal", "reduce") for position in range(NODES)]
    fixed = {f"{cell}_node{CELL_INPUTS}_inputs": _input_pairs(0)[0] for cell in ("normal", "reduce")}
    whole = {**fixed, **values}
    if set(whole) != {f"{prefix}_{part}" for prefix in prefixes for part in ("inputs", "op0", "op1")}:
        return values, None
    operations = search_space[f"{prefixes[0]}_op0"].choices
    parent = suggest_genotype(_FixedValues(whole), operations)
    mutated = genotype_to_params(mutate_genotype(parent, random.Random(int(rng.integers(2**63))), operations))
    child = {name: mutated[name] for name in values}
    changed = [name for name in sorted(child) if child[name] != values[name]]
    return child, next((name for name in changed if name.endswith("_inputs")), changed[0])


class _FixedValues:
    """A trial that answers each suggestion from ``values``."""

    def __init__(self, values: dict) -> None:
        self.values = values

    def suggest_categorical(self, name: str, choices: Sequence) -> object:
        return self.values[name]


def genotype_to_params(genotype: Genotype) -> dict[str, str]:
    """The inverse of :func:`suggest_genotype`, for ``study.enqueue_trial``."""
    params = {}
    for cell_name, cell in genotype.cells().items():
        if cell.concat != tuple(range(CELL_INPUTS, CELL_INPUTS + NODES)):
            raise GenotypeError(f"{cell_name}_concat must be all {NODES} nodes to map to Optuna params")
        for position, node in enumerate(cell.nodes):
            edges = sorted(node, key=lambda edge: edge[1])
            if len(edges) != 2 or edges[0][1] == edges[1][1]:
                raise GenotypeError(
                    f"{cell_name} cell node {position + CELL_INPUTS} needs two distinct inputs "
                    "to map to Optuna params"
                )
            prefix = f"{cell_name}_node{position + CELL_INPUTS}"
            params[f"{prefix}_inputs"] = f"{edges[0][1]}-{edges[1][1]}"
            for slot, (operation, _) in enumerate(edges):
                params[f"{prefix}_op{slot}"] = operation
    return params


# DARTS (second order) from Liu et al., 2019: the usual reference point of this space.
DARTS_V2 = parse_genotype(
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
    "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
    "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
    "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)
