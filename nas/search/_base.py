"""What the search samplers share: a categorical relative search space and trial-seeded randomness.

Every random draw comes from a generator seeded by ``(seed, trial number, purpose)``, never from one
that advances with each call, so a trial's parameters depend neither on which process or thread
sampled it nor on whether the study was resumed in between.
"""

from __future__ import annotations

import abc
import threading
from typing import Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from optuna_mip import derive_seed


class TrialSeededSampler(BaseSampler, abc.ABC):
    """Base of samplers that choose categorical values from the study's complete trials.

    The relative search space holds the categorical parameters (with more than one choice) that
    every complete trial suggested with the same choices. Any other parameter is drawn by
    :class:`~optuna.samplers.RandomSampler` seeded by ``(seed, trial number, parameter name)``.
    Single-objective only: there is no single fitness to select or reward on otherwise, so the
    first sample in a multi-objective study raises :class:`ValueError`.
    """

    def __init__(self, seed: int | None) -> None:
        entropy = np.random.SeedSequence().entropy if seed is None else seed
        self._seed = int(entropy)  # type: ignore[arg-type]
        # Incremental intersections, per study: id(storage) tells in-memory studies apart (they
        # all have study id 0).
        self._search_spaces: dict[tuple[int, int], IntersectionSearchSpace] = {}
        self._search_space_lock = threading.Lock()  # study.optimize(n_jobs=...) shares the sampler

    def reseed_rng(self) -> None:
        # Nothing to reseed: every draw is seeded by the trial number, so copies of the sampler in
        # parallel threads cannot draw the same values.
        pass

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        key = (id(study._storage), study._study_id)
        with self._search_space_lock:
            space = self._search_spaces.setdefault(key, IntersectionSearchSpace()).calculate(study)
        return {
            name: distribution
            for name, distribution in space.items()
            if isinstance(distribution, CategoricalDistribution) and not distribution.single()
        }

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._check_single_objective(study)
        categorical = {
            name: distribution
            for name, distribution in search_space.items()
            if isinstance(distribution, CategoricalDistribution)
        }
        params = self._sample_categorical(study, trial, categorical) if categorical else {}
        for name, distribution in search_space.items():
            if name not in params:
                params[name] = self._random_value(study, trial, name, distribution)
        return params

    @abc.abstractmethod
    def _sample_categorical(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, CategoricalDistribution]
    ) -> dict[str, Any]:
        """Values for (some of) ``search_space``; the others are drawn at random."""

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_single_objective(study)
        return self._random_value(study, trial, param_name, param_distribution)

    def _random_value(
        self, study: Study, trial: FrozenTrial, name: str, distribution: BaseDistribution
    ) -> Any:
        sampler = RandomSampler(seed=self._rng_seed(trial, name))
        return sampler.sample_independent(study, trial, name, distribution)

    def _rng(self, trial: FrozenTrial, purpose: str) -> np.random.Generator:
        return np.random.default_rng(self._rng_seed(trial, purpose))

    def _rng_seed(self, trial: FrozenTrial, purpose: str) -> int:
        return derive_seed(self._seed, trial.number, purpose)

    def _check_single_objective(self, study: Study) -> None:
        if study._is_multi_objective():
            raise ValueError(
                f"{type(self).__name__} needs a single-objective study: it selects or rewards "
                "trials by one objective value"
            )


def complete_trials(study: Study) -> list[FrozenTrial]:
    """The study's complete trials in trial-number order, the order every worker agrees on, read
    fresh from the storage (Optuna's per-thread trial cache is refreshed only by ask and tell)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return sorted(trials, key=lambda trial: trial.number)


def fitness(trial: FrozenTrial) -> float:
    """A complete trial's value; a pruned trial's last reported value (TPE ranks pruned trials below complete ones instead)."""
    if trial.state == TrialState.COMPLETE:
        return float(trial.value)  # type: ignore[arg-type]
    return float(trial.intermediate_values[trial.last_step])  # type: ignore[index]


def scored_trials(study: Study) -> list[FrozenTrial]:
    """The complete trials and the pruned ones that reported a value, in trial-number order: the
    trials with a :func:`fitness`. Leaving pruned trials out would drop exactly the poor architectures
    a pruner stopped, and select or reward as if they had never been tried."""
    trials = study._get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED), use_cache=True)
    return sorted((t for t in trials if t.state == TrialState.COMPLETE or t.last_step is not None), key=lambda t: t.number)


def choice_index(trial: FrozenTrial, name: str, distribution: CategoricalDistribution) -> int | None:
    """Index of ``trial``'s value of ``name`` in ``distribution``, or None if it has no such value."""
    if trial.distributions.get(name) != distribution:
        return None
    return int(distribution.to_internal_repr(trial.params[name]))
