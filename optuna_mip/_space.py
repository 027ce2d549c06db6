"""Helpers that look at one Optuna distribution at a time.

MIP needs two things from a distribution that Optuna does not offer directly: the finite list of
values it can take (to put a cost softmax over them) and a way to carry a value fixed in an
earlier round into a distribution that has since changed (dynamic search spaces).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution


# Above this many values a numeric distribution is treated as continuous: a softmax over a huge
# range would mean evaluating the cost of every value for every sample, and a cost table that
# large is not something a user writes by hand.
MAX_ENUMERATED_VALUES = 1000


def enumerate_values(distribution: BaseDistribution) -> list[Any] | None:
    """Every value ``distribution`` can take, or :obj:`None` if it is (treated as) continuous.

    Values are returned as the Python objects Optuna would hand to the objective (``int`` for an
    :class:`~optuna.distributions.IntDistribution`, ``float`` for a stepped
    :class:`~optuna.distributions.FloatDistribution`, the choices themselves for a categorical).
    """

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, IntDistribution):
        n_values = (distribution.high - distribution.low) // distribution.step + 1
        if n_values > MAX_ENUMERATED_VALUES:
            return None
        return list(range(distribution.low, distribution.high + 1, distribution.step))
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        low, high, step = distribution.low, distribution.high, distribution.step
        n_values = int(round((high - low) / step)) + 1
        if n_values > MAX_ENUMERATED_VALUES:
            return None
        # Same grid formula as Optuna's own samplers (low + k * step), clipped against rounding.
        return [float(min(max(low + k * step, low), high)) for k in range(n_values)]
    return None


def same_value(a: Any, b: Any) -> bool:
    """Compare parameter values the way a user means them.

    Numbers are compared with a tolerance because a stepped float such as ``0.1 * 3`` is not
    bit-identical to the ``0.3`` a user writes in a cost table, and booleans are kept apart from
    the integers ``0``/``1`` that Python considers equal to them.
    """

    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and a == b
    if is_number(a) and is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return type(a) is type(b) and a == b


def fit_into(distribution: BaseDistribution, value: Any) -> Any | None:
    """Carry a value fixed in an earlier round into ``distribution``, if that makes sense.

    Returns the value itself when it is legal, the nearest legal value of a numeric distribution
    whose range or step has changed (the closest setting to what was decided), and :obj:`None`
    for a categorical value that is no longer a choice: there is no "nearest" choice, so the
    caller samples the parameter as if it were free.
    """

    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if same_value(value, choice):
                return choice
        return None
    if not is_number(value) or not math.isfinite(float(value)):
        return None
    assert isinstance(distribution, (IntDistribution, FloatDistribution))
    low, high, step = distribution.low, distribution.high, distribution.step
    clipped = min(max(float(value), low), high)
    if step is not None:
        clipped = low + round((clipped - low) / step) * step
        clipped = min(max(clipped, low), high)
    if isinstance(distribution, IntDistribution):
        return int(round(clipped))
    return float(clipped)


def is_number(value: Any) -> bool:
    # ``numbers.Real`` also admits NumPy scalars, which users put in cost tables built with NumPy.
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
