"""What a budget search found, as numbers: the trials, the best distinct budgets (the paper's Table 1)
and the hyper-parameters' importances with their null.

The forest is the one MIP fits (:mod:`optuna_mip.importance`: same encoding of trials, same number of
trees, and the null of :class:`~optuna_mip.importance.NullCorrectedImportanceEvaluator`), fitted on
COMPLETE trials with the trial's ``r_s`` user attribute as the target (falling back to the objective
value), as Fig. 4 regresses r_s rather than the cost-penalised objective. Impurity importance favours
parameters with many distinct values (they offer more split points to fit noise), so an importance
means something only above its null.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from nas.budget_search._bpe_space import BudgetSpace
from nas.search import complete_trials
from optuna_mip.importance import (
    ForestImportanceEvaluator,
    NullCorrectedImportanceEvaluator,
    design_matrix,
    target_values,
)

# Below this many complete trials a forest of bootstrapped trees has nothing to split: every
# importance and curve would be noise, so the report says "not enough trials" instead.
MIN_TRIALS_FOR_FOREST = 6

# Optional per-architecture costs an objective may record (TrainingObjective: FLOPs and seconds;
# RecordedObjective: the recorded GPU-hours), shown when present.
OPTIONAL_COSTS = ("gpu_hours", "training_flops", "mean_seconds")


# --------------------------------------------------------------------------------------- trials


def valued_trials(study: optuna.Study) -> list[FrozenTrial]:
    """COMPLETE trials with a finite value, by number: only they have a measured r_s and cost."""
    if len(study.directions) != 1:
        raise ValueError("reports are for single-objective studies (Eq. 1 is one number)")
    return [t for t in complete_trials(study) if t.value is not None and math.isfinite(t.value)]


def budget_key(trial: FrozenTrial) -> str:
    """Identity of the budget a trial measured: its ``budget`` user attribute, else its params.

    Two trials with the same key trained (or looked up) the same thing, so the result cache answers
    the second for free; with :class:`~nas.RecordedObjective` different suggestions map to the same
    recorded budget and share a key.
    """
    budget = trial.user_attrs.get("budget", trial.params)
    return json.dumps(budget, sort_keys=True, default=repr)


def measured_share(trial: FrozenTrial) -> float:
    """Share of the reference architectures the trial trained: 1 unless it was pruned early."""
    measured, total = trial.user_attrs.get("architectures_measured"), trial.user_attrs.get("architectures_total")
    return measured / total if isinstance(measured, int) and isinstance(total, int) and total else 1.0


def pruned_summary(trial: FrozenTrial) -> str:
    """A progress line for a pruned budget trial: where the pruner stopped it and what that saved."""
    measured, total = trial.user_attrs.get("architectures_measured"), trial.user_attrs.get("architectures_total")
    r_s = trial.user_attrs.get("pruned_r_s")
    running = f" at running r_s {r_s:.3f}" if isinstance(r_s, float) else ""
    return (
        f"trial {trial.number} pruned after {measured} of {total} architectures{running}: "
        f"saved {total - measured} trainings ({1 - measured_share(trial):.0%} of this budget's cost)"
        if isinstance(measured, int) and isinstance(total, int)
        else f"trial {trial.number} pruned"
    )


def spend_curve(trials: Sequence[FrozenTrial], attr: str = "cost") -> np.ndarray:
    """Cumulative cost after each trial, counting each architecture under each budget once (the result cache).

    ``attr`` names the per-architecture cost user attribute (``cost``, ``gpu_hours``,
    ``training_flops``, ``mean_seconds``); a trial without it adds nothing. A pruned trial adds
    the share of the architectures it trained; a later trial of the same budget adds only those
    it trained beyond them.
    """
    measured: dict[str, float] = {}
    steps = []
    for trial in trials:
        key, share = budget_key(trial), measured_share(trial)
        new = max(0.0, share - measured.get(key, 0.0))
        steps.append(new * float(trial.user_attrs.get(attr, 0.0) or 0.0))
        measured[key] = max(share, measured.get(key, 0.0))
    return np.cumsum(steps) if steps else np.zeros(0)


def response(trial: FrozenTrial) -> float:
    r_s = trial.user_attrs.get("r_s")
    return float(r_s) if isinstance(r_s, (int, float)) else float(trial.value)


# --------------------------------------------------------------------------------------- table


def budget_table(study: optuna.Study, space: BudgetSpace, top: int = 5) -> list[dict[str, Any]]:
    """The ``top`` best distinct budgets of ``study``, best first (the paper's Table 1).

    Trials are ranked by objective (ties: cheaper, then earlier) and a budget measured again keeps
    only its best trial, since repeats of one budget are the result cache, not new evidence. Each row
    holds ``trial``, ``setting`` (when recorded), every hyper-parameter ``space`` searches (as the
    budget was trained, from the ``budget`` user attribute, else the trial's params), ``r_s``,
    ``r_s_ci`` (95 % bootstrap interval), ``kendall``, ``cost`` (normalised), the optional
    per-architecture ``gpu_hours`` / ``training_flops`` / ``mean_seconds``, ``objective`` and
    ``n_trials`` (trials that measured this budget).
    """
    sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
    ranked = sorted(
        valued_trials(study),
        key=lambda t: (-sign * t.value, t.user_attrs.get("cost", math.inf), t.number),
    )
    counts: dict[str, int] = {}
    best: dict[str, FrozenTrial] = {}
    for trial in ranked:
        key = budget_key(trial)
        counts[key] = counts.get(key, 0) + 1
        best.setdefault(key, trial)
    rows = []
    for key, trial in list(best.items())[: max(top, 0)]:
        attrs = trial.user_attrs
        budget = attrs.get("budget", {})
        row: dict[str, Any] = {"trial": trial.number}
        if "setting" in attrs:
            row["setting"] = attrs["setting"]
        for name in space.values:
            row[name] = budget.get(name, trial.params.get(name))
        row["r_s"] = attrs.get("r_s")
        ci = attrs.get("r_s_ci")
        row["r_s_ci"] = tuple(ci) if ci is not None else None
        row["kendall"] = attrs.get("kendall")
        row["cost"] = attrs.get("cost")
        row.update({name: attrs[name] for name in OPTIONAL_COSTS if name in attrs})
        row["objective"] = trial.value
        row["n_trials"] = counts[key]
        rows.append(row)
    return rows



# --------------------------------------------------------------------------------------- forest


def design(study: optuna.Study, space: BudgetSpace) -> tuple[list[str], list[FrozenTrial], np.ndarray, np.ndarray]:
    """Searched parameter names present in the trials, the trials, design matrix and r_s."""
    trials = valued_trials(study)
    names = [name for name in space.values if any(name in t.params for t in trials)]
    return names, trials, design_matrix(trials, names), target_values(trials, response)


def enough(x: np.ndarray) -> bool:
    return x.shape[0] >= MIN_TRIALS_FOR_FOREST and x.shape[1] > 0


def not_enough(n_trials: int) -> str:
    return f"not enough trials to fit the random forest ({n_trials} complete, need {MIN_TRIALS_FOR_FOREST})"


def parameter_importances(study: optuna.Study, space: BudgetSpace, seed: int = 0) -> dict[str, float]:
    """Impurity importance (Eq. 8) of each searched hyper-parameter for r_s; empty with too few trials."""
    names, _, x, _ = design(study, space)
    if not enough(x):
        return {}
    return ForestImportanceEvaluator(seed=seed).evaluate(study, names, target=response)


def null_importances(
    study: optuna.Study, space: BudgetSpace, n_shuffles: int = 20, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Per hyper-parameter, mean and 95th percentile of its importance when r_s is shuffled.

    See :class:`optuna_mip.importance.NullCorrectedImportanceEvaluator`: what a parameter gets there is
    what impurity importance hands it for its number of values alone. Empty with too few trials.
    """
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1, got {n_shuffles}")
    names, _, x, _ = design(study, space)
    if not enough(x):
        return {}
    evaluator = NullCorrectedImportanceEvaluator(n_shuffles=n_shuffles, seed=seed)
    nulls = evaluator.null_importances(study, names, target=response)
    return {name: (null.null_mean, null.null_p95) for name, null in nulls.items()}
