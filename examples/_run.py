"""What both examples share: Ctrl-C as a failed trial, and a dashboard command that runs as printed."""

from __future__ import annotations

import math
import shlex
import sys
from pathlib import Path
from typing import Callable

import optuna


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
            # The run ends here: Optuna's two warnings about a NaN trial (one with every parameter) would bury the one line.
            optuna.logging.set_verbosity(optuna.logging.ERROR)
            trial.study.stop()
            trial.set_user_attr("reason", "interrupted by Ctrl-C")
            return math.nan
