"""Search strategies by name: each is an Optuna sampler over the architecture parameters."""

from __future__ import annotations

from typing import Callable

import optuna

from nas._errors import NasError
from nas.search._evolution import RegularizedEvolutionSampler
from nas.search._reinforce import ReinforceSampler

# The authors' REINFORCE learning rate (0.1) barely moves the policy in 100-200 trials when rewards are
# accuracies in [0, 1] that differ by about 0.01 (benchmarks/bench_search.py: 0.96x random search at
# 100 trials, 1.25x at learning rate 10). The class keeps their default; the search command uses 10.
SEARCH_REINFORCE_LEARNING_RATE = 10.0

_FACTORIES: dict[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "evolution": lambda seed: RegularizedEvolutionSampler(seed=seed),
    "reinforce": lambda seed: ReinforceSampler(learning_rate=SEARCH_REINFORCE_LEARNING_RATE, seed=seed),
}
STRATEGIES: tuple[str, ...] = tuple(_FACTORIES)


def make_sampler(strategy: str, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler of ``strategy`` (one of :data:`STRATEGIES`) seeded."""
    try:
        factory = _FACTORIES[strategy]
    except KeyError:
        raise NasError(f"unknown search strategy {strategy!r} (known: {', '.join(STRATEGIES)})") from None
    return factory(seed)
