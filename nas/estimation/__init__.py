"""Performance estimation: a budget, the trainer, the final evaluation, the estimators (zero-cost
proxies and learning-curve estimators, :func:`register_estimator`; model-based predictors,
:func:`register_predictor`) and rank correlation. The data they train on is :mod:`nas.data`; where
results are kept, :mod:`nas.store`."""

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

# Where these lived before nas.data and nas.store: still importable from here, with a warning.
_MOVED = {"DataError": "nas.data", "Dataset": "nas.data", "load_dataset": "nas.data", "ResultStore": "nas.store"}


def __getattr__(name: str) -> object:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    import warnings

    warnings.warn(f"nas.estimation.{name} moved to {_MOVED[name]}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(_MOVED[name]), name)
