import numpy as np
import pytest

from nas import correlate
from nas.estimation import precision_at_k


def test_perfect_and_reversed_rankings():
    x = np.arange(20.0)
    assert correlate(x, x**2).spearman == pytest.approx(1.0)
    result = correlate(x, -x)
    assert result.spearman == pytest.approx(-1.0) and result.kendall == pytest.approx(-1.0)
    assert result.n == 20


def test_interval_contains_estimate_and_shrinks_with_more_data():
    rng = np.random.default_rng(0)
    small_x = rng.normal(size=30)
    large_x = rng.normal(size=600)
    small = correlate(small_x, small_x + rng.normal(size=30))
    large = correlate(large_x, large_x + rng.normal(size=600))
    for result in (small, large):
        low, high = result.spearman_ci
        assert low < result.spearman < high
    assert (large.spearman_ci[1] - large.spearman_ci[0]) < (small.spearman_ci[1] - small.spearman_ci[0])
    assert correlate(small_x, small_x + 1, seed=1).spearman_ci == correlate(small_x, small_x + 1, seed=1).spearman_ci


def test_bad_input():
    with pytest.raises(ValueError, match="equally long"):
        correlate([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 3"):
        correlate([1, 2], [1, 2])


def test_precision_at_k_counts_the_true_top_k_among_the_predicted_top_k():
    truth = np.arange(20.0)
    assert precision_at_k(truth, truth, k=10) == 1.0
    assert precision_at_k(truth, -truth, k=10) == 0.0
    predicted = truth.copy()
    predicted[[19, 0]] = predicted[[0, 19]]  # the best ranked last, the worst first
    assert precision_at_k(truth, predicted, k=10) == 0.9
    assert precision_at_k(truth, np.zeros(20), k=5) == pytest.approx(0.25)  # all tied: a random five, in expectation
    tied_at_cut = truth.copy()
    tied_at_cut[[19, 18, 0, 1]] = 100, 50, 50, 50  # the best first, then the second best and two of the worst tie for 2 places
    assert precision_at_k(truth, tied_at_cut, k=3) == pytest.approx((1 + 2 / 3) / 3)
    assert precision_at_k(truth[::-1], tied_at_cut[::-1], k=3) == precision_at_k(truth, tied_at_cut, k=3)  # order-free
    with pytest.raises(ValueError, match="k must be in 1..20"):
        precision_at_k(truth, truth, k=21)
