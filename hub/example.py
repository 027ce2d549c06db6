"""Minimum Importance Pruning on a cheap synthetic objective (no deep learning needed).

Three settings of a pretend training run, each value with a cost; only ``channels`` changes the
score. MIP samples cheap values more often, fixes the least important setting every 10 trials
and stops the study once every setting is fixed.
"""

from __future__ import annotations

import optuna
import optunahub


SPACE = {"epochs": [5, 10, 20], "channels": [8, 16, 32], "batch": [64, 128, 256]}
SCORE = {8: 0.2, 16: 0.9, 32: 0.7}


def cost(name: str, value: int) -> float:
    # More epochs and channels cost more; a larger batch costs less (fewer steps).
    return 256.0 / value if name == "batch" else float(value)


def objective(trial: optuna.Trial) -> float:
    params = {name: trial.suggest_categorical(name, values) for name, values in SPACE.items()}
    return SCORE[params["channels"]]


if __name__ == "__main__":
    mip = optunahub.load_module(package="samplers/minimum_importance_pruning")
    study = optuna.create_study(direction="maximize", sampler=mip.MIPSampler(cost=cost, seed=0))
    study.optimize(objective, n_trials=100)  # Stops after 30: three rounds of ten.
    for decision in mip.pruning_history(study):
        print(decision.summary())
    print("trials:", len(study.trials), "best:", study.best_params)
