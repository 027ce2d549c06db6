"""Budgeted performance estimation on the DARTS cell space.

The search space (:mod:`nas.space`), the data (:mod:`nas.data`, :func:`load_dataset`), the budget
(:class:`Budget`), the trainer (:func:`train`) and rank correlation (:func:`correlate`) in
:mod:`nas.estimation`, the result store (:mod:`nas.store`, :class:`ResultStore`), the strategies
(:mod:`nas.search`) and the search for a budget (:mod:`nas.budget_search`) are kept apart behind
this module.
"""

from nas._errors import BudgetError, GenotypeError, NasError, StoreError, display_url
from nas.budget_search import (
    BudgetSpace,
    RecordedBudget,
    RecordedObjective,
    TrainingObjective,
    budget_table,
    format_table,
    null_importances,
    parameter_importances,
    plot_hyperparameter_effects,
    plot_importance_vs_null,
    read_recorded_budgets,
    spend_curve,
    write_report,
)
from nas.data import DataError, Dataset, load_dataset
from nas.estimation import (
    PRESETS,
    Architecture,
    Budget,
    Correlation,
    TableError,
    TrainResult,
    correlate,
    dataset_key,
    estimate,
    preset,
    read_architectures,
    read_recorded,
    train,
)
from nas.space import (
    DARTS_V2,
    OPERATIONS,
    Cell,
    Genotype,
    cifar_network,
    count_flops,
    count_parameters,
    genotype_to_params,
    imagenet_network,
    mutate_genotype,
    parse_genotype,
    sample_genotype,
    suggest_genotype,
)
from nas.store import ResultStore

__all__ = [
    "Architecture",
    "Budget",
    "BudgetError",
    "BudgetSpace",
    "Cell",
    "Correlation",
    "DARTS_V2",
    "DataError",
    "Dataset",
    "Genotype",
    "GenotypeError",
    "NasError",
    "OPERATIONS",
    "PRESETS",
    "RecordedBudget",
    "RecordedObjective",
    "ResultStore",
    "StoreError",
    "TableError",
    "TrainResult",
    "TrainingObjective",
    "budget_table",
    "cifar_network",
    "correlate",
    "count_flops",
    "count_parameters",
    "dataset_key",
    "display_url",
    "estimate",
    "format_table",
    "genotype_to_params",
    "imagenet_network",
    "load_dataset",
    "mutate_genotype",
    "null_importances",
    "parameter_importances",
    "parse_genotype",
    "plot_hyperparameter_effects",
    "plot_importance_vs_null",
    "preset",
    "read_architectures",
    "read_recorded",
    "read_recorded_budgets",
    "sample_genotype",
    "spend_curve",
    "suggest_genotype",
    "train",
    "write_report",
]
