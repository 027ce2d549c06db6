"""Architecture-search studies: created once per setup, resumed and shared by workers, read back.

A study records what it searches (strategy, budget, dataset) as user attributes when created; a
worker that opens it with another setup, or opens a study of another kind (a budget search), gets a
one-line error before anything is written. Several workers on one PostgreSQL (or SQLite) study
send heartbeats: a worker killed outright has its running trial failed after a grace period, and
the trial's architecture is enqueued again, so it is not lost from the search.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any, Callable

import optuna
import sqlalchemy.exc

from nas._errors import NasError, StoreError, display_url, hide_password, safe_name
from nas.estimation._budget import Budget
from nas.data import Dataset
from nas.estimation._estimate import dataset_key
from nas.search._base import complete_trials
from nas.search._evolution import PARENT_KEY
from nas.search._heartbeat import GRACE_SECONDS, HEARTBEAT_SECONDS
from nas.space._genotype import Genotype, parse_genotype

KIND = "architecture-search"
CREATE_ATTEMPTS = 3
SETUP_WAIT_SECONDS = 30  # how long a worker waits for another one to finish recording a new study's setup


def search_setup(
    strategy: str, budget: Budget, dataset: Dataset, *, estimator: str | None = None, darts_genotype: str = "last"
) -> dict[str, Any]:
    """What identifies an architecture search: stored on the study, compared on every reopening.

    The objective's ``estimator`` (None: the budget's accuracy) and DARTS's choice of epoch for the
    genotype are part of it only when not the default, so that studies made before they could be
    chosen keep their identity."""
    setup = {"kind": KIND, "strategy": strategy, "budget": budget.to_dict(), "dataset": dataset_key(dataset)}
    if estimator is not None:
        setup["estimator"] = estimator
    if darts_genotype != "last":
        setup["darts_genotype"] = darts_genotype
    return setup


def open_storage(url: str, grace_seconds: float = GRACE_SECONDS, retry_stale: bool = True) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats (an experimental Optuna feature, used on purpose: quiet):
    a trial without a heartbeat for ``grace_seconds`` is failed as its worker's death, and with
    ``retry_stale`` its parameters are enqueued again (an architecture is not lost from a search).
    A SQLite file's folder is made first, so that an error names the real cause.

    Workers starting together on a new database race to create Optuna's tables; the losers see
    a duplicate-key error, and their second try finds the tables made. Pooled connections are
    checked before use, so a restarted database server is reconnected to.
    """
    shown = display_url(url)
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot open study storage {shown}: cannot make its folder {folder}: {error.strerror}") from None
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback() if retry_stale else None
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=max(1, min(HEARTBEAT_SECONDS, int(grace_seconds / 3))),
                    grace_period=max(1, int(grace_seconds)),
                    heartbeat_stale_trial_callback=retry,
                )
        except ImportError as error:
            raise StoreError(f"no driver for study storage {shown}: {hide_password(str(error), url)}") from None
        except sqlalchemy.exc.IntegrityError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise StoreError(f"cannot create Optuna's tables in {shown}: other workers kept racing") from None
            time.sleep(1.0)
        except (sqlalchemy.exc.SQLAlchemyError, ValueError) as error:
            raise StoreError(f"cannot open study storage {shown}: {storage_reason(error, url)}") from None
    raise AssertionError("unreachable")


def storage_reason(error: BaseException, url: str) -> str:
    """The first line of what went wrong in a storage, its password masked. Optuna's
    ``StorageInternalError`` says only that something did: the cause it wraps says what
    ("database disk image is malformed", "database or disk is full")."""
    while isinstance(error, optuna.exceptions.StorageInternalError) and error.__cause__ is not None:
        error = error.__cause__
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    return hide_password(lines[0] if lines else type(error).__name__, url)


def fail_stale_trials(study: optuna.Study, say: Callable[[str], None]) -> list[int]:
    """Fail, as Optuna's heartbeat does before each new trial, the running trials of workers that
    stopped beating, and say so for each in one line (Optuna itself does it silently). Called at
    the start and after every trial, so that Optuna's own pass before the next one finds nothing
    left to fail silently."""
    running = {t.number for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))}
    if not running:
        return []
    with warnings.catch_warnings():  # experimental in Optuna, used on purpose
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    failed = [
        trial.number
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        if trial.number in running and "reason" not in trial.user_attrs  # a live worker failed it meanwhile, saying why
    ]
    retried = getattr(study._storage, "get_heartbeat_stale_trial_callback", lambda: None)() is not None
    then = "its architecture is queued again" if retried else "its stored trainings are reused"
    for number in failed:
        say(f"trial {number} was left running by a worker that stopped (no heartbeat): failed; {then}")
    return failed


class StopAfterFailures:
    """An Optuna callback that stops the study once ``limit`` trials failed in this run: so many
    failed trainings mean the setup is wrong (a diverging budget, a full disk), not the
    architectures, and failed trials never count towards a number of finished trials."""

    def __init__(self, limit: int) -> None:
        self.limit, self.failures = limit, 0

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self.failures += trial.state == optuna.trial.TrialState.FAIL
        if self.failures >= self.limit:
            study.stop()


def settle_running_trials(study: optuna.Study, say: Callable[[str], None], poll_seconds: float = 1.0) -> None:
    """Fail the trials of dead workers (:func:`fail_stale_trials`), waiting while trials run whose
    heartbeat is recent: a live worker finishing its trial, or a killed one's within the grace
    period. Called before a study that has its trials is declared done, so that no trial of a
    killed worker stays RUNNING for ever."""
    running = (optuna.trial.TrialState.RUNNING,)
    said = False
    while True:
        fail_stale_trials(study, say)
        trials = study.get_trials(deepcopy=False, states=running)
        if not trials:
            return
        if not said:
            numbers = ", ".join(str(trial.number) for trial in trials)
            say(f"waiting for running trials {numbers}: they finish, or fail once their worker's heartbeat is stale")
            said = True
            # A worker killed before its first heartbeat left none, and Optuna fails only trials
            # with a stale one: give each a heartbeat now; a live worker's own ones follow.
            for trial in trials:
                study._storage.record_heartbeat(trial._trial_id)
        time.sleep(poll_seconds)


def trial_line(trial: optuna.trial.FrozenTrial, study: optuna.Study) -> str:
    """One finished trial in a line: completed (with its accuracy), pruned (after which epoch) or
    failed (why), the evolution parent it mutated, if any, and the study's best so far."""
    state = trial.state
    if state == optuna.trial.TrialState.COMPLETE:
        outcome = f"completed, {study.user_attrs.get('estimator', 'accuracy')} {trial.value:.4f}" + (" (stored result)" if trial.user_attrs.get("reused") else "")
    elif state == optuna.trial.TrialState.PRUNED:
        outcome = "pruned before its first epoch" if trial.last_step is None else f"pruned after epoch {trial.last_step}"
    else:
        outcome = f"failed: {trial.user_attrs.get('reason', 'see the log')}"
    parent = trial.system_attrs.get(PARENT_KEY)
    lineage = "" if parent is None else f" | child of trial {parent}"
    values = [t.value for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    best = f"{max(values):.4f}" if values else "-"
    return f"trial {trial.number} {trial.user_attrs.get('hash', '?')[:8]} {outcome}{lineage} | best {best}"


def check_study(storage: optuna.storages.BaseStorage, name: str, setup: dict[str, Any]) -> int:
    """Trials already in study ``name`` (0 when it does not exist); raises if it is another search."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    recorded = storage.get_study_user_attrs(study_id)
    deadline = time.monotonic() + SETUP_WAIT_SECONDS
    while "kind" not in recorded and storage.get_n_trials(study_id) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)  # another worker is creating it: its setup is recorded last-key-last, "kind" last
        recorded = storage.get_study_user_attrs(study_id)
    if recorded.get("kind") != KIND:
        raise NasError(f"study {name!r} is not an architecture search (a budget search?): pass another --study-name")
    for key, value in setup.items():
        if recorded.get(key) != value:
            raise NasError(f"study {name!r} searched with another {key} ({_difference(recorded.get(key), value)}): pass another --study-name")
    return storage.get_n_trials(study_id)


def _difference(old: Any, new: Any) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
        return ", ".join(f"{key} {old.get(key)!r} there, {new.get(key)!r} here" for key in changed)
    return f"{old!r} there, {new!r} here"


def create_search_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    setup: dict[str, Any],
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """Create or load study ``name`` (check it first with :func:`check_study`) and record ``setup``."""
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
    )
    # "kind" last: a worker that sees it knows the whole setup is recorded (see check_study).
    for key, value in sorted(setup.items(), key=lambda item: item[0] == "kind"):
        if study.user_attrs.get(key) != value:
            study.set_user_attr(key, value)
    return study


def load_search_study(storage: optuna.storages.BaseStorage, name: str) -> optuna.Study:
    """An existing architecture-search study, for reading its results."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise NasError(f"no study {safe_name(name)!r} in {display_url(getattr(storage, 'url', str(storage)))}") from None
    if study.user_attrs.get("kind") != KIND:
        raise NasError(f"study {name!r} is not an architecture search")
    return study


def best_genotypes(study: optuna.Study, top: int) -> list[tuple[optuna.trial.FrozenTrial, Genotype]]:
    """The ``top`` best distinct architectures of ``study``, best first, each with its best trial."""
    chosen: dict[str, tuple[optuna.trial.FrozenTrial, Genotype]] = {}
    for trial in sorted(complete_trials(study), key=lambda trial: (-trial.value, trial.number)):
        if len(chosen) == top:
            break
        chosen.setdefault(trial.user_attrs["hash"], (trial, parse_genotype(trial.user_attrs["genotype"])))
    return list(chosen.values())
