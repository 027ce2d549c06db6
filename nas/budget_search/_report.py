"""What a budget search found, written: the Table 1 text and a report folder (:func:`write_report`:
``report.md`` and HTML figures that open offline).

The numbers come from :mod:`nas.budget_search._analysis` and :mod:`nas.budget_search._verdict`, the
figures from :mod:`nas.budget_search._figures`; Optuna's own figure is used where it draws the same
thing (the optimization history), MIP's for its pruning history.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from nas.budget_search._analysis import (
    OPTIONAL_COSTS,
    budget_key,
    budget_table,
    measured_share,
    not_enough,
    null_importances,
    parameter_importances,
    spend_curve,
    valued_trials,
)
from nas.budget_search._bpe_space import BudgetSpace
from nas.budget_search._figures import importance_vs_null_figure, message_figure, plot_hyperparameter_effects
from nas.budget_search._verdict import budget_verdict
from optuna_mip import decisions_markdown, plot_importance_history, pruning_history

_NO_DECISION = "## Minimum Importance Pruning\n\nNo pruning decision in this study.\n"

_FIGURES = {
    "hyperparameter_effects.html": "Fig. 4: predicted r_s against each hyper-parameter",
    "importance_vs_null.html": "importance of each hyper-parameter against its null",
    "importance_history.html": "MIP: importances at each pruning round",
    "optimization_history.html": "Optuna: objective of each trial and best so far",
}


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
    for attr in ("cost", *OPTIONAL_COSTS):
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
    for attr in ("cost", *OPTIONAL_COSTS):
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
    costs = "".join(f", {_ROW_LABELS[name]} {_format_value(name, row[name])}" for name in OPTIONAL_COSTS if name in row)
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
        message = not_enough(n_trials)
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
    complete = valued_trials(study)
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    importance = parameter_importances(study, space, seed)
    null = null_importances(study, space, n_shuffles, seed)

    figures = {
        "hyperparameter_effects.html": plot_hyperparameter_effects(study, space, seed),
        "importance_vs_null.html": (
            importance_vs_null_figure(importance, null)
            if importance and null
            else message_figure(f"Importance vs. null: {not_enough(len(complete))}")
        ),
        "importance_history.html": plot_importance_history(study),
        "optimization_history.html": (
            optuna.visualization.plot_optimization_history(study)
            if complete
            else message_figure("Optimisation history: no complete trial yet")
        ),
    }
    for name, figure in figures.items():
        figure.write_html(out / name, include_plotlyjs="directory")

    decisions = pruning_history(study)
    every_budget = budget_table(study, space, top=len(complete))
    rows = every_budget[:5]
    verdict = budget_verdict(complete, every_budget, importance, null, reference_size)
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
