"""Benchmark: MIP against TPE and random search at finding the best budget (Eq. 1).

All three samplers optimise the same :class:`nas.RecordedObjective` (the paper authors' 32 recorded
budgets, default penalty) for the same number of trials: MIP's n * K = 80 for the 8 recorded
hyper-parameters. What a search costs is what it would have cost to train: the recorded GPU-hours per
architecture times 100 architectures, for every recorded setting the study reaches for the first
time (a setting reached again is answered by the result cache, so costs nothing).

MIP's claim is that sampling cheap values first and pruning unimportant parameters finds a good
budget for a fraction of the GPU-hours. The script prints, per method, mean ± std over seeds of

* the best objective reached, the r_s of that best trial, the highest r_s seen and the GPU-hours spent;
* the best objective reached within 25 % and 50 % of a common spend (the mean spend of the most
  expensive method), i.e. who is ahead at equal cost;

then, per baseline, how much MIP spent to reach the baseline's best objective relative to what the
baseline spent to reach it, and a verdict computed from those numbers. It writes a plotly figure of
the best objective so far against cumulative GPU-hours (mean over seeds, band: ± std).

    python benchmarks/bench_budget_search.py [--seeds 10] [--out reports/bench_budget_search]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import math
from pathlib import Path
import sys
import time
from typing import Callable
import warnings

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import optuna  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from nas import RecordedObjective, read_recorded_budgets, spend_curve  # noqa: E402
from optuna_mip import MIPSampler, StopWhenAllFixed, required_trials  # noqa: E402

N_ARCHITECTURES = 100  # every recorded budget trained the same 100 architectures
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "zheng2020"
DEFAULT_OUT = ROOT / "reports" / "bench_budget_search"  # /reports/ is git-ignored
SPEND_FRACTIONS = (0.25, 0.5)
TIE = 0.005  # objective differences below this count as equal in the verdict


@dataclass(frozen=True)
class Run:
    """One search: cumulative GPU-hours and best objective so far after each trial."""

    spend: np.ndarray
    best: np.ndarray
    best_r_s: float  # r_s of the best trial (what the search recommends)
    max_r_s: float  # highest r_s of any trial
    n_settings: int  # distinct recorded settings reached (each trained once)

    def best_within(self, gpu_hours: float) -> float:
        """Best objective among the trials finished by the time ``gpu_hours`` were spent."""
        within = self.best[self.spend <= gpu_hours + 1e-9]
        return float(within[-1]) if within.size else math.nan

    def spend_to_reach(self, target: float) -> float:
        """GPU-hours spent when the best objective first reached ``target`` (inf if never)."""
        reached = np.nonzero(self.best >= target - 1e-12)[0]
        return float(self.spend[reached[0]]) if reached.size else math.inf


def _mip(objective: RecordedObjective, seed: int) -> tuple[optuna.samplers.BaseSampler, list]:
    return MIPSampler(cost=objective.space.value_costs(), seed=seed), [StopWhenAllFixed()]


def _tpe(objective: RecordedObjective, seed: int) -> tuple[optuna.samplers.BaseSampler, list]:
    return optuna.samplers.TPESampler(seed=seed), []


def _random(objective: RecordedObjective, seed: int) -> tuple[optuna.samplers.BaseSampler, list]:
    return optuna.samplers.RandomSampler(seed=seed), []


METHODS: dict[str, Callable[[RecordedObjective, int], tuple[optuna.samplers.BaseSampler, list]]] = {
    "MIP": _mip,
    "TPE": _tpe,
    "Random": _random,
}


def search(method: str, objective: RecordedObjective, seed: int, n_trials: int) -> Run:
    sampler, callbacks = METHODS[method](objective, seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks)
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return Run(
        spend=spend_curve(trials, "gpu_hours") * N_ARCHITECTURES,
        best=np.maximum.accumulate([t.value for t in trials]),
        best_r_s=float(study.best_trial.user_attrs["r_s"]),
        max_r_s=max(float(t.user_attrs["r_s"]) for t in trials),
        n_settings=len({t.user_attrs["setting"] for t in trials}),
    )


def _mean_std(values: list[float]) -> str:
    finite = np.asarray([v for v in values if math.isfinite(v)])
    if finite.size == 0:
        return "n/a"
    missing = f" ({len(values) - finite.size} n/a)" if finite.size < len(values) else ""
    return f"{finite.mean():.3f} ± {finite.std():.3f}{missing}"


def _mean_std_hours(values: list[float]) -> str:
    array = np.asarray(values)
    return f"{array.mean():7.0f} ± {array.std():5.0f}"


def print_table(runs: dict[str, list[Run]], thresholds: list[float]) -> None:
    header = ["method", "best objective", "r_s of best", "max r_s", "settings", "GPU-hours spent"]
    header += [f"best obj. ≤ {t:.0f} GPU-h ({f:.0%})" for f, t in zip(SPEND_FRACTIONS, thresholds)]
    rows = []
    for method, method_runs in runs.items():
        rows.append(
            [
                method,
                _mean_std([r.best[-1] for r in method_runs]),
                _mean_std([r.best_r_s for r in method_runs]),
                _mean_std([r.max_r_s for r in method_runs]),
                f"{np.mean([r.n_settings for r in method_runs]):.1f}",
                _mean_std_hours([r.spend[-1] for r in method_runs]),
                *(_mean_std([r.best_within(t) for r in method_runs]) for t in thresholds),
            ]
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


def cost_ratios(runs: dict[str, list[Run]]) -> dict[str, tuple[int, int, float]]:
    """Per baseline: seeds where MIP reached the baseline's best, of all, and the geometric-mean ratio.

    For seed ``s``: target = the baseline's best objective in its run ``s``; ratio = GPU-hours MIP's run
    ``s`` had spent when it first reached an objective >= target, over GPU-hours the baseline had
    spent when it first reached its best.
    """
    result = {}
    for baseline, baseline_runs in runs.items():
        if baseline == "MIP":
            continue
        ratios = []
        for mip_run, base_run in zip(runs["MIP"], baseline_runs):
            target = base_run.best[-1]
            mip_spend = mip_run.spend_to_reach(target)
            if math.isfinite(mip_spend):
                ratios.append(mip_spend / max(base_run.spend_to_reach(target), 1e-9))
        geometric = float(np.exp(np.mean(np.log(ratios)))) if ratios else math.nan
        result[baseline] = (len(ratios), len(baseline_runs), geometric)
    return result


def verdict(runs: dict[str, list[Run]], thresholds: list[float]) -> str:
    """One line from the numbers: per baseline, MIP's spend, best objective, seeds matched, equal-spend bests."""
    ratios = cost_ratios(runs)

    def mean_best(method_runs: list[Run], gpu_hours: float = math.inf) -> float:
        return float(np.nanmean([r.best_within(gpu_hours) for r in method_runs]))

    mip_best = mean_best(runs["MIP"])
    mip_spend = np.mean([r.spend[-1] for r in runs["MIP"]])
    parts = []
    for baseline, baseline_runs in runs.items():
        if baseline == "MIP":
            continue
        best = mean_best(baseline_runs)
        ratio = mip_spend / np.mean([r.spend[-1] for r in baseline_runs])
        quality = "a higher" if mip_best - best > TIE else "a lower" if best - mip_best > TIE else "an equal"
        reached, total, _ = ratios[baseline]
        pairs = [(mean_best(runs["MIP"], t), mean_best(baseline_runs, t)) for t in thresholds]
        gaps = [a - b for a, b in pairs]
        standing = "ahead" if min(gaps) > TIE else "behind" if max(gaps) < -TIE else "level"
        parts.append(
            f"vs {baseline}, MIP is {'cheaper' if ratio < 1 else 'costlier'} ({ratio:.2f}x GPU-hours) "
            f"for {quality} best objective ({mip_best:.3f} vs {best:.3f}), "
            f"reaches {baseline}'s best in {reached}/{total} seeds, and is "
            f"{standing} at equal spend ({', '.join(f'{a:.3f} vs {b:.3f}' for a, b in pairs)} at "
            f"{'/'.join(f'{f:.0%}' for f in SPEND_FRACTIONS)})"
        )
    return f"Verdict: {'; '.join(parts)} (objectives within {TIE} count as equal)."


def plot(runs: dict[str, list[Run]], reference: float, out: Path) -> Path:
    """Best objective so far against cumulative GPU-hours, mean over seeds with a ± std band."""
    grid = np.unique(np.concatenate([r.spend for method_runs in runs.values() for r in method_runs]))
    figure = go.Figure()
    colours = ["31,119,180", "255,127,14", "44,160,44", "214,39,40"]
    for (method, method_runs), colour in zip(runs.items(), colours):
        curves = np.asarray([[r.best_within(x) for x in grid] for r in method_runs])
        # Start where every seed has a trial: a mean over a changing set of seeds would not be monotone.
        started = ~np.any(np.isnan(curves), axis=0)
        x = grid[started]
        mean, std = curves[:, started].mean(axis=0), curves[:, started].std(axis=0)
        band = {"mode": "lines", "line": {"width": 0, "shape": "hv"}, "showlegend": False, "hoverinfo": "skip"}
        figure.add_trace(go.Scatter(x=x, y=mean + std, **band))
        figure.add_trace(go.Scatter(x=x, y=mean - std, fill="tonexty", fillcolor=f"rgba({colour},0.2)", **band))
        figure.add_trace(
            go.Scatter(x=x, y=mean, mode="lines", line={"color": f"rgb({colour})", "shape": "hv"}, name=method)
        )
    figure.add_hline(y=reference, line_dash="dash", annotation_text="best recorded setting")
    figure.update_layout(
        title=f"Best objective so far vs. GPU-hours spent ({len(next(iter(runs.values())))} seeds, band: ± std)",
        xaxis={"title": "cumulative GPU-hours (100 architectures, distinct settings only)", "type": "log"},
        yaxis_title="best objective (r_s - penalty * cost)",
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "best_objective_vs_gpu_hours.html"
    figure.write_html(path, include_plotlyjs="directory")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method (default 10)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the figure (default {DEFAULT_OUT})")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="folder of the recorded budgets")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    started = time.perf_counter()
    objective = RecordedObjective(read_recorded_budgets(args.reference))
    n_trials = required_trials(len(objective.space.values))
    runs = {method: [search(method, objective, seed, n_trials) for seed in range(args.seeds)] for method in METHODS}

    names = objective.space.values
    # Eq. 1 of every recorded setting, asked of the objective itself (its nearest budget is the setting).
    scores = {
        r.setting: objective(optuna.trial.FixedTrial({name: getattr(r.budget, name) for name in names}))
        for r in objective.recorded
    }
    best_setting = max(scores, key=scores.__getitem__)
    best_r_s = max(objective.recorded, key=lambda r: r.correlation.spearman)
    common = max(np.mean([r.spend[-1] for r in method_runs]) for method_runs in runs.values())
    thresholds = [fraction * common for fraction in SPEND_FRACTIONS]

    print(
        f"{len(METHODS)} methods x {args.seeds} seeds x {n_trials} trials "
        f"on {len(objective.recorded)} recorded budgets "
        f"(penalty {objective.penalty}); cost = recorded GPU-hours x {N_ARCHITECTURES} architectures per new setting; "
        f"mean ± std over seeds."
    )
    print(
        f"Spend thresholds: {', '.join(f'{f:.0%}' for f in SPEND_FRACTIONS)} of {common:.0f} GPU-hours "
        "(the most expensive method's mean spend).\n"
    )
    print_table(runs, thresholds)
    print(
        f"\nReference: best recorded setting by objective {best_setting} ({scores[best_setting]:.3f}); "
        f"by r_s {best_r_s.setting} (r_s {best_r_s.correlation.spearman:.3f}, "
        f"{best_r_s.gpu_hours * N_ARCHITECTURES:.0f} GPU-hours for {N_ARCHITECTURES} architectures)."
    )
    for baseline, (reached, total, ratio) in cost_ratios(runs).items():
        if reached:
            print(
                f"MIP reached {baseline}'s best objective in {reached}/{total} seeds; there, MIP's GPU-hours / "
                f"{baseline}'s = {ratio:.2f} (geometric mean)."
            )
        else:
            print(f"MIP did not reach {baseline}'s best objective in any of {total} seeds.")
    print(verdict(runs, thresholds))
    print(f"Figure: {plot(runs, scores[best_setting], args.out)}  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
