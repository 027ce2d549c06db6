"""Shared by the MIP tests: re-deriving recorded decisions from the trials alone, and a mixed
search space with a cost for every value."""

from __future__ import annotations

from typing import Any

import optuna

import optuna_mip
from optuna_mip._cost import CostModel
from optuna_mip._rounds import decide_round
from optuna_mip._rounds import evidence
from optuna_mip._rounds import RoundSettings
from optuna_mip.importance import ForestImportanceEvaluator


def assert_decisions_are_pure(study: optuna.Study, cost: Any = None) -> None:
    """Every recorded decision is what the pure round function gives on the final trials."""

    history = optuna_mip.pruning_history(study)
    trials = sorted(study.get_trials(), key=lambda t: t.number)
    config = study._storage.get_study_system_attrs(study._study_id)["mip:config"]
    settings = RoundSettings(**config)
    evaluator = ForestImportanceEvaluator(seed=settings.forest_seed)
    s = 0
    while s < len(history):
        used = evidence(trials, history[:s], settings.samples_per_round)
        assert used is not None
        again = decide_round(
            used, history[:s], settings, evaluator, CostModel(cost), study.direction
        )
        assert again == history[s : s + len(again)]
        s += len(again)


def some_cost(name: str, value: Any) -> float:
    """A cost for any value, so that the softmax path runs on every distribution."""

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return abs(float(value))
    return float(len(str(value)))


def mixed(trial: optuna.Trial) -> float:
    a = trial.suggest_categorical("a", ["x", "yy", "zzz"])
    b = trial.suggest_int("b", 0, 16, step=4)
    c = trial.suggest_float("c", 1e-3, 1.0, log=True)
    return len(a) + b + c


SAMPLERS = {
    "default": lambda: optuna_mip.MIPSampler(),
    # Decided rounds within the cases' few trials; Optuna's cases expect all n_trials to run.
    "cost-and-short-rounds": lambda: optuna_mip.MIPSampler(
        cost=some_cost, samples_per_round=2, seed=0, stop_when_done=False
    ),
}
