"""Rank correlation between a budget's accuracies and full-training accuracies (the paper's Eq. 1)."""

from __future__ import annotations

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
        # Resamples of a few architectures often repeat one accuracy: their r_s is undefined (NaN)
        # and left out of the interval below.
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        spearman = float(stats.spearmanr(x, y).statistic)
        resampled = stats.bootstrap(
            (x, y),
            lambda a, b: stats.spearmanr(a, b).statistic,
            paired=True,
            vectorized=False,
            n_resamples=n_resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).bootstrap_distribution
        low, high = np.nanpercentile(resampled, [2.5, 97.5]) if np.isfinite(resampled).any() else (np.nan, np.nan)
    return Correlation(
        spearman=spearman,
        spearman_ci=(float(low), float(high)),
        kendall=float(stats.kendalltau(x, y).statistic),
        n=len(x),
    )
