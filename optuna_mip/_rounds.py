"""The decisions of one MIP round, as a pure function of the study's history.

Round ``s`` is decided on the first ``m_s`` *evidence* trials ordered by trial number, where
``m_s = max(s * K, m_{s-1} + K)`` (``s * K`` unless an earlier round had to wait, see below).
Evidence is every COMPLETE trial and every PRUNED trial that reported an intermediate value.
Nothing else enters the decision: not the order in which trials finished, not which worker
looks, not the wall clock. The importance evaluator is seeded. So every process that computes
round ``s`` gets the same answer, and recording it is idempotent.

Purity needs one rule: the decision is only *determinable* once no trial numbered below the
``m_s``-th complete trial is still RUNNING or WAITING, because such a trial could still complete
and would then belong to the first ``m_s``. Until then the round stays open and trials keep
being sampled with the earlier rounds' fixed values. (A worker that died without failing its
trial therefore holds the next round back until the trial is failed, e.g. by Optuna's heartbeat
``fail_stale_trials``; the sampler warns when that takes longer than a round's worth of
trials.) FAIL trials, and PRUNED trials that reported nothing, are skipped.

Pruned trials count, as in :class:`~optuna.samplers.TPESampler`: with a pruner, most trials of
an expensive search end pruned, and a sampler that waited for complete ones would stop learning
exactly when pruning saves the most. A pruned trial enters the importance forest with its last
reported intermediate value (the best estimate of its objective there is; pruners compare the
same values), and it was pruned *because* that value was poor, which is the evidence a
parameter's importance is made of. It is never preferred as "the best trial": complete trials
rank first, pruned ones after them by the last step they reached (later is better), then by
value. Every input is stored in the trials, so workers still agree.

If the first ``m_s`` complete trials contain no free parameter (every parameter seen so far is
fixed; only possible when a dynamic search space grows later), the round waits for the first
complete trial that brings a new parameter.

A free parameter that no trial of the evidence sampled after the previous decision has used
(a conditional parameter whose parent was fixed to a value that does not need it) is retired
in the same round, before the round's own decision, and does not count as a round.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Sequence
import contextlib
import dataclasses
import json
import logging
import math
import threading
from typing import Any
from typing import get_args
from typing import Literal
from typing import TYPE_CHECKING
import zlib

import numpy as np
import optuna
from optuna.samplers import RandomSampler
from optuna.storages import InMemoryStorage
from optuna.study import StudyDirection
from optuna.trial import create_trial
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from ._cost import CostModel
from ._encoding import design_matrix
from ._encoding import encode_values
from ._encoding import partial_dependence
from ._encoding import target_values
from ._history import PruningDecision
from ._space import same_value


if TYPE_CHECKING:
    from optuna.importance import BaseImportanceEvaluator


FixAt = Literal["best_trial", "predicted"]

# The trial system attribute Optuna's samplers and Study.best_trial read constraint values from.
CONSTRAINTS_KEY = "constraints"

# A parameter a trial does not have (conditional search spaces).
_ABSENT = object()


@dataclasses.dataclass(frozen=True)
class RoundSettings:
    """The part of the sampler's configuration that decisions depend on (stored in the study)."""

    samples_per_round: int
    importance_threshold: float
    forest_seed: int
    importance_evaluator: str = "ForestImportanceEvaluator"
    fix_at: FixAt = "best_trial"
    # Fingerprints only (a cost may be a function, an evaluator any object): stored so that a
    # worker configured otherwise is told, but each worker samples with its own.
    temperature: float | None = None
    cost: str | None = None
    evaluator_settings: str | None = None

    def __post_init__(self) -> None:
        if self.fix_at not in get_args(FixAt):
            raise ValueError(f"`fix_at` must be one of {get_args(FixAt)}, got {self.fix_at!r}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def derive_seed(*parts: int | str) -> int:
    """A 32-bit seed from ``parts``; stable across processes (unlike ``hash()`` of a str).

    Public: samplers that follow this one's conventions (``nas.search``'s) seed each draw by
    ``(seed, trial number, purpose)`` with it.
    """

    entropy = [zlib.crc32(p.encode()) if isinstance(p, str) else int(p) % 2**64 for p in parts]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def evaluator_fingerprint(evaluator: BaseImportanceEvaluator | None) -> str:
    """The evaluator's class and attributes as text (its seed and sizes decide importances)."""

    if evaluator is None:
        return ""
    return json.dumps(
        [type(evaluator).__qualname__, vars(evaluator)], sort_keys=True, default=repr
    )


def complete_trials_needed(previous: Sequence[PruningDecision], samples_per_round: int) -> int:
    """``m_s`` of the next round; retirements of unused parameters are not rounds."""

    rounds = [d for d in previous if d.reason != "unused"]
    needed = (len(rounds) + 1) * samples_per_round
    if rounds:
        needed = max(needed, rounds[-1].n_complete_trials + samples_per_round)
    return needed


@dataclasses.dataclass
class EvidenceScan:
    """Walks the trials in number order until the next round's evidence is complete.

    Finished trials never change, so a scan can be kept and continued as trials finish: the
    sampler does not re-read the whole study for every trial.
    """

    needed: int
    fixed: frozenset[str]
    next_number: int = 0
    n_complete: int = 0
    has_free: bool = False

    @property
    def ready(self) -> bool:
        return self.n_complete >= self.needed and self.has_free

    def feed(self, trial: FrozenTrial) -> bool:
        """Count trial ``next_number``; :obj:`False` (and no change) while it may still complete."""

        assert trial.number == self.next_number
        if trial.state in (TrialState.RUNNING, TrialState.WAITING):
            return False
        self.next_number += 1
        if is_evidence(trial):
            self.n_complete += 1
            self.has_free = self.has_free or any(n not in self.fixed for n in trial.params)
        return True


def is_evidence(trial: FrozenTrial) -> bool:
    """A complete trial, or a pruned one whose last report is a number (a diverged run reports NaN)."""
    if trial.state == TrialState.COMPLETE:
        return trial.values is not None
    if trial.state != TrialState.PRUNED or not trial.intermediate_values:
        return False
    return math.isfinite(trial.intermediate_values[max(trial.intermediate_values)])


def evidence_value(trial: FrozenTrial) -> float:
    """The objective value of a complete trial, the last reported value of a pruned one."""

    if trial.state == TrialState.PRUNED:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return trial.value  # type: ignore[return-value]


def evidence(
    trials: Sequence[FrozenTrial], previous: Sequence[PruningDecision], samples_per_round: int
) -> list[FrozenTrial] | None:
    """The trials the next round is decided on, or :obj:`None` if not determinable yet.

    ``trials`` are all trials of the study, ordered by number.
    """

    scan = EvidenceScan(
        complete_trials_needed(previous, samples_per_round), frozenset(d.param for d in previous)
    )
    for trial in trials:
        if scan.ready or not scan.feed(trial):
            break
    if not scan.ready:
        return None
    return [t for t in trials[: scan.next_number] if is_evidence(t)]


def decide_round(
    used: Sequence[FrozenTrial],
    previous: Sequence[PruningDecision],
    settings: RoundSettings,
    evaluator: BaseImportanceEvaluator,
    cost_model: CostModel,
    direction: StudyDirection,
) -> list[PruningDecision]:
    """The decisions of the next round, made on the evidence ``used`` (see :func:`evidence`).

    Retirements of unused parameters first, then the pruning of Eq. 9 among the remaining free
    parameters (if any).
    """

    fixed = {d.param for d in previous}
    names = sorted({name for t in used for name in t.params})
    free = [name for name in names if name not in fixed]
    decisions: list[PruningDecision] = []

    def decide(
        param: str, value: object, reason: str, importances: dict[str, float], best: FrozenTrial
    ) -> None:
        decisions.append(
            PruningDecision(
                round=len(previous) + len(decisions) + 1,
                param=param,
                value=value,
                reason=reason,  # type: ignore[arg-type]
                importances=importances,
                n_complete_trials=len(used),
                last_trial_number=used[-1].number,
                best_trial_number=best.number,
            )
        )

    if previous:
        since = [t for t in used if t.number > previous[-1].last_trial_number]
        for param in [p for p in free if _retired(p, used, since, previous)]:
            best = _best([t for t in used if param in t.params], direction)
            decide(param, best.params[param], "unused", {}, best)
            free.remove(param)
    if not free:
        return decisions

    raw = _evaluate(evaluator, used, direction)
    importances = free_importances(raw, free)
    param = least_important({name: raw.get(name, 0.0) for name in free})
    having = [t for t in used if param in t.params]
    best = _best(having, direction)
    # The distribution of the latest trial is the one the parameter will be sampled from.
    cheapest = (
        cost_model.cheapest_values(param, having[-1].distributions[param])
        if importances[param] < settings.importance_threshold
        else None
    )
    if cheapest is not None:
        value, reason = best.params[param], "cheapest"
        if not any(same_value(value, c) for c in cheapest):
            value = cheapest[0]
    elif settings.fix_at == "predicted":
        value, reason = predicted_best(param, used, direction, settings.forest_seed), "predicted"
    else:
        value, reason = best.params[param], "best"
    decide(param, value, reason, importances, best)
    return decisions


def _retired(
    param: str,
    used: Sequence[FrozenTrial],
    since: Sequence[FrozenTrial],
    previous: Sequence[PruningDecision],
) -> bool:
    """Whether ``param`` is unused because of an earlier decision, not by chance.

    No trial since the previous decision used it, *and* a fixed parameter that every trial
    using ``param`` has (a parent) was fixed at a value none of them had: the branch it belongs
    to is closed. A child whose parent is still free (or fixed to the child's branch) may just
    not have come up.
    """

    if any(param in t.params for t in since):
        return False
    having = [t for t in used if param in t.params]

    def is_parent(d: PruningDecision) -> bool:
        # The child's presence follows the parameter's value: every trial with a value the child
        # came with has the child (an unconditional parameter, fixed elsewhere, does not qualify).
        if not all(d.param in t.params for t in having):
            return False
        values = [t.params[d.param] for t in having]
        return all(
            param in t.params
            for t in used
            if d.param in t.params and any(same_value(t.params[d.param], v) for v in values)
        )

    return any(
        is_parent(d) and not any(same_value(t.params[d.param], d.value) for t in having)
        for d in previous
    )


def predicted_best(
    param: str, used: Sequence[FrozenTrial], direction: StudyDirection, seed: int
) -> Any:
    """The value of ``param`` that a random forest fitted on ``used`` predicts best on average.

    The best trial's value is one noisy draw: with ten trials and several free parameters, it is
    often the value that happened to share a trial with a lucky setting of another parameter.
    Partial dependence (every trial that has ``param`` predicted with it set to each candidate,
    averaged) credits a value with its effect across the trials instead. Candidates are the
    values the (feasible) trials took; ties go to the value seen first. The forest is the
    paper's (:class:`~optuna_mip.importance.ForestImportanceEvaluator`), whatever evaluator
    ranks the importances, fitted on the feasible trials when any of them has ``param``.
    """

    feasible = [t for t in used if _is_feasible(t)]
    trials = feasible if any(param in t.params for t in feasible) else list(used)
    candidates: list[Any] = []
    for trial in trials:
        value = trial.params.get(param, _ABSENT)
        if value is not _ABSENT and not any(same_value(value, c) for c in candidates):
            candidates.append(value)
    if len(candidates) == 1:
        return candidates[0]
    from .importance import ForestImportanceEvaluator

    names = sorted({name for t in trials for name in t.params})
    x, y = design_matrix(trials, names), target_values(trials, evidence_value)
    forest = ForestImportanceEvaluator(seed=seed).fit(x, y)
    rows = x[[i for i, t in enumerate(trials) if param in t.params]]
    codes = encode_values(trials, param, candidates)
    predicted = partial_dependence(forest, rows, names.index(param), codes).mean(axis=0)
    sign = -1.0 if direction == StudyDirection.MINIMIZE else 1.0
    return candidates[int(np.argmax(sign * predicted))]


def _evaluate(
    evaluator: BaseImportanceEvaluator, used: Sequence[FrozenTrial], direction: StudyDirection
) -> dict[str, float]:
    # Importance evaluators read a study; give them one holding exactly the evidence. All
    # parameters are assessed: those fixed in earlier rounds varied in the earlier trials and
    # explain part of the objective.
    # Pruned trials enter as complete ones with their last reported value.
    storage = InMemoryStorage()
    with _quiet_study_creation():
        study_id = storage.create_new_study([direction])
    view = optuna.load_study(
        study_name=storage.get_study_name_from_id(study_id),
        storage=storage,
        sampler=RandomSampler(0),
    )
    view.add_trials(
        [
            create_trial(value=evidence_value(t), params=t.params, distributions=t.distributions)
            for t in used
        ]
    )
    from .importance import NullCorrectedImportanceEvaluator

    if isinstance(evaluator, NullCorrectedImportanceEvaluator):
        # Signed: which parameter is furthest below chance matters when several are.
        return {name: null.corrected for name, null in evaluator.null_importances(view).items()}
    return evaluator.evaluate(view)


class _DropInThisThread(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self._thread


@contextlib.contextmanager
def _quiet_study_creation() -> Iterator[None]:
    # The evidence study is an implementation detail; its "A new study created in memory" line
    # at INFO would look like the user's study was recreated every round. The filter lives only
    # for this call and drops only this thread's records.
    logger = logging.getLogger(InMemoryStorage.__module__)
    quiet = _DropInThisThread()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def free_importances(importances: dict[str, float], free: Sequence[str]) -> dict[str, float]:
    """Importances of the free parameters, renormalised to sum to one over them.

    Eq. 8-9 compare the parameters still in the search space, so their shares are renormalised
    and the 0.1 threshold keeps its meaning as the search space shrinks. A parameter the
    evaluator did not assess (Optuna's evaluators skip parameters missing from some trials)
    counts as unimportant. A degenerate result (nothing important: a constant objective, or
    pure noise under :class:`~optuna_mip.importance.NullCorrectedImportanceEvaluator`) gives
    every free parameter importance 0, so the pruned one goes to its cheapest value: without
    evidence, cost is the only reason left to prefer a value. This is also how the last free
    parameter, whose share would otherwise always be 1, can go to its cheapest value.
    """

    shares = np.asarray([max(float(importances.get(name, 0.0)), 0.0) for name in free])
    total = float(shares.sum())
    if not np.isfinite(total) or total <= 0.0:
        return {name: 0.0 for name in free}
    return {name: float(share / total) for name, share in zip(free, shares)}


def least_important(importances: dict[str, float]) -> str:
    """Eq. 9's ``argmin``, with ties broken by parameter name so that every worker agrees.

    Taken on the evaluator's own values, not the shares: a null-corrected importance can be
    negative, and which parameter is furthest below chance still matters when several are.
    """

    return min(importances, key=lambda name: (round(importances[name], 12), name))


def _best(trials: Sequence[FrozenTrial], direction: StudyDirection) -> FrozenTrial:
    # Complete trials before pruned ones, feasible ones (constraints <= 0, as Study.best_trial)
    # first among those; pruned trials by the last step they reached, then by value (as TPE
    # ranks them); among equally good ones the earliest, so ties depend on nothing but numbers.
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    candidates = complete or list(trials)
    candidates = [t for t in candidates if _is_feasible(t)] or candidates
    sign = 1.0 if direction == StudyDirection.MINIMIZE else -1.0

    def rank(trial: FrozenTrial) -> tuple[float, float, int]:
        last_step = max(trial.intermediate_values) if trial.state == TrialState.PRUNED else 0
        value = float(evidence_value(trial))
        return (-last_step, sign * value if value == value else math.inf, trial.number)

    return min(candidates, key=rank)


def constraint_values(trial: FrozenTrial) -> list[float]:
    """The trial's constraint values, as Optuna stores them: a list under ``constraints`` (what
    ``constraints_func`` writes) and, from Optuna 5, ``constraints:<name>`` keys
    (``Trial.set_constraint``). Read here because ``FrozenTrial.constraints`` is Optuna 5 only."""

    attrs = trial.system_attrs
    named = [v for k, v in attrs.items() if k.startswith(CONSTRAINTS_KEY + ":")]
    return [*attrs.get(CONSTRAINTS_KEY, ()), *named]


def _is_feasible(trial: FrozenTrial) -> bool:
    return all(c <= 0.0 for c in constraint_values(trial))
