"""Rank correlation between a budget's accuracies and full-training accuracies (the paper's Eq. 1)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Correlation:
    spearman: float
    spearman_ci: tuple[float, float]  # 95% percentile bootstrap interval over architectures
    kendall: float
    n: int

    def to_dict(self) -> dict:
        return {"spearman": self.spearman, "spearman_ci": list(self.spearman_ci), "kendall": self.kendall, "n": self.n}


def correlate(
    full: Sequence[float], budgeted: Sequence[float], *, n_resamples: int = 2000, seed: int = 0
) -> Correlation:
    """Spearman r_s with a paired bootstrap interval, and Kendall tau.

    The architectures of one space differ little in accuracy, so r_s over ~100 of them is noisy:
    the interval (95%, percentile method) says how much. ``spearman`` is NaN when either list is
    constant: no ranking to compare.
    """
    x = np.asarray(full, dtype=float)
    y = np.asarray(budgeted, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two equally long lists of accuracies, got {x.shape} and {y.shape}")
    if len(x) < 3:
        raise ValueError(f"need at least 3 architectures to correlate, got {len(x)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        spearman = float(stats.spearmanr(x, y).statistic)
    low, high = _paired_interval((x, y), _spearman, n_resamples, seed)
    return Correlation(
        spearman=spearman,
        spearman_ci=(float(low), float(high)),
        kendall=float(stats.kendalltau(x, y).statistic),
        n=len(x),
    )


def precision_at_k(full: Sequence[float], predicted: Sequence[float], k: int = 10) -> float:
    """The share of the ``k`` truly best architectures (highest ``full``) among the ``k`` that
    ``predicted`` ranks best: what a search that keeps an estimator's top ``k`` would find.

    r_s weighs every architecture alike; a search cares about the top. Ties at the cut-off are
    broken at random, in expectation: architectures tied at the k-th value share the places left
    (params and FLOPs tie for genotypes that differ only in their pooling type, rank averages often),
    so the result does not depend on the order of the lists.
    """
    x = np.asarray(full, dtype=float)
    y = np.asarray(predicted, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two equally long lists of accuracies, got {x.shape} and {y.shape}")
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in 1..{len(x)} (the architectures), got {k}")
    return float(np.dot(_top_membership(x, k), _top_membership(y, k)) / k)


def _top_membership(values: np.ndarray, k: int) -> np.ndarray:
    """Each item's probability of being among the ``k`` highest when ties are broken at random."""
    cut = np.sort(values)[::-1][k - 1]
    above, tied = values > cut, values == cut
    return above + tied * (k - above.sum()) / tied.sum()


@dataclass(frozen=True)
class SpearmanDifference:
    """``delta`` = r_s(full, first) - r_s(full, second) over the same architectures, with its 95 %
    paired bootstrap interval (architectures resampled once for both budgets)."""

    delta: float
    ci: tuple[float, float]
    n: int

    @property
    def distinguishable(self) -> bool:
        """Whether ``first`` ranks better than ``second`` beyond the noise: the interval is above 0."""
        return bool(self.ci[0] > 0)


def spearman_difference(
    full: Sequence[float],
    first: Sequence[float],
    second: Sequence[float],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
) -> SpearmanDifference:
    """Paired bootstrap of Δr_s between two budgets measured on the same architectures.

    Two budgets' r_s over one set of architectures share that set's luck: an architecture both rank
    wrongly lowers both. Resampling the architectures once for both budgets cancels it, where two
    separate intervals would overlap even for budgets that rank differently. Two budgets whose
    accuracies differ by a constant (or any increasing map) rank alike: Δr_s is 0 in every resample.
    """
    x, a, b = (np.asarray(values, dtype=float) for values in (full, first, second))
    if not x.shape == a.shape == b.shape or x.ndim != 1:
        raise ValueError(f"need three equally long lists of accuracies, got {x.shape}, {a.shape} and {b.shape}")
    if len(x) < 3:
        raise ValueError(f"need at least 3 architectures to correlate, got {len(x)}")

    def delta(f: np.ndarray, p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
        return _spearman(f, p, axis) - _spearman(f, q, axis)

    low, high = _paired_interval((x, a, b), delta, n_resamples, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return SpearmanDifference(float(delta(x, a, b)), (low, high), len(x))


def _paired_interval(samples: tuple[np.ndarray, ...], statistic, n_resamples: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of ``statistic`` (vectorised along ``axis``) over paired bootstrap
    resamples of the architectures. Resamples of a few architectures often repeat one accuracy:
    their r_s is undefined (NaN) and left out of the interval."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        resampled = stats.bootstrap(
            samples,
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).bootstrap_distribution
    if not np.isfinite(resampled).any():
        return math.nan, math.nan
    low, high = np.nanpercentile(resampled, [2.5, 97.5])
    return float(low), float(high)


def _spearman(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's r_s along ``axis`` of many resamples at once (NaN where one side is constant)."""
    rx, ry = (stats.rankdata(v, axis=axis) for v in (x, y))
    rx, ry = rx - rx.mean(axis=axis, keepdims=True), ry - ry.mean(axis=axis, keepdims=True)
    return (rx * ry).sum(axis=axis) / np.sqrt((rx * rx).sum(axis=axis) * (ry * ry).sum(axis=axis))


def seed_means(per_seed: Sequence[dict[str, float]]) -> dict[str, float]:
    """Each architecture's mean accuracy over the seeds, for the architectures every seed measured."""
    common = set(per_seed[0]).intersection(*per_seed[1:]) if per_seed else set()
    return {name: float(np.mean([seed[name] for seed in per_seed])) for name in per_seed[0] if name in common}


def seed_agreement(per_seed: Sequence[dict[str, float]]) -> float:
    """Repeatability: the mean Spearman r_s between the accuracies of every two seeds, over the
    architectures both measured (NaN with fewer than two seeds or three such architectures)."""
    values = []
    for i, first in enumerate(per_seed):
        for second in per_seed[i + 1 :]:
            common = [name for name in first if name in second]
            if len(common) >= 3:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", stats.ConstantInputWarning)
                    values.append(stats.spearmanr([first[n] for n in common], [second[n] for n in common]).statistic)
    return float(np.nanmean(values)) if values and np.isfinite(values).any() else math.nan
