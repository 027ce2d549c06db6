"""MIP samplers that are copied, run in threads or reseeded behave as one sampler."""

from __future__ import annotations

from collections.abc import Callable
import copy
import pickle
from typing import Any

from _mip_helpers import mixed
from _mip_helpers import SAMPLERS
from _mip_helpers import some_cost
import optuna
from optuna.trial import TrialState
import pytest

import optuna_mip
from optuna_mip import MIPSampler


optuna.logging.set_verbosity(optuna.logging.WARNING)


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


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_enqueued_values_are_used(name: str) -> None:
    study = optuna.create_study(sampler=SAMPLERS[name]())
    study.enqueue_trial({"a": "zzz", "b": 12})
    study.optimize(mixed, n_trials=3)
    assert (study.trials[0].params["a"], study.trials[0].params["b"]) == ("zzz", 12)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_conditional_space(name: str) -> None:
    def objective(trial: optuna.Trial) -> float:
        if trial.suggest_categorical("use_x", [True, False]):
            return trial.suggest_float("x", -1.0, 1.0)
        return float(trial.suggest_int("y", -3, 3))

    study = optuna.create_study(sampler=SAMPLERS[name]())
    study.optimize(objective, n_trials=12)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert {name for t in study.trials for name in t.params} == {"use_x", "x", "y"}


@pytest.mark.parametrize("copy_sampler", [lambda s: pickle.loads(pickle.dumps(s)), copy.deepcopy])
def test_a_copied_sampler_samples_as_the_original(copy_sampler: Callable[[Any], Any]) -> None:
    original = MIPSampler(cost=some_cost, samples_per_round=4, seed=3)
    warm = optuna.create_study(sampler=original)
    warm.optimize(mixed, n_trials=6)  # Caches filled: they must not travel.

    def run(sampler: MIPSampler) -> list[dict[str, Any]]:
        study = optuna.create_study(sampler=sampler)
        study.optimize(mixed, n_trials=16)
        return [t.params for t in study.trials]

    copied = copy_sampler(original)
    assert run(copied) == run(original)
    assert optuna_mip.pruning_history(warm) != []


class _CountingStorage(optuna.storages.InMemoryStorage):
    """A real in-memory storage that counts the calls MIP could add per trial."""

    COUNTED = ("get_trial", "get_study_system_attrs", "set_trial_system_attr", "get_all_trials")

    def __init__(self) -> None:
        super().__init__()
        self.calls = {name: 0 for name in self.COUNTED}

    def __getattribute__(self, name: str) -> Any:
        if name in _CountingStorage.COUNTED:
            object.__getattribute__(self, "calls")[name] += 1
        return object.__getattribute__(self, name)


def test_mip_adds_at_most_one_write_and_one_read_per_trial() -> None:
    def calls_per_trial(sampler: optuna.samplers.BaseSampler) -> dict[str, float]:
        storage = _CountingStorage()
        study = optuna.create_study(storage=storage, sampler=sampler)
        study.optimize(mixed, n_trials=5)  # First touch: config written, one full read.
        before = dict(storage.calls)
        study.optimize(mixed, n_trials=50)
        return {name: (storage.calls[name] - before[name]) / 50 for name in storage.COUNTED}

    # K = 100: no round is decided in the measured trials.
    mip = calls_per_trial(MIPSampler(cost=some_cost, samples_per_round=100, seed=0))
    random = calls_per_trial(optuna.samplers.RandomSampler(seed=0))
    extra = {name: mip[name] - random[name] for name in mip}
    assert extra == {
        "get_trial": 1.0,  # The trial before this one, to count it towards the round.
        "get_study_system_attrs": 0.0,
        "set_trial_system_attr": 1.0,  # mip:fixed
        "get_all_trials": 0.0,
    }
