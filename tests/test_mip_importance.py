"""The cardinality trap of impurity importance, and the null correction that avoids it.

Four categoricals of 2/3/5/8 values and one dead continuous parameter; only the 2-valued one
matters (effect 1, noise sd 1). MDI hands parameters with many split points importance for
fitting noise, so it rarely ranks the useful one first; the null-corrected MDI should.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution

import optuna_mip

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


def trap_objective(seed: int) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        for name, d in SPACE.items():
            if isinstance(d, CategoricalDistribution):
                trial.suggest_categorical(name, d.choices)
        trial.suggest_float("dead", 0.0, 1.0)
        return trial.params["useful"] + float(np.random.default_rng([seed, trial.number]).normal())

    return objective


def fixed_useful_values(**sampler_kwargs: Any) -> list[int]:
    fixed = []
    for seed in SEEDS:
        sampler = optuna_mip.MIPSampler(
            seed=seed,
            importance_evaluator=NullCorrectedImportanceEvaluator(n_shuffles=10, n_trees=16, seed=seed),
            **sampler_kwargs,
        )
        study = optuna.create_study(sampler=sampler)
        study.optimize(trap_objective(seed), n_trials=50, callbacks=[optuna_mip.StopWhenAllFixed()])
        fixed.append(optuna_mip.MIPSampler.fixed_params(study)["useful"])
    return fixed


def test_mip_fixes_the_useful_parameter_at_its_better_value() -> None:
    # End to end through the sampler, without costs (the trap has none): every decision is the
    # best trial's value, so "useful" must be pruned late enough for the best trial to have its
    # better value 0. Even when it is pruned last (50 trials) that holds only ~91 % of the time.
    # Measured: 18 of 20.
    assert fixed_useful_values().count(0) >= 18


def test_predicted_value_escapes_the_noise_of_the_best_trial() -> None:
    # The forest's partial dependence averages the noise (sd 1, as large as the effect) over
    # the trials instead of trusting the luckiest one. Measured: 20 of 20 (best trial: 18).
    assert fixed_useful_values(fix_at="predicted").count(0) >= 19


@pytest.mark.parametrize(
    "evaluator",
    [ForestImportanceEvaluator(seed=0), NullCorrectedImportanceEvaluator(n_shuffles=5, n_trees=16, seed=0)],
    ids=["mdi", "null-corrected"],
)
def test_evaluators_keep_optunas_importance_contract(evaluator: Any) -> None:
    study = trap_study(0)
    raw = evaluator.evaluate(study)
    assert list(raw.values()) == sorted(raw.values(), reverse=True)
    assert all(v >= 0.0 for v in raw.values())
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    assert set(importances) == set(SPACE)
    assert all(0.0 <= v <= 1.0 for v in importances.values())
    assert sum(importances.values()) == pytest.approx(1.0)
    assert evaluator.evaluate(study, params=["useful"]).keys() == {"useful"}
    with pytest.raises(ValueError, match="no_such_param"):
        evaluator.evaluate(study, params=["no_such_param"])

    two = optuna.create_study(directions=["minimize", "minimize"])
    two.add_trials(
        [
            optuna.trial.create_trial(params={"x": x}, distributions={"x": SPACE["useful"]}, values=[x, -x])
            for x in SPACE["useful"].choices
        ]
    )
    with pytest.raises(ValueError, match="target"):
        evaluator.evaluate(two)
    assert set(evaluator.evaluate(two, target=lambda t: t.values[0])) == {"x"}
