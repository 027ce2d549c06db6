"""Search sampler state lives in the study: resuming from storage, and workers sharing PostgreSQL.

This file is also the worker script the PostgreSQL test starts in subprocesses::

    python tests/test_search_processes.py STORAGE_URL STUDY_NAME STRATEGY N_TRIALS --barrier DIR

It optimises ``objective`` until the study has N_TRIALS trials, waits until no trial is running,
and prints what its sampler sees at the end (REINFORCE's policy, evolution's population) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
import sys
import time
from typing import Any, Callable

import optuna
from optuna.samplers import BaseSampler
from optuna.study import MaxTrialsCallback
from optuna.trial import Trial, TrialState
import pytest

from _workers import finish, start_script
from nas.search import RegularizedEvolutionSampler, ReinforceSampler

CHOICES = ["a", "b", "c", "d"]
STRATEGIES = ("evolution", "reinforce")


def make_sampler(strategy: str) -> BaseSampler:
    if strategy == "evolution":
        return RegularizedEvolutionSampler(population_size=6, sample_size=3, seed=5)
    return ReinforceSampler(learning_rate=0.3, momentum=0.5, seed=5)


def objective(trial: Trial, sleep: float = 0.0) -> float:
    """Best: every parameter "c". With ``sleep``, even trials take 3 times longer than odd ones,
    so that parallel workers finish trials out of number order, as real training jobs do."""
    values = [trial.suggest_categorical(f"p{i}", CHOICES) for i in range(5)]
    time.sleep(sleep * (3 if trial.number % 2 == 0 else 1))
    trial.set_user_attr("worker", os.getpid())
    return sum(1.0 / (1 + abs(CHOICES.index(v) - 2)) for v in values)


def final_view(study: optuna.Study, sampler: BaseSampler) -> Any:
    if isinstance(sampler, ReinforceSampler):
        return sampler.policy(study)
    return [t.number for t in sampler.population(study)]  # type: ignore[attr-defined]


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("study_name")
    parser.add_argument("strategy", choices=STRATEGIES)
    parser.add_argument("n_trials", type=int)
    parser.add_argument("--barrier", type=Path, required=True)
    args = parser.parse_args(argv)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(args.strategy)
    study = optuna.load_study(study_name=args.study_name, storage=args.storage, sampler=sampler)
    (args.barrier / f"ready-{os.getpid()}").touch()  # start together, after the slow imports
    wait_for(lambda: len(list(args.barrier.glob("ready-*"))) >= 2)
    study.optimize(
        lambda t: objective(t, 0.02),
        n_trials=args.n_trials,
        callbacks=[MaxTrialsCallback(args.n_trials, states=None)],
    )
    wait_for(lambda: not study.get_trials(states=(TrialState.RUNNING,)))
    print(json.dumps(final_view(study, sampler)))


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60  # never hang the test run on a dead partner
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the other worker did not get there")
        time.sleep(0.01)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_resume_with_a_new_sampler_continues_the_uninterrupted_run(
    strategy: str, tmp_path: Path
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    uninterrupted = optuna.create_study(direction="maximize", sampler=make_sampler(strategy))
    uninterrupted.optimize(objective, n_trials=40)

    storage = f"sqlite:///{tmp_path / 'search.db'}"
    first = optuna.create_study(
        storage=storage, study_name="s", direction="maximize", sampler=make_sampler(strategy)
    )
    first.optimize(objective, n_trials=30)
    # As a new process would: a new sampler object on the study loaded from storage.
    resumed = optuna.load_study(study_name="s", storage=storage, sampler=make_sampler(strategy))
    resumed.optimize(objective, n_trials=10)

    assert [t.params for t in resumed.trials] == [t.params for t in uninterrupted.trials]
    assert len({tuple(t.params.values()) for t in resumed.trials}) > 20  # not one repeated trial


def start_worker(storage: str, strategy: str, n_trials: int, barrier: Path) -> subprocess.Popen:
    return start_script(__file__, storage, strategy, strategy, str(n_trials), "--barrier", str(barrier))



@pytest.mark.postgres
def test_two_processes_on_postgres_share_one_search(fresh_postgres_url: str, tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n_trials = 24
    workers = []
    for strategy in STRATEGIES:
        optuna.create_study(storage=fresh_postgres_url, study_name=strategy, direction="maximize")
        barrier = tmp_path / strategy
        barrier.mkdir()
        workers += [start_worker(fresh_postgres_url, strategy, n_trials, barrier) for _ in range(2)]
    seen = [finish(worker) for worker in workers]
    views = {"evolution": seen[:2], "reinforce": seen[2:]}

    for strategy in STRATEGIES:
        study = optuna.load_study(study_name=strategy, storage=fresh_postgres_url)
        trials = study.get_trials()
        assert [t.number for t in trials] == list(range(len(trials))) and len(trials) >= n_trials
        assert all(t.state == TrialState.COMPLETE for t in trials)
        assert len({t.user_attrs["worker"] for t in trials}) == 2
        # Both workers (one built its REINFORCE policy step by step from trials that completed
        # out of order) see what a new sampler derives from the final trials.
        assert views[strategy][0] == views[strategy][1] == final_view(study, make_sampler(strategy))
    evolution = optuna.load_study(study_name="evolution", storage=fresh_postgres_url).get_trials()
    children = [t for t in evolution if "evolution:parent" in t.system_attrs]
    assert len(children) >= n_trials - 8
    for child in children:
        parent = evolution[child.system_attrs["evolution:parent"]]
        # The parent was one of the 6 youngest complete trials when the child was sampled: fewer
        # than 6 younger trials had completed by the child's start.
        younger = [
            t for t in evolution
            if t.number > parent.number and t.datetime_complete < child.datetime_start
        ]  # fmt: skip
        assert len(younger) < 6
        changed = {n for n in child.params if child.params[n] != parent.params[n]}
        assert changed == {child.system_attrs["evolution:mutated"]}  # p0..p4 is no genotype: one parameter mutates


if __name__ == "__main__":
    worker_main(sys.argv[1:])
