"""Learning-curve estimators read a stored result's curve: each against a hand computation."""

import math

import pytest

from nas import TrainResult
from nas.estimation import CURVE_ESTIMATORS, EstimatorError, curve_score, estimators, register_estimator
from nas.estimation import _registry

CURVE = ((2.0, 0.30), (1.5, 0.45), (1.2, 0.40), (1.0, 0.50))
RESULT = TrainResult("ok", 0.50, 1.0, 1, 1, 1.0, 4, curve=CURVE)


@pytest.fixture(autouse=True)
def _registry_restored(monkeypatch):
    monkeypatch.setattr(_registry, "_registered", dict(_registry._registered))


def test_each_estimator_reads_the_curve():
    assert curve_score("last_accuracy", RESULT) == 0.50
    assert curve_score("best_accuracy", RESULT.__class__(**{**RESULT.to_dict(), "curve": CURVE[:3]})) == 0.45
    assert curve_score("sotl", RESULT) == pytest.approx(-5.7)
    assert curve_score("sotl_e", RESULT) == -1.0
    assert set(CURVE_ESTIMATORS) == {"last_accuracy", "best_accuracy", "sotl", "sotl_e", "extrapolated"}


def test_extrapolation_recovers_a_power_law_curve():
    def law(t):
        return 0.8 - 0.5 * t**-0.7

    curve = tuple((1.0, law(t)) for t in range(1, 6))
    result = TrainResult("ok", law(5), 1.0, 1, 1, 1.0, 5, curve=curve)
    assert curve_score("extrapolated", result) == pytest.approx(law(50), abs=1e-4)
    assert curve_score("extrapolated", result) > curve_score("last_accuracy", result)


def test_a_result_without_a_curve_scores_what_it_has_and_a_failed_one_nan():
    old = TrainResult("ok", 0.42, 1.0, 1, 1, 0.9, 3)
    assert curve_score("sotl_e", old) == -0.9  # its last loss is what it has
    # its accuracy may be the best epoch's, and one loss is no sum over epochs: not guessed
    assert all(math.isnan(curve_score(name, old)) for name in ("last_accuracy", "best_accuracy", "sotl", "extrapolated"))
    failed = TrainResult("failed", None, 1.0, 1, 1, math.nan, 1, "non-finite", curve=((math.nan, None),))
    assert all(math.isnan(curve_score(name, failed)) for name in CURVE_ESTIMATORS)


def test_names_are_checked_and_a_user_curve_estimator_registers_in_one_line():
    with pytest.raises(EstimatorError, match="unknown curve estimator 'nope' .known: last_accuracy"):
        curve_score("nope", RESULT)
    with pytest.raises(EstimatorError, match="'naswot' is a proxy estimator, not a curve"):
        curve_score("naswot", RESULT)
    register_estimator("first_gain", lambda r: r.curve[1][1] - r.curve[0][1], kind="curve")
    assert "first_gain" in estimators("curve") and "first_gain" not in estimators("proxy")
    assert curve_score("first_gain", RESULT) == pytest.approx(0.15)
    with pytest.raises(EstimatorError, match="kind must be one of proxy, curve"):
        register_estimator("x", lambda r: 0.0, kind="model")


def test_extrapolation_stays_an_accuracy_and_falls_back_when_the_fit_fails(monkeypatch):
    jump = TrainResult("ok", 0.6, 1.0, 1, 1, 1.0, 3, curve=((1.0, 0.1), (1.0, 0.1), (1.0, 0.6)))
    assert 0.6 <= curve_score("extrapolated", jump) <= 1.0  # unbounded, the asymptote went past 1

    def no_convergence(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: maxfev reached")

    monkeypatch.setattr("nas.estimation._curves.optimize.curve_fit", no_convergence)
    assert curve_score("extrapolated", jump) == 0.6
