"""Budgeted performance estimation on the DARTS cell space.

The search space (:mod:`nas.space`), the data (:mod:`nas.data`, :func:`load_dataset`), the budget
(:class:`Budget`), the trainer (:func:`train`) and rank correlation (:func:`correlate`) in
:mod:`nas.estimation`, the result store (:mod:`nas.store`, :class:`ResultStore`), the strategies
(:mod:`nas.search`) and the search for a budget (:mod:`nas.budget_search`) are kept apart behind
this module.

Its names are imported on first use (:mod:`nas._lazy`), not by ``import nas``, so that a
``python -m nas`` command loads only what it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
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
        register_estimator,
        train,
    )
    from nas.search import register_strategy
    from nas.space import (
        DARTS_SPACE,
        DARTS_V2,
        OPERATIONS,
        Cell,
        DartsSpace,
        Genotype,
        SearchSpace,
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
    "DartsSpace",
    "DARTS_SPACE",
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
    "SearchSpace",
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
    "register_estimator",
    "register_strategy",
    "sample_genotype",
    "spend_curve",
    "suggest_genotype",
    "train",
    "write_report",
]

_SOURCES: dict[str, tuple[str, ...]] = {
    "nas._errors": ("BudgetError", "GenotypeError", "NasError", "StoreError", "display_url"),
    "nas.budget_search": (
        "BudgetSpace",
        "RecordedBudget",
        "RecordedObjective",
        "TrainingObjective",
        "budget_table",
        "format_table",
        "null_importances",
        "parameter_importances",
        "plot_hyperparameter_effects",
        "plot_importance_vs_null",
        "read_recorded_budgets",
        "spend_curve",
        "write_report",
    ),
    "nas.data": ("DataError", "Dataset", "load_dataset"),
    "nas.estimation": (
        "PRESETS",
        "Architecture",
        "Budget",
        "Correlation",
        "TableError",
        "TrainResult",
        "correlate",
        "dataset_key",
        "estimate",
        "preset",
        "read_architectures",
        "read_recorded",
        "register_estimator",
        "train",
    ),
    "nas.search": ("register_strategy",),
    "nas.space": (
        "DARTS_SPACE",
        "DARTS_V2",
        "OPERATIONS",
        "Cell",
        "DartsSpace",
        "Genotype",
        "SearchSpace",
        "cifar_network",
        "count_flops",
        "count_parameters",
        "genotype_to_params",
        "imagenet_network",
        "mutate_genotype",
        "parse_genotype",
        "sample_genotype",
        "suggest_genotype",
    ),
    "nas.store": ("ResultStore",),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
