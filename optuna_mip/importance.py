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

from collections.abc import Sequence
import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from optuna.importance import BaseImportanceEvaluator
from optuna.trial import TrialState

from ._encoding import design_matrix
from ._encoding import encode_values
from ._encoding import partial_dependence
from ._encoding import Target
from ._encoding import target_values


if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial
    from sklearn.ensemble import RandomForestRegressor


__all__ = [
    "ForestImportanceEvaluator",
    "NullCorrectedImportanceEvaluator",
    "NullImportance",
    "design_matrix",
    "encode_values",
    "partial_dependence",
    "target_values",
]


class ForestImportanceEvaluator(BaseImportanceEvaluator):
    """Mean decrease in impurity of a random forest: the paper's Eq. 7-8 (MIP's default).

    Args:
        n_trees:
            Trees in the forest. Fewer than scikit-learn's default of 100, because the data sets
            are tiny (tens of trials) and MIP fits in the optimization loop.
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
        """Importance of ``params`` (default: every parameter of a complete trial), summing to one,
        most important first, as Optuna's evaluators return them.

        All zeros when the forest cannot split (fewer than two trials, a constant target): no
        parameter is then more important than another.

        Raises:
            ValueError: for a multi-objective study without ``target``, or a name in ``params``
                that no complete trial has.
        """

        trials, names = _complete_trials_and_names(study, params, target)
        importances = self._importances(
            design_matrix(trials, names), target_values(trials, target)
        )
        return _sorted(dict(zip(names, importances.tolist())))

    def fit(self, x: np.ndarray, y: np.ndarray) -> RandomForestRegressor:
        """The fitted forest (``n_jobs=1``, so the result is bit-for-bit the same everywhere)."""

        # Imported here so that ``import optuna_mip`` stays as fast as ``import optuna``.
        from sklearn.ensemble import RandomForestRegressor

        forest = RandomForestRegressor(
            n_estimators=self._n_trees, random_state=self._seed, n_jobs=1
        )
        return forest.fit(x, y)

    def _importances(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        zeros = np.zeros(x.shape[1])
        if x.shape[0] < 2 or x.shape[1] == 0:
            return zeros
        importances = np.asarray(self.fit(x, y).feature_importances_, dtype=float)
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
    clipped to zero by :meth:`evaluate`, as :func:`optuna.importance.get_param_importances`
    expects; :meth:`null_importances` keeps the signed values, and MIP ranks by them so that
    parameters below chance stay ordered (it prunes the lowest first).

    Args:
        n_shuffles:
            Forests fitted on shuffled targets, each with the same seed as the real one.
        n_trees:
            Trees per forest.
        seed:
            Seed of the forests and the shuffles. Pass one when several workers share a study.
    """

    def __init__(
        self, *, n_shuffles: int = 20, n_trees: int = 64, seed: int | None = None
    ) -> None:
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
        """MDI above chance, clipped at zero, most important first (see :meth:`null_importances`)."""

        nulls = self.null_importances(study, params, target=target)
        return _sorted({name: max(null.corrected, 0.0) for name, null in nulls.items()})

    def null_importances(
        self,
        study: Study,
        params: list[str] | None = None,
        *,
        target: Target | None = None,
    ) -> dict[str, NullImportance]:
        """Per parameter, its MDI and the mean and 95th percentile of its MDI under shuffling."""

        trials, names = _complete_trials_and_names(study, params, target)
        x, y = design_matrix(trials, names), target_values(trials, target)
        rng = np.random.default_rng(self._seed)
        null = np.asarray(
            [self._importances(x, rng.permutation(y)) for _ in range(self._n_shuffles)]
        )
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
    study: Study, params: Sequence[str] | None, target: Target | None
) -> tuple[list[FrozenTrial], list[str]]:
    if target is None and len(study.directions) > 1:
        raise ValueError(
            "Importances of a multi-objective study need a `target`, e.g. "
            "target=lambda t: t.values[0]."
        )
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    known = {name for t in trials for name in t.params}
    if params is None:
        return trials, sorted(known)
    unknown = [name for name in params if name not in known]
    if unknown:
        raise ValueError(f"No complete trial has the parameters {unknown}.")
    return trials, list(params)


def _sorted(importances: dict[str, float]) -> dict[str, float]:
    return dict(sorted(importances.items(), key=lambda item: item[1], reverse=True))
