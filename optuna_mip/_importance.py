"""Random-forest importance of the parameters (Eq. 3-8).

scikit-learn's :class:`~sklearn.ensemble.RandomForestRegressor` grows CART regression trees
that choose splits by minimising the weighted variance of Eq. 4-6, and its
``feature_importances_`` is the mean decrease in impurity of Eq. 7, normalised to sum to one as
in Eq. 8. This module only turns trials into a design matrix and guards the fit: it runs inside
``after_trial``, where an exception would stop the whole study.
"""

from __future__ import annotations

from collections.abc import Sequence
import json
from typing import Any

import numpy as np
from optuna.distributions import CategoricalDistribution
from optuna.logging import get_logger
from sklearn.ensemble import RandomForestRegressor

from optuna_mip._trials import TrialRecord


# Under "optuna." so that optuna.logging.set_verbosity and its handler apply, as to Optuna's own messages.
_logger = get_logger(f"optuna.{__name__}")

# Fewer trees than scikit-learn's default of 100: the data sets are tiny (tens of trials), and
# the fit runs in the optimisation loop.
_N_TREES = 64


def encode(records: Sequence[TrialRecord], names: Sequence[str]) -> np.ndarray:
    """Design matrix, one row per trial and one column per parameter name.

    Numeric parameters are used as they are (trees are invariant to monotone transforms, so a
    log scale changes nothing). Categorical parameters are encoded by the index of the choice,
    in the order of the first distribution seen and then of first appearance; choices are keyed
    by their JSON text so that ``1``, ``1.0`` and ``True`` stay distinct. A parameter a trial
    does not have (conditional search spaces) gets a value below every observed one, so trees
    can split "absent" from "present".
    """

    columns = [_encode_column(records, name) for name in names]
    if not columns:
        return np.zeros((len(records), 0))
    return np.column_stack(columns)


def _encode_column(records: Sequence[TrialRecord], name: str) -> np.ndarray:
    categorical = any(
        isinstance(r.distributions.get(name), CategoricalDistribution) for r in records
    )
    codes: dict[str, int] = {}
    column = np.full(len(records), np.nan)
    for i, record in enumerate(records):
        if name not in record.params:
            continue
        value = record.params[name]
        if categorical:
            distribution = record.distributions[name]
            if isinstance(distribution, CategoricalDistribution):
                for choice in distribution.choices:
                    codes.setdefault(_choice_key(choice), len(codes))
            column[i] = codes.setdefault(_choice_key(value), len(codes))
        else:
            column[i] = float(value)
    present = column[~np.isnan(column)]
    if present.size == 0:
        return np.zeros(len(records))
    column[np.isnan(column)] = present.min() - 1.0 - (present.max() - present.min())
    return column


def _choice_key(choice: Any) -> str:
    return json.dumps(choice, sort_keys=True, default=repr)


def targets(records: Sequence[TrialRecord]) -> np.ndarray:
    """Objective values, with infinities clipped to the finite range (a forest cannot fit inf)."""

    y = np.asarray([r.value for r in records], dtype=float)
    finite = y[np.isfinite(y)]
    if finite.size == 0:
        return np.zeros_like(y)
    return np.clip(np.nan_to_num(y, nan=finite.mean()), finite.min(), finite.max())


def forest_importances(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray | None:
    """Impurity-based importances of the columns of ``x``, or :obj:`None` if the fit failed.

    ``n_jobs`` is left at one so that the result is bit-for-bit the same in every worker.
    """

    if x.shape[0] == 0 or x.shape[1] == 0:
        return None
    try:
        forest = RandomForestRegressor(n_estimators=_N_TREES, random_state=seed, n_jobs=1)
        forest.fit(x, y)
        importances = np.asarray(forest.feature_importances_, dtype=float)
    except Exception as e:  # noqa: BLE001 -- never let a fit break the study.
        _logger.warning(f"MIPSampler: random forest fit failed ({e!r}); treating as a tie.")
        return None
    if importances.shape != (x.shape[1],) or not np.all(np.isfinite(importances)):
        return None
    return importances


def free_importances(
    importances: np.ndarray | None, names: Sequence[str], free: Sequence[str]
) -> dict[str, float]:
    """Importances of the free parameters, renormalised to sum to one over them.

    The forest is fitted on every parameter (those fixed in earlier rounds varied in the earlier
    trials and explain part of the objective), but Eq. 8-9 compare the parameters still in the
    search space, so their shares are renormalised and the 0.1 threshold keeps its meaning as
    the search space shrinks. A degenerate fit (failed, or no split at all because the objective
    is constant) gives every free parameter the same importance.
    """

    if importances is None:
        return {name: 1.0 / len(free) for name in free}
    by_name = dict(zip(names, importances))
    shares = np.asarray([by_name[name] for name in free])
    total = float(shares.sum())
    if not np.isfinite(total) or total <= 0.0:
        return {name: 1.0 / len(free) for name in free}
    return {name: float(share / total) for name, share in zip(free, shares)}


def least_important(importances: dict[str, float]) -> str:
    """Eq. 9's ``argmin``, with ties broken by parameter name so that every worker agrees."""

    return min(importances, key=lambda name: (round(importances[name], 12), name))
