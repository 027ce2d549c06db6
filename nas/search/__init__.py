"""Architecture search on the DARTS space: strategies are Optuna samplers, budgeted training the objective."""

from nas.search._strategies import STRATEGIES, make_sampler

__all__ = ["STRATEGIES", "make_sampler"]
