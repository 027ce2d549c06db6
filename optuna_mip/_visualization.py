"""Plot of the importances MIP saw at each round."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._history import CONFIG_KEY
from ._history import pruning_history


if TYPE_CHECKING:
    from optuna.study import Study
    import plotly.graph_objects as go


def plot_importance_history(study: Study) -> go.Figure:
    """Grouped bars of the free parameters' importances at each round of ``study``.

    One bar group per round, one colour per parameter; the parameter pruned in that round is
    outlined and its fixed value is in the tick label. The dashed line is the importance
    threshold below which a pruned parameter goes to its cheapest value.

    Returns:
        A :class:`plotly.graph_objects.Figure` (empty, with a title saying so, before the first
        decision).
    """

    # Imported here: plotting is optional, the sampler needs only optuna, numpy and scikit-learn.
    import plotly.graph_objects as go

    history = pruning_history(study)
    figure = go.Figure()
    figure.update_layout(
        title="MIP: parameter importance at each round",
        xaxis_title="round",
        yaxis_title="importance among free parameters",
        barmode="group",
    )
    if not history:
        figure.update_layout(title="MIP: no pruning decision yet")
        return figure

    # Parameters in the order they were pruned, so the legend reads like the history.
    names = [d.param for d in history]
    names += sorted({n for d in history for n in d.importances} - set(names))
    history = [d for d in history if d.importances]  # Retired unused parameters have none.
    for name in names:
        rounds = [d for d in history if name in d.importances]
        figure.add_trace(
            go.Bar(
                name=name,
                x=[d.round for d in rounds],
                y=[d.importances[name] for d in rounds],
                marker_line_width=[3 if d.param == name else 0 for d in rounds],
                marker_line_color="black",
                hovertemplate=f"{name}<br>round %{{x}}<br>importance %{{y:.3f}}<extra></extra>",
            )
        )
    figure.update_xaxes(
        tickmode="array",
        tickvals=[d.round for d in history],
        ticktext=[f"{d.round}: {d.param}={d.value!r} ({d.reason})" for d in history],
    )
    config = study._storage.get_study_system_attrs(study._study_id).get(CONFIG_KEY)
    if config is not None:
        figure.add_hline(
            y=config["importance_threshold"],
            line_dash="dash",
            annotation_text="importance threshold",
        )
    return figure
