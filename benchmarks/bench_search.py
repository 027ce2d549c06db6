"""Benchmark: regularized evolution and REINFORCE against random search on the DARTS space.

No training: the fitness of an architecture is a fixed random linear function of the one-hot
encoding of the categorical parameters of :func:`nas.space.suggest_genotype` (one weight per
parameter value, drawn once from a normal distribution with ``--fitness-seed``), standardised so
that a uniformly random architecture has mean 0 and standard deviation 1. A trial observes it
through Gaussian noise (``--noise`` standard deviations, seeded by the search seed and the trial
number) and on the scale of an accuracy, ``0.9 + 0.01 * fitness``, which is what REINFORCE's
default step size was made for (the authors' ``run_rl.py`` rewards accuracies in [0, 1]).

Every method runs the same number of trials with the same search seeds. Printed per method: mean
± std over seeds of the best noise-free fitness among the trials run so far, after each checkpoint
in ``--trials``, and its ratio to random search's mean in the same run.

    python benchmarks/bench_search.py [--seeds 10] [--trials 50 100 200] [--out FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shlex
import sys
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import optuna  # noqa: E402
from optuna.distributions import CategoricalDistribution  # noqa: E402

from nas.search import RegularizedEvolutionSampler, ReinforceSampler, make_sampler  # noqa: E402
from nas.space import suggest_genotype  # noqa: E402
from optuna_mip._rounds import derive_seed  # noqa: E402

# name -> sampler factory; "(defaults)" are make_sampler's, the others say what they change.
METHODS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "random": lambda seed: make_sampler("random", seed),
    "evolution (defaults: population 50, sample 10)": lambda seed: make_sampler("evolution", seed),
    "evolution (population 20, sample 5)": lambda seed: RegularizedEvolutionSampler(20, 5, seed=seed),
    "reinforce (defaults: lr 0.1, baseline decay 0.9)": lambda seed: make_sampler("reinforce", seed),
    "reinforce (lr 10)": lambda seed: ReinforceSampler(learning_rate=10.0, seed=seed),
}


class LinearFitness:
    """A standardised random linear function of the one-hot choices of the architecture parameters."""

    def __init__(self, distributions: dict[str, CategoricalDistribution], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.weights = {name: rng.normal(size=len(d.choices)) for name, d in distributions.items()}
        self.distributions = distributions
        self.mean = sum(w.mean() for w in self.weights.values())
        self.std = float(np.sqrt(sum(w.var() for w in self.weights.values())))

    def __call__(self, params: dict) -> float:
        total = sum(
            self.weights[name][self.distributions[name].to_internal_repr(params[name])]
            for name in self.weights
        )
        return float((total - self.mean) / self.std)


def darts_distributions() -> dict[str, CategoricalDistribution]:
    study = optuna.create_study()
    trial = study.ask()
    suggest_genotype(trial)
    return trial.distributions  # type: ignore[return-value]


def best_so_far(
    factory: Callable[[int], optuna.samplers.BaseSampler],
    fitness: LinearFitness,
    seed: int,
    n_trials: int,
    noise: float,
) -> np.ndarray:
    """The best noise-free fitness among the first k trials, for k = 1..n_trials."""
    true_values = []

    def objective(trial: optuna.Trial) -> float:
        suggest_genotype(trial)
        value = fitness(trial.params)
        true_values.append(value)
        observed = value + noise * np.random.default_rng(derive_seed(seed, trial.number)).normal()
        return 0.9 + 0.01 * observed

    study = optuna.create_study(direction="maximize", sampler=factory(seed))
    study.optimize(objective, n_trials=n_trials)
    return np.maximum.accumulate(true_values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--noise", type=float, default=0.5, help="observation noise, in fitness stds")
    parser.add_argument("--fitness-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    fitness = LinearFitness(darts_distributions(), args.fitness_seed)
    best = {
        name: np.array(
            [best_so_far(factory, fitness, seed, max(args.trials), args.noise) for seed in range(args.seeds)]
        )
        for name, factory in METHODS.items()
    }
    random_mean = {n: best["random"][:, n - 1].mean() for n in args.trials}

    width = max(map(len, METHODS))
    lines = [
        f"# {shlex.join(['python', 'benchmarks/bench_search.py', *(argv if argv is not None else sys.argv[1:])])}",
        f"# best noise-free fitness (standardised: random architecture = 0 ± 1), mean ± std over "
        f"{args.seeds} seeds; ratio = mean / random's mean; noise {args.noise}",
        f"{'method':<{width}}" + "".join(f" | {f'{n} trials':^22}" for n in args.trials),
    ]
    for name, runs in best.items():
        cells = [
            f"{runs[:, n - 1].mean():5.2f} ± {runs[:, n - 1].std():4.2f} ({runs[:, n - 1].mean() / random_mean[n]:4.2f}x)"
            for n in args.trials
        ]
        lines.append(f"{name:<{width}}" + "".join(f" | {cell:^22}" for cell in cells))
    table = "\n".join(lines)
    print(table)
    if args.out is not None:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
