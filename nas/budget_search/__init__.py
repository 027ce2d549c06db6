"""The search for the best budget (the paper's Eq. 1 with MIP): the space of budgets, objectives, report."""

from nas.budget_search._bpe_space import BudgetSpace
from nas.budget_search._objectives import RecordedBudget, RecordedObjective, TrainingObjective, read_recorded_budgets
from nas.budget_search._pruners import DEFAULT_PRUNER, PRUNERS, make_pruner
from nas.budget_search._report import (
    budget_table,
    format_table,
    noise_verdict,
    null_importances,
    parameter_importances,
    plot_hyperparameter_effects,
    plot_importance_vs_null,
    pruned_summary,
    spend_curve,
    write_report,
)

__all__ = [
    "BudgetSpace",
    "DEFAULT_PRUNER",
    "PRUNERS",
    "RecordedBudget",
    "RecordedObjective",
    "TrainingObjective",
    "budget_table",
    "format_table",
    "make_pruner",
    "noise_verdict",
    "null_importances",
    "parameter_importances",
    "plot_hyperparameter_effects",
    "plot_importance_vs_null",
    "pruned_summary",
    "read_recorded_budgets",
    "spend_curve",
    "write_report",
]
