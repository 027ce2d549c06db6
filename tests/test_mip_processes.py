"""MIP state lives in the study: resuming in a new process, and workers sharing PostgreSQL.

This file is also the worker script the tests start in subprocesses::

    python tests/test_mip_processes.py STORAGE_URL STUDY_NAME N_TRIALS [--barrier DIR --workers N]

It optimises ``objective`` with ``make_sampler()`` until every parameter is fixed (or N_TRIALS)
and prints the pruning history it sees at the end as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
import sys
import time
from typing import Any


import optuna
from optuna.trial import Trial
from optuna.trial import TrialState
import pytest

import optuna_mip
from optuna_mip import MIPSampler

from _mip_helpers import assert_decisions_are_pure

from _workers import finish, start_script




COST = {
    "epochs": {10: 1.0, 30: 3.0, 50: 5.0},
    "layers": {6: 1.0, 8: 1.3, 16: 2.7},
    "channels": {8: 1.0, 16: 4.0},
    "image": {16: 1.0, 32: 4.0},
}
SEED = 11


def objective(trial: Trial, sleep: float = 0.0) -> float:
    """A deterministic stand-in for "Spearman correlation minus a time penalty".

    With ``sleep``, even-numbered trials take three times as long as odd ones, so that parallel
    workers finish trials out of number order, as real training jobs do.
    """

    p = {name: trial.suggest_categorical(name, list(table)) for name, table in COST.items()}
    time.sleep(sleep * (3 if trial.number % 2 == 0 else 1))
    trial.set_user_attr("worker", os.getpid())
    return (
        0.5 * (p["epochs"] >= 30)
        + 0.2 * (p["layers"] / 16)
        + 0.05 * (p["image"] == 32)
        - 0.01 * p["channels"] / 16
    )


def make_sampler(samples_per_round: int = 5) -> MIPSampler:
    return MIPSampler(cost=COST, samples_per_round=samples_per_round, seed=SEED)


def history_dicts(study: optuna.Study) -> list[dict[str, Any]]:
    return [d.to_dict() for d in optuna_mip.pruning_history(study)]


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("storage")
    parser.add_argument("study_name")
    parser.add_argument("n_trials", type=int)
    parser.add_argument("--samples-per-round", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--barrier", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=args.study_name,
        storage=args.storage,
        sampler=make_sampler(args.samples_per_round),
    )
    if args.barrier is not None:  # Start optimising together, after the slow imports.
        (args.barrier / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 60  # Never hang the test run on a dead partner.
        while len(list(args.barrier.glob("ready-*"))) < args.workers:
            if time.monotonic() > deadline:
                raise TimeoutError("the other workers did not start")
            time.sleep(0.01)
    study.optimize(
        lambda t: objective(t, args.sleep),
        n_trials=args.n_trials,
        callbacks=[optuna_mip.StopWhenAllFixed()],
    )
    print(json.dumps(history_dicts(study)))


def start_worker(storage: str, study_name: str, n_trials: int, *extra: str) -> subprocess.Popen:
    return start_script(__file__, storage, study_name, str(n_trials), *extra)



def test_resume_in_new_process_continues_the_same_rounds(tmp_path: Path) -> None:
    samples_per_round = 10
    uninterrupted = optuna.create_study(
        direction="maximize", sampler=make_sampler(samples_per_round)
    )
    uninterrupted.optimize(objective, n_trials=100, callbacks=[optuna_mip.StopWhenAllFixed()])
    assert len(uninterrupted.trials) == optuna_mip.required_trials(4, samples_per_round)

    storage = f"sqlite:///{tmp_path / 'mip.db'}"
    study = optuna.create_study(
        storage=storage,
        study_name="resume",
        direction="maximize",
        sampler=make_sampler(samples_per_round),
    )
    study.optimize(objective, n_trials=15)  # Stopped in the middle of round 2.
    assert len(optuna_mip.pruning_history(study)) == 1

    seen_by_worker = finish(
        start_worker(storage, "resume", "100", "--samples-per-round", str(samples_per_round))
    )

    resumed = optuna.load_study(study_name="resume", storage=storage)
    assert history_dicts(resumed) == seen_by_worker == history_dicts(uninterrupted)
    assert [t.params for t in resumed.trials] == [t.params for t in uninterrupted.trials]
    assert len({t.user_attrs["worker"] for t in resumed.trials}) == 2  # Two processes ran it.


@pytest.mark.postgres
def test_two_processes_on_postgres_decide_each_round_once(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=fresh_postgres_url, study_name="shared", direction="maximize"
    )  # Creates the schema before the workers race for it.
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    workers = [
        start_worker(
            fresh_postgres_url, "shared", "30", "--sleep", "0.03",
            "--barrier", str(barrier), "--workers", "2",
        )  # fmt: skip
        for _ in range(2)
    ]
    seen = [finish(w) for w in workers]

    history = history_dicts(study)
    keys = sorted(
        k for k in study._storage.get_study_system_attrs(study._study_id)
        if k.startswith("mip:round:")
    )
    assert keys == [f"mip:round:{s}" for s in range(1, 5)]
    assert [d["round"] for d in history] == [1, 2, 3, 4]
    assert sorted(d["param"] for d in history) == sorted(COST)
    assert seen[0] == seen[1] == history  # Both processes agree.

    trials = study.get_trials()
    assert len({t.user_attrs.get("worker") for t in trials} - {None}) == 2
    for trial in trials:
        fixed = {d["param"]: d["value"] for d in history[: len(trial.system_attrs["mip:fixed"])]}
        assert trial.system_attrs["mip:fixed"] == fixed
        if trial.state == TrialState.COMPLETE:
            assert {k: trial.params[k] for k in fixed} == fixed
    assert_decisions_are_pure(study, COST)


if __name__ == "__main__":
    worker_main(sys.argv[1:])
