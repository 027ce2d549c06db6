"""The estimators known by name: every command, objective and the leaderboard find them here.

An estimator predicts how good an architecture is, higher meaning better, from what its kind gets:

* ``proxy``: ``fn(network, batches) -> float`` scores an untrained network (seeded, fp32, no
  auxiliary head) from a few training batches, in seconds (:func:`nas.estimation.score`);
* ``curve``: ``fn(result) -> float`` reads a :class:`~nas.estimation.TrainResult` of a training under
  a budget, its learning curve included (:func:`nas.estimation.curve_score`), so it costs that one
  training and nothing more.

Built-in ones register themselves exactly as a user's plugin does (``nas --plugin MODULE``).
Model-based predictors, which learn from other architectures' labels, have their own registry
(:func:`nas.estimation.register_predictor`).
"""

from __future__ import annotations

from typing import Any, Callable

from nas._errors import NasError

KINDS = ("proxy", "curve")


class EstimatorError(NasError, ValueError):
    """An estimator name that is unknown, taken, or of another kind than asked for."""


_registered: dict[str, tuple[str, Callable[..., float]]] = {}


def register_estimator(name: str, estimator: Callable[..., float], *, kind: str = "proxy") -> None:
    """Make ``estimator`` known as ``name``; ``kind`` says what it is called with (see the module).

    A name taken already is refused, so that a score's name keeps meaning one definition.
    """
    if kind not in KINDS:
        raise EstimatorError(f"estimator kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if name in _registered:
        raise EstimatorError(f"estimator {name!r} is taken (known: {', '.join(_registered)})")
    _registered[name] = (kind, estimator)


def estimators(kind: str | None = None) -> tuple[str, ...]:
    """The names known, built-in ones first, of ``kind`` when given."""
    return tuple(name for name, (its_kind, _) in _registered.items() if kind in (None, its_kind))


def estimator_kind(name: str) -> str:
    """``name``'s kind; an :class:`EstimatorError` listing the known names when it has none."""
    if name not in _registered:
        raise EstimatorError(f"unknown estimator {name!r} (known: {', '.join(_registered)})")
    return _registered[name][0]


def lookup(name: str, kind: str) -> Callable[..., Any]:
    """The function registered as ``name``, which must be of ``kind``."""
    if name not in _registered:
        raise EstimatorError(f"unknown {kind} estimator {name!r} (known: {', '.join(estimators(kind))})")
    if estimator_kind(name) != kind:
        raise EstimatorError(f"{name!r} is a {estimator_kind(name)} estimator, not a {kind} (the {kind}s: {', '.join(estimators(kind))})")
    return _registered[name][1]


# The built-in estimators register themselves on import, before any of a user's (a name of theirs
# stays taken, and they are listed first), however the registry is first reached: the curve
# estimators import the proxies after registering their own, so the order is always curves, proxies.
import nas.estimation._curves  # noqa: E402,F401
