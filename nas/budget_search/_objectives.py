"""Objectives of the search for the best budget (the paper's Eq. 1), for ``study.optimize``.

Eq. 1 scores a budget ``b`` by the rank correlation between the accuracies of a set of
architectures G under ``b`` (R_b) and under full training (R_f), corrected for cost:

    objective(b) = r_s(R_f, R_b) - penalty * normalised mean training cost of G under b.

The paper prints ``+ lambda * T`` while saying it wants the cheaper budget among equally good ones;
we implement that intent as a penalty, 0 < penalty < 1. Costs are normalised by the most expensive
budget of the space, so the penalty is in units of r_s.

Both objectives measure the architectures in one seeded order, the same for every trial of the
study (so the r_s of two budgets after k architectures compare like with like). After every
``report_every`` architectures they ``trial.report`` the running objective (r_s on the
architectures so far, minus the cost penalty) at step = architectures measured, and stop when the
study's pruner says so: a pruned trial keeps ``architectures_measured`` (what it spent) and
``pruned_r_s`` in its user attributes. Optuna's default pruner is ``MedianPruner``: a study
that must train every budget in full passes ``pruner=make_pruner("none")``.

Two sources of R_b:

* :class:`TrainingObjective` trains every architecture of G under the budget through the result
  store (a budget seen before costs nothing);
* :class:`RecordedObjective` answers from the paper authors' 32 recorded budgets, for tests,
  examples and studying importances on real numbers without training.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np
import optuna
from scipy import stats

from nas.budget_search._bpe_space import BudgetSpace
from nas.estimation._budget import Budget
from nas.estimation._correlation import Correlation, correlate, seed_agreement
from nas.data import Dataset
from nas._errors import BudgetError
from nas.estimation._estimate import estimate
from nas.store import ResultStore
from nas.estimation._tables import Architecture, TableError, read_architectures, read_recorded_table, read_rows

DEFAULT_PENALTY = 0.1
REPORTS_PER_TRIAL = 10  # default report_every: a tenth of the architectures

_Item = TypeVar("_Item")


def _check_penalty(penalty: float) -> float:
    if not 0 <= penalty < 1:
        raise ValueError(f"penalty must be in [0, 1), got {penalty}")
    return penalty


def _record_budget(trial: optuna.Trial, budget: Budget, cost: float, n_architectures: int, **extra: Any) -> None:
    """What a trial measures, kept before it measures anything: a pruned trial needs it for its spend."""
    trial.set_user_attr("budget", budget.to_dict())
    trial.set_user_attr("cost", cost)
    trial.set_user_attr("architectures_total", n_architectures)
    for key, value in extra.items():
        trial.set_user_attr(key, value)


def _record(trial: optuna.Trial, correlation: Correlation, **extra: Any) -> None:
    """Keep what the objective measured on the trial, where the dashboard shows it."""
    trial.set_user_attr("r_s", correlation.spearman)
    trial.set_user_attr("r_s_ci", list(correlation.spearman_ci))
    trial.set_user_attr("kendall", correlation.kendall)
    for key, value in extra.items():
        trial.set_user_attr(key, value)


def shared_order(names: Iterable[str], seed: int) -> list[str]:
    """Sorted ``names`` in the order every trial of a study measures them: a permutation drawn from ``seed``.

    Both objectives draw it from the sorted names, so a recorded replay follows a real run's order.
    """
    ordered = sorted(names)
    return [ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))]


def _check_report_every(report_every: int | None, n_architectures: int) -> int:
    if report_every is None:
        return max(1, n_architectures // REPORTS_PER_TRIAL)
    if report_every < 1:
        raise ValueError(f"report_every must be >= 1, got {report_every}")
    return report_every


def _running_spearman(pairs: Sequence[tuple[float, float]]) -> float:
    if len(pairs) < 3:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(*zip(*pairs)).statistic)


def measure_reporting(
    trial: optuna.Trial,
    items: Sequence[_Item],
    measure: Callable[[Sequence[_Item]], list[tuple[float, float]]],
    penalty_cost: float,
    report_every: int,
) -> list[tuple[float, float]]:
    """(R_f, R_b) pairs of ``items``, measured ``report_every`` at a time, reporting as it goes.

    After each group the running objective (r_s so far minus ``penalty_cost``) is reported at
    step = items measured, and the trial is pruned if the study's pruner says so (never after the
    last group: nothing would be saved). ``measure`` returns the pairs of the items that gave one.
    """
    trial.set_user_attr("penalty_cost", penalty_cost)
    pairs: list[tuple[float, float]] = []
    for start in range(0, len(items), report_every):
        measured = min(start + report_every, len(items))
        pairs += measure(items[start:measured])
        r_s = _running_spearman(pairs)
        if math.isnan(r_s):
            continue
        trial.report(r_s - penalty_cost, step=measured)
        if measured < len(items) and trial.should_prune():
            trial.set_user_attr("architectures_measured", measured)
            trial.set_user_attr("pruned_r_s", r_s)
            raise optuna.TrialPruned(f"pruned after {measured} of {len(items)} architectures (r_s {r_s:.3f})")
    trial.set_user_attr("architectures_measured", len(items))
    return pairs


class TrainingObjective:
    """Eq. 1 with R_b measured by training every architecture under the suggested budget."""

    def __init__(
        self,
        space: BudgetSpace,
        architectures: Sequence[Architecture],
        dataset: Dataset,
        store: ResultStore,
        *,
        penalty: float = DEFAULT_PENALTY,
        device: str | None = None,
        progress: bool = True,
        seeds: int = 1,
        report_every: int | None = None,
        order_seed: int = 0,
    ) -> None:
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        self.seeds = seeds  # each architecture trained under the budget's seed and the next ones; R_b is their mean
        if any(architecture.accuracy is None for architecture in architectures):
            raise TableError("every architecture needs its full-training accuracy (R_f)")
        if len(architectures) < 3:
            raise TableError(f"need at least 3 architectures to rank, got {len(architectures)}")
        self.space, self.dataset, self.store = space, dataset, store
        by_name = {architecture.name: architecture for architecture in architectures}
        if len(by_name) < len(architectures):
            raise TableError("architecture names repeat: each one is measured once per budget")
        self.architectures = [by_name[name] for name in shared_order(list(by_name), order_seed)]
        self.penalty = _check_penalty(penalty)
        self.report_every = _check_report_every(report_every, len(self.architectures))
        self.device, self.progress = device, progress

    def __call__(self, trial: optuna.Trial) -> float:
        budget = self.space.suggest(trial)
        cost = self.space.normalised_cost(budget)
        _record_budget(trial, budget, cost, len(self.architectures), training_flops=self.space.training_cost(budget))
        runs: list[dict[str, Any]] = [{} for _ in range(self.seeds)]  # one per seed: the budget's, then the next ones
        mean: dict[str, float] = {}  # R_b: the architecture's mean accuracy over the seeds

        def train(group: Sequence[Architecture]) -> list[tuple[float, float]]:
            for k, run in enumerate(runs):
                seeded = budget.replace(seed=budget.seed + k)
                run.update(estimate(group, seeded, self.dataset, self.store, device=self.device, progress=self.progress))
            for arch in group:
                if all(run[arch.name].status == "ok" for run in runs):
                    mean[arch.name] = sum(run[arch.name].accuracy for run in runs) / len(runs)
            return [(arch.accuracy, mean[arch.name]) for arch in group if arch.name in mean]

        try:
            measure_reporting(trial, self.architectures, train, self.penalty * cost, self.report_every)
        except BudgetError as error:  # a combination of the space this dataset cannot train
            trial.set_user_attr("reason", str(error))
            return math.nan
        results = runs[0]
        ok = [arch for arch in self.architectures if arch.name in mean]
        if self.seeds > 1:
            trial.set_user_attr("seed_to_seed_spearman", seed_agreement([{a.name: run[a.name].accuracy for a in ok} for run in runs]))
        trial.set_user_attr("failed_archs", len(self.architectures) - len(ok))
        if len(ok) < 3:
            trial.set_user_attr("reason", "fewer than 3 architectures trained without diverging")
            return math.nan  # Optuna marks the trial FAIL; MIP ignores it
        correlation = correlate([arch.accuracy for arch in ok], [mean[arch.name] for arch in ok])
        if math.isnan(correlation.spearman):
            trial.set_user_attr("reason", "every architecture reached the same accuracy: nothing to rank")
            return math.nan
        _record(
            trial,
            correlation,
            R_b=mean,
            R_f={arch.name: arch.accuracy for arch in ok},  # for the report's paired comparison of budgets
            mean_seconds=sum(results[arch.name].seconds for arch in ok) / len(ok),
        )
        return correlation.spearman - self.penalty * cost


@dataclass(frozen=True)
class RecordedBudget:
    """One recorded budget, with (full-training, budgeted) accuracy pairs of its architectures."""

    setting: str
    budget: Budget
    gpu_hours: float
    pairs: tuple[tuple[float, float], ...]
    architectures: tuple[str, ...] = ()  # the name of each pair's architecture

    @functools.cached_property
    def correlation(self) -> Correlation:
        """Computed on first use: bootstrapping all 32 settings up front would take seconds."""
        return correlate(*zip(*self.pairs))


_PRECISIONS = {"16": "half", "32": "fp32"}  # the authors' 16-bit budgets ran model.half()


_BUDGET_COLUMNS = ("setting", "epochs", "batch_size", "lr", "layers", "precision_bits", "channels", "cutout", "image_size", "gpu_hours_per_arch")


def read_recorded_budgets(reference_dir: str | os.PathLike) -> list[RecordedBudget]:
    """The recorded budgets of the reference data, each with its r_s against ground truth.

    ``reference_dir`` holds ``ground_truth.csv``, ``budgets.csv`` and ``budget_accuracies.csv``
    (see README: the paper authors' public repository has them).
    """
    folder = Path(reference_dir)
    truth = read_architectures(folder / "ground_truth.csv", with_accuracy=True)
    table = read_recorded_table(folder / "budget_accuracies.csv")
    recorded = []
    for line, row in enumerate(read_rows(folder / "budgets.csv", _BUDGET_COLUMNS), start=2):
        try:
            budget = Budget(
                epochs=int(row["epochs"]),
                batch_size=int(row["batch_size"]),
                lr=float(row["lr"]),
                layers=int(row["layers"]),
                channels=int(row["channels"]),
                precision=_PRECISIONS[row["precision_bits"]],
                cutout=int(row["cutout"]),
                image_size=int(row["image_size"]),
            )
            gpu_hours = float(row["gpu_hours_per_arch"])
        except (ValueError, KeyError) as error:
            raise TableError(f"{folder / 'budgets.csv'} line {line}: {error}") from None
        accuracies = table.get(row["setting"], {})
        known = [arch for arch in truth if arch.name in accuracies]
        if len(known) < 3:
            raise TableError(f"setting {row['setting']!r} has {len(known)} ground-truth architectures in budget_accuracies.csv")
        pairs = tuple((arch.accuracy, accuracies[arch.name]) for arch in known)
        recorded.append(RecordedBudget(row["setting"], budget, gpu_hours, pairs, tuple(arch.name for arch in known)))
    return recorded


def recorded_space(recorded: Sequence[RecordedBudget]) -> BudgetSpace:
    """The space of every value each of the eight fields takes in the recorded budgets."""
    names = ("epochs", "batch_size", "lr", "layers", "channels", "precision", "cutout", "image_size")
    values = {name: tuple(sorted({getattr(r.budget, name) for r in recorded})) for name in names}
    return BudgetSpace(values=values, fixed={})


class RecordedObjective:
    """Eq. 1 answered from the recorded budgets: the nearest recorded budget stands for the suggestion.

    Distance adds, per field, the gap between log values over the field's log range (precision and
    cutout: 0 if equal, else 1); ties go to the first recorded budget. The cost is the recorded
    GPU-hours per architecture over the most expensive recorded budget's. Each trial keeps the
    setting that answered it (``user_attrs["setting"]``).

    The recorded accuracies are replayed in the order a :class:`TrainingObjective` with the same
    ``order_seed`` would train the architectures, reporting and pruning as it would.
    """

    def __init__(
        self,
        recorded: Sequence[RecordedBudget],
        *,
        penalty: float = DEFAULT_PENALTY,
        report_every: int | None = None,
        order_seed: int = 0,
    ) -> None:
        self.recorded = list(recorded)
        self.space = recorded_space(self.recorded)
        self.penalty = _check_penalty(penalty)
        self._max_hours = max(r.gpu_hours for r in self.recorded)
        self.architectures = shared_order({name for r in self.recorded for name in r.architectures}, order_seed)
        self.report_every = _check_report_every(report_every, len(self.architectures))
        self._pairs = {r.setting: dict(zip(r.architectures, r.pairs)) for r in self.recorded}

    def nearest(self, budget: Budget) -> RecordedBudget:
        return min(self.recorded, key=lambda r: self._distance(budget, r.budget))

    def _distance(self, a: Budget, b: Budget) -> float:
        total = 0.0
        for name, candidates in self.space.values.items():
            x, y = getattr(a, name), getattr(b, name)
            if name in ("precision", "cutout"):
                total += float(x != y)
            else:
                span = math.log(max(candidates)) - math.log(min(candidates))
                total += abs(math.log(x) - math.log(y)) / span if span else 0.0
        return total

    def __call__(self, trial: optuna.Trial) -> float:
        recorded = self.nearest(self.space.suggest(trial))
        cost = recorded.gpu_hours / self._max_hours
        _record_budget(trial, recorded.budget, cost, len(self.architectures), setting=recorded.setting, gpu_hours=recorded.gpu_hours)
        pairs = self._pairs[recorded.setting]

        def replay(names: Sequence[str]) -> list[tuple[float, float]]:
            return [pairs[name] for name in names if name in pairs]

        measure_reporting(trial, self.architectures, replay, self.penalty * cost, self.report_every)
        full, budgeted = (dict(zip(recorded.architectures, values)) for values in zip(*recorded.pairs))
        _record(trial, recorded.correlation, R_f=full, R_b=budgeted)  # R_f, R_b: the report's paired comparison
        return recorded.correlation.spearman - self.penalty * cost
