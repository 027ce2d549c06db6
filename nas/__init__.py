"""Budgeted performance estimation on the DARTS cell space.

The search space (:mod:`nas.space._genotype`), the networks (:mod:`nas.space._model`), the budget
(:class:`Budget`), the data (:func:`load_dataset`), the trainer (:func:`train`), the result store
(:class:`ResultStore`) and rank correlation (:func:`correlate`) are kept apart behind this module.
"""

from nas.budget_search._bpe_space import BudgetSpace
from nas.estimation._budget import PRESETS, Budget, preset
from nas.budget_search._objectives import RecordedBudget, RecordedObjective, TrainingObjective, read_recorded_budgets
from nas.estimation._correlation import Correlation, correlate
from nas.estimation._data import DataError, Dataset, load_dataset
from nas._errors import BudgetError, GenotypeError, NasError, StoreError, display_url
from nas.estimation._estimate import dataset_key, estimate
from nas.space._genotype import (
    DARTS_V2,
    OPERATIONS,
    Cell,
    Genotype,
    genotype_to_params,
    mutate_genotype,
    parse_genotype,
    sample_genotype,
    suggest_genotype,
)
from nas.space._model import cifar_network, count_flops, count_parameters, imagenet_network
from nas.budget_search._report import (
    budget_table,
    format_table,
    null_importances,
    parameter_importances,
    plot_hyperparameter_effects,
    plot_importance_vs_null,
    spend_curve,
    write_report,
)
from nas.estimation._store import ResultStore
from nas.estimation._tables import Architecture, TableError, read_architectures, read_recorded
from nas.estimation._trainer import TrainResult, train

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
