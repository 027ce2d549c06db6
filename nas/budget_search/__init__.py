"""The search for the best budget (the paper's Eq. 1 with MIP): the space of budgets, objectives, report.

The report is analysis (:mod:`~nas.budget_search._analysis`: trials, Table 1, importances and their
null; :mod:`~nas.budget_search._verdict`: the noise verdict) apart from rendering
(:mod:`~nas.budget_search._figures`: plotly; :mod:`~nas.budget_search._report`: markdown).
"""

from nas.budget_search._bpe_space import BudgetSpace
from nas.budget_search._objectives import RecordedBudget, RecordedObjective, TrainingObjective, read_recorded_budgets
from nas.budget_search._pruners import DEFAULT_PRUNER, PRUNERS, make_pruner
from nas.budget_search._analysis import budget_table, null_importances, parameter_importances, pruned_summary, spend_curve
from nas.budget_search._figures import plot_hyperparameter_effects, plot_importance_vs_null
from nas.budget_search._report import format_table, write_report
from nas.budget_search._verdict import noise_verdict

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
