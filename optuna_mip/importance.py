"""Random-forest parameter importance (Eq. 3-8), as Optuna importance evaluators.

:class:`ForestImportanceEvaluator` is the paper's importance: scikit-learn's
:class:`~sklearn.ensemble.RandomForestRegressor` grows CART regression trees that split by
minimising the weighted variance of Eq. 4-6, and its ``feature_importances_`` is the mean
decrease in impurity (MDI) of Eq. 7, normalised as in Eq. 8. Unlike Optuna's
:class:`~optuna.importance.MeanDecreaseImpurityImportanceEvaluator`, which one-hot encodes
categorical parameters and only looks at parameters present in every trial, it gives each
parameter one column (so a categorical competes as one feature, as in the paper) and encodes a
parameter a trial does not have, so conditional parameters are assessed too.

MDI favours parameters with many distinct values: they offer more split points to fit noise.
:class:`NullCorrectedImportanceEvaluator` subtracts that bias: the importance each parameter gets
when the objective values are shuffled (the *null*) is what its number of values alone earns it.

Both are :class:`~optuna.importance.BaseImportanceEvaluator` subclasses, so they also work with
:func:`optuna.importance.get_param_importances`.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
import json
from typing import Any
from typing import TYPE_CHECKING

import numpy as np
from optuna.distributions import CategoricalDistribution
from optuna.importance import BaseImportanceEvaluator
from optuna.logging import get_logger
from optuna.trial import TrialState
from sklearn.ensemble import RandomForestRegressor

from optuna_mip._space import is_number


if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


__all__ = [
    "ForestImportanceEvaluator",
    "NullCorrectedImportanceEvaluator",
    "NullImportance",
    "design_matrix",
    "encode_values",
    "partial_dependence",
    "target_values",
]

# Under "optuna." so that optuna.logging.set_verbosity and its handler apply, as to Optuna's own messages.
_logger = get_logger(f"optuna.{__name__}")

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


class ForestImportanceEvaluator(BaseImportanceEvaluator):
    """Mean decrease in impurity of a random forest: the paper's Eq. 7-8 (MIP's default).

    Args:
        n_trees:
            Trees in the forest. Fewer than scikit-learn's default of 100, because the data sets
            are tiny (tens of trials) and MIP fits in the optimisation loop.
        seed:
            Seed of the forest. Pass one when several workers share a study, so they agree.
    """

    def __init__(self, *, n_trees: int = 64, seed: int | None = None) -> None:
        if n_trees < 1:
            raise ValueError(f"`n_trees` must be >= 1, got {n_trees}.")
        self._n_trees = n_trees
        self._seed = seed

    def evaluate(
        self,
        study: Study,
        params: list[str] | None = None,
        *,
        target: Target | None = None,
    ) -> dict[str, float]:
        """Importance of ``params`` (default: every parameter of a complete trial), summing to one.

        All zeros when the forest cannot split (fewer than two trials, a constant target) or
        the fit fails: no parameter is then more important than another.
        """

        trials, names = _complete_trials_and_names(study, params)
        importances = self._importances(design_matrix(trials, names), target_values(trials, target))
        return dict(zip(names, importances.tolist()))

    def fit(self, x: np.ndarray, y: np.ndarray) -> RandomForestRegressor:
        """The fitted forest (``n_jobs=1``, so the result is bit-for-bit the same everywhere)."""

        forest = RandomForestRegressor(n_estimators=self._n_trees, random_state=self._seed, n_jobs=1)
        return forest.fit(x, y)

    def _importances(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        zeros = np.zeros(x.shape[1])
        if x.shape[0] < 2 or x.shape[1] == 0:
            return zeros
        try:
            importances = np.asarray(self.fit(x, y).feature_importances_, dtype=float)
        except Exception as e:  # noqa: BLE001 -- MIP fits inside after_trial; never break the study.
            _logger.warning(f"Random forest fit failed ({e!r}); all importances are zero.")
            return zeros
        if importances.shape != zeros.shape or not np.all(np.isfinite(importances)):
            return zeros
        return importances


@dataclasses.dataclass(frozen=True)
class NullImportance:
    """A parameter's MDI and its distribution when the target is shuffled."""

    importance: float
    null_mean: float
    null_p95: float

    @property
    def corrected(self) -> float:
        """Importance above what the parameter's number of values alone earns it."""

        return self.importance - self.null_mean


class NullCorrectedImportanceEvaluator(ForestImportanceEvaluator):
    """MDI minus its mean when the objective values are shuffled.

    Shuffling the target breaks any link between parameters and objective but keeps each
    parameter's values, so the importance a parameter gets then is the share MDI hands it for
    offering many split points. Subtracting it stops a dead parameter with many values (or a
    continuous one) from looking more important than a useful one with two values. The
    difference is negative for a parameter that explains less than chance would; it is not
    clipped, so that such parameters stay ordered (MIP prunes the lowest first, and takes shares
    of the positive part only).

    Args:
        n_shuffles:
            Forests fitted on shuffled targets, each with the same seed as the real one.
        n_trees:
            Trees per forest.
        seed:
            Seed of the forests and the shuffles. Pass one when several workers share a study.
    """

    def __init__(self, *, n_shuffles: int = 20, n_trees: int = 64, seed: int | None = None) -> None:
        super().__init__(n_trees=n_trees, seed=seed)
        if n_shuffles < 1:
            raise ValueError(f"`n_shuffles` must be >= 1, got {n_shuffles}.")
        self._n_shuffles = n_shuffles

    def evaluate(
        self,
        study: Study,
        params: list[str] | None = None,
        *,
        target: Target | None = None,
    ) -> dict[str, float]:
        return {
            name: null.corrected
            for name, null in self.null_importances(study, params, target=target).items()
        }

    def null_importances(
        self,
        study: Study,
        params: list[str] | None = None,
        *,
        target: Target | None = None,
    ) -> dict[str, NullImportance]:
        """Per parameter, its MDI and the mean and 95th percentile of its MDI under shuffling."""

        trials, names = _complete_trials_and_names(study, params)
        x, y = design_matrix(trials, names), target_values(trials, target)
        rng = np.random.default_rng(self._seed)
        null = np.asarray([self._importances(x, rng.permutation(y)) for _ in range(self._n_shuffles)])
        importances = self._importances(x, y)
        return {
            name: NullImportance(
                importance=float(importances[j]),
                null_mean=float(null[:, j].mean()),
                null_p95=float(np.percentile(null[:, j], 95)),
            )
            for j, name in enumerate(names)
        }


def _complete_trials_and_names(
    study: Study, params: list[str] | None
) -> tuple[list[FrozenTrial], list[str]]:
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if params is None:
        return trials, sorted({name for t in trials for name in t.params})
    return trials, list(params)


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
