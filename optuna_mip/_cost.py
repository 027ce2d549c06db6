"""Costs of parameter values and the cost softmax of Eq. 2.

The paper samples value ``j`` of hyper-parameter ``i`` with probability proportional to
``exp(-FLOPs(theta_ij))``. Raw FLOPs (``1e9`` and up) would put all the mass on the cheapest
value, so costs are min-max normalised *per parameter* before the softmax::

    c'_j = (c_j - min_k c_k) / (max_k c_k - min_k c_k)        in [0, 1]
    p_j  = exp(-c'_j / T) / sum_k exp(-c'_k / T)

Min-max (rather than dividing by the maximum) was chosen because it makes the probabilities
invariant to the unit *and* to any constant offset of the cost (seconds vs. hours, FLOPs with
or without a fixed data-loading overhead), so the temperature ``T`` alone sets how greedy the
sampler is: the most expensive value is always ``exp(1 / T)`` times less likely than the
cheapest one (about 2.7x at ``T = 1``), whatever the scale of the costs. Dividing by the
maximum would make that ratio depend on how close the cheapest cost is to zero. Values of equal
cost get equal probability, and a parameter whose values all cost the same is sampled uniformly.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import json
from typing import Any
from typing import Union
import zlib

import numpy as np
from optuna.distributions import BaseDistribution

from optuna_mip._space import enumerate_values
from optuna_mip._space import same_value
from optuna_mip._warnings import warn


CostFunction = Callable[[str, Any], Union[float, None]]
CostTable = Mapping[str, Mapping[Any, float]]
Cost = Union[CostTable, CostFunction, None]

# Costs closer than this (after normalisation to [0, 1]) count as equal, so that "the cheapest
# value" does not depend on floating-point noise in user-provided costs.
_EQUAL_COST_TOLERANCE = 1e-12


class CostModel:
    """Turns the user's ``cost=`` argument into normalised costs per parameter.

    A parameter is *costed* only when every value its current distribution can take has a finite
    cost. Otherwise (no ``cost``, the parameter missing from the table, a callable returning
    :obj:`None`, a value missing from the table, a continuous distribution) the model returns
    :obj:`None` and the sampler falls back to uniform sampling: guessing a cost for a value the
    user did not price would bias the search in a way nobody asked for.
    """

    def __init__(self, cost: Cost) -> None:
        if cost is not None and not callable(cost) and not isinstance(cost, Mapping):
            raise TypeError(
                "`cost` must be a mapping {param_name: {value: cost}}, a callable "
                f"(param_name, value) -> float, or None; got {type(cost).__name__}."
            )
        self._cost = cost

    def fingerprint(self) -> str:
        """Text that differs between costs that price values differently, as far as knowable:
        a table by its content, a function by its qualified name."""

        if self._cost is None:
            return ""
        if callable(self._cost):
            return f"{getattr(self._cost, '__module__', '')}.{getattr(self._cost, '__qualname__', repr(self._cost))}"
        table = {name: sorted((repr(v), float(c)) for v, c in values.items()) for name, values in self._cost.items()}
        return f"crc32:{zlib.crc32(json.dumps(table, sort_keys=True).encode()):08x}"

    def normalized_costs(
        self, param_name: str, distribution: BaseDistribution
    ) -> tuple[list[Any], np.ndarray] | None:
        """Values of ``distribution`` and their min-max normalised costs, or :obj:`None`."""

        values = enumerate_values(distribution)
        if values is None or self._cost is None:
            return None
        raw = self._raw_costs(param_name, values)
        if raw is None:
            return None
        span = float(raw.max() - raw.min())
        if span <= 0.0:
            return values, np.zeros(len(values))
        return values, (raw - raw.min()) / span

    def cheapest_values(self, param_name: str, distribution: BaseDistribution) -> list[Any] | None:
        """The values of minimum cost, in distribution order.

        :obj:`None` when the parameter is not costed or all its values cost the same: then there
        is no cheapest value to prefer, and pruning falls back to the best trial's value.
        """

        costed = self.normalized_costs(param_name, distribution)
        if costed is None:
            return None
        values, costs = costed
        if float(costs.max()) <= _EQUAL_COST_TOLERANCE:
            return None
        return [v for v, c in zip(values, costs) if c <= _EQUAL_COST_TOLERANCE]

    def _raw_costs(self, param_name: str, values: Sequence[Any]) -> np.ndarray | None:
        if callable(self._cost):
            raw: list[float | None] = [self._cost(param_name, v) for v in values]
        else:
            assert self._cost is not None
            table = self._cost.get(param_name)
            if table is None:
                return None
            raw = [_lookup(table, v) for v in values]
        if any(c is None for c in raw):
            if not callable(self._cost):
                missing = [v for v, c in zip(values, raw) if c is None]
                warn(
                    f"MIPSampler: the cost table of {param_name!r} has no cost for {missing!r}; "
                    "sampling this parameter uniformly.",
                    stacklevel=2,
                )
            return None
        costs = np.asarray(raw, dtype=float)
        if not np.all(np.isfinite(costs)):
            warn(
                f"MIPSampler: non-finite cost for {param_name!r}; sampling it uniformly.",
                stacklevel=2,
            )
            return None
        return costs


def softmax_probabilities(normalized_costs: np.ndarray, temperature: float) -> np.ndarray:
    """Eq. 2 on normalised costs: ``p_j = exp(-c_j / T) / sum_k exp(-c_k / T)``."""

    logits = -np.asarray(normalized_costs, dtype=float) / temperature
    logits -= logits.max()  # Numerically stable at small temperatures.
    weights = np.exp(logits)
    return weights / weights.sum()


def _lookup(table: Mapping[Any, float], value: Any) -> float | None:
    # Fast path for the common exact hit; booleans are excluded because ``True in {1: ...}``.
    if not isinstance(value, bool) and value in table:
        return float(table[value])
    for key, cost in table.items():
        if same_value(key, value):
            return float(cost)
    return None

