"""Regularized evolution (Real et al., "Regularized Evolution for Image Classifier Architecture
Search", AAAI 2019) as an Optuna sampler over categorical parameters."""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from optuna.distributions import CategoricalDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial

from nas.search._base import TrialSeededSampler, choice_index, fitness, scored_trials
from nas.space import DARTS_SPACE, SearchSpace

PARENT_KEY = "evolution:parent"
MUTATED_KEY = "evolution:mutated"


class RegularizedEvolutionSampler(TrialSeededSampler):
    """Aging evolution: mutate the best of a random sample of the youngest trials.

    Until ``population_size`` trials are scored, trials are random. After that each trial is a
    child: ``sample_size`` members are drawn (with replacement, as in Real et al.'s Algorithm 1 and
    the Zheng et al. authors' ``run_evolution.py``) from the population, and the child copies the
    best one's categorical values, mutated by ``mutation`` (by default
    :func:`mutate_in_space`). Defaults 50 / 10 are ``run_evolution.py``'s ``--pop_size`` /
    ``--sample_size``.

    There is no population in memory: the population is the ``population_size`` scored trials
    with the highest trial numbers, so "the oldest dies" is "the lowest number drops out".
    Age is the trial number (when the architecture was proposed), not the completion time: it is
    the same in every worker and in a resumed run, and a slow trial is not kept longer for being
    slow. Scored trials are the complete ones and the pruned ones, whose fitness is their last
    reported value (:func:`~nas.search._base.fitness`); failed and running trials are never members.

    The parent's number and the mutated parameter's name are written to the child trial's system
    attributes ``evolution:parent`` and ``evolution:mutated``.

    With the DARTS parameterisation the default mutates as Real et al.: one input of one node, or one
    operation, each with probability 1/2; other spaces get one parameter changed uniformly.
    The authors' ``run_evolution.py``
    searched another space (28 parameters ``{cell}_{node}_{prev}``, one of 7 operations per edge,
    every node taking all its inputs), where a mutation changes one edge's operation; this one is
    the 2-input DARTS space of ``ground_truth.csv``, so only the algorithm is theirs.

    Args:
        population_size: Number of youngest complete trials that form the population.
        sample_size: Tournament size.
        seed: Seed of every random draw, combined with the trial number (see :mod:`nas.search`).
        mutation: ``mutation(values, search_space, rng)`` returns the child's values and the name of
            the parameter it mutated (``None``: nothing to mutate). Default: ``space``'s mutation
            (:meth:`~nas.space.SearchSpace.mutate_params`), else one parameter changed.
        space: The space whose parameters the default mutation knows (default: the DARTS space).
    """

    def __init__(
        self,
        population_size: int = 50,
        sample_size: int = 10,
        seed: int | None = None,
        mutation: Mutation | None = None,
        space: SearchSpace | None = None,
    ) -> None:
        if population_size < 1:
            raise ValueError(f"population_size must be at least 1, got {population_size}")
        if sample_size < 1:
            raise ValueError(f"sample_size must be at least 1, got {sample_size}")
        super().__init__(seed)
        self._population_size = population_size
        self._sample_size = sample_size
        self._mutation = mutation or functools.partial(mutate_in_space, space or DARTS_SPACE)

    def population(self, study: Study) -> list[FrozenTrial]:
        """The current population, oldest first (empty while it is still being filled at random)."""
        trials = scored_trials(study)
        if len(trials) < self._population_size:
            return []
        return trials[-self._population_size :]

    def _sample_categorical(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, CategoricalDistribution]
    ) -> dict[str, Any]:
        population = self.population(study)
        if not population:
            return {}
        rng = self._rng(trial, "evolution")
        tournament = [population[i] for i in rng.integers(len(population), size=self._sample_size)]
        pick = max if study.direction == StudyDirection.MAXIMIZE else min
        parent = pick(tournament, key=fitness)

        inherited = {
            name: distribution.choices[index]
            for name, distribution in search_space.items()
            if (index := choice_index(parent, name, distribution)) is not None
        }
        child, mutated = self._mutation(inherited, search_space, rng)
        if mutated is not None:
            study._storage.set_trial_system_attr(trial._trial_id, MUTATED_KEY, mutated)
        study._storage.set_trial_system_attr(trial._trial_id, PARENT_KEY, parent.number)
        return child


Mutation = Callable[[dict[str, Any], dict[str, CategoricalDistribution], np.random.Generator], tuple[dict[str, Any], str | None]]


def mutate_in_space(
    space: SearchSpace, values: dict[str, Any], search_space: dict[str, CategoricalDistribution], rng: np.random.Generator
) -> tuple[dict[str, Any], str | None]:
    """The default mutation: ``space``'s on its parameters (for DARTS, Real et al.'s: one input or one
    operation, 1/2 each: :func:`nas.space.mutate_genotype_params`), else :func:`mutate_one_parameter`."""
    child, mutated = space.mutate_params(values, search_space, rng)
    return (child, mutated) if mutated is not None else mutate_one_parameter(values, search_space, rng)


def mutate_one_parameter(
    values: dict[str, Any], search_space: dict[str, CategoricalDistribution], rng: np.random.Generator
) -> tuple[dict[str, Any], str | None]:
    """One parameter (uniformly among those with another choice) takes another value, uniformly."""
    mutable = [name for name in sorted(values) if len(search_space[name].choices) > 1]
    if not mutable:
        return values, None
    name = mutable[rng.integers(len(mutable))]
    others = [choice for choice in search_space[name].choices if choice != values[name]]
    return {**values, name: others[rng.integers(len(others))]}, name
