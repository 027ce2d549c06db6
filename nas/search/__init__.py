"""Architecture search on the DARTS space: strategies are Optuna samplers, budgeted training the objective.

The samplers (:class:`RegularizedEvolutionSampler`, :class:`ReinforceSampler`) work on any
single-objective study with categorical parameters. Their state is derived from the study's
complete trials and every random draw is seeded by ``(seed, trial number)``, so a resumed study or
several workers on one storage sample what one uninterrupted process would have, given the same
complete trials.

Strategies are named: :func:`make_sampler` makes the sampler of a name that
:func:`register_strategy` registered (the built-in ones, :data:`STRATEGIES`, register themselves the
same way), and ``nas search --plugin MODULE --strategy NAME`` reaches one a user's module registers.

Its names are imported on first use (:mod:`nas._lazy`): ``nas search`` reads the strategies' names,
and refuses an unknown one, before it imports Optuna and torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.search._base import TrialSeededSampler, complete_trials
    from nas.search._evolution import RegularizedEvolutionSampler
    from nas.search._objective import ArchitectureObjective
    from nas.search._reinforce import ReinforceSampler
    from nas.search._strategies import STRATEGIES, StrategyFactory, make_sampler, register_strategy, strategies
    from nas.search._study import (
        StopAfterFailures,
        best_genotypes,
        check_study,
        create_search_study,
        fail_stale_trials,
        load_search_study,
        open_storage,
        search_setup,
        settle_running_trials,
        storage_reason,
        trial_line,
    )

__all__ = [
    "STRATEGIES",
    "ArchitectureObjective",
    "RegularizedEvolutionSampler",
    "ReinforceSampler",
    "StopAfterFailures",
    "StrategyFactory",
    "TrialSeededSampler",
    "best_genotypes",
    "check_study",
    "complete_trials",
    "create_search_study",
    "fail_stale_trials",
    "load_search_study",
    "make_sampler",
    "open_storage",
    "register_strategy",
    "search_setup",
    "settle_running_trials",
    "storage_reason",
    "strategies",
    "trial_line",
]

_SOURCES: dict[str, tuple[str, ...]] = {
    "nas.search._base": ("TrialSeededSampler", "complete_trials"),
    "nas.search._evolution": ("RegularizedEvolutionSampler",),
    "nas.search._objective": ("ArchitectureObjective",),
    "nas.search._reinforce": ("ReinforceSampler",),
    "nas.search._strategies": ("STRATEGIES", "StrategyFactory", "make_sampler", "register_strategy", "strategies"),
    "nas.search._study": (
        "StopAfterFailures",
        "best_genotypes",
        "check_study",
        "create_search_study",
        "fail_stale_trials",
        "load_search_study",
        "open_storage",
        "search_setup",
        "settle_running_trials",
        "storage_reason",
        "trial_line",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
