"""Performance estimation: a budget, the data, the trainer, zero-cost proxies, the result store and rank
correlation."""

from nas.estimation._budget import PRESETS, Budget, preset
from nas.estimation._correlation import Correlation, SpearmanDifference, correlate, spearman_difference
from nas.estimation._data import DataError, Dataset, load_dataset
from nas.estimation._estimate import dataset_key, estimate, get_or_train
from nas.estimation._final import evaluate_final
from nas.estimation._proxies import PROXIES, ProxyError, ProxyResult, score
from nas.estimation._store import ResultStore
from nas.estimation._tables import Architecture, TableError, read_architectures, read_recorded
from nas.estimation._trainer import TrainResult, train

__all__ = [
    "PRESETS",
    "PROXIES",
    "Architecture",
    "Budget",
    "Correlation",
    "DataError",
    "Dataset",
    "ProxyError",
    "ProxyResult",
    "ResultStore",
    "SpearmanDifference",
    "TableError",
    "TrainResult",
    "correlate",
    "dataset_key",
    "estimate",
    "evaluate_final",
    "get_or_train",
    "load_dataset",
    "preset",
    "read_architectures",
    "read_recorded",
    "score",
    "spearman_difference",
    "train",
]
