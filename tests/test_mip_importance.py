"""The cardinality trap of impurity importance, and the null correction that avoids it.

Four categoricals of 2/3/5/8 values and one dead continuous parameter; only the 2-valued one
matters (effect 1, noise sd 1). MDI hands parameters with many split points importance for
fitting noise, so it rarely ranks the useful one first; the null-corrected MDI should.
"""

from __future__ import annotations

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution

from optuna_mip.importance import ForestImportanceEvaluator
from optuna_mip.importance import NullCorrectedImportanceEvaluator


optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {
    "useful": CategoricalDistribution([0, 1]),
    "c3": CategoricalDistribution([0, 1, 2]),
    "c5": CategoricalDistribution(list(range(5))),
    "c8": CategoricalDistribution(list(range(8))),
    "dead": FloatDistribution(0.0, 1.0),
}
SEEDS = range(20)


def trap_study(seed: int, n_trials: int = 40) -> optuna.Study:
    rng = np.random.default_rng(seed)
    study = optuna.create_study()
    for _ in range(n_trials):
        params = {
            name: float(rng.random()) if name == "dead" else d.choices[rng.integers(len(d.choices))]
            for name, d in SPACE.items()
        }
        value = params["useful"] + rng.normal()
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=SPACE, value=float(value))
        )
    return study


def ranks(evaluator: optuna.importance.BaseImportanceEvaluator, study: optuna.Study) -> list[str]:
    importances = evaluator.evaluate(study)
    return sorted(importances, key=lambda name: -importances[name])


def test_null_correction_escapes_the_cardinality_trap() -> None:
    mdi = [ranks(ForestImportanceEvaluator(seed=s), trap_study(s)) for s in SEEDS]
    corrected = [
        ranks(NullCorrectedImportanceEvaluator(n_shuffles=10, n_trees=32, seed=s), trap_study(s))
        for s in SEEDS
    ]
    # Measured: MDI ranks "useful" first in 4 of 20 seeds, the null-corrected MDI in 17, and
    # never last (MIP prunes the last-ranked parameter first).
    assert sum(r[0] == "useful" for r in mdi) <= 8
    assert sum(r[0] == "useful" for r in corrected) >= 15
    assert sum(r[-1] != "useful" for r in corrected) >= 18


def test_null_importances_of_a_dead_parameter_center_on_zero() -> None:
    nulls = NullCorrectedImportanceEvaluator(n_shuffles=10, n_trees=32, seed=0).null_importances(
        trap_study(0)
    )
    assert set(nulls) == set(SPACE)
    assert nulls["dead"].null_mean > nulls["useful"].null_mean  # More split points, more null.
    assert nulls["useful"].corrected > nulls["dead"].corrected
    for null in nulls.values():
        assert null.null_p95 >= null.null_mean
