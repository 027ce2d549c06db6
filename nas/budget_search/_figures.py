"""The budget search drawn with plotly: Fig. 4 (the forest's predicted r_s against each hyper-parameter)
and each hyper-parameter's importance against its null. Neither has an ``optuna.visualization``
counterpart (its slice and importance plots show neither the partial dependence nor the null)."""

from __future__ import annotations

import math

import numpy as np
import optuna
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nas.budget_search._analysis import design, enough, not_enough, null_importances, parameter_importances, response, valued_trials
from nas.budget_search._bpe_space import BudgetSpace
from optuna_mip.importance import ForestImportanceEvaluator, encode_values, partial_dependence


def message_figure(title: str) -> go.Figure:
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
    names, records, x, y = design(study, space)
    if not enough(x):
        return message_figure(f"Hyper-parameter effects: {not_enough(x.shape[0])}")
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
        observed = [(str(r.params[name]), response(r)) for r in records if name in r.params]
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


def importance_vs_null_figure(importance: dict[str, float], null: dict[str, tuple[float, float]]) -> go.Figure:
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
        return message_figure(f"Importance vs. null: {not_enough(len(valued_trials(study)))}")
    return importance_vs_null_figure(importance, null)


# --------------------------------------------------------------------------------------- report
