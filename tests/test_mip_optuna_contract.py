"""Optuna's sampler contract, run against MIPSampler.

``optuna.testing.pytest_samplers`` ships the parametrised test cases Optuna runs on its own
samplers; a subclass provides a ``sampler`` fixture returning a sampler factory. MIPSampler runs
``BasicSamplerTestCase`` and ``MultiObjectiveSamplerTestCase``; ``RelativeSamplerTestCase`` does
not apply because MIP samples independently (its relative search space is empty by design).

The cases below the Optuna ones cover what the shipped cases do not: seeded reproducibility,
``n_jobs=2``, ``enqueue_trial`` and conditional parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import Trial
from optuna.trial import TrialState
import pytest


pytest_samplers = pytest.importorskip(
    "optuna.testing.pytest_samplers", reason="this Optuna does not ship its sampler test cases"
)
BasicSamplerTestCase = pytest_samplers.BasicSamplerTestCase

import optuna_mip
from optuna_mip import MIPSampler


optuna.logging.set_verbosity(optuna.logging.WARNING)


def some_cost(name: str, value: Any) -> float:
    """A cost for any value, so that the softmax path runs on every distribution."""

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return abs(float(value))
    return float(len(str(value)))


SAMPLERS = {
    "default": lambda: MIPSampler(),
    "cost-and-short-rounds": lambda: MIPSampler(cost=some_cost, samples_per_round=2, seed=0),
}


class _MIPFixture:
    # The Optuna test cases define a ``sampler`` fixture that raises; a class-level fixture is
    # needed to override it.
    @pytest.fixture(params=list(SAMPLERS), ids=list(SAMPLERS))
    def sampler(self, request: pytest.FixtureRequest) -> Callable[[], BaseSampler]:
        return SAMPLERS[request.param]


class TestBasicContract(_MIPFixture, BasicSamplerTestCase):
    pass



def mixed(trial: Trial) -> float:
    a = trial.suggest_categorical("a", ["x", "yy", "zzz"])
    b = trial.suggest_int("b", 0, 16, step=4)
    c = trial.suggest_float("c", 1e-3, 1.0, log=True)
    return len(a) + b + c


def test_same_seed_same_trials() -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        study = optuna.create_study(
            sampler=MIPSampler(cost=some_cost, samples_per_round=4, seed=seed)
        )
        study.optimize(mixed, n_trials=16)
        return [t.params for t in study.trials]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_n_jobs_two_is_deterministic_before_the_first_decision() -> None:
    def run(n_jobs: int) -> optuna.Study:
        study = optuna.create_study(
            sampler=MIPSampler(cost=some_cost, samples_per_round=5, seed=1)
        )
        study.optimize(
            mixed, n_trials=40, n_jobs=n_jobs, callbacks=[optuna_mip.StopWhenAllFixed()]
        )
        return study

    parallel, sequential = run(2), run(1)
    assert all(t.state == TrialState.COMPLETE for t in parallel.trials)
    assert {d.param for d in optuna_mip.pruning_history(parallel)} == {"a", "b", "c"}
    # Values come from (seed, trial number, name), not from a shared generator.
    def first_round(study: optuna.Study) -> dict[int, dict[str, Any]]:
        return {t.number: t.params for t in study.trials if t.system_attrs["mip:fixed"] == {}}

    in_both = first_round(parallel).keys() & first_round(sequential).keys()
    assert len(in_both) >= 5
    for number in in_both:
        assert first_round(parallel)[number] == first_round(sequential)[number]


class TestMIPExtras(_MIPFixture):
    def test_enqueued_values_are_used(self, sampler: Callable[[], BaseSampler]) -> None:
        study = optuna.create_study(sampler=sampler())
        study.enqueue_trial({"a": "zzz", "b": 12})
        study.optimize(mixed, n_trials=3)
        assert (study.trials[0].params["a"], study.trials[0].params["b"]) == ("zzz", 12)

    def test_conditional_space(self, sampler: Callable[[], BaseSampler]) -> None:
        def objective(trial: Trial) -> float:
            if trial.suggest_categorical("use_x", [True, False]):
                return trial.suggest_float("x", -1.0, 1.0)
            return float(trial.suggest_int("y", -3, 3))

        study = optuna.create_study(sampler=sampler())
        study.optimize(objective, n_trials=12)
        assert all(t.state == TrialState.COMPLETE for t in study.trials)
        assert {name for t in study.trials for name in t.params} == {"use_x", "x", "y"}
