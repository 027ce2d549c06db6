"""Minimum Importance Pruning (MIP) as an Optuna sampler.

MIP (Sec. 4.2 and Algorithm 1 of "Rethinking Performance Estimation in Neural Architecture
Search") searches a space of expensive settings by sampling cheap values more often, fitting a
random forest every ``K`` trials and fixing the least important parameter, until every
parameter is fixed. See :class:`MIPSampler`; importance evaluators are in
:mod:`optuna_mip.importance`.
"""

from __future__ import annotations

from typing import Any

from ._callbacks import decisions_markdown
from ._callbacks import publish_decisions
from ._callbacks import PublishDecisions
from ._callbacks import required_trials
from ._callbacks import StopWhenAllFixed
from ._history import pruning_history
from ._history import PruningDecision
from ._rounds import derive_seed
from ._sampler import MIPSampler
from ._visualization import plot_importance_history


def __getattr__(name: str) -> Any:
    # optuna_mip.importance imports optuna.importance, which imports scikit-learn (over a second):
    # loaded on first use, so that importing the sampler costs what importing Optuna does.
    if name == "importance":
        import importlib

        return importlib.import_module(f"{__name__}.importance")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MIPSampler",
    "PruningDecision",
    "PublishDecisions",
    "StopWhenAllFixed",
    "decisions_markdown",
    "derive_seed",
    "importance",
    "plot_importance_history",
    "publish_decisions",
    "pruning_history",
    "required_trials",
]
