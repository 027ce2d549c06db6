"""Minimum Importance Pruning on a cheap synthetic objective (no deep learning needed).

Four settings of a pretend training run, each with a cost; only ``depth`` changes the score.
MIP samples cheap values more often, fixes the least important setting every 10 trials and
stops the study once every setting is fixed.
"""

from __future__ import annotations

import optuna
import optunahub


COST = {
    "epochs": {5: 5.0, 10: 10.0, 20: 20.0},
    "width": {8: 1.0, 16: 4.0, 32: 16.0},
    "batch": {64: 2.0, 128: 1.0, 256: 1.5},
    "depth": {2: 1.0, 4: 2.0, 8: 4.0, 16: 8.0},
}
QUALITY = {2: 0.1, 4: 0.4, 8: 0.9, 16: 0.6}


def objective(trial: optuna.Trial) -> float:
    for name, table in COST.items():
        trial.suggest_categorical(name, list(table))
    return QUALITY[trial.params["depth"]]


if __name__ == "__main__":
    mip = optunahub.load_module(package="samplers/minimum_importance_pruning")
    study = optuna.create_study(direction="maximize", sampler=mip.MIPSampler(cost=COST, seed=0))
    study.optimize(objective, n_trials=100)  # Stops after 40: four rounds of ten.
    for decision in mip.pruning_history(study):
        print(decision.summary())
    print("trials:", len(study.trials), "best:", study.best_params)
