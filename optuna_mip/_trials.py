"""Reading the trials a round is decided on from the storage, without rescanning the study.

Pruners such as Hyperband hand samplers a filtered view of the study, so trials are read from
the storage directly rather than through ``study.get_trials()``.
"""

from __future__ import annotations

from collections.abc import Sequence
import copy
import dataclasses
import datetime
from typing import TYPE_CHECKING

from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from optuna_mip._rounds import EvidenceScan
from optuna_mip._rounds import is_evidence


if TYPE_CHECKING:
    from optuna.study import Study


def finished_copy(
    trial: FrozenTrial, state: TrialState, values: Sequence[float] | None
) -> FrozenTrial:
    """``trial`` as it will be stored once told: in ``after_trial`` the storage still has it RUNNING."""

    finished = copy.copy(trial)
    finished.state = state
    finished.values = list(values) if values is not None and state == TrialState.COMPLETE else None
    # Optuna checks it on finished trials; no decision depends on it.
    finished.datetime_complete = finished.datetime_complete or datetime.datetime.now()
    return finished


def advance(
    scan: EvidenceScan, study: Study, finishing: FrozenTrial | None = None, running: int = -1
) -> EvidenceScan:
    """Feed ``scan`` the trials that finished since it last stopped; return the scan to use now.

    ``scan`` itself only ever takes stored, finished trials, so it stays valid for later calls.
    The ``finishing`` trial (told but not stored yet) and the trials after it go into a copy.
    Trial ``running`` (the one being started) is not read: it cannot have finished. A fresh
    scan reads all trials in one call; a continued one usually reads one.
    """

    storage, study_id = study._storage, study._study_id
    loaded = (
        sorted(storage.get_all_trials(study_id, deepcopy=False), key=lambda t: t.number)
        if scan.next_number == 0
        else None
    )
    while not scan.ready:
        number = scan.next_number
        if finishing is not None and finishing.number == number:
            trial = finishing
            scan = dataclasses.replace(scan)
        elif loaded is not None:
            if number >= len(loaded):
                break
            trial = loaded[number]
        elif number == running and finishing is None:
            break
        else:
            try:
                trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
            except KeyError:
                break
            trial = storage.get_trial(trial_id)
        if not scan.feed(trial):
            break
    return scan


def load_evidence(
    study: Study, scan: EvidenceScan, finishing: FrozenTrial | None = None
) -> list[FrozenTrial]:
    """The evidence trials (see :func:`~optuna_mip._rounds.is_evidence`) a ready ``scan`` went
    through, by number."""

    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    by_number = {t.number: t for t in trials if t.number < scan.next_number}
    if finishing is not None and finishing.number in by_number:
        by_number[finishing.number] = finishing
    return [by_number[n] for n in sorted(by_number) if is_evidence(by_number[n])]
