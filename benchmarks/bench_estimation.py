"""How well cheap estimators rank the authors' 100 reference architectures (issue 6).

Rows, each ranked against the architectures' full-training accuracy (``ground_truth.csv``): Spearman
r_s with its 95 % bootstrap interval, Kendall tau, and the cost per architecture measured here.

* every zero-cost proxy (:mod:`nas.estimation._proxies`) at the proxy budget's network size,
  computed here on one thread; scores are cached (``--cache``, a CSV under runs/) as soon as each is
  measured, so a rerun is free and an interrupted run resumes;
* every trained budget (``--budget NAME [--set KEY=VALUE ...]``, repeatable) read from the result
  store (``--storage``): only the architectures trained so far count (n says how many); the
  seconds are the stored wall-clock training times;
* rank averages: the best proxy with each trained budget, and two pairs of proxies (synflow with
  naswot, chosen beforehand, and the best pair on these architectures, which is optimistic);
* the authors' recorded budgets task5 (BPE-1), task32 (BPE-2) and task1, with their GPU-hours.

The issue's goal is r_s >= 0.50 at <= 1 CPU-minute per architecture; the ``goal`` column says which
rows meet it. A second table, fidelity, sets our ``--fidelity-budget`` accuracies next to the
authors' task5 accuracies of the same architectures: ours is the last epoch on a 5,000-image
validation split, theirs the best epoch on the test set.

Measured with (writes benchmarks/results/estimation.csv and estimation_fidelity.csv), after the
trained budgets' results were stored by (one process each, one thread, in the background):

    OMP_NUM_THREADS=1 python -m nas estimate --archs ../shared/reference/zheng2020/ground_truth.csv \
        --budget bpe1 --set epochs=3 train_fraction=0.15 --device cpu \
        --data ../shared/data/cifar10-jpeg.zip --storage sqlite:///runs/estimation.db
    OMP_NUM_THREADS=1 python -m nas estimate --archs <arch_001..arch_003 of ground_truth.csv> --budget bpe1 ...
    OMP_NUM_THREADS=1 python benchmarks/bench_estimation.py
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import torch  # noqa: E402

from nas import NasError, read_recorded_budgets  # noqa: E402
from nas._progress import Progress  # noqa: E402
from nas.data import Dataset, load_dataset  # noqa: E402
from nas.estimation import (  # noqa: E402
    PROXIES,
    Architecture,
    Budget,
    correlate,
    dataset_key,
    preset,
    read_architectures,
    read_recorded,
    score,
)
from nas.store import ResultStore, budget_identity  # noqa: E402

SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference" / "zheng2020"
RESULTS = ROOT / "benchmarks" / "results"
GOAL_R_S, GOAL_SECONDS = 0.50, 60.0
RECORDED = ("task5", "task32", "task1")
A_PRIORI_PAIR = ("synflow", "naswot")
DEFAULT_BUDGETS = [("bpe1", ["epochs=3", "train_fraction=0.15"]), ("bpe1", [])]
CACHE_COLUMNS = ["setting", "arch", "arch_hash", "proxy", "score", "cpu_seconds"]


@dataclass
class Estimator:
    """One row: an estimator's predictions of some architectures (by name) and what it costs."""

    name: str
    kind: str
    predictions: dict[str, float]
    cpu_seconds: float | None = None
    gpu_hours: float | None = None
    note: str = ""


class _BudgetArgument(argparse.Action):
    def __call__(self, parser, namespace, value, option_string=None) -> None:
        namespace.budgets = [*(namespace.budgets or []), (value, [])]


class _SetArgument(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if not namespace.budgets:
            parser.error("--set must follow a --budget")
        namespace.budgets[-1][1].extend(values)


def budget_label(name: str, settings: Sequence[str]) -> str:
    return " ".join([name, *settings])


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    """A fixed-width table of ``rows`` (dicts with the same keys); floats to 3 decimals."""
    def text(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "-"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    columns = list(rows[0])
    cells = [[text(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    print("  ".join(column.ljust(width) for column, width in zip(columns, widths)))
    for line in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)))


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------------------------------ proxies


def proxy_setting(budget: Budget, dataset: Dataset, batches: int, seed: int) -> str:
    """The cache key of everything that changes a proxy score besides the architecture."""
    spec = {"budget": budget_identity(budget), "dataset": dataset_key(dataset), "batches": batches, "seed": seed}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def proxy_scores(
    architectures: Sequence[Architecture], proxies: Sequence[str], budget: Budget, dataset: Dataset, cache: Path, *, batches: int, seed: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """``{proxy: {arch: (score, cpu seconds)}}``, computing on one CPU only what ``cache`` lacks and
    appending each score to it at once."""
    setting = proxy_setting(budget, dataset, batches, seed)
    found: dict[str, dict[str, tuple[float, float]]] = {proxy: {} for proxy in proxies}
    if cache.exists():
        with cache.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row["setting"] == setting and row["proxy"] in found:
                    found[row["proxy"]][row["arch"]] = (float(row["score"]), float(row["cpu_seconds"]))
    missing = [(arch, proxy) for arch in architectures for proxy in proxies if arch.name not in found[proxy]]
    if not missing:
        return found
    score(architectures[0].genotype, "params", budget, dataset, device="cpu")  # prepares the images once, untimed
    cache.parent.mkdir(parents=True, exist_ok=True)
    new_file = not cache.exists()
    with cache.open("a", newline="") as handle, Progress(len(architectures) * len(proxies), "proxies", done=len(architectures) * len(proxies) - len(missing)) as progress:
        writer = csv.DictWriter(handle, fieldnames=CACHE_COLUMNS)
        if new_file:
            writer.writeheader()
        for arch, proxy in missing:
            started = time.process_time()
            result = score(arch.genotype, proxy, budget, dataset, batches=batches, seed=seed, device="cpu")
            cpu_seconds = time.process_time() - started
            found[proxy][arch.name] = (result.score, cpu_seconds)
            writer.writerow(dict(setting=setting, arch=arch.name, arch_hash=arch.genotype.hash(), proxy=proxy, score=repr(result.score), cpu_seconds=f"{cpu_seconds:.4f}"))
            handle.flush()
            progress.step(f"{arch.name} {proxy}")
    return found


# ---------------------------------------------------------------------------------- trained budgets


def trained(store: ResultStore, architectures: Sequence[Architecture], budget: Budget, dataset: Dataset, numerics: str) -> tuple[dict[str, float], list[float]]:
    """Accuracies (by architecture name) of the architectures the store has under ``budget``, and
    their training seconds."""
    key = dataset_key(dataset)
    accuracies = store.accuracies(budget, key, numerics=numerics).accuracies
    names = {arch.genotype.hash(): arch.name for arch in architectures}
    found = {names[h]: accuracy for h, accuracy in accuracies.items() if h in names}
    seconds = [store.get(arch.genotype, budget, key, numerics).seconds for arch in architectures if arch.name in found]
    return found, seconds


# ------------------------------------------------------------------------------------------ table


def rank_average(*predictions: dict[str, float]) -> dict[str, float]:
    """Mean rank of each architecture all ``predictions`` score (ties share their mean rank)."""
    names = sorted(set.intersection(*(set(p) for p in predictions)))
    ranks = [stats.rankdata([p[name] for name in names]) for p in predictions]
    return dict(zip(names, np.mean(ranks, axis=0)))


def combine(name: str, kind: str, parts: Sequence[Estimator], note: str) -> Estimator:
    costs = [part.cpu_seconds for part in parts]
    return Estimator(name, kind, rank_average(*(part.predictions for part in parts)), None if None in costs else sum(costs), note=note)


def spearman(estimator: Estimator, truth: dict[str, float]) -> float:
    """r_s without its interval, to pick the best of many estimators quickly."""
    names = [name for name in truth if name in estimator.predictions]
    return stats.spearmanr([truth[n] for n in names], [estimator.predictions[n] for n in names]).statistic


def row(estimator: Estimator, truth: dict[str, float]) -> dict[str, Any]:
    names = [name for name in truth if name in estimator.predictions]
    r_s = low = high = tau = float("nan")
    if len(names) >= 3:
        correlation = correlate([truth[n] for n in names], [estimator.predictions[n] for n in names])
        r_s, (low, high), tau = correlation.spearman, correlation.spearman_ci, correlation.kendall
    if estimator.cpu_seconds is None or np.isnan(r_s):
        goal = "n/a" if estimator.gpu_hours is not None else "-"
    else:
        goal = "yes" if r_s >= GOAL_R_S and estimator.cpu_seconds <= GOAL_SECONDS else "no"
    return {
        "estimator": estimator.name,
        "kind": estimator.kind,
        "n": len(names),
        "r_s": r_s,
        "ci_low": low,
        "ci_high": high,
        "kendall": tau,
        "cpu_s_per_arch": estimator.cpu_seconds,
        "gpu_h_per_arch": estimator.gpu_hours,
        "goal": goal,
        "note": estimator.note,
    }


def fidelity(truth: Sequence[Architecture], ours: dict[str, float], recorded: dict[str, float]) -> list[dict[str, Any]]:
    rows = [
        {"arch": arch.name, "ours": 100 * ours[arch.name], "authors_task5": recorded[arch.name], "difference": 100 * ours[arch.name] - recorded[arch.name]}
        for arch in truth
        if arch.name in ours and arch.name in recorded
    ]
    if rows:
        rows.append({"arch": "mean |difference|", "ours": None, "authors_task5": None, "difference": float(np.mean([abs(r["difference"]) for r in rows]))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="folder of the authors' CSV tables")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"))
    parser.add_argument("--storage", default=f"sqlite:///{ROOT / 'runs' / 'estimation.db'}", help="result store of the trained budgets")
    parser.add_argument("--budget", dest="budgets", action=_BudgetArgument, metavar="NAME", help="a trained budget to list (repeatable)")
    parser.add_argument("--set", nargs="+", action=_SetArgument, metavar="KEY=VALUE", help="overrides of the --budget before it")
    parser.add_argument("--numerics", default="cpu-fp32", help="arithmetic of the trained results")
    parser.add_argument("--proxy-budget", default="bpe1", help="preset whose network size the proxies score")
    parser.add_argument("--proxies", nargs="+", default=list(PROXIES), choices=PROXIES)
    parser.add_argument("--batches", type=int, default=1, help="training batches per data-dependent proxy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fidelity-budget", default="bpe1", help="trained budget to set beside the authors' task5")
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "proxy_scores.csv")
    parser.add_argument("--out", type=Path, default=RESULTS / "estimation.csv")
    args = parser.parse_args()
    torch.set_num_threads(1)

    architectures = read_architectures(args.reference / "ground_truth.csv", with_accuracy=True)
    truth = {arch.name: arch.accuracy for arch in architectures}
    dataset = load_dataset(args.data)
    scores = proxy_scores(architectures, args.proxies, preset(args.proxy_budget), dataset, args.cache, batches=args.batches, seed=args.seed)
    proxies = [
        Estimator(name, "proxy", {a: s for a, (s, _) in found.items()}, float(np.mean([c for _, c in found.values()])))
        for name, found in scores.items()
    ]

    store = ResultStore(args.storage)
    budgets = []
    for name, settings in args.budgets or DEFAULT_BUDGETS:
        accuracies, seconds = trained(store, architectures, preset(name).with_settings(settings), dataset, args.numerics)
        note = f"wall-clock s, {args.numerics}; {len(accuracies)} of {len(architectures)} trained so far" if accuracies else "no results in the store"
        budgets.append(Estimator(budget_label(name, settings), "trained", accuracies, float(np.mean(seconds)) if seconds else None, note=note))

    best_proxy = max(proxies, key=lambda p: spearman(p, truth))
    combinations = [
        combine(f"{best_proxy.name} + {b.name}", "rank average", [best_proxy, b], "best proxy chosen on these archs")
        for b in budgets
        if len(b.predictions) >= 3
    ]
    by_name = {p.name: p for p in proxies}
    pairs = {pair: combine(" + ".join(pair), "rank average", [by_name[a] for a in pair], "") for pair in itertools.combinations(by_name, 2)}
    best_pair = max(pairs.values(), key=lambda p: spearman(p, truth))
    best_pair.note = "best of all proxy pairs on these archs (optimistic)"
    if A_PRIORI_PAIR in pairs:
        chosen = pairs[A_PRIORI_PAIR]
        chosen.note = "pair chosen beforehand" + ("; also the best pair" if chosen is best_pair else "")
        combinations.append(chosen)
    if best_pair not in combinations:
        combinations.append(best_pair)

    gpu_hours = {r.setting: r.gpu_hours for r in read_recorded_budgets(args.reference)}
    reference = [
        Estimator(f"authors' {s}", "recorded", read_recorded(args.reference / "budget_accuracies.csv", s), gpu_hours=gpu_hours[s], note="recorded accuracies (GPU)")
        for s in RECORDED
    ]
    table = [row(e, truth) for e in [*proxies, *budgets, *combinations, *reference]]
    print(f"Estimators of the {len(architectures)} reference architectures (goal: r_s >= {GOAL_R_S} at <= {GOAL_SECONDS:.0f} CPU-s/arch)")
    print_table(table)
    meeting = [r["estimator"] for r in table if r["goal"] == "yes"]
    print(f"rows meeting the goal: {', '.join(meeting) if meeting else 'none'}")
    write_csv(args.out, table)

    fidelity_budget = preset(args.fidelity_budget)
    ours, _ = trained(store, architectures, fidelity_budget, dataset, args.numerics)
    rows = fidelity(architectures, ours, read_recorded(args.reference / "budget_accuracies.csv", "task5"))
    print(f"\nFidelity: our {args.fidelity_budget} (last epoch, 5,000-image validation split) against the authors' task5 (best epoch, test set), accuracy in %")
    if rows:
        print_table(rows)
        write_csv(args.out.with_name(args.out.stem + "_fidelity.csv"), rows)
    else:
        print("no architectures trained under it yet")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except NasError as error:
        sys.exit(f"error: {error}")
