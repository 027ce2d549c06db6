"""Benchmark: the sampler's own overhead per trial, MIP against TPE and Random, in one run.

A study with 8 categorical parameters and an objective that costs nothing, so every millisecond
is the sampler's, Optuna's and the storage's. MIP runs with ``samples_per_round=200``, so it is
still searching at trial 1,000 (8 rounds need 1,600 trials): the windows include rounds decided
on 200 to 1,000 trials (rounds at trials 200, 400, ..., the forest fit counted in the trial that
decides). Each sampler runs in memory and on a fresh SQLite file. Prints the mean milliseconds per
trial over the trials ending at 100, 500 and 1,000 (trials 90-100, 450-500, 900-1,000) and MIP's
ratio to Random and TPE on the same storage.

    OMP_NUM_THREADS=1 python benchmarks/bench_mip_overhead.py [--trials 1000] [--storages memory sqlite]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
import tempfile
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
SAMPLES_PER_ROUND = 200


def objective(trial: optuna.Trial) -> float:
    return sum(trial.suggest_categorical(name, CHOICES) * (i + 1) for i, name in enumerate(COST))


def seconds_per_trial(
    sampler: optuna.samplers.BaseSampler, n_trials: int, storage: str | None
) -> list[float]:
    study = optuna.create_study(sampler=sampler, storage=storage)
    ends = [time.perf_counter()]

    def clock(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        ends.append(time.perf_counter())

    study.optimize(objective, n_trials=n_trials, callbacks=[clock])
    return [b - a for a, b in zip(ends, ends[1:])]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--storages", nargs="+", choices=("memory", "sqlite"), default=["memory", "sqlite"])
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

    samplers = {
        "MIP": lambda: MIPSampler(cost=COST, samples_per_round=SAMPLES_PER_ROUND, seed=0),
        "TPE": lambda: optuna.samplers.TPESampler(seed=0),
        "Random": lambda: optuna.samplers.RandomSampler(seed=0),
    }
    windows = {end: span for end, span in WINDOWS.items() if end <= args.trials}
    last = max(windows)
    print(
        f"ms per trial (mean over the window), {N_PARAMS} categorical parameters, "
        f"MIP with K = {SAMPLES_PER_ROUND} (still searching at trial {args.trials})"
    )
    header = f"{'storage':<8}{'sampler':<8}"
    header += "".join(f"{f'trials {a}-{b}':>16}" for a, b in windows.values())
    print(header + f"{'total s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for storage_name in args.storages:
            table = {}
            for name, make in samplers.items():
                url = None if storage_name == "memory" else f"sqlite:///{tmp}/{name}.db"
                durations = seconds_per_trial(make(), args.trials, url)
                row = {end: 1e3 * sum(durations[a:b]) / (b - a) for end, (a, b) in windows.items()}
                table[name] = row
                cells = "".join(f"{row[end]:16.2f}" for end in windows)
                print(f"{storage_name:<8}{name:<8}{cells}{sum(durations):10.1f}", flush=True)
            mip = table["MIP"][last]
            print(
                f"{storage_name}: MIP / Random at trials {windows[last][0]}-{windows[last][1]}: "
                f"{mip / table['Random'][last]:.2f}x; MIP / TPE: {mip / table['TPE'][last]:.2f}x"
            )


if __name__ == "__main__":
    main()
