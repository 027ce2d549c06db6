"""Benchmark: MIP against TPE and random search, on the recorded budgets and a synthetic problem.

**Recorded budgets.** All samplers optimize the same :class:`nas.RecordedObjective` (the
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

Methods: "MIP" is the paper's setting (temperature 1, K = 10, an important pruned parameter fixed
at its value in the best trial). "MIP T=8" samples expensive values more often: the setting that
reached task23 most often at K = 10 on seeds 100-129 of ``benchmarks/bench_mip_settings.py``
(the seeds here start at 0; the recorded table is the same, so other seeds only change the
samplers' draws). "MIP T=8 K=20" also takes 20 trials per round, so it runs twice the trials of
the others (160 on the recorded budgets).

**Pruners** (second axis, recorded budgets only). MIP, MIP T=8, TPE and Random also run with each
pruner of :data:`nas.budget_search.PRUNERS`: a trial replays the recorded accuracies in the
study's shared architecture order, reports its running objective every 10 architectures, and a
pruned trial spends what it trained (recorded GPU-hours per architecture times the architectures
measured; a budget met again spends only the architectures it had not trained yet). "Reaching"
the best budget means completing a trial on it. TPE and Random run 80 trials, pruned or not; MIP
runs until every parameter is fixed (it counts only complete trials, so pruning gives it more
trials), at most 4 x 80. Where a search missed the best budget the benchmark says which prune or
MIP decision cut it off.

    OMP_NUM_THREADS=1 python benchmarks/bench_budget_search.py [--seeds 10] [--quick] [--pruners none,median]

``--quick`` leaves out "MIP null-corrected", which fits 21 forests per round and costs more CPU
than the other methods together.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import multiprocessing
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
from optuna.distributions import CategoricalDistribution  # noqa: E402

from nas import RecordedObjective, read_recorded_budgets, spend_curve  # noqa: E402
from nas.budget_search import PRUNERS, make_pruner  # noqa: E402
from optuna_mip import MIPSampler, PruningDecision, StopWhenAllFixed, pruning_history, required_trials  # noqa: E402
from optuna_mip.importance import NullCorrectedImportanceEvaluator  # noqa: E402

N_ARCHITECTURES = 100  # every recorded budget trained the same 100 architectures
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "zheng2020"
SPEND_FRACTIONS = (0.1, 0.25, 0.5)

SamplerFactory = Callable[[dict, int], optuna.samplers.BaseSampler]


@dataclass(frozen=True)
class Method:
    """A sampler per (cost table, seed); MIP's n * K trials are what every method runs."""

    factory: SamplerFactory
    samples_per_round: int = 10


@dataclass(frozen=True)
class MIPSetting:
    """The MIPSampler knobs the benchmarks compare."""

    temperature: float = 1.0
    samples_per_round: int = 10
    fix_at: str = "best_trial"  # or "predicted"
    null_corrected: bool = False

    def __str__(self) -> str:
        evaluator = "null-MDI" if self.null_corrected else "MDI"
        return f"T={self.temperature:g} K={self.samples_per_round} {self.fix_at} {evaluator}"

    def sampler(self, cost: dict, seed: int) -> MIPSampler:
        evaluator = NullCorrectedImportanceEvaluator(seed=seed) if self.null_corrected else None
        return MIPSampler(
            cost=cost,
            seed=seed,
            temperature=self.temperature,
            samples_per_round=self.samples_per_round,
            fix_at=self.fix_at,  # type: ignore[arg-type]
            importance_evaluator=evaluator,
        )

    def method(self) -> Method:
        return Method(self.sampler, self.samples_per_round)


PRUNED_METHODS = ("MIP", "MIP T=8", "TPE", "Random")  # the ones that also run with each pruner
MIP_TRIAL_CAP = 4  # with pruning MIP runs at most this many times its n * K trials

METHODS: dict[str, Method] = {
    "MIP": MIPSetting().method(),
    "MIP T=8": MIPSetting(temperature=8.0).method(),
    "MIP T=8 K=20": MIPSetting(temperature=8.0, samples_per_round=20).method(),
    "MIP null-corrected": MIPSetting(null_corrected=True).method(),
    "TPE": Method(lambda cost, seed: optuna.samplers.TPESampler(seed=seed)),
    "Random": Method(lambda cost, seed: optuna.samplers.RandomSampler(seed=seed)),
}


@dataclass(frozen=True)
class Run:
    """One search: after each finished (complete or pruned) trial, cumulative spend, best complete
    objective so far, the trial's setting and state."""

    spend: np.ndarray
    best: np.ndarray
    settings: list[str]
    complete: list[bool]
    measured: list[int]
    decisions: list[PruningDecision]

    def best_within(self, spend: float) -> float:
        within = self.best[self.spend <= spend + 1e-9]
        return float(within[-1]) if within.size else math.nan

    def spend_to_visit(self, setting: str) -> float:
        """Spend until a trial on ``setting`` completed: a pruned one never tells the search it is best."""
        hits = [i for i, (s, done) in enumerate(zip(self.settings, self.complete)) if s == setting and done]
        return float(self.spend[hits[0]]) if hits else math.inf

    def prunes_of(self, setting: str) -> list[int]:
        """Architectures measured by each pruned trial on ``setting``."""
        return [m for s, done, m in zip(self.settings, self.complete, self.measured) if s == setting and not done]


def search(
    factory: SamplerFactory,
    objective: Callable,
    cost: dict,
    seed: int,
    n_trials: int,
    spend_attr: str,
    pruner: optuna.pruners.BasePruner | None = None,
) -> Run:
    sampler = factory(cost, seed)
    callbacks = [StopWhenAllFixed()] if isinstance(sampler, MIPSampler) else []
    if isinstance(sampler, MIPSampler) and not isinstance(pruner, (type(None), optuna.pruners.NopPruner)):
        n_trials *= MIP_TRIAL_CAP
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks)
    complete, pruned = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED
    trials = study.get_trials(deepcopy=False, states=(complete, pruned))
    values = [t.value if t.state == complete else -math.inf for t in trials]
    best = np.maximum.accumulate(values) if values else np.zeros(0)
    return Run(
        spend=spend_curve(trials, spend_attr),
        best=np.where(np.isfinite(best), best, np.nan),
        settings=[str(t.user_attrs.get("setting")) for t in trials],
        complete=[t.state == complete for t in trials],
        measured=[int(t.user_attrs.get("architectures_measured", N_ARCHITECTURES)) for t in trials],
        decisions=pruning_history(study),
    )


def equal_spend_table(runs: dict[str, list[Run]], reference: str, unit: str, scale: float = 1.0) -> None:
    total = float(np.mean([r.spend[-1] for r in runs[reference]]))
    thresholds = [f * total for f in SPEND_FRACTIONS]
    print(f"best objective within a share of {reference}'s mean total spend ({total * scale:.0f} {unit}); mean ± std")
    columns = "".join(f"{f'{f:.0%} ({t * scale:.0f})':>22}" for f, t in zip(SPEND_FRACTIONS, thresholds))
    print(f"{'method':<32}{columns}{'total spend':>14}")
    for method, method_runs in runs.items():
        cells = []
        for t in thresholds:
            values = np.asarray([r.best_within(t) for r in method_runs])
            missing = int(np.isnan(values).sum())
            cell = f"{np.nanmean(values):.4f} ± {np.nanstd(values):.4f}" if missing < len(values) else "n/a"
            cells.append(cell + (f" ({missing} n/a)" if missing else ""))
        mean_total = np.mean([r.spend[-1] for r in method_runs]) * scale
        print(f"{method:<32}" + "".join(f"{c:>22}" for c in cells) + f"{mean_total:14.0f}")


@dataclass(frozen=True)
class Problem:
    """What a search runs on: one objective per seed, costs, and how spend is counted."""

    objective_for: Callable[[int], Callable[[optuna.Trial], float]]
    cost: dict
    n_params: int
    spend_attr: str

    def runs(self, method: Method, seeds: range, pruner: str = "none") -> list[Run]:
        """One search per seed, for MIP's n * K trials (it stops there; the others run them all)."""

        n_trials = required_trials(self.n_params, method.samples_per_round)
        return run_all(
            [
                functools.partial(
                    search, method.factory, self.objective_for(s), self.cost, s, n_trials, self.spend_attr, make_pruner(pruner)
                )
                for s in seeds
            ]
        )


PROCESSES = 1  # --processes
_PENDING: list[Callable[[], Run]] = []  # what forked workers run, by index: searches hold lambdas, which do not pickle


def _run_pending(index: int) -> Run:
    return _PENDING[index]()


def run_all(searches: list[Callable[[], Run]]) -> list[Run]:
    """Each search's run, in order; side by side in PROCESSES forked processes (each search is seeded alone)."""
    if PROCESSES == 1:
        return [run() for run in searches]
    _PENDING[:] = searches
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        return pool.map(_run_pending, range(len(searches)))


def trials_text(n_params: int) -> str:
    return f"{required_trials(n_params)} trials (MIP with K = 20: {required_trials(n_params, 20)})"


def recorded_problem(reference: Path) -> tuple[Problem, RecordedObjective]:
    objective = RecordedObjective(read_recorded_budgets(reference))
    for recorded in objective.recorded:
        recorded.correlation  # bootstrapped once here, not again in each forked worker
    problem = Problem(lambda seed: objective, objective.space.value_costs(), len(objective.space.values), "gpu_hours")
    return problem, objective


def target_setting(objective: RecordedObjective) -> str:
    """The recorded budget with the best r_s: what a search should find."""

    return max(objective.recorded, key=lambda r: r.correlation.spearman).setting


def spends_to_reach(runs: list[Run], setting: str) -> list[float]:
    """GPU-hours (all architectures) each search spent until it first reached ``setting``."""

    return [r.spend_to_visit(setting) * N_ARCHITECTURES for r in runs]


class Reachability:
    """Which recorded setting answers each point of the recorded space (all combinations).

    Tells after which of a search's decisions no suggestion could reach a setting any more.
    """

    def __init__(self, objective: RecordedObjective) -> None:
        self.values = values = objective.space.values
        grid = list(itertools.product(*values.values()))
        self.columns = {
            name: np.asarray([point[j] for point in grid], dtype=object) for j, name in enumerate(values)
        }
        budgets = (objective.space.budget_of(dict(zip(values, point))) for point in grid)
        self.answers = np.asarray([objective.nearest(budget).setting for budget in budgets])

    def chance(self, sampler: MIPSampler, setting: str) -> float:
        """Probability that one draw of ``sampler`` before any pruning is answered by ``setting``."""

        weights = np.ones(len(self.answers))
        for name, values in self.values.items():
            probabilities = sampler.sampling_probabilities(name, CategoricalDistribution(list(values)))
            probabilities = probabilities or {value: 1 / len(values) for value in values}
            weights *= np.asarray([probabilities[value] for value in self.columns[name]], dtype=float)
        return float(weights[self.answers == setting].sum())

    def ruled_out_by(self, decisions: list[PruningDecision], setting: str) -> PruningDecision | None:
        """The first decision after which ``setting`` answers no remaining point, if any."""

        mask = np.ones(len(self.answers), dtype=bool)
        for decision in decisions:
            mask &= self.columns[decision.param] == decision.value
            if not (self.answers[mask] == setting).any():
                return decision
        return None


def explain_misses(misses: list[Run], setting: str, reachability: Reachability) -> str:
    """For each search that never completed ``setting``: the prune or decision that cut it off."""

    described = []
    for run in misses:
        prunes = run.prunes_of(setting)
        decision = reachability.ruled_out_by(run.decisions, setting)
        if prunes:
            described.append(f"pruned after {', '.join(map(str, prunes))} architectures")
        elif decision is not None:
            described.append(f"round {decision.round} {decision.param}={decision.value!r} ({decision.reason})")
        else:
            described.append("never drawn" if not run.decisions else "never drawn, never ruled out")
    return f"{len(misses)} missed; {setting}: " + "; ".join(described)


def configuration_name(method: str, pruner: str) -> str:
    return method if pruner == "none" else f"{method} + {pruner}"


def recorded_benchmark(reference: Path, seeds: range, methods: list[str], pruners: list[str]) -> None:
    problem, objective = recorded_problem(reference)
    runs: dict[str, list[Run]] = {}
    for method in methods:
        for pruner in pruners if method in PRUNED_METHODS else ["none"]:
            runs[configuration_name(method, pruner)] = problem.runs(METHODS[method], seeds, pruner)
    target = target_setting(objective)
    r_s = next(r for r in objective.recorded if r.setting == target).correlation.spearman
    print(
        f"## Recorded budgets: {len(objective.recorded)} settings, {trials_text(problem.n_params)} x "
        f"{len(seeds)} seeds (penalty {objective.penalty}); spend = recorded GPU-hours x architectures trained "
        f"(at most {N_ARCHITECTURES}) per budget; pruners report every {objective.report_every} architectures\n"
    )
    print(f"reaching (completing a trial on) the best recorded budget {target} (r_s {r_s:.3f}):")
    print(f"{'configuration':<32}{'success':>10}{'median GPU-h to reach':>24}{'/ TPE':>8}{'/ TPE same pruner':>20}{'trials':>8}{'pruned':>8}")
    medians = {name: float(np.median(spends_to_reach(method_runs, target))) for name, method_runs in runs.items()}
    for name, method_runs in runs.items():
        spends = spends_to_reach(method_runs, target)
        reached = sum(math.isfinite(s) for s in spends)
        pruner = name.split(" + ")[1] if " + " in name else "none"
        same = medians.get(configuration_name("TPE", pruner), math.nan)
        versus_same = f"{medians[name] / same:.2f}" if math.isfinite(same) else "TPE missed"
        n_trials = np.mean([len(r.complete) for r in method_runs])
        n_pruned = np.mean([len(r.complete) - sum(r.complete) for r in method_runs])
        print(
            f"{name:<32}{f'{reached}/{len(seeds)}':>10}{medians[name]:24.0f}{medians[name] / medians['TPE']:8.2f}"
            f"{versus_same:>20}{n_trials:8.1f}{n_pruned:8.1f}"
        )
    reachability = Reachability(objective)
    for method in [m for m in methods if m.startswith("MIP")]:
        sampler = METHODS[method].factory(problem.cost, 0)
        print(f"{method}: an unpruned draw lands on {target} with probability {reachability.chance(sampler, target):.3f}")
    for name, method_runs in runs.items():
        misses = [r for r in method_runs if not math.isfinite(r.spend_to_visit(target))]
        if misses:
            print(f"  {name}: {explain_misses(misses, target, reachability)}")
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


SYNTHETIC = Problem(synthetic_objective, SYNTHETIC_COST, len(SYNTHETIC_CHOICES) + 2, "cost")


def synthetic_benchmark(seeds: range, methods: list[str]) -> None:
    runs = {m: SYNTHETIC.runs(METHODS[m], seeds) for m in methods}
    print(
        f"\n## Synthetic cost-aware problem: {SYNTHETIC.n_params} parameters (3 matter), "
        f"{trials_text(SYNTHETIC.n_params)} x {len(seeds)} seeds\n"
    )
    equal_spend_table(runs, "TPE", "cost units")


def parse_arguments(
    argv: list[str] | None, description: str, seeds: int, first_seed: int, quick_help: str, pruners: bool = False
) -> tuple[argparse.Namespace, range]:
    """The options both budget-search benchmarks take; quiets Optuna for the run."""

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=seeds, help=f"seeds per method (default {seeds})")
    parser.add_argument("--first-seed", type=int, default=first_seed, help=f"seeds run from here (default {first_seed})")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="folder of the recorded budgets")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--processes", type=int, default=1, help="searches run side by side (default 1)")
    if pruners:
        parser.add_argument(
            "--pruners", default=",".join(PRUNERS), help=f"comma-separated pruners to run with (default {','.join(PRUNERS)})"
        )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error("--processes must be >= 1")
    global PROCESSES
    PROCESSES = args.processes
    if unknown := set(getattr(args, "pruners", "none").split(",")) - set(PRUNERS):
        parser.error(f"unknown pruner {sorted(unknown)[0]!r}; choose from {', '.join(PRUNERS)}")
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return args, range(args.first_seed, args.first_seed + args.seeds)


def main(argv: list[str] | None = None) -> None:
    args, seeds = parse_arguments(argv, __doc__.splitlines()[0], 10, 0, 'leave out "MIP null-corrected"', pruners=True)
    started = time.perf_counter()
    methods = [m for m in METHODS if not (args.quick and m == "MIP null-corrected")]
    recorded_benchmark(args.reference, seeds, methods, args.pruners.split(","))
    synthetic_benchmark(seeds, methods)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
