"""Benchmark: MIP against TPE and random search, on the recorded budgets and a synthetic problem.

**Recorded budgets.** All three samplers optimise the same :class:`nas.RecordedObjective` (the
paper authors' 32 recorded budgets, default penalty) for MIP's n * K = 80 trials. A search spends
what it would have cost to train: the recorded GPU-hours per architecture times 100
architectures, for every recorded setting it reaches for the first time (a setting reached again
is answered by the result cache). Per method over the seeds it prints how often the search
reached the best recorded budget (by r_s), the median GPU-hours spent until it first did (a seed
that never did counts as infinite), and the mean best objective within 10/25/50 % of random
search's mean total spend.

**Synthetic cost-aware problem.** Harder than 32 settings: 7 parameters, 3 that matter (one of them
continuous), 4 that do not (one continuous), a cost that grows with epochs, width and image size,
and noise. Each trial spends its cost (no cache: continuous values never repeat). Prints the mean
best quality within 10/25/50 % of TPE's mean total spend.

No tie tolerance: every number is printed as measured.

    OMP_NUM_THREADS=1 python benchmarks/bench_budget_search.py [--seeds 10] [--quick]

``--quick`` leaves out "MIP null-corrected", which fits 21 forests per round and costs more CPU
than the other three methods together.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import math
from pathlib import Path
import sys
import time
import warnings

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import optuna  # noqa: E402

from nas import RecordedObjective, read_recorded_budgets, spend_curve  # noqa: E402
from optuna_mip import MIPSampler, StopWhenAllFixed, required_trials  # noqa: E402
from optuna_mip.importance import NullCorrectedImportanceEvaluator  # noqa: E402

N_ARCHITECTURES = 100  # every recorded budget trained the same 100 architectures
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "zheng2020"
SPEND_FRACTIONS = (0.1, 0.25, 0.5)

SamplerFactory = Callable[[dict, int], optuna.samplers.BaseSampler]
METHODS: dict[str, SamplerFactory] = {
    "MIP": lambda cost, seed: MIPSampler(cost=cost, seed=seed),
    "MIP null-corrected": lambda cost, seed: MIPSampler(
        cost=cost, seed=seed, importance_evaluator=NullCorrectedImportanceEvaluator(seed=seed)
    ),
    "TPE": lambda cost, seed: optuna.samplers.TPESampler(seed=seed),
    "Random": lambda cost, seed: optuna.samplers.RandomSampler(seed=seed),
}


@dataclass(frozen=True)
class Run:
    """One search: cumulative spend, best objective so far and setting of each complete trial."""

    spend: np.ndarray
    best: np.ndarray
    settings: list[str]

    def best_within(self, spend: float) -> float:
        within = self.best[self.spend <= spend + 1e-9]
        return float(within[-1]) if within.size else math.nan

    def spend_to_visit(self, setting: str) -> float:
        hits = [i for i, s in enumerate(self.settings) if s == setting]
        return float(self.spend[hits[0]]) if hits else math.inf


def search(
    method: str, objective: Callable, cost: dict, seed: int, n_trials: int, spend_attr: str
) -> Run:
    sampler = METHODS[method](cost, seed)
    callbacks = [StopWhenAllFixed()] if isinstance(sampler, MIPSampler) else []
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks)
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return Run(
        spend=spend_curve(trials, spend_attr),
        best=np.maximum.accumulate([t.value for t in trials]),
        settings=[str(t.user_attrs.get("setting")) for t in trials],
    )


def equal_spend_table(runs: dict[str, list[Run]], reference: str, unit: str, scale: float = 1.0) -> None:
    total = float(np.mean([r.spend[-1] for r in runs[reference]]))
    thresholds = [f * total for f in SPEND_FRACTIONS]
    print(f"best objective within a share of {reference}'s mean total spend ({total * scale:.0f} {unit}); mean ± std")
    print(f"{'method':<20}" + "".join(f"{f'{f:.0%} ({t * scale:.0f})':>22}" for f, t in zip(SPEND_FRACTIONS, thresholds)) + f"{'total spend':>14}")
    for method, method_runs in runs.items():
        cells = []
        for t in thresholds:
            values = np.asarray([r.best_within(t) for r in method_runs])
            missing = int(np.isnan(values).sum())
            cell = f"{np.nanmean(values):.4f} ± {np.nanstd(values):.4f}" if missing < len(values) else "n/a"
            cells.append(cell + (f" ({missing} n/a)" if missing else ""))
        mean_total = np.mean([r.spend[-1] for r in method_runs]) * scale
        print(f"{method:<20}" + "".join(f"{c:>22}" for c in cells) + f"{mean_total:14.0f}")


def recorded_benchmark(reference: Path, seeds: int, methods: list[str]) -> None:
    objective = RecordedObjective(read_recorded_budgets(reference))
    n_trials = required_trials(len(objective.space.values))
    cost = objective.space.value_costs()
    runs = {m: [search(m, objective, cost, s, n_trials, "gpu_hours") for s in range(seeds)] for m in methods}
    target = max(objective.recorded, key=lambda r: r.correlation.spearman)
    print(
        f"## Recorded budgets: {len(objective.recorded)} settings, {n_trials} trials x {seeds} seeds "
        f"(penalty {objective.penalty}); spend = recorded GPU-hours x {N_ARCHITECTURES} architectures per new setting\n"
    )
    print(f"reaching the best recorded budget {target.setting} (r_s {target.correlation.spearman:.3f}):")
    print(f"{'method':<20}{'success':>10}{'median GPU-h to reach':>24}")
    medians = {}
    for method, method_runs in runs.items():
        spends = [r.spend_to_visit(target.setting) * N_ARCHITECTURES for r in method_runs]
        medians[method] = float(np.median(spends))
        reached = sum(math.isfinite(s) for s in spends)
        print(f"{method:<20}{f'{reached}/{seeds}':>10}{medians[method]:24.0f}")
    for method in [m for m in methods if m.startswith("MIP")]:
        print(f"{method} median spend to reach / TPE's: {medians[method] / medians['TPE']:.2f}")
    print()
    equal_spend_table(runs, "Random", "GPU-h", scale=N_ARCHITECTURES)


# ------------------------------------------------------------------------- synthetic problem

SYNTHETIC_CHOICES = {
    "epochs": [1, 2, 4, 8, 16],
    "width": [16, 32, 64, 128],
    "image": [16, 24, 32],
    "batch": [32, 64, 128, 256],
    "augment": [False, True],
}
SYNTHETIC_COST = {
    "epochs": {e: float(e) for e in SYNTHETIC_CHOICES["epochs"]},
    "width": {w: w / 16 for w in SYNTHETIC_CHOICES["width"]},
    "image": {i: (i / 16) ** 2 for i in SYNTHETIC_CHOICES["image"]},
    "batch": {b: 1.0 for b in SYNTHETIC_CHOICES["batch"]},
    "augment": {False: 1.0, True: 1.2},
}


def synthetic_objective(seed: int) -> Callable[[optuna.Trial], float]:
    """Quality: epochs and lr matter most, width a little; batch, augment, dropout not at all.

    Cost (spend per trial): epochs x width/16 x (image/16)^2 x (1.2 with augment).
    """

    def objective(trial: optuna.Trial) -> float:
        p = {name: trial.suggest_categorical(name, choices) for name, choices in SYNTHETIC_CHOICES.items()}
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
        trial.suggest_float("dropout", 0.0, 0.5)
        quality = (
            0.5 * (1 - math.exp(-p["epochs"] / 3))
            + 0.3 * math.exp(-((math.log10(lr) + 2) ** 2))
            + 0.05 * math.log2(p["width"] / 16) / 3
            + 0.01 * np.random.default_rng([seed, trial.number]).normal()
        )
        cost = math.prod(SYNTHETIC_COST[name][p[name]] for name in ("epochs", "width", "image", "augment"))
        trial.set_user_attr("cost", cost)
        return quality

    return objective


def synthetic_benchmark(seeds: int, methods: list[str]) -> None:
    n_trials = required_trials(len(SYNTHETIC_CHOICES) + 2)
    runs = {
        m: [search(m, synthetic_objective(s), SYNTHETIC_COST, s, n_trials, "cost") for s in range(seeds)]
        for m in methods
    }
    print(f"\n## Synthetic cost-aware problem: 7 parameters (3 matter), {n_trials} trials x {seeds} seeds\n")
    equal_spend_table(runs, "TPE", "cost units")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per method (default 10)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="folder of the recorded budgets")
    parser.add_argument("--quick", action="store_true", help='leave out "MIP null-corrected"')
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    started = time.perf_counter()
    methods = [m for m in METHODS if not (args.quick and m == "MIP null-corrected")]
    recorded_benchmark(args.reference, args.seeds, methods)
    synthetic_benchmark(args.seeds, methods)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
