"""What both examples share: a storage opened with a one-line error, Ctrl-C as a failed trial, the dashboard command."""

from __future__ import annotations

import math
import shlex
import sys
import warnings
from pathlib import Path
from typing import Callable

import optuna
import sqlalchemy.exc

import nas
from nas.search._study import storage_reason


def open_rdb_storage(url: str, **heartbeat: object) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage at ``url`` (made first, so that its error names the real cause), e.g.
    ``error: cannot open storage sqlite:////a/folder: unable to open database file``."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():  # heartbeats are experimental in Optuna; used on purpose
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, **heartbeat)  # type: ignore[arg-type]
    except (sqlalchemy.exc.SQLAlchemyError, ValueError, ImportError) as error:
        raise nas.NasError(f"cannot open storage {nas.display_url(url)}: {storage_reason(error, url)}") from None


def dashboard_command(storage_url: str) -> str:
    """A command that works as printed: the dashboard script of this Python's environment, active or not."""
    script = Path(sys.executable).with_name("optuna-dashboard")
    if script.is_file():
        return f"{shlex.quote(str(script))} {shlex.quote(storage_url)}"
    return f"optuna-dashboard {shlex.quote(storage_url)}  (pip install optuna-dashboard)"


class Interruptible:
    """The objective, with Ctrl-C ending the running trial as FAILED (reason "interrupted by Ctrl-C")
    and stopping the study.

    Optuna logs a trial that raises KeyboardInterrupt with a long traceback; a trial that returns NaN
    is one warning line. Failed, not pruned: a pruned trial with reports is evidence for MIP's rounds,
    evolution's population and ``--trials``, and where the user pressed Ctrl-C is no evidence.
    Trainings finished before Ctrl-C are in the result store, so the rerun costs only the rest.
    """

    def __init__(self, objective: Callable[[optuna.Trial], float]) -> None:
        self.objective, self.interrupted = objective, False

    def __call__(self, trial: optuna.Trial) -> float:
        try:
            return self.objective(trial)
        except KeyboardInterrupt:
            self.interrupted = True
            trial.study.stop()
            trial.set_user_attr("reason", "interrupted by Ctrl-C")
            return math.nan


def fail_stale_trials(study: optuna.Study) -> list[int]:
    """Fail, as Optuna's heartbeat would at the next trial, the trials of workers that stopped beating;
    returns their numbers, so that the caller can say so instead of the trials vanishing silently."""
    running = {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}
    if not running:
        return []
    optuna.storages.fail_stale_trials(study)
    return sorted(t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)) if t.number in running)
