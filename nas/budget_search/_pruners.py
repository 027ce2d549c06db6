"""Pruners for budget-search studies, by name (for ``--pruner`` options).

A budget trial trains many architectures; a pruner can stop it once its intermediate r_s says the
budget is a poor one. With :data:`DEFAULT_PRUNER` every trial runs to its end.
"""

from __future__ import annotations

import optuna

from nas._errors import NasError

PRUNERS: tuple[str, ...] = ("none", "median")
DEFAULT_PRUNER = "none"


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """The pruner called ``name`` (one of :data:`PRUNERS`)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    raise NasError(f"unknown pruner {name!r} (known: {', '.join(PRUNERS)})")
