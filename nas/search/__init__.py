"""Architecture search on the DARTS space: strategies are Optuna samplers, budgeted training the objective."""

from nas.search._objective import ArchitectureObjective
from nas.search._strategies import STRATEGIES, make_sampler
from nas.search._study import best_genotypes, check_study, create_search_study, load_search_study, open_storage, search_setup

__all__ = [
    "STRATEGIES",
    "ArchitectureObjective",
    "best_genotypes",
    "check_study",
    "create_search_study",
    "load_search_study",
    "make_sampler",
    "open_storage",
    "search_setup",
]
