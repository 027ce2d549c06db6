"""The decision of one MIP round, as a pure function of the study's history.

Round ``s`` is decided on the first ``m_s`` COMPLETE trials ordered by trial number, where
``m_s = max(s * K, m_{s-1} + K)`` (``s * K`` unless an earlier round had to wait, see below).
Nothing else enters the decision: not the order in which trials finished, not which worker
looks, not the wall clock. The forest seed is fixed per round. So every process that computes
round ``s`` gets the same answer, and recording it is idempotent.

Purity needs one rule: the decision is only *determinable* once no trial numbered below the
``m_s``-th complete trial is still RUNNING or WAITING, because such a trial could still complete
and would then belong to the first ``m_s``. Until then the round stays open and trials keep
being sampled with the earlier rounds' fixed values. (A worker that died without failing its
trial therefore holds the next round back until the trial is failed, e.g. by Optuna's heartbeat
``fail_stale_trials``.) FAIL and PRUNED trials are skipped: they are not evidence.

If the first ``m_s`` complete trials contain no free parameter (every parameter seen so far is
fixed; only possible when a dynamic search space grows later), the round waits for the first
complete trial that brings a new parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import zlib

import numpy as np
from optuna.study import StudyDirection
from optuna.trial import TrialState

from optuna_mip._cost import CostModel
from optuna_mip._history import PruningDecision
from optuna_mip._importance import encode
from optuna_mip._importance import forest_importances
from optuna_mip._importance import free_importances
from optuna_mip._importance import least_important
from optuna_mip._importance import targets
from optuna_mip._space import same_value
from optuna_mip._trials import TrialRecord


@dataclasses.dataclass(frozen=True)
class RoundSettings:
    """The part of the sampler's configuration that decisions depend on (stored in the study)."""

    samples_per_round: int
    importance_threshold: float
    forest_seed: int

    def to_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def derive_seed(*parts: int | str) -> int:
    """A 32-bit seed from ``parts``; stable across processes (unlike ``hash()`` of a str)."""

    entropy = [zlib.crc32(p.encode()) if isinstance(p, str) else int(p) % 2**64 for p in parts]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def decide_next_round(
    records: Sequence[TrialRecord],
    previous: Sequence[PruningDecision],
    settings: RoundSettings,
    cost_model: CostModel,
    direction: StudyDirection,
) -> PruningDecision | None:
    """Decide round ``len(previous) + 1``, or return :obj:`None` if it is not determinable yet."""

    round_number = len(previous) + 1
    fixed = {d.param for d in previous}
    needed = round_number * settings.samples_per_round
    if previous:
        needed = max(needed, previous[-1].n_complete_trials + settings.samples_per_round)

    used = _evidence(records, needed, fixed)
    if used is None:
        return None

    names = sorted({name for r in used for name in r.params})
    free = [name for name in names if name not in fixed]
    importances = free_importances(
        forest_importances(
            encode(used, names),
            targets(used),
            seed=derive_seed(settings.forest_seed, "forest", round_number),
        ),
        names,
        free,
    )
    param = least_important(importances)

    having = [r for r in used if param in r.params]
    best = _best(having, direction)
    value, reason = best.params[param], "best"
    if importances[param] < settings.importance_threshold:
        # The distribution of the latest trial is the one the parameter will be sampled from.
        cheapest = cost_model.cheapest_values(param, having[-1].distributions[param])
        if cheapest is not None:
            reason = "cheapest"
            if not any(same_value(value, c) for c in cheapest):
                value = cheapest[0]

    return PruningDecision(
        round=round_number,
        param=param,
        value=value,
        reason=reason,
        importances=importances,
        n_complete_trials=len(used),
        last_trial_number=used[-1].number,
        best_trial_number=best.number,
    )


def _evidence(
    records: Sequence[TrialRecord], needed: int, fixed: set[str]
) -> list[TrialRecord] | None:
    """The first ``needed`` (or more, see the module doc) complete trials, if determinable."""

    used: list[TrialRecord] = []
    has_free = False
    for record in records:
        if record.state in (TrialState.RUNNING, TrialState.WAITING):
            return None
        if record.state != TrialState.COMPLETE or record.value is None:
            continue
        used.append(record)
        has_free = has_free or any(name not in fixed for name in record.params)
        if len(used) >= needed and has_free:
            return used
    return None


def _best(records: Sequence[TrialRecord], direction: StudyDirection) -> TrialRecord:
    # The earliest of equally good trials, so that ties do not depend on anything but numbers.
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0
    return min(records, key=lambda r: (sign * float(r.value), r.number))  # type: ignore[arg-type]
