"""Benchmark: the sampler's own overhead per trial, MIP against TPE and Random, in one run.

An in-memory study with 8 categorical parameters and an objective that costs nothing, so every
millisecond is the sampler's (and Optuna's). MIP fixes all 8 parameters by trial 80, then keeps
sampling the final setting: the question is whether a trial costs more as the study grows.
Prints the mean milliseconds per trial over the trials ending at 100, 500 and 1,000
(trials 90-100, 450-500, 900-1,000) and MIP's ratio to Random.

    OMP_NUM_THREADS=1 python benchmarks/bench_mip_overhead.py [--trials 1000]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import time
import warnings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import optuna  # noqa: E402

from optuna_mip import MIPSampler  # noqa: E402

N_PARAMS = 8
CHOICES = [1, 2, 4, 8]
COST = {f"p{i}": {c: float(c) for c in CHOICES} for i in range(N_PARAMS)}
WINDOWS = {100: (90, 100), 500: (450, 500), 1000: (900, 1000)}


def objective(trial: optuna.Trial) -> float:
    return sum(trial.suggest_categorical(name, CHOICES) * (i + 1) for i, name in enumerate(COST))


def seconds_per_trial(sampler: optuna.samplers.BaseSampler, n_trials: int) -> list[float]:
    study = optuna.create_study(sampler=sampler)
    durations = []

    def clock(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        durations.append(time.perf_counter())

    durations.append(time.perf_counter())
    study.optimize(objective, n_trials=n_trials, callbacks=[clock])
    return [b - a for a, b in zip(durations, durations[1:])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    samplers = {
        "MIP": lambda: MIPSampler(cost=COST, seed=0),
        "TPE": lambda: optuna.samplers.TPESampler(seed=0),
        "Random": lambda: optuna.samplers.RandomSampler(seed=0),
    }
    windows = {end: span for end, span in WINDOWS.items() if end <= args.trials}
    table = {}
    for name, make in samplers.items():
        durations = seconds_per_trial(make(), args.trials)
        table[name] = {end: 1e3 * sum(durations[a:b]) / (b - a) for end, (a, b) in windows.items()}
        table[name]["total"] = sum(durations)

    print(f"ms per trial (mean over the window), in-memory study, {N_PARAMS} categorical parameters")
    header = f"{'sampler':<8}" + "".join(f"{f'trials {a}-{b}':>16}" for a, b in windows.values())
    print(header + f"{'total s':>10}")
    for name, row in table.items():
        cells = "".join(f"{row[end]:16.2f}" for end in windows)
        print(f"{name:<8}{cells}{row['total']:10.1f}")
    last = max(windows)
    print(
        f"MIP / Random at trials {windows[last][0]}-{windows[last][1]}: "
        f"{table['MIP'][last] / table['Random'][last]:.1f}x; MIP / TPE: "
        f"{table['MIP'][last] / table['TPE'][last]:.2f}x"
    )


if __name__ == "__main__":
    main()
