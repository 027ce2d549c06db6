"""Model-based performance predictors: a regressor fitted on some architectures' labels (their
full-training accuracies) that predicts the others' from features, as NASLib's predictors do.

The features are the genotype's :func:`encode` and, optionally, any score of the architecture (zero-cost
proxies, learning-curve features), as columns beside it. A predictor is judged by
:func:`cross_validated`: k-fold over the labelled architectures, each fold scored by a model fitted on
the other folds only, so that no architecture is ranked by a model that saw its label.

scikit-learn (and LightGBM) are imported when a model is made, not with :mod:`nas`: every command
would otherwise pay for loading them.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from nas._errors import NasError
from nas.space._genotype import CELL_INPUTS, NODES, OPERATIONS, Genotype


class Regressor(Protocol):
    """What :func:`cross_validated` needs of a model: scikit-learn's estimator interface."""

    def fit(self, features: np.ndarray, labels: np.ndarray) -> object: ...

    def predict(self, features: np.ndarray) -> np.ndarray: ...


class PredictorError(NasError, ValueError):
    """An unknown predictor name, or features that cannot be cross-validated."""


# Every (node, input) pair a node of a cell may take: node k (position k - 2) reads states 0..k-1.
_SLOTS: tuple[tuple[int, int], ...] = tuple(
    (position, source) for position in range(NODES) for source in range(position + CELL_INPUTS)
)
_CELL_LENGTH = len(_SLOTS) * len(OPERATIONS) + NODES
ENCODING_LENGTH = 2 * _CELL_LENGTH
"""Length of :func:`encode`'s vector: 232 for the DARTS space's 4-node cells."""


def encode(genotype: Genotype) -> np.ndarray:
    """A fixed-length vector of ``genotype`` (both cells): the adjacency one-hot encoding.

    Per cell (normal, then reduction): for every intermediate node, every state it may read and every
    operation of :data:`~nas.space.OPERATIONS`, the number of edges of that node from that state with
    that operation (0 or 1 in a sampled cell); then one entry per node saying whether ``concat`` keeps
    it. A node's edges are summed by the network, so their order does not change the vector; two
    genotypes whose cells differ in one edge's operation or input differ in the vector. Renumbering a
    cell's nodes (which builds the same network) does change it, as NASLib's encoding does.
    """
    genotype.validate(NODES)
    vector = np.zeros(ENCODING_LENGTH)
    slot_index = {slot: i for i, slot in enumerate(_SLOTS)}
    for offset, cell in zip((0, _CELL_LENGTH), (genotype.normal, genotype.reduce)):
        for position, node in enumerate(cell.nodes):
            for operation, source in node:
                vector[offset + slot_index[position, source] * len(OPERATIONS) + OPERATIONS.index(operation)] += 1
        for node_id in cell.concat:
            vector[offset + len(_SLOTS) * len(OPERATIONS) + node_id - CELL_INPUTS] = 1
    return vector


@dataclass(frozen=True)
class CrossValidated:
    """Out-of-fold predictions of k-fold cross-validation and the folds that made them.

    ``predictions[i]`` comes from the model fitted on ``train_indices[folds[i]]``, which never holds
    ``i``: fold ``f`` scored ``test_indices[f]``. ``cpu_seconds`` is the process CPU time of all fits
    and predictions together.
    """

    predictions: np.ndarray
    folds: np.ndarray
    train_indices: tuple[np.ndarray, ...]
    test_indices: tuple[np.ndarray, ...]
    cpu_seconds: float

    @property
    def labels_used(self) -> int:
        """The most labels any prediction's model was fitted on: the largest training folds' size
        (90 for 10-fold over 100 architectures)."""
        return max(len(train) for train in self.train_indices)


def cross_validated(
    features: np.ndarray,
    labels: np.ndarray,
    make_model: Callable[[], Regressor],
    *,
    folds: int = 10,
    seed: int = 0,
) -> CrossValidated:
    """k-fold cross-validation of ``make_model()`` on ``features`` (one row per architecture).

    The folds are :class:`~sklearn.model_selection.KFold` (shuffled by ``seed``). Each fold's model is
    a fresh ``make_model()`` behind a :class:`~sklearn.preprocessing.StandardScaler` in one pipeline,
    fitted on the other folds' rows and labels only: the scaling too never sees the scored fold.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, labels = np.asarray(features, dtype=float), np.asarray(labels, dtype=float)
    if features.ndim != 2 or labels.shape != (len(features),):
        raise PredictorError(f"need one row of features per label, got features {features.shape} and labels {labels.shape}")
    if not 2 <= folds <= len(labels):
        raise PredictorError(f"folds must be in 2..{len(labels)} (the architectures), got {folds}")
    if not np.isfinite(features).all() or not np.isfinite(labels).all():
        raise PredictorError("features and labels must be finite: drop the architectures a feature is missing for")
    predictions = np.empty(len(labels))
    assignment = np.empty(len(labels), dtype=int)
    splits = tuple(KFold(folds, shuffle=True, random_state=seed).split(features))
    started = time.process_time()
    for fold, (train, test) in enumerate(splits):
        model = make_pipeline(StandardScaler(), make_model())
        with warnings.catch_warnings():  # a fit stopped at a bound or an iteration limit still predicts
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(features[train], labels[train])
        predictions[test] = model.predict(features[test])
        assignment[test] = fold
    return CrossValidated(
        predictions=predictions,
        folds=assignment,
        train_indices=tuple(train for train, _ in splits),
        test_indices=tuple(test for _, test in splits),
        cpu_seconds=time.process_time() - started,
    )


_predictors: dict[str, Callable[[], Regressor]] = {}


def register_predictor(name: str, make_model: Callable[[], Regressor]) -> None:
    """Make ``make_model`` (a function returning a fresh, unfitted scikit-learn-style regressor) the
    predictor ``name``. The built-in ones register themselves the same way; a name taken already is
    refused with a :class:`ValueError`, so that a row's name keeps meaning one model."""
    if name in _predictors:
        raise ValueError(f"predictor {name!r} is taken (known: {', '.join(_predictors)})")
    _predictors[name] = make_model


def predictors() -> tuple[str, ...]:
    """The registered predictors: the built-in ones (:data:`PREDICTORS`), then those registered."""
    return tuple(_predictors)


def predictor(name: str) -> Callable[[], Regressor]:
    """The model factory registered as ``name``."""
    if name not in _predictors:
        raise PredictorError(f"unknown predictor {name!r} (known: {', '.join(_predictors)})")
    return _predictors[name]


def _random_forest() -> Regressor:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=300, min_samples_leaf=2, random_state=0, n_jobs=1)


def _gradient_boosting() -> Regressor:
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=200, learning_rate=0.05, max_depth=3, subsample=0.8, random_state=0)


def _gaussian_process() -> Regressor:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    # On standardised features the distances between architectures are of the order of sqrt(columns):
    # the length scale starts there and is fitted, with a noise term for the labels' training noise.
    kernel = ConstantKernel(1.0) * RBF(length_scale=np.sqrt(ENCODING_LENGTH), length_scale_bounds=(1e-1, 1e4)) + WhiteKernel(1.0, (1e-3, 1e1))
    return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=0)


def _lightgbm() -> Regressor:
    from lightgbm import LGBMRegressor

    return LGBMRegressor(
        n_estimators=200, learning_rate=0.05, num_leaves=15, min_child_samples=5, subsample=0.8, subsample_freq=1,
        colsample_bytree=0.8, random_state=0, n_jobs=1, verbose=-1,
    )


register_predictor("random_forest", _random_forest)
register_predictor("gradient_boosting", _gradient_boosting)
register_predictor("gaussian_process", _gaussian_process)
if importlib.util.find_spec("lightgbm") is not None:  # optional (the [lightgbm] extra); ranked better than scikit-learn's boosting (README)
    register_predictor("lightgbm", _lightgbm)
PREDICTORS: tuple[str, ...] = predictors()
"""The built-in predictors (seeded): scikit-learn's random forest, gradient boosting and Gaussian
process, and LightGBM's gradient boosting where the optional ``lightgbm`` package is installed."""
