"""Search strategies by name: each is an Optuna sampler over the architecture parameters.

The built-in strategies register themselves here the way a user's do (:func:`register_strategy`),
so ``make_sampler`` and ``nas search --strategy NAME`` know no difference between them. Their
samplers are imported when one is made: the command-line parser lists the names, and an unknown one
is refused, without Optuna or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from nas._errors import NasError

if TYPE_CHECKING:
    import optuna

StrategyFactory = Callable[[int | None], "optuna.samplers.BaseSampler"]
"""Makes a strategy's sampler from a seed (None: a random one)."""

# The authors' REINFORCE learning rate (0.1) barely moves the policy in 100-200 trials when rewards are
# accuracies in [0, 1] that differ by about 0.01 (benchmarks/bench_search.py: 0.96x random search at
# 100 trials, 1.25x at learning rate 10). The class keeps their default; the search command uses 10.
SEARCH_REINFORCE_LEARNING_RATE = 10.0

# ``nas search --strategy darts`` runs DARTS itself, one search a trial: no sampler can take its name.
_RESERVED = ("darts",)
_factories: dict[str, StrategyFactory] = {}


def register_strategy(name: str, factory: StrategyFactory) -> None:
    """Make ``factory`` the strategy ``name`` of :func:`make_sampler` and ``nas search --strategy``.

    ``factory(seed)`` returns an Optuna sampler; it should draw the same trials from the same seed,
    so that a resumed search goes on as an uninterrupted one (a :class:`~nas.search.TrialSeededSampler` does: ``nas search`` then passes the same seed on resume).
    A name taken already, or ``darts``, is refused with a :class:`ValueError`: a strategy's name is
    part of a study's default name, so it must keep meaning one sampler.
    """
    if name in _RESERVED or name in _factories:
        raise ValueError(f"search strategy {name!r} is taken (known: {', '.join((*_factories, *_RESERVED))})")
    _factories[name] = factory


def strategies() -> tuple[str, ...]:
    """The names :func:`make_sampler` knows: the built-in strategies, then those registered, in order."""
    return tuple(_factories)


def _random(seed: int | None) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _evolution(seed: int | None) -> optuna.samplers.BaseSampler:
    from nas.search._evolution import RegularizedEvolutionSampler

    return RegularizedEvolutionSampler(seed=seed)


def _reinforce(seed: int | None) -> optuna.samplers.BaseSampler:
    from nas.search._reinforce import ReinforceSampler

    return ReinforceSampler(learning_rate=SEARCH_REINFORCE_LEARNING_RATE, seed=seed)


register_strategy("random", _random)
register_strategy("evolution", _evolution)
register_strategy("reinforce", _reinforce)
STRATEGIES: tuple[str, ...] = strategies()
"""The built-in strategies."""


def make_sampler(strategy: str, seed: int | None = None) -> optuna.samplers.BaseSampler:
    """The sampler of ``strategy`` (one of :func:`strategies`) seeded."""
    try:
        factory = _factories[strategy]
    except KeyError:
        raise NasError(f"unknown search strategy {strategy!r} (known: {', '.join(strategies())})") from None
    return factory(seed)
