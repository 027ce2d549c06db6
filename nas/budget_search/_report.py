"""What a budget search found, in the paper's terms: Table 1, Fig. 4, and a report folder.

* :func:`budget_table` / :func:`format_table`: the best distinct budgets with their hyper-parameters,
  r_s and its 95 % interval, Kendall tau and cost (the paper's Table 1).
* :func:`plot_hyperparameter_effects`: the random forest's predicted r_s against each
  hyper-parameter, with the parameter's importance (the paper's Fig. 4).
* :func:`null_importances` / :func:`plot_importance_vs_null`: the importances the same forest gives
  when the objective is shuffled. Impurity importance favours parameters with many distinct values
  (they offer more split points to fit noise), so an importance means something only above its null.
* :func:`noise_verdict`: whether the best budget stands out from the noise of ranking a few
  architectures, in words, with the number of architectures that would make it stand out.
* :func:`write_report`: all of the above, MIP's pruning history and Optuna's optimization history in
  one folder (``report.md`` and HTML figures that open offline).

The forest is the one MIP fits (:mod:`optuna_mip.importance`: same encoding of trials, same number of
trees, and the null of :class:`~optuna_mip.importance.NullCorrectedImportanceEvaluator`), fitted on COMPLETE trials with the trial's ``r_s`` user attribute as the target (falling back
to the objective value), as Fig. 4 regresses r_s rather than the cost-penalised objective.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import plotly.graph_objects as go
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState
from plotly.subplots import make_subplots

from nas.budget_search._bpe_space import BudgetSpace
from nas.estimation._correlation import SpearmanDifference, spearman_difference
from nas.search import complete_trials
from optuna_mip import decisions_markdown, plot_importance_history, pruning_history
from optuna_mip.importance import (
    ForestImportanceEvaluator,
    NullCorrectedImportanceEvaluator,
    design_matrix,
    encode_values,
    partial_dependence,
    target_values,
)

# Below this many complete trials a forest of bootstrapped trees has nothing to split: every
# importance and curve would be noise, so the report says "not enough trials" instead.
MIN_TRIALS_FOR_FOREST = 6

# Optional per-architecture costs an objective may record (TrainingObjective: FLOPs and seconds;
# RecordedObjective: the recorded GPU-hours), shown when present.
_OPTIONAL_COSTS = ("gpu_hours", "training_flops", "mean_seconds")

_NO_DECISION = "## Minimum Importance Pruning\n\nNo pruning decision in this study.\n"

_FIGURES = {
    "hyperparameter_effects.html": "Fig. 4: predicted r_s against each hyper-parameter",
    "importance_vs_null.html": "importance of each hyper-parameter against its null",
    "importance_history.html": "MIP: importances at each pruning round",
    "optimization_history.html": "Optuna: objective of each trial and best so far",
}


# --------------------------------------------------------------------------------------- trials


def _complete_trials(study: optuna.Study) -> list[FrozenTrial]:
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


def _response(trial: FrozenTrial) -> float:
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
        _complete_trials(study),
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
        row.update({name: attrs[name] for name in _OPTIONAL_COSTS if name in attrs})
        row["objective"] = trial.value
        row["n_trials"] = counts[key]
        rows.append(row)
    return rows


_ROW_LABELS = {
    "trial": "trial",
    "setting": "setting",
    "r_s": "r_s",
    "r_s_ci": "r_s 95% CI",
    "kendall": "Kendall tau",
    "cost": "cost (normalised)",
    "gpu_hours": "GPU-hours / arch",
    "training_flops": "training FLOPs / arch (multiply-adds)",
    "mean_seconds": "training seconds / arch (measured here, no data decoding)",
    "objective": "objective",
    "n_trials": "trials at this budget",
}


def _format_value(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key == "r_s_ci":
        return f"[{value[0]:.3f}, {value[1]:.3f}]"
    if key in ("r_s", "kendall", "cost", "objective"):
        return f"{value:.3f}"
    if key == "training_flops":
        return f"{value:.3g}"
    if key in ("gpu_hours", "mean_seconds"):
        return f"{value:.4g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown of :func:`budget_table`'s rows laid out like Table 1: one column per budget.

    Rows are the fields (hyper-parameters, then metrics), so budgets compare side by side. A field a
    budget lacks shows as a dash.
    """
    if not rows:
        return "_No complete trials._\n"
    keys: list[str] = []
    for row in rows:
        keys += [key for key in row if key not in keys]
    header = ["", *(f"#{i + 1}" for i in range(len(rows)))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in keys:
        cells = [_ROW_LABELS.get(key, key), *(_format_value(key, row.get(key)) for row in rows)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------- forest


def _design(study: optuna.Study, space: BudgetSpace) -> tuple[list[str], list[FrozenTrial], np.ndarray, np.ndarray]:
    """Searched parameter names present in the trials, the trials, design matrix and r_s."""
    trials = _complete_trials(study)
    names = [name for name in space.values if any(name in t.params for t in trials)]
    return names, trials, design_matrix(trials, names), target_values(trials, _response)


def _enough(x: np.ndarray) -> bool:
    return x.shape[0] >= MIN_TRIALS_FOR_FOREST and x.shape[1] > 0


def _not_enough(n_trials: int) -> str:
    return f"not enough trials to fit the random forest ({n_trials} complete, need {MIN_TRIALS_FOR_FOREST})"


def parameter_importances(study: optuna.Study, space: BudgetSpace, seed: int = 0) -> dict[str, float]:
    """Impurity importance (Eq. 8) of each searched hyper-parameter for r_s; empty with too few trials."""
    names, _, x, _ = _design(study, space)
    if not _enough(x):
        return {}
    return ForestImportanceEvaluator(seed=seed).evaluate(study, names, target=_response)


def null_importances(
    study: optuna.Study, space: BudgetSpace, n_shuffles: int = 20, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Per hyper-parameter, mean and 95th percentile of its importance when r_s is shuffled.

    See :class:`optuna_mip.importance.NullCorrectedImportanceEvaluator`: what a parameter gets there is
    what impurity importance hands it for its number of values alone. Empty with too few trials.
    """
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be >= 1, got {n_shuffles}")
    names, _, x, _ = _design(study, space)
    if not _enough(x):
        return {}
    evaluator = NullCorrectedImportanceEvaluator(n_shuffles=n_shuffles, seed=seed)
    nulls = evaluator.null_importances(study, names, target=_response)
    return {name: (null.null_mean, null.null_p95) for name, null in nulls.items()}


def _message_figure(title: str) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(title=title)
    return figure


def plot_hyperparameter_effects(study: optuna.Study, space: BudgetSpace, seed: int = 0) -> go.Figure:
    """The paper's Fig. 4: the forest's predicted r_s against each searched hyper-parameter.

    One subplot per parameter, titled with its impurity importance, e.g. ``epochs (0.31)``. The line
    is the partial dependence averaged over trees, the band ± one standard deviation over trees (how
    much the forest agrees with itself), the grey dots the measured r_s of the trials. A steep curve
    should go with a high importance; values no trial sampled are the forest's extrapolation.
    """
    names, records, x, y = _design(study, space)
    if not _enough(x):
        return _message_figure(f"Hyper-parameter effects: {_not_enough(x.shape[0])}")
    forest = ForestImportanceEvaluator(seed=seed).fit(x, y)
    importances = forest.feature_importances_
    n_cols = min(4, len(names))
    n_rows = math.ceil(len(names) / n_cols)
    figure = make_subplots(
        rows=n_rows,
        cols=n_cols,
        subplot_titles=[f"{name} ({importance:.2f})" for name, importance in zip(names, importances)],
        shared_yaxes=True,
        horizontal_spacing=0.04,
    )
    for j, name in enumerate(names):
        candidates = list(space.values[name])
        curves = partial_dependence(forest, x, j, encode_values(records, name, candidates))
        mean, std = curves.mean(axis=0), curves.std(axis=0)
        labels = [str(value) for value in candidates]
        cell = {"row": j // n_cols + 1, "col": j % n_cols + 1}
        band = {"mode": "lines", "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"}
        figure.add_trace(go.Scatter(x=labels, y=mean + std, **band), **cell)
        figure.add_trace(
            go.Scatter(x=labels, y=mean - std, fill="tonexty", fillcolor="rgba(31,119,180,0.25)", **band), **cell
        )
        figure.add_trace(
            go.Scatter(
                x=labels,
                y=mean,
                mode="lines+markers",
                line={"color": "rgb(31,119,180)"},
                name=f"{name} ({importances[j]:.2f})",
                showlegend=False,
                hovertemplate=f"{name}=%{{x}}<br>predicted r_s %{{y:.3f}}<extra></extra>",
            ),
            **cell,
        )
        observed = [(str(r.params[name]), _response(r)) for r in records if name in r.params]
        figure.add_trace(
            go.Scatter(
                x=[o[0] for o in observed],
                y=[o[1] for o in observed],
                mode="markers",
                marker={"color": "rgba(80,80,80,0.35)", "size": 5},
                showlegend=False,
                hovertemplate=f"trial with {name}=%{{x}}<br>measured r_s %{{y:.3f}}<extra></extra>",
            ),
            **cell,
        )
        figure.update_xaxes(type="category", categoryorder="array", categoryarray=labels, **cell)
    figure.update_yaxes(title_text="r_s", col=1)
    figure.update_layout(
        title=f"Predicted r_s per hyper-parameter (importance in brackets), random forest on {len(records)} trials",
        height=320 * n_rows,
    )
    return figure


def _importance_vs_null_figure(importance: dict[str, float], null: dict[str, tuple[float, float]]) -> go.Figure:
    names = sorted(importance, key=lambda name: -importance[name])
    means = np.asarray([null[name][0] for name in names])
    p95 = np.asarray([null[name][1] for name in names])
    figure = go.Figure()
    figure.add_trace(go.Bar(x=names, y=[importance[name] for name in names], name="importance"))
    figure.add_trace(
        go.Scatter(
            x=names,
            y=means,
            mode="markers",
            marker={"color": "black", "symbol": "diamond"},
            error_y={"type": "data", "symmetric": False, "array": p95 - means, "arrayminus": np.zeros_like(means)},
            name="null: mean, whisker to 95th percentile",
        )
    )
    figure.update_layout(
        title="Importance vs. importance with r_s shuffled (meaningful only above the whisker)",
        yaxis_title="impurity importance",
    )
    return figure


def plot_importance_vs_null(
    study: optuna.Study, space: BudgetSpace, n_shuffles: int = 20, seed: int = 0
) -> go.Figure:
    """Bars: each hyper-parameter's importance; markers: its null mean, whiskers to the null's 95th pct.

    A bar that does not clear its whisker is an importance the parameter's number of values alone
    would give it (see :func:`null_importances`).
    """
    importance = parameter_importances(study, space, seed)
    null = null_importances(study, space, n_shuffles, seed)
    if not importance or not null:
        return _message_figure(f"Importance vs. null: {_not_enough(len(_complete_trials(study)))}")
    return _importance_vs_null_figure(importance, null)


# --------------------------------------------------------------------------------------- noise


def _architecture_count(trial: FrozenTrial) -> int | None:
    """Architectures the trial's r_s was measured on (its ``R_b``), when the objective recorded them."""
    ranked = trial.user_attrs.get("R_b")
    return len(ranked) if isinstance(ranked, dict) else None


def _separation_verdict(
    rows: Sequence[dict[str, Any]], n_architectures: int | None, reference_size: int | None = None
) -> tuple[bool, str]:
    """Whether the best budget's r_s stands clear of the other budgets', and the sentence that says so.

    Rule: the best budget (``rows[0]``) is distinguishable when the highest r_s of the other
    budgets (0, no correlation, when there is none) lies below the lower end of the best's 95 %
    interval. Otherwise, the interval's lower half-width h = r_s - low shrinks about as 1/sqrt(n) with
    n architectures, so it falls below the gap d to that r_s at n ~ n_now * (h / d)^2, which is
    compared with ``reference_size``, the architectures with a full-training accuracy there are.
    """
    best = rows[0]
    r_s, ci = best["r_s"], best["r_s_ci"]
    if r_s is None or ci is None:
        return False, "The best trial recorded no r_s interval, so its noise cannot be judged."
    others = [row["r_s"] for row in rows[1:] if row["r_s"] is not None]
    rival, what = (max(others), "the next best budget's r_s") if others else (0.0, "zero (no correlation)")
    on = f" on {n_architectures} architectures" if n_architectures else ""
    measured = f"r_s {r_s:.3f} has the 95% interval [{ci[0]:.2f}, {ci[1]:.2f}]{on}"
    if rival < ci[0]:
        return True, f"Distinguishable from noise: the best budget's {measured}, above {what} ({rival:.3f})."
    inside = sum(ci[0] <= other for other in others)
    holds = f"which holds the r_s of {inside} other budget(s) (up to {rival:.3f})" if others else f"which holds {what}"
    gap, half_width = r_s - rival, r_s - ci[0]
    if gap <= 0:
        needed = "no number of architectures would separate them: another budget's r_s is as high."
    elif n_architectures:
        count = math.ceil(n_architectures * (half_width / gap) ** 2)
        needed = (
            f"separating it from {what} ({gap:.3f} lower) would take about {count} architectures "
            f"({n_architectures} x ({half_width:.2f} / {gap:.3f})^2: the interval narrows as 1/sqrt(n))"
        )
        needed += _against_reference(count, reference_size)
    else:
        needed = f"its interval would have to shrink {half_width / gap:.1f}-fold (it narrows as 1/sqrt(n))."
    return False, f"Not distinguishable from noise: the best budget's {measured}, {holds}; {needed}"


def _paired_differences(best: FrozenTrial, others: Sequence[FrozenTrial]) -> list[tuple[float, SpearmanDifference]]:
    """(other r_s, Δr_s of the best over it) for each other budget measured on >= 3 of the best's
    architectures (``R_f``/``R_b`` user attributes); empty when the best trial did not record them."""
    full, ranked = best.user_attrs.get("R_f"), best.user_attrs.get("R_b")
    if not isinstance(full, dict) or not isinstance(ranked, dict):
        return []
    differences = []
    for other in others:
        other_ranked = other.user_attrs.get("R_b")
        common = [name for name in full if name in ranked and isinstance(other_ranked, dict) and name in other_ranked]
        if len(common) >= 3:
            difference = spearman_difference(
                [full[name] for name in common], [ranked[name] for name in common], [other_ranked[name] for name in common]
            )
            differences.append((other.user_attrs.get("r_s", math.nan), difference))
    return differences


def _against_reference(count: int, reference_size: int | None) -> str:
    """How ``count`` architectures compare with the reference set's size, to end the sentence."""
    if not reference_size:
        return "."
    beyond = count > reference_size
    return f"; the reference set has {reference_size}" + (", so no run on it can separate them." if beyond else ".")


def _paired_verdict(
    r_s: float, differences: Sequence[tuple[float, SpearmanDifference]], reference_size: int | None = None
) -> str:
    """The best budget is distinguishable when its paired Δr_s over every other budget has a 95 %
    interval above 0. Otherwise, for the closest rival (lowest interval), the interval's lower
    half-width h = Δ - low shrinks as 1/sqrt(n), so it falls below Δ at n ~ n_now * (h / Δ)^2."""
    rival_r_s, closest = min(differences, key=lambda item: item[1].ci[0])
    low, high = closest.ci
    measured = (
        f"r_s {r_s:.3f}, by a paired bootstrap over the same {closest.n} architectures against the closest "
        f"of {len(differences)} other budget(s) (r_s {rival_r_s:.3f}): Δr_s {closest.delta:.3f}, 95% interval [{low:.2f}, {high:.2f}]"
    )
    if closest.distinguishable:
        return f"Distinguishable from noise: the best budget's {measured}, above 0."
    held = sum(not difference.distinguishable for _, difference in differences)
    if closest.delta <= 0:
        needed = "no number of architectures would separate them: the other budget ranks as well or better."
    else:
        count = math.ceil(closest.n * ((closest.delta - low) / closest.delta) ** 2)
        needed = f"separating them would take about {count} architectures (the interval narrows as 1/sqrt(n))"
        needed += _against_reference(count, reference_size)
    return f"Not distinguishable from noise: the best budget's {measured}, which holds 0 ({held} budget(s) so); {needed}"


def _importance_verdict(importance: dict[str, float], null: dict[str, tuple[float, float]]) -> str | None:
    """A sentence when no hyper-parameter's importance clears its null's 95th percentile."""
    if not importance or not null or any(importance[name] > null[name][1] for name in importance):
        return None
    return (
        "No hyper-parameter's importance is above its null (shuffled r_s): which parameters MIP fixed, "
        "and at which values, is not distinguishable from noise either."
    )


def _verdict(
    complete: Sequence[FrozenTrial],
    rows: Sequence[dict[str, Any]],
    importance: dict[str, float],
    null: dict[str, tuple[float, float]],
    reference_size: int | None = None,
) -> str:
    if not rows:
        return "No complete trial yet: nothing to judge."
    trials = {t.number: t for t in complete}
    best = trials[rows[0]["trial"]]
    differences = _paired_differences(best, [trials[row["trial"]] for row in rows[1:]])
    if differences:
        sentence = _paired_verdict(rows[0]["r_s"], differences, reference_size)
    else:
        _, sentence = _separation_verdict(rows, _architecture_count(best), reference_size)
    remark = _importance_verdict(importance, null)
    return f"{sentence} {remark}" if remark else sentence


def noise_verdict(
    study: optuna.Study, space: BudgetSpace, *, n_shuffles: int = 20, seed: int = 0, reference_size: int | None = None
) -> str:
    """In words: is the best budget distinguishable from noise, and how many architectures would make it so?

    A best budget picked from a handful of architectures often has an r_s interval that holds the
    other budgets' r_s: its rank among budgets is then a draw, not a finding. The sentence starts
    with "Distinguishable from noise" or "Not distinguishable from noise"; the rule is
    :func:`_paired_verdict`'s (a paired bootstrap of Δr_s over the same architectures) when the
    trials recorded per-architecture accuracies (``R_f``, ``R_b``), else :func:`_separation_verdict`'s;
    with ``reference_size`` (the architectures with a full-training accuracy available) that one says
    whether that many would be enough. It adds a sentence when no importance clears its null
    (:func:`null_importances`), since MIP's decisions are then noise too. This is the verdict of
    :func:`write_report`'s "Best budget" section.
    """
    return _verdict(
        _complete_trials(study),
        budget_table(study, space, top=len(study.trials)),
        parameter_importances(study, space, seed),
        null_importances(study, space, n_shuffles, seed),
        reference_size,
    )


# --------------------------------------------------------------------------------------- report


def _trial_counts(study: optuna.Study) -> str:
    trials = study.get_trials(deepcopy=False)
    by_state: dict[str, int] = {}
    for trial in trials:
        by_state[trial.state.name.lower()] = by_state.get(trial.state.name.lower(), 0) + 1
    details = ", ".join(f"{count} {state}" for state, count in sorted(by_state.items()))
    return f"{len(trials)} ({details})" if trials else "0"


def _spend_lines(complete: Sequence[FrozenTrial], pruned: Sequence[FrozenTrial]) -> list[str]:
    n_distinct = len({budget_key(t) for t in complete})
    finished = sorted([*complete, *pruned], key=lambda t: t.number)
    lines = [
        f"- Distinct budgets measured: {n_distinct} in {len(complete)} complete trials "
        "(a budget measured again is answered by the result cache and costs nothing)",
        "- Training cost spent, per architecture, summed over the distinct budgets (pruned ones for what they trained):",
    ]
    labels = {"cost": "normalised cost (1 = the space's most expensive budget)", **_ROW_LABELS}
    for attr in ("cost", *_OPTIONAL_COSTS):
        if any(attr in t.user_attrs for t in finished):
            lines.append(f"  - {labels[attr]}: {_format_value(attr, float(spend_curve(finished, attr)[-1]))}")
    return lines


def _pruned_lines(complete: Sequence[FrozenTrial], pruned: Sequence[FrozenTrial]) -> list[str]:
    """How many budgets the pruner stopped, and what training them to the end would have cost."""
    if not pruned:
        return ["- Pruned budgets: none"]
    trained_fully = {budget_key(t) for t in complete}
    stopped: dict[str, FrozenTrial] = {}  # per budget never trained in full, its furthest-measured trial
    for trial in pruned:
        key = budget_key(trial)
        if key not in trained_fully and measured_share(trial) >= measured_share(stopped.get(key, trial)):
            stopped[key] = trial
    steps = sorted(int(t.user_attrs.get("architectures_measured", 0)) for t in pruned)
    lines = [
        f"- Pruned budgets: {len(pruned)} trials, {len(stopped)} distinct budgets never trained in full; "
        f"stopped after {steps[0]} to {steps[-1]} architectures. Compute they did not spend, per architecture:"
    ]
    labels = {"cost": "normalised cost", **_ROW_LABELS}
    for attr in ("cost", *_OPTIONAL_COSTS):
        if any(attr in t.user_attrs for t in stopped.values()):
            saved = sum((1 - measured_share(t)) * float(t.user_attrs.get(attr, 0.0) or 0.0) for t in stopped.values())
            lines.append(f"  - {labels[attr]}: {_format_value(attr, saved)}")
    return lines


def _best_lines(complete: Sequence[FrozenTrial], rows: Sequence[dict[str, Any]], space: BudgetSpace, verdict: str) -> list[str]:
    if not complete:
        return ["No complete trial yet."]
    row = rows[0]
    setting = f" (recorded setting `{row['setting']}`)" if "setting" in row else ""
    params = ", ".join(f"{name}={row[name]}" for name in space.values)
    costs = "".join(f", {_ROW_LABELS[name]} {_format_value(name, row[name])}" for name in _OPTIONAL_COSTS if name in row)
    return [
        f"Trial {row['trial']}{setting}: objective {row['objective']:.4f}, r_s {_format_value('r_s', row['r_s'])}"
        f" (95% CI {_format_value('r_s_ci', row['r_s_ci'])}), cost {_format_value('cost', row['cost'])} (normalised){costs}.",
        "",
        f"Budget: `{params}`",
        "",
        f"**{verdict}**",
    ]


def _importance_lines(importance: dict[str, float], null: dict[str, tuple[float, float]], n_trials: int) -> list[str]:
    if not importance or not null:
        message = _not_enough(n_trials)
        return [message[0].upper() + message[1:] + "."]
    lines = [
        "Impurity importance (Eq. 8) of the forest fitted on r_s, and of the same forest fitted on shuffled "
        "r_s (the null). Parameters with many values get a high null; only an importance above the null's "
        "95th percentile says the parameter matters.",
        "",
        "| parameter | importance | null mean | null 95th pct | above null |",
        "|---|---|---|---|---|",
    ]
    for name in sorted(importance, key=lambda n: -importance[n]):
        mean, p95 = null[name]
        verdict = "yes" if importance[name] > p95 else "no"
        lines.append(f"| {name} | {importance[name]:.3f} | {mean:.3f} | {p95:.3f} | {verdict} |")
    return lines


def write_report(
    study: optuna.Study,
    space: BudgetSpace,
    out_dir: str | Path,
    *,
    n_shuffles: int = 20,
    seed: int = 0,
    reference_size: int | None = None,
) -> Path:
    """Write ``report.md`` and the HTML figures of a budget search into ``out_dir``; return the report.

    The figures share one ``plotly.min.js`` written next to them, so they open offline. Works at any
    number of trials: with too few for a forest the report says so instead of showing noise.
    ``reference_size`` goes to the verdict (see :func:`noise_verdict`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    complete = _complete_trials(study)
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    importance = parameter_importances(study, space, seed)
    null = null_importances(study, space, n_shuffles, seed)

    figures = {
        "hyperparameter_effects.html": plot_hyperparameter_effects(study, space, seed),
        "importance_vs_null.html": (
            _importance_vs_null_figure(importance, null)
            if importance and null
            else _message_figure(f"Importance vs. null: {_not_enough(len(complete))}")
        ),
        "importance_history.html": plot_importance_history(study),
        "optimization_history.html": (
            optuna.visualization.plot_optimization_history(study)
            if complete
            else _message_figure("Optimisation history: no complete trial yet")
        ),
    }
    for name, figure in figures.items():
        figure.write_html(out / name, include_plotlyjs="directory")

    decisions = pruning_history(study)
    every_budget = budget_table(study, space, top=len(complete))
    rows = every_budget[:5]
    verdict = _verdict(complete, every_budget, importance, null, reference_size)
    lines = [
        f"# Budget search: {study.study_name}",
        "",
        f"- Trials: {_trial_counts(study)}",
        *_spend_lines(complete, pruned),
        *_pruned_lines(complete, pruned),
        "",
        "## Best budget",
        "",
        *_best_lines(complete, rows, space, verdict),
        "",
        "## Best distinct budgets (Table 1)",
        "",
        format_table(rows),
        decisions_markdown(study, decisions) if decisions else _NO_DECISION,
        "## Hyper-parameter importance vs. null",
        "",
        *_importance_lines(importance, null, len(complete)),
        "",
        "## Figures",
        "",
        *(f"- [{description}]({name})" for name, description in _FIGURES.items()),
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
