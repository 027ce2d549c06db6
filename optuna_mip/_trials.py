"""A minimal, storage-independent view of the trials a decision is computed from."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
from typing import Any
from typing import TYPE_CHECKING

from optuna.trial import TrialState


if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    number: int
    state: TrialState
    value: float | None
    params: Mapping[str, Any]
    distributions: Mapping[str, BaseDistribution]

    @classmethod
    def from_frozen(
        cls,
        trial: FrozenTrial,
        state: TrialState | None = None,
        values: Sequence[float] | None = None,
    ) -> TrialRecord:
        state = trial.state if state is None else state
        if values is None and state == TrialState.COMPLETE:
            values = trial.values
        return cls(
            number=trial.number,
            state=state,
            value=values[0] if values else None,
            params=trial.params,
            distributions=trial.distributions,
        )


def load_records(study: Study, finishing: TrialRecord | None = None) -> list[TrialRecord]:
    """All trials of ``study`` ordered by number.

    Reads the storage directly rather than ``study.get_trials()``, because pruners such as
    Hyperband hand samplers a filtered view of the study. ``finishing`` is the trial being told
    in ``after_trial``, which the storage still has as RUNNING: it replaces the stored one.
    """

    trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
    records = [TrialRecord.from_frozen(t) for t in sorted(trials, key=lambda t: t.number)]
    if finishing is not None:
        records = [finishing if r.number == finishing.number else r for r in records]
    return records
