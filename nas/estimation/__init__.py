"""Performance estimation: a budget, the trainer, the final evaluation, the estimators (zero-cost
proxies and learning-curve estimators, :func:`register_estimator`; model-based predictors,
:func:`register_predictor`) and rank correlation. The data they train on is :mod:`nas.data`; where
results are kept, :mod:`nas.store`.

Its names are imported on first use (:mod:`nas._lazy`): the command-line parser reads the budget
presets from here, and needs neither torch nor SciPy for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.estimation._budget import PRESETS, Budget, preset
    from nas.estimation._correlation import Correlation, SpearmanDifference, correlate, precision_at_k, spearman_difference
    from nas.estimation._curves import CURVE_ESTIMATORS, curve_score
    from nas.estimation._estimate import dataset_key, estimate, get_or_train, training_checkpoint
    from nas.estimation._final import evaluate_final
    from nas.estimation._predictors import (
        ENCODING_LENGTH,
        PREDICTORS,
        CrossValidated,
        PredictorError,
        cross_validated,
        encode,
        predictor,
        predictors,
        register_predictor,
    )
    from nas.estimation._proxies import PROXIES, Estimator, ProxyError, ProxyResult, score
    from nas.estimation._registry import KINDS, EstimatorError, estimator_kind, estimators, register_estimator
    from nas.estimation._tables import Architecture, TableError, read_architectures, read_recorded
    from nas.estimation._trainer import TrainResult, train

__all__ = [
    "CURVE_ESTIMATORS",
    "ENCODING_LENGTH",
    "KINDS",
    "PREDICTORS",
    "PRESETS",
    "PROXIES",
    "Architecture",
    "Budget",
    "Correlation",
    "CrossValidated",
    "Estimator",
    "EstimatorError",
    "PredictorError",
    "ProxyError",
    "ProxyResult",
    "SpearmanDifference",
    "TableError",
    "TrainResult",
    "correlate",
    "curve_score",
    "cross_validated",
    "dataset_key",
    "encode",
    "estimate",
    "estimator_kind",
    "estimators",
    "evaluate_final",
    "get_or_train",
    "precision_at_k",
    "predictor",
    "predictors",
    "preset",
    "read_architectures",
    "read_recorded",
    "register_estimator",
    "register_predictor",
    "score",
    "spearman_difference",
    "train",
    "training_checkpoint",
]

_SOURCES: dict[str, tuple[str, ...]] = {
    "nas.estimation._budget": ("PRESETS", "Budget", "preset"),
    "nas.estimation._correlation": (
        "Correlation",
        "SpearmanDifference",
        "correlate",
        "precision_at_k",
        "spearman_difference",
    ),
    "nas.estimation._curves": ("CURVE_ESTIMATORS", "curve_score"),
    "nas.estimation._estimate": ("dataset_key", "estimate", "get_or_train", "training_checkpoint"),
    "nas.estimation._final": ("evaluate_final",),
    "nas.estimation._predictors": (
        "ENCODING_LENGTH",
        "PREDICTORS",
        "CrossValidated",
        "PredictorError",
        "cross_validated",
        "encode",
        "predictor",
        "predictors",
        "register_predictor",
    ),
    "nas.estimation._proxies": ("PROXIES", "Estimator", "ProxyError", "ProxyResult", "score"),
    "nas.estimation._registry": ("KINDS", "EstimatorError", "estimator_kind", "estimators", "register_estimator"),
    "nas.estimation._tables": ("Architecture", "TableError", "read_architectures", "read_recorded"),
    "nas.estimation._trainer": ("TrainResult", "train"),
}

# Where these lived before nas.data and nas.store: still importable from here, with a warning.
_MOVED = {"DataError": "nas.data", "Dataset": "nas.data", "load_dataset": "nas.data", "ResultStore": "nas.store"}
_exported, __dir__ = lazy_exports(__name__, _SOURCES)


def __getattr__(name: str) -> object:
    if name not in _MOVED:
        return _exported(name)
    import importlib
    import warnings

    warnings.warn(f"nas.estimation.{name} moved to {_MOVED[name]}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(_MOVED[name]), name)
