"""Benchmark: which MIPSampler settings work, on the problems of ``bench_budget_search.py``.

MIP's knobs are the temperature ``T`` of its cost softmax (higher samples expensive values more
often), ``samples_per_round`` ``K`` (trials per pruning round; MIP runs n * K trials), where an
important parameter is fixed (``fix_at``: the best trial's value, the paper's rule, or the
forest's predicted best) and the importance evaluator (the paper's MDI or the null-corrected
MDI). Each row is one setting over the same seeds, with TPE and random search run on those seeds
in the same run as the baselines:

* recorded budgets: how many seeds reach the best recorded budget (task23), the median GPU-hours
  spent until then over TPE's, and the mean best objective within 10/25/50 % of random search's
  mean total spend;
* synthetic problem: the mean best quality within 10/25 % of TPE's mean total spend, and at
  the end of the search.

MIP runs n * K trials, so K also sets its budget (K = 20 runs twice the trials of TPE and random
search, which run n * 10); each row prints its mean total spend on both problems.

The seeds start at 100 by default, so that settings are chosen on other seeds than the ones
``bench_budget_search.py`` reports (0-9).

    OMP_NUM_THREADS=1 python benchmarks/bench_mip_settings.py [--seeds 30] [--first-seed 100] [--quick]

``--quick`` leaves out the null-corrected rows (21 forests per round: most of the run time).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
import sys
import time

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_budget_search import METHODS, N_ARCHITECTURES, SYNTHETIC, Method, MIPSetting, Run  # noqa: E402
from bench_budget_search import parse_arguments, recorded_problem, spends_to_reach, target_setting  # noqa: E402


def settings(quick: bool) -> list[MIPSetting]:
    grid = [
        MIPSetting(t, k, f)
        for k, f, t in itertools.product((10, 20, 5), ("best_trial", "predicted"), (1.0, 2.0, 4.0, 8.0))
    ]
    if not quick:
        grid += [MIPSetting(t, 10, f, null_corrected=True) for f in ("best_trial", "predicted") for t in (1.0, 4.0)]
    return grid


def mean_best_within(runs: list[Run], spend: float) -> str:
    """Mean best objective of the runs that finished a trial within ``spend``; (k) runs had not."""

    values = np.asarray([r.best_within(spend) for r in runs])
    missing = int(np.isnan(values).sum())
    if missing == len(values):
        return "n/a"
    return f"{np.nanmean(values):.4f}" + (f"({missing})" if missing else "")


def mean_total(runs: list[Run], scale: float = 1.0) -> float:
    return float(np.mean([r.spend[-1] for r in runs])) * scale


def main(argv: list[str] | None = None) -> None:
    args, seeds = parse_arguments(argv, __doc__.splitlines()[0], 30, 100, "leave out the null-corrected rows")
    started = time.perf_counter()
    recorded, objective = recorded_problem(args.reference)
    target = target_setting(objective)

    def both(method: Method) -> tuple[list[Run], list[Run]]:
        return recorded.runs(method, seeds), SYNTHETIC.runs(method, seeds)

    tpe, random = both(METHODS["TPE"]), both(METHODS["Random"])
    tpe_median = float(np.median(spends_to_reach(tpe[0], target)))
    random_total, tpe_total = mean_total(random[0]), mean_total(tpe[1])

    print(f"seeds {seeds.start}-{seeds.stop - 1}; recorded: reach {target}, best objective within shares of random's "
          "mean total spend; synthetic: quality within shares of TPE's mean total spend; (k): runs with no trial "
          "finished within that spend; spends are each row's mean totals\n")
    print(f"{'setting':<26}{'reached':>8}{'med/TPE':>8}{'rec 10%':>11}{'rec 25%':>11}{'rec 50%':>11}{'GPU-h':>7}"
          f"{'syn 10%':>11}{'syn 25%':>11}{'syn end':>8}{'units':>7}")

    def row(name: str, runs: tuple[list[Run], list[Run]]) -> None:
        spends = spends_to_reach(runs[0], target)
        reached = sum(math.isfinite(s) for s in spends)
        recorded_cells = "".join(f"{mean_best_within(runs[0], f * random_total):>11}" for f in (0.1, 0.25, 0.5))
        synthetic_cells = "".join(f"{mean_best_within(runs[1], f * tpe_total):>11}" for f in (0.1, 0.25))
        print(
            f"{name:<26}{f'{reached}/{len(seeds)}':>8}{np.median(spends) / tpe_median:8.2f}{recorded_cells}"
            f"{mean_total(runs[0], N_ARCHITECTURES):7.0f}{synthetic_cells}"
            f"{np.mean([r.best[-1] for r in runs[1]]):8.4f}{mean_total(runs[1]):7.0f}",
            flush=True,
        )

    row("TPE", tpe)
    row("Random", random)
    for setting in settings(args.quick):
        row(str(setting), both(setting.method()))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
