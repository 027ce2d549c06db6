"""The Optuna parameterisation of the DARTS space (``suggest_genotype``) that the search samplers act on.

Every combination of parameter values must be a valid cell, and changing one parameter must be a
single mutation of Real et al.: one operation of one edge, or the inputs of one node. (A change of a
node's input pair moves one input when the pairs share the kept input's slot, e.g. ``0-2`` to
``1-2``; otherwise, e.g. ``0-1`` to ``2-3``, both inputs of that node move, a larger step than Real
et al.'s single-input mutation.)
"""

from __future__ import annotations

import itertools

import optuna
from optuna.trial import FixedTrial

from nas.space import Genotype, genotype_to_params, sample_genotype, suggest_genotype


def distributions() -> dict[str, optuna.distributions.CategoricalDistribution]:
    trial = optuna.create_study().ask()
    suggest_genotype(trial)
    return trial.distributions  # type: ignore[return-value]


def edges(genotype: Genotype) -> list[tuple[str, int, int, str, int]]:
    """(cell, node, slot, operation, input) of every edge."""
    return [
        (cell_name, position, slot, operation, source)
        for cell_name, cell in genotype.cells().items()
        for position, node in enumerate(cell.nodes)
        for slot, (operation, source) in enumerate(node)
    ]


def test_every_value_combination_of_a_node_is_a_valid_cell() -> None:
    space = distributions()
    base = genotype_to_params(sample_genotype(0))
    checked = 0
    for prefix in sorted({name.rsplit("_", 1)[0] for name in space}):
        names = [f"{prefix}_inputs", f"{prefix}_op0", f"{prefix}_op1"]
        for values in itertools.product(*(space[name].choices for name in names)):
            params = {**base, **dict(zip(names, values))}
            genotype = suggest_genotype(FixedTrial(params)).validate()
            assert genotype_to_params(genotype) == params
            checked += 1
    # Nodes are independent (a node's parameters only shape that node), so this covers the product.
    assert checked == 2 * 49 * (1 + 3 + 6 + 10)


def test_one_parameter_change_is_one_mutation() -> None:
    space = distributions()
    single_input_moves = pair_changes = 0
    for seed in range(5):
        base_params = genotype_to_params(sample_genotype(seed))
        base = edges(suggest_genotype(FixedTrial(base_params)))
        for name, distribution in space.items():
            for value in distribution.choices:
                if value == base_params[name]:
                    continue
                child = suggest_genotype(FixedTrial({**base_params, name: value})).validate()
                changed = [(old, new) for old, new in zip(base, edges(child)) if old != new]
                assert changed, name
                assert len({(old[0], old[1]) for old, _ in changed}) == 1  # one node of one cell
                if name.endswith("_inputs"):
                    pair_changes += 1
                    # Operations stay on their slots; only inputs move.
                    assert all(old[3] == new[3] and old[4] != new[4] for old, new in changed)
                    single_input_moves += len(changed) == 1
                else:
                    # One operation of one edge, same input.
                    ((old, new),) = changed
                    assert old[4] == new[4] and old[3] != new[3]
    assert 0 < single_input_moves < pair_changes
