"""Search strategies by name: each is an Optuna sampler over the architecture parameters."""

from __future__ import annotations

from typing import Callable

import optuna

from nas._errors import NasError
from nas.search._evolution import RegularizedEvolutionSampler
from nas.search._reinforce import ReinforceSampler

_FACTORIES: dict[str, Callable[[int | None], optuna.samplers.BaseSampler]] = {
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "evolution": lambda seed: RegularizedEvolutionSampler(seed=seed),
    "reinforce": lambda seed: ReinforceSampler(seed=seed),
}
STRATEGIES: tuple[str, ...] = tuple(_FACTORIES)


def make_sampler(strategy: str, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler of ``strategy`` (one of :data:`STRATEGIES`) with its default settings, seeded."""
    try:
        factory = _FACTORIES[strategy]
    except KeyError:
        raise NasError(f"unknown search strategy {strategy!r} (known: {', '.join(STRATEGIES)})") from None
    return factory(seed)
