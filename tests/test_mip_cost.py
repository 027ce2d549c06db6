"""Cost-softmax sampling (Eq. 2) with per-parameter min-max normalisation."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial
from optuna.trial import TrialState
import pytest
from scipy import stats

from optuna_mip import MIPSampler


N_DRAWS = 6000


def expected_probabilities(costs: list[float], temperature: float) -> np.ndarray:
    """Eq. 2 written out independently of the package: min-max normalise, then softmax."""

    c = np.asarray(costs, dtype=float)
    normalized = (c - c.min()) / (c.max() - c.min()) if c.max() > c.min() else np.zeros_like(c)
    weights = np.exp(-normalized / temperature)
    return weights / weights.sum()


def draw(sampler: MIPSampler, distribution: BaseDistribution, n: int = N_DRAWS) -> Counter:
    """``n`` independent draws of parameter "p", one per trial number, as a study would make."""

    study = optuna.create_study(sampler=sampler)
    counts: Counter = Counter()
    for number in range(n):
        trial = FrozenTrial(
            number=number,
            state=TrialState.RUNNING,
            value=None,
            datetime_start=None,
            datetime_complete=None,
            params={},
            distributions={},
            user_attrs={},
            system_attrs={},
            intermediate_values={},
            trial_id=number,
        )
        counts[sampler.sample_independent(study, trial, "p", distribution)] += 1
    return counts


def assert_frequencies(counts: Counter, values: list[Any], probabilities: np.ndarray) -> None:
    observed = np.asarray([counts[v] for v in values], dtype=float)
    assert observed.sum() == sum(counts.values()), "sampled a value outside the distribution"
    # Chi-square goodness of fit at a fixed seed, plus a plain tolerance that is easier to read.
    _, p_value = stats.chisquare(observed, probabilities * observed.sum())
    assert p_value > 1e-3
    np.testing.assert_allclose(observed / observed.sum(), probabilities, atol=0.025)


@pytest.mark.parametrize("temperature", [0.25, 1.0, 4.0])
def test_empirical_frequencies_match_eq2(temperature: float) -> None:
    flops = [1.2e9, 2.5e9, 4.0e9, 9.0e9]
    choices = ["tiny", "small", "medium", "large"]
    sampler = MIPSampler(
        cost={"p": dict(zip(choices, flops))}, temperature=temperature, seed=3
    )
    counts = draw(sampler, CategoricalDistribution(choices))
    assert_frequencies(counts, choices, expected_probabilities(flops, temperature))


def test_int_and_stepped_float_costs_match_eq2() -> None:
    # A callable cost over an int grid, and a table whose float keys (0.3) are not bit-identical
    # to the grid values Optuna produces (0.1 * 3).
    ints = IntDistribution(2, 10, step=2)
    sampler = MIPSampler(cost=lambda name, value: float(value) ** 2, seed=5)
    counts = draw(sampler, ints)
    values = [2, 4, 6, 8, 10]
    assert_frequencies(counts, values, expected_probabilities([v**2 for v in values], 1.0))

    floats = FloatDistribution(0.0, 0.4, step=0.1)
    table = {0.0: 1.0, 0.1: 1.0, 0.2: 3.0, 0.3: 8.0, 0.4: 9.0}
    counts = draw(MIPSampler(cost={"p": table}, seed=5), floats)
    grid = sorted(counts)
    assert len(grid) == 5 and all(any(abs(g - k) < 1e-9 for k in table) for g in grid)
    assert_frequencies(counts, grid, expected_probabilities(list(table.values()), 1.0))


def test_uniform_without_cost() -> None:
    choices = [1, 2, 3, 4, 5]
    counts = draw(MIPSampler(seed=0), CategoricalDistribution(choices))
    assert_frequencies(counts, choices, np.full(5, 0.2))


def test_uniform_for_parameter_missing_from_table() -> None:
    choices = ["a", "b", "c"]
    sampler = MIPSampler(cost={"other": {"a": 1.0, "b": 100.0}}, seed=0)
    assert sampler.sampling_probabilities("p", CategoricalDistribution(choices)) is None
    assert_frequencies(draw(sampler, CategoricalDistribution(choices)), choices, np.full(3, 1 / 3))


def test_uniform_when_callable_returns_none() -> None:
    sampler = MIPSampler(cost=lambda name, value: None if name == "p" else 1.0, seed=0)
    assert sampler.sampling_probabilities("p", IntDistribution(0, 3)) is None
    assert_frequencies(draw(sampler, IntDistribution(0, 3)), [0, 1, 2, 3], np.full(4, 0.25))


def test_incomplete_table_warns_and_samples_uniformly() -> None:
    sampler = MIPSampler(cost={"p": {"a": 1.0, "b": 2.0}}, seed=0)
    distribution = CategoricalDistribution(["a", "b", "c"])
    with pytest.warns(UserWarning, match="no cost for"):
        assert sampler.sampling_probabilities("p", distribution) is None


def test_equal_costs_get_equal_probability() -> None:
    sampler = MIPSampler(cost={"p": {"a": 2.0, "b": 2.0, "c": 5.0, "d": 2.0}})
    probabilities = sampler.sampling_probabilities("p", CategoricalDistribution(list("abcd")))
    assert probabilities is not None
    assert probabilities["a"] == probabilities["b"] == probabilities["d"] > probabilities["c"]

    all_equal = MIPSampler(cost={"p": {"a": 7.0, "b": 7.0}})
    probabilities = all_equal.sampling_probabilities("p", CategoricalDistribution(["a", "b"]))
    assert probabilities == {"a": 0.5, "b": 0.5}


def test_normalisation_is_min_max_per_parameter() -> None:
    # Documented behaviour: probabilities depend neither on the unit nor on an offset of the
    # costs, and the most expensive value is exp(1 / T) times less likely than the cheapest.
    distribution = CategoricalDistribution(["x", "y", "z"])
    base = {"x": 1.0, "y": 2.0, "z": 4.0}
    reference = MIPSampler(cost={"p": base}, temperature=0.5)
    p = reference.sampling_probabilities("p", distribution)
    assert p is not None
    scaled = {k: v * 1e12 for k, v in base.items()}
    shifted = {k: v + 1e6 for k, v in base.items()}
    for transformed in (scaled, shifted):
        q = MIPSampler(cost={"p": transformed}, temperature=0.5).sampling_probabilities(
            "p", distribution
        )
        assert q is not None
        np.testing.assert_allclose([q[k] for k in "xyz"], [p[k] for k in "xyz"])
    assert p["x"] / p["z"] == pytest.approx(np.exp(1 / 0.5))
    np.testing.assert_allclose(
        [p[k] for k in "xyz"], expected_probabilities(list(base.values()), 0.5)
    )


def test_continuous_and_huge_ranges_are_uniform_even_with_cost() -> None:
    sampler = MIPSampler(cost=lambda name, value: float(value))
    assert sampler.sampling_probabilities("p", FloatDistribution(0.0, 1.0)) is None
    assert sampler.sampling_probabilities("p", FloatDistribution(1e-5, 1.0, log=True)) is None
    assert sampler.sampling_probabilities("p", IntDistribution(0, 10**7)) is None


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        MIPSampler(temperature=0.0)
    with pytest.raises(ValueError):
        MIPSampler(samples_per_round=0)
    with pytest.raises(ValueError):
        MIPSampler(importance_threshold=-1.0)
    with pytest.raises(TypeError):
        MIPSampler(cost=[1, 2, 3])  # type: ignore[arg-type]
