"""Learning-curve estimators: what one training under a budget already saw, read from its result.

Every training keeps its curve (``TrainResult.curve``: per epoch, the mean training loss and the
held-out accuracy after it), so these cost that training and nothing more:

* ``last_accuracy``, ``best_accuracy``: the held-out accuracy after the last epoch, and the best
  of any epoch.
* ``sotl`` (Ru et al., "Speedy Performance Estimation for Neural Architecture Search", NeurIPS
  2021): the sum of the training losses over all epochs, negated so that higher predicts better.
  Ru et al. sum mini-batch losses; an epoch's mean loss is that sum over its batch count, which is
  the same for every architecture under one budget, so the ranking is theirs.
* ``sotl_e``: their SoTL-E with E = 1, the training loss of the last epoch only (negated), which
  they found ranks best once the first epochs' noise is behind.
* ``extrapolated``: the held-out accuracy at ten times the trained epochs predicted by the
  power law ``acc(t) = c - a * t^(-alpha)`` (the ``pow3`` curve of Domhan et al. 2015, one of the
  models of their learning-curve extrapolation) fitted by least squares to the epochs' accuracies,
  with ``c <= 1``, ``a >= 0`` and ``alpha`` in [0.25, 2] so that three points give a bounded answer;
  with fewer than three epochs, or a fit that fails, it is the last accuracy. Domhan et al. fit the
  first epochs of a run whose learning-rate schedule continues; a budget's cosine schedule anneals to
  zero at its own last epoch, so the late rise it fits comes partly from the annealing: read it as a
  feature of the curve's shape more than as a forecast.

The training loss is the one the trainer minimises: with an auxiliary head (the bpe presets weigh it
0.4) it includes that head's loss, and drop-path's noise, as the budget trains.

A result stored before curves were recorded has none: it stays usable for what it has, its last
loss (``sotl_e``); the others score it NaN, since its one accuracy may be the best epoch's (a
``*-best`` budget) and one loss is not a sum over epochs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import optimize

from nas._result import TrainResult
from nas.estimation._registry import estimators, lookup, register_estimator

EXTRAPOLATION_FACTOR = 10
ALPHA_BOUNDS = (0.25, 2.0)


def _accuracies(result: TrainResult) -> list[float]:
    return [accuracy for _, accuracy in result.curve if accuracy is not None]


def _last_accuracy(result: TrainResult) -> float:
    return result.curve[-1][1] if result.curve and result.curve[-1][1] is not None else math.nan


def _best_accuracy(result: TrainResult) -> float:
    return max(_accuracies(result), default=math.nan)


def _sotl(result: TrainResult) -> float:
    return -sum(loss for loss, _ in result.curve) if result.curve else math.nan


def _sotl_e(result: TrainResult) -> float:
    last = result.curve[-1][0] if result.curve else result.loss
    return math.nan if last is None else -last


def _pow3(t: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    return c - a * t ** (-alpha)


def _extrapolated(result: TrainResult) -> float:
    accuracies = _accuracies(result)
    if len(accuracies) < 3:
        return _last_accuracy(result)
    epochs = np.arange(1, len(accuracies) + 1, dtype=float)
    start = (min(accuracies[-1], 1.0), max(accuracies[-1] - accuracies[0], 0.0), 1.0)
    bounds = ([-np.inf, 0.0, ALPHA_BOUNDS[0]], [1.0, np.inf, ALPHA_BOUNDS[1]])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            (c, a, alpha), _ = optimize.curve_fit(_pow3, epochs, np.asarray(accuracies), p0=start, bounds=bounds)
    except (RuntimeError, ValueError):  # no convergence: the curve says no more than its last point
        return _last_accuracy(result)
    return float(np.clip(_pow3(np.array(EXTRAPOLATION_FACTOR * len(accuracies), dtype=float), c, a, alpha), 0.0, 1.0))


register_estimator("last_accuracy", _last_accuracy, kind="curve")
register_estimator("best_accuracy", _best_accuracy, kind="curve")
register_estimator("sotl", _sotl, kind="curve")
register_estimator("sotl_e", _sotl_e, kind="curve")
register_estimator("extrapolated", _extrapolated, kind="curve")
CURVE_ESTIMATORS: tuple[str, ...] = estimators("curve")
"""The built-in learning-curve estimators."""


def curve_score(name: str, result: TrainResult) -> float:
    """``result`` scored by the curve estimator ``name`` (higher predicts better; NaN for a result
    with nothing it can read, such as a failed training's)."""
    estimator = lookup(name, "curve")
    return math.nan if result.status != "ok" else float(estimator(result))

# The proxies register after the curve estimators (see the end of nas.estimation._registry).
import nas.estimation._proxies  # noqa: E402,F401
