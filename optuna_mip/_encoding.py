"""How trials become the rows and columns a random forest is fitted on.

Kept apart from :mod:`optuna_mip.importance` so that the sampler can encode trials without
importing :mod:`optuna.importance` (which imports scikit-learn) until a round is decided.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import json
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import CategoricalDistribution

from optuna_mip._space import is_number


if TYPE_CHECKING:
    from optuna.trial import FrozenTrial
    from sklearn.ensemble import RandomForestRegressor


Target = Callable[["FrozenTrial"], float]


def design_matrix(trials: Sequence[FrozenTrial], names: Sequence[str]) -> np.ndarray:
    """One row per trial and one column per parameter name, as the forest sees them.

    Numeric parameters, and categorical ones whose choices are all numbers, are used by value
    (trees are invariant to monotone transforms, so only the order matters and a log scale
    changes nothing). Other categorical parameters are encoded by the index of the choice, in
    the order of the first distribution seen and then of first appearance; choices are keyed by
    their JSON text so that ``1``, ``1.0`` and ``True`` stay distinct. A parameter a trial does
    not have (conditional search spaces) gets a value below every observed one, so trees can
    split "absent" from "present".
    """

    columns = [_encode_column(trials, name) for name in names]
    if not columns:
        return np.zeros((len(trials), 0))
    return np.column_stack(columns)


def encode_values(trials: Sequence[FrozenTrial], name: str, values: Sequence[Any]) -> np.ndarray:
    """The codes :func:`design_matrix` gives ``values`` of ``name`` alongside ``trials``.

    Useful to probe a forest fitted on ``design_matrix(trials, ...)`` at chosen values, e.g. for
    partial dependence.
    """

    from optuna.trial import create_trial

    # A one-choice categorical holds any value, whatever ranges the trials' distributions had;
    # it is encoded like the trials' values (numbers by value, other choices by their codes).
    probes = [
        create_trial(
            params={name: v}, distributions={name: CategoricalDistribution([v])}, value=0.0
        )
        for v in values
    ]
    return _encode_column([*trials, *probes], name)[len(trials) :]


def partial_dependence(
    forest: RandomForestRegressor, x: np.ndarray, column: int, codes: np.ndarray
) -> np.ndarray:
    """Prediction per tree (rows) and candidate code (columns), averaged over the rows of ``x``.

    Each row of ``x`` is predicted with ``column`` set to each candidate: the effect of that
    parameter with the others as they were sampled, which a single trial's value cannot show
    under noise.
    """

    probe = np.repeat(x[None, :, :], len(codes), axis=0)
    probe[:, :, column] = np.asarray(codes)[:, None]
    flat = probe.reshape(-1, x.shape[1])
    per_tree = np.stack([tree.predict(flat) for tree in forest.estimators_])
    return per_tree.reshape(len(forest.estimators_), len(codes), x.shape[0]).mean(axis=2)


def target_values(trials: Sequence[FrozenTrial], target: Target | None = None) -> np.ndarray:
    """``target`` (default: the objective value) of each trial, infinities clipped to the finite
    range and NaN set to the finite mean (a forest cannot fit either)."""

    y = np.asarray([t.value if target is None else target(t) for t in trials], dtype=float)
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return np.zeros_like(y)
    return np.clip(np.nan_to_num(y, nan=finite.mean()), finite.min(), finite.max())


def _encode_column(trials: Sequence[FrozenTrial], name: str) -> np.ndarray:
    distributions = [t.distributions[name] for t in trials if name in t.params]
    categorical = [d for d in distributions if isinstance(d, CategoricalDistribution)]
    by_index = any(not all(is_number(c) for c in d.choices) for d in categorical)
    codes: dict[str, int] = {}
    column = np.full(len(trials), np.nan)
    for i, trial in enumerate(trials):
        if name not in trial.params:
            continue
        value = trial.params[name]
        if not by_index:
            column[i] = float(value)
            continue
        distribution = trial.distributions[name]
        if isinstance(distribution, CategoricalDistribution):
            for choice in distribution.choices:
                codes.setdefault(_choice_key(choice), len(codes))
        column[i] = codes.setdefault(_choice_key(value), len(codes))
    present = column[~np.isnan(column)]
    if present.size == 0:
        return np.zeros(len(trials))
    column[np.isnan(column)] = present.min() - 1.0 - (present.max() - present.min())
    return column


def _choice_key(choice: Any) -> str:
    return json.dumps(choice, sort_keys=True, default=repr)
