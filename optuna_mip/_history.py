"""Where MIP keeps its state: in the study, never in the sampler object.

Source of truth (study *system* attributes, JSON values, one key per round)::

    mip:config     {"samples_per_round": K, "importance_threshold": ..., "forest_seed": ...,
                    "importance_evaluator": class name of the evaluator, "fix_at": ...}
    mip:round:<s>  the decision of round s (see :class:`PruningDecision`)

The sampler writes nothing else into the study. Mirrors for people (user attributes and an
optuna-dashboard note) are written by :class:`~optuna_mip.PublishDecisions`, if the user asks.

Per trial (trial system attribute): ``mip:fixed``, the values fixed when the trial was sampled
(one write per trial; the decisions in force are the first ``len(mip:fixed)``).
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    from optuna.study import Study


CONFIG_KEY = "mip:config"
ROUND_KEY_PREFIX = "mip:round:"
TRIAL_FIXED_KEY = "mip:fixed"

Reason = Literal["cheapest", "best", "predicted", "unused"]


@dataclasses.dataclass(frozen=True)
class PruningDecision:
    """One round of Minimum Importance Pruning (Eq. 9).

    Attributes:
        round:
            1-based number of the decision (an ``"unused"`` retirement is numbered like a round
            but is made together with the round that follows it).
        param:
            The parameter pruned in this round, i.e. the free parameter of least importance.
        value:
            The value it is fixed at from now on.
        reason:
            ``"cheapest"`` if its importance was below the threshold and it has a cheapest value,
            ``"best"`` if it was fixed at its value in the best (feasible) trial, ``"predicted"``
            at the value the forest predicts best (``fix_at="predicted"``), ``"unused"`` if no
            trial sampled since the previous decision used it (a conditional parameter whose
            parent was fixed to a value that does not need it): it is retired at its value in
            the best trial that had it, without spending a round.
        importances:
            Importance (renormalised over the free parameters) of every parameter that was free
            when the decision was made, the pruned one included; empty for ``"unused"``.
        n_complete_trials:
            How many trials (the first finished ones by trial number: COMPLETE, or PRUNED after a
            report, see :mod:`optuna_mip._rounds`) the forest was fitted on. The name predates
            pruned trials counting; it is kept so that stored decisions still load.
        last_trial_number:
            Number of the last of those trials.
        best_trial_number:
            Number of the best of those trials that has ``param``.
    """

    round: int
    param: str
    value: Any
    reason: Reason
    importances: dict[str, float]
    n_complete_trials: int
    last_trial_number: int
    best_trial_number: int

    def summary(self) -> str:
        """One line for people, e.g. ``round 2: fixed 'epochs' = 10 (cheapest; ...)``."""

        if self.reason == "unused":
            return (
                f"decision {self.round}: retired {self.param!r} = {self.value!r} "
                "(unused since the previous decision)"
            )
        return (
            f"round {self.round}: fixed {self.param!r} = {self.value!r} ({self.reason}; "
            f"importance {self.importances[self.param]:.3f} among {len(self.importances)} free, "
            f"on {self.n_complete_trials} finished trials)"
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruningDecision:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


def round_key(round_number: int) -> str:
    return f"{ROUND_KEY_PREFIX}{round_number}"


def decisions_from_system_attrs(system_attrs: dict[str, Any]) -> list[PruningDecision]:
    """Decisions recorded in a study's system attributes, in round order.

    Only the contiguous run ``1, 2, ...`` is returned: a round can only be decided after the one
    before it, so a gap would mean a foreign key, not a decision.
    """

    decisions = []
    while (data := system_attrs.get(round_key(len(decisions) + 1))) is not None:
        decisions.append(PruningDecision.from_dict(data))
    return decisions


def pruning_history(study: Study) -> list[PruningDecision]:
    """The pruning decisions recorded in ``study``, in the order they were made.

    Works on any study, also one loaded in another process without a :class:`MIPSampler`.
    """

    return decisions_from_system_attrs(study._storage.get_study_system_attrs(study._study_id))


def fixed_from_decisions(decisions: Sequence[PruningDecision]) -> dict[str, Any]:
    return {d.param: d.value for d in decisions}


def record_decision(study: Study, decision: PruningDecision) -> PruningDecision:
    """Write ``decision`` unless its round is already recorded; return the recorded one.

    Every worker computes the same decision for a round (see :mod:`optuna_mip._rounds`), so two
    workers racing past the "absent" check write identical values. Reading back what is stored
    makes the stored value win in any case, e.g. when workers were started with different
    settings by mistake.
    """

    storage, study_id = study._storage, study._study_id
    key = round_key(decision.round)
    stored = storage.get_study_system_attrs(study_id).get(key)
    if stored is None:
        storage.set_study_system_attr(study_id, key, decision.to_dict())
        stored = storage.get_study_system_attrs(study_id)[key]
    return PruningDecision.from_dict(stored)
