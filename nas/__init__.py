"""Budgeted performance estimation on the DARTS cell space.

The search space (:mod:`nas._genotype`), the networks (:mod:`nas._model`), the budget
(:class:`Budget`), the data (:func:`load_dataset`), the trainer (:func:`train`), the result store
(:class:`ResultStore`) and rank correlation (:func:`correlate`) are kept apart behind this module.
"""

from nas._bpe_space import BudgetSpace
from nas._budget import PRESETS, Budget, preset
from nas._budget_search import RecordedBudget, RecordedObjective, TrainingObjective, read_recorded_budgets
from nas._correlation import Correlation, correlate
from nas._data import DataError, Dataset, load_dataset
from nas._errors import BudgetError, GenotypeError, NasError, StoreError
from nas._estimate import dataset_key, estimate
from nas._genotype import (
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
from nas._model import cifar_network, count_flops, count_parameters, imagenet_network
from nas._report import (
    budget_table,
    format_table,
    null_importances,
    parameter_importances,
    plot_hyperparameter_effects,
    plot_importance_vs_null,
    spend_curve,
    write_report,
)
from nas._store import ResultStore
from nas._tables import Architecture, TableError, read_architectures, read_recorded
from nas._trainer import TrainResult, train

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
