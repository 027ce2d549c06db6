"""The leaderboard: how well each estimator ranks the authors' 100 reference architectures (issues 6, 18).

Every row ranks the architectures (the first ``--archs N`` of them, if given) against their
full-training accuracy (``ground_truth.csv``): Spearman r_s with its 95 % bootstrap interval, Kendall
tau, precision@10 (the share of the true top 10 among the estimator's top 10), the labels
(full-training accuracies) it was fitted on, and its cost per architecture measured here. Rows, by kind:

* proxy: every zero-cost proxy that ``nas.estimation.estimators("proxy")`` knows (the built-in ones, then any
  a ``--plugin`` registers) at each ``--proxy-sizes`` network size: ``bpe1`` (6 cells of 8 channels,
  16-pixel images; one batch of bpe1's 128 images) and ``real`` (20 cells of 36 channels, 32 pixels:
  the network that full training trains; one batch of 32 images, and by default only the proxies of
  ``--real-size-proxies``, since a gradient-based one costs 10-50 CPU-s there), one CPU thread. Each score is cached (``--cache``, a CSV
  under runs/) as soon as it is measured, so a rerun is free and an interrupted run resumes.
* trained: each ``--budget`` read from the result store (``--storage``): the architectures trained
  so far count (n says how many); its cost is the stored wall-clock training seconds.
* curve: each learning-curve estimator (``nas.estimation.estimators("curve")``: last and best
  epoch, SoTL, SoTL-E, extrapolation, any a ``--plugin`` registers) on the curves stored with each
  ``--curve-budget``'s results (results stored before curves have none); its cost is the training's.
* model-based: each registered predictor (``nas.estimation.predictors()``: random forest, gradient
  boosting, Gaussian process, any a ``--plugin`` registers) on fixed feature sets: (a) the genotype's
  encoding; (b) the encoding and every proxy at the first proxy size (bpe1's); (c) those and the curve
  features of the first curve budget. 10-fold cross-validation: each architecture is predicted by a
  model fitted on the other folds' 90 labels only (``labels_used``). Its cost is its features' (the
  proxies' CPU-seconds, the training's seconds) plus its share of the fits' CPU time.
* rank average: the best proxy with each trained budget, synflow with naswot (a pair chosen
  beforehand) and the best pair of proxies.
* recorded: the authors' task5 (BPE-1), task32 (BPE-2) and task1, with their GPU-hours.

``goal`` says which of the issue's goals a row meets: ``zero-label`` (r_s >= 0.50, no label, at most
60 CPU-s per architecture), ``with-labels`` (r_s >= 0.60 cross-validated, at most 60 CPU-s per
architecture of features), ``no``, or ``n/a`` (no CPU cost measured: recorded GPU budgets, no data).
``note`` says ``chosen on these archs`` wherever a choice looked at these architectures' ground truth:
such a row's r_s is optimistic.

Measured with (writes benchmarks/results/estimation.csv), after the trained budget's results were
stored by two single-thread workers in the background (their export, curves included, is
benchmarks/results/estimation_store.csv: ``nas import`` it to make the table without training):

    OMP_NUM_THREADS=1 python -m nas estimate --archs ../shared/reference/zheng2020/ground_truth.csv \\
        --budget bpe1 --set epochs=3 train_fraction=0.15 --threads 1 --device cpu --quiet \\
        --data ../shared/data/cifar10-jpeg.zip --storage sqlite:///runs/estimation.db
    OMP_NUM_THREADS=1 python benchmarks/bench_estimation.py --proxy-sizes bpe1 \\
        --budget "bpe1 epochs=3 train_fraction=0.15" --storage sqlite:///runs/estimation.db

``--plugin MODULE`` (repeatable) imports a module first, as ``nas --plugin`` does: the proxies
(``register_estimator``) and predictors (``register_predictor``) it registers get their rows.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import sys
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import torch  # noqa: E402

from nas import NasError, read_recorded_budgets  # noqa: E402
from nas._result import CODE_VERSION  # noqa: E402
from nas._progress import Progress  # noqa: E402
from nas.cli import _import_plugins  # noqa: E402
from nas.data import Dataset, load_dataset  # noqa: E402
from nas.estimation import (  # noqa: E402
    Architecture,
    Budget,
    TrainResult,
    correlate,
    cross_validated,
    curve_score,
    dataset_key,
    encode,
    estimators,
    precision_at_k,
    predictor,
    predictors,
    preset,
    read_architectures,
    read_recorded,
    score,
)
from nas.store import ResultStore, budget_identity  # noqa: E402

SHARED = ROOT.parent / "shared"
REFERENCE = SHARED / "reference" / "zheng2020"
RESULTS = ROOT / "benchmarks" / "results"
GOAL_ZERO_LABEL, GOAL_WITH_LABELS, GOAL_SECONDS = 0.50, 0.60, 60.0
TOP_K = 10
RECORDED = ("task5", "task32", "task1")
A_PRIORI_PAIR = ("synflow", "naswot")
# Named network sizes of --proxy-sizes; any other value is read as a budget ("PRESET KEY=VALUE ...").
PROXY_SIZES = {"bpe1": "bpe1", "real": "bpe1 layers=20 channels=36 image_size=32 batch_size=32"}
# At the real size a gradient- or Jacobian-based proxy costs 7-50 CPU-s per architecture (a 20-cell network, one
# batch of 32): by default only these, the data-free and the forward-pass ones (NASWOT, zen), are scored there.
REAL_SIZE_PROXIES = ("params", "flops", "synflow", "l2_norm", "zen", "naswot")
TRAINED_BUDGET = "bpe1 epochs=3 train_fraction=0.15"
DEFAULT_BUDGETS = [TRAINED_BUDGET, "bpe1"]
CHOSEN = "chosen on these archs"
# LightGBM was added after it ranked these architectures better than scikit-learn's boosting.
CHOSEN_MODELS = ("lightgbm",)
CACHE_COLUMNS = ["setting", "arch", "arch_hash", "proxy", "score", "cpu_seconds"]

@dataclass
class Estimator:
    """One row: an estimator's predictions of some architectures (by name) and what it costs."""

    name: str
    kind: str
    predictions: dict[str, float]
    cpu_seconds: float | None = None
    gpu_hours: float | None = None
    labels_used: int = 0
    note: str = ""


def budget_of(spec: str) -> Budget:
    """``"PRESET KEY=VALUE ..."``: a preset with command-line overrides."""
    name, *settings = spec.split()
    return preset(name).with_settings(settings)


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
    """The cache key of everything that changes a proxy score besides the architecture and the proxy's
    definition (a changed definition needs a new name, or a new cache)."""
    spec = {"budget": budget_identity(budget), "dataset": dataset_key(dataset), "batches": batches, "seed": seed, "code_version": CODE_VERSION}
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
        return finite(found)
    score(architectures[0].genotype, "params", budget, dataset, device="cpu")  # prepares the images once, untimed
    cache.parent.mkdir(parents=True, exist_ok=True)
    new_file = not cache.exists()
    total = len(architectures) * len(proxies)
    with cache.open("a", newline="") as handle, Progress(total, "proxies", done=total - len(missing)) as progress:
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
    return finite(found)


def finite(found: dict[str, dict[str, tuple[float, float]]]) -> dict[str, dict[str, tuple[float, float]]]:
    """Without the non-finite scores (NaN epe_nas, -inf zen of a network that passes nothing): those
    architectures are missing from that proxy's row (n says so) and from the models fed with it."""
    return {proxy: {arch: value for arch, value in scored.items() if np.isfinite(value[0])} for proxy, scored in found.items()}


def proxy_rows(scores: dict[str, dict[str, tuple[float, float]]], size: str, names: set[str]) -> list[Estimator]:
    """One row per proxy of ``scores`` (at the network size ``size``), for the architectures ``names``."""
    return [
        Estimator(
            f"{proxy} @ {size}",
            "proxy",
            {arch: value for arch, (value, _) in found.items() if arch in names},
            float(np.mean([seconds for arch, (_, seconds) in found.items() if arch in names])),
        )
        for proxy, found in scores.items()
    ]


# ---------------------------------------------------------------------------------- trained budgets


def stored_results(store: ResultStore, architectures: Sequence[Architecture], budget: Budget, dataset: Dataset, numerics: str) -> dict[str, TrainResult]:
    """The successful results (by architecture name) that the store has under ``budget``."""
    key = dataset_key(dataset)
    stored = store.accuracies(budget, key, numerics=numerics).accuracies
    return {arch.name: store.get(arch.genotype, budget, key, numerics) for arch in architectures if arch.genotype.hash() in stored}


def trained_row(spec: str, results: dict[str, TrainResult], numerics: str, total: int) -> Estimator:
    note = f"wall-clock s, {numerics}; {len(results)} of {total} trained so far" if results else "no results in the store"
    seconds = float(np.mean([r.seconds for r in results.values()])) if results else None
    return Estimator(spec, "trained", {name: r.accuracy for name, r in results.items()}, seconds, note=note)


def curve_features(results: dict[str, TrainResult]) -> dict[str, dict[str, float]]:
    """``{curve estimator: {arch: value}}`` of the results that have a curve, finite values only
    (every curve estimator ``nas.estimation.estimators("curve")`` knows, a plugin's too)."""
    with_curves = {name: r for name, r in results.items() if r.curve}
    values = {c: {name: float(curve_score(c, r)) for name, r in with_curves.items()} for c in estimators("curve")}
    return {c: {name: v for name, v in found.items() if np.isfinite(v)} for c, found in values.items()}


def curve_rows(spec: str, features: dict[str, dict[str, float]], results: dict[str, TrainResult]) -> list[Estimator]:
    return [
        Estimator(f"{c} ({spec})", "curve", found, float(np.mean([results[n].seconds for n in found])), note="cost: the training's wall-clock s")
        for c, found in features.items()
        if found
    ]


# ------------------------------------------------------------------------------------- model-based


@dataclass(frozen=True)
class Features:
    """Columns (name: {arch: value}) that a predictor reads beside the encoding, and what they cost
    per architecture."""

    label: str
    columns: dict[str, dict[str, float]]
    cpu_seconds: float


def signed_log(values: np.ndarray) -> np.ndarray:
    """``sign(x) log(1 + |x|)``: proxies span many orders of magnitude (synflow ~1e30); on a log
    scale a standardised column is not one outlier and zeros. Fixed beforehand, for every column."""
    return np.sign(values) * np.log1p(np.abs(values))


def model_rows(
    architectures: Sequence[Architecture], feature_sets: Sequence[Features], models: Sequence[str], *, folds: int, seed: int
) -> list[Estimator]:
    """One row per predictor and feature set: out-of-fold predictions of k-fold cross-validation over
    the architectures that have every feature."""
    started = time.process_time()
    encodings = {arch.name: encode(arch.genotype) for arch in architectures}
    encoding_seconds = (time.process_time() - started) / len(architectures)
    labels = {arch.name: arch.accuracy for arch in architectures}
    rows = []
    for features in feature_sets:
        names = [a.name for a in architectures if all(a.name in column for column in features.columns.values())]
        matrix = np.array([[*encodings[n], *signed_log(np.array([c[n] for c in features.columns.values()]))] for n in names])
        for model in models:
            name = f"{model} on {features.label}"
            if len(names) < max(folds, 3):
                rows.append(Estimator(name, "model-based", {}, note=f"{len(names)} architectures: fewer than {folds} folds"))
                continue
            result = cross_validated(matrix, np.array([labels[n] for n in names]), predictor(model), folds=folds, seed=seed)
            cost = features.cpu_seconds + encoding_seconds + result.cpu_seconds / len(names)
            note = f"{folds}-fold CV; features fixed beforehand" + (f"; model {CHOSEN}" if model in CHOSEN_MODELS else "")
            rows.append(Estimator(name, "model-based", dict(zip(names, result.predictions)), cost, labels_used=result.labels_used, note=note))
    return rows


# ------------------------------------------------------------------------------------------ table


def rank_average(*predictions: dict[str, float]) -> dict[str, float]:
    """Mean rank of each architecture all ``predictions`` score (ties share their mean rank)."""
    names = sorted(set.intersection(*(set(p) for p in predictions)))
    ranks = [stats.rankdata([p[name] for name in names]) for p in predictions]
    return dict(zip(names, np.mean(ranks, axis=0)))


def combine(parts: Sequence[Estimator], note: str) -> Estimator:
    costs = [part.cpu_seconds for part in parts]
    name = " + ".join(part.name for part in parts)
    return Estimator(name, "rank average", rank_average(*(part.predictions for part in parts)), None if None in costs else sum(costs), note=note)


def spearman(estimator: Estimator, truth: dict[str, float]) -> float:
    """r_s without its interval, to pick the best of many estimators quickly; -inf where it is
    undefined (fewer than 3 architectures, constant predictions), so that such a row is never best."""
    names = [name for name in truth if name in estimator.predictions]
    if len(names) < 3:
        return -np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        r_s = stats.spearmanr([truth[n] for n in names], [estimator.predictions[n] for n in names]).statistic
    return -np.inf if np.isnan(r_s) else float(r_s)


def rank_averages(proxies: Sequence[Estimator], budgets: Sequence[Estimator], truth: dict[str, float], cheap_size: str) -> list[Estimator]:
    """The best proxy with each trained budget, the pair of proxies chosen beforehand (at the cheap
    size) and the best pair: those two picked by their r_s on these architectures."""
    best_proxy = max(proxies, key=lambda p: spearman(p, truth))
    rows = [combine([best_proxy, b], f"best proxy {CHOSEN}") for b in budgets if len(b.predictions) >= 3]
    pairs = [combine(pair, "") for pair in itertools.combinations(proxies, 2)]
    best_pair = max(pairs, key=lambda p: spearman(p, truth))
    a_priori = " + ".join(f"{proxy} @ {cheap_size}" for proxy in A_PRIORI_PAIR)
    for pair in pairs:
        if pair.name == a_priori:
            rows.append(replace(pair, note="pair chosen beforehand" + (f"; also the best pair, {CHOSEN}" if pair is best_pair else "")))
    if best_pair.name != a_priori:
        rows.append(replace(best_pair, note=f"best of all proxy pairs, {CHOSEN}"))
    return rows


def recorded_rows(reference: Path, settings: Sequence[str]) -> list[Estimator]:
    if not settings:
        return []
    gpu_hours = {r.setting: r.gpu_hours for r in read_recorded_budgets(reference)}
    return [
        Estimator(f"authors' {s}", "recorded", read_recorded(reference / "budget_accuracies.csv", s), gpu_hours=gpu_hours[s], note="recorded accuracies (GPU)")
        for s in settings
    ]


def goal(estimator: Estimator, r_s: float, n: int, total: int) -> str:
    """Which goal of the issue the row meets: each asks for r_s at <= 1 CPU-minute per architecture,
    0.50 with no label, 0.60 with cross-validated labels, over all the architectures (a row over
    some of them, ``n < total``, meets none: its r_s is another sample's)."""
    if estimator.cpu_seconds is None or np.isnan(r_s):
        return "n/a"
    if n < total:
        return "no"
    if estimator.cpu_seconds > GOAL_SECONDS:
        return "no"
    if estimator.labels_used:
        return "with-labels" if r_s >= GOAL_WITH_LABELS else "no"
    return "zero-label" if r_s >= GOAL_ZERO_LABEL else "no"


def row(estimator: Estimator, truth: dict[str, float]) -> dict[str, Any]:
    names = [name for name in truth if name in estimator.predictions]
    r_s = low = high = tau = precision = float("nan")
    full, predicted = [truth[n] for n in names], [estimator.predictions[n] for n in names]
    if len(names) >= 3:
        correlation = correlate(full, predicted)
        r_s, (low, high), tau = correlation.spearman, correlation.spearman_ci, correlation.kendall
    if len(names) > TOP_K:
        precision = precision_at_k(full, predicted, TOP_K)
    return {
        "estimator": estimator.name,
        "kind": estimator.kind,
        "labels_used": estimator.labels_used,
        "n": len(names),
        "r_s": r_s,
        "ci_low": low,
        "ci_high": high,
        "kendall": tau,
        "precision_at_10": precision,
        "cpu_s_per_arch": estimator.cpu_seconds,
        "gpu_h_per_arch": estimator.gpu_hours,
        "goal": goal(estimator, r_s, len(names), len(truth)),
        "note": estimator.note,
    }


def proxies_at(size: str, args: argparse.Namespace) -> list[str]:
    """The proxies scored at ``size``: ``--proxies``, and at the real size only those of ``--real-size-proxies``."""
    return [proxy for proxy in args.proxies if size != "real" or proxy in args.real_size_proxies]


def leaderboard(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every row of the table, in the order of the module's docstring."""
    architectures = read_architectures(args.reference / "ground_truth.csv", with_accuracy=True)[: args.archs]
    truth = {arch.name: arch.accuracy for arch in architectures}
    dataset = load_dataset(args.data)
    sizes = [(size, PROXY_SIZES.get(size, size)) for size in args.proxy_sizes]
    scores = {
        size: proxy_scores(architectures, proxies_at(size, args), budget_of(spec), dataset, args.cache, batches=args.batches, seed=args.seed)
        for size, spec in sizes
    }
    proxies = [estimator for size, found in scores.items() for estimator in proxy_rows(found, size, set(truth))]

    store = ResultStore(args.storage)
    budgets = [trained_row(spec, stored_results(store, architectures, budget_of(spec), dataset, args.numerics), args.numerics, len(architectures)) for spec in args.budgets]
    curves = []
    for spec in args.curve_budgets:
        results = stored_results(store, architectures, budget_of(spec), dataset, args.numerics)
        curves.append((spec, curve_features(results), results))

    cheap_size = sizes[0][0]
    cheap = {f"{proxy} @ {cheap_size}": {a: s for a, (s, _) in found.items()} for proxy, found in scores[cheap_size].items()}
    cheap_cost = sum(p.cpu_seconds for p in proxies if p.name in cheap)
    feature_sets = [Features("encoding", {}, 0.0), Features(f"encoding + proxies @ {cheap_size}", cheap, cheap_cost)]
    if curves and any(curves[0][1].values()):
        spec, features, results = curves[0]
        training = float(np.mean([r.seconds for r in results.values()]))
        feature_sets.append(Features(f"encoding + proxies @ {cheap_size} + curves ({spec})", {**cheap, **features}, cheap_cost + training))
    models = model_rows(architectures, feature_sets, args.predictors, folds=args.folds, seed=args.seed)

    entries = [
        *proxies,
        *budgets,
        *itertools.chain.from_iterable(curve_rows(*curve) for curve in curves),
        *models,
        *rank_averages(proxies, budgets, truth, cheap_size),
        *recorded_rows(args.reference, args.recorded),
    ]
    return [row(entry, truth) for entry in entries]


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="import MODULE first, for the proxies and predictors it registers; repeatable")
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="folder of the authors' CSV tables")
    parser.add_argument("--archs", type=int, default=None, metavar="N", help="only the first N reference architectures (a quick check)")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"))
    parser.add_argument("--storage", default=f"sqlite:///{ROOT / 'runs' / 'estimation.db'}", help="result store of the trained budgets")
    spec = "'PRESET KEY=VALUE ...'"
    parser.add_argument("--budget", dest="budgets", nargs="+", default=DEFAULT_BUDGETS, metavar=spec, help="trained budgets to list")
    parser.add_argument("--curve-budget", dest="curve_budgets", nargs="*", default=[TRAINED_BUDGET], metavar=spec, help="trained budgets whose curves to read")
    parser.add_argument("--numerics", default="cpu-fp32", help="arithmetic of the trained results")
    parser.add_argument(
        "--proxy-sizes", nargs="+", default=list(PROXY_SIZES), metavar="SIZE",
        help=f"network sizes of the proxies: {', '.join(PROXY_SIZES)} or {spec}; the model-based rows read the first",
    )
    parser.add_argument("--proxies", nargs="+", default=None, help="default: every registered proxy")
    parser.add_argument(
        "--real-size-proxies", nargs="+", default=list(REAL_SIZE_PROXIES), metavar="PROXY",
        help=f"of those, the ones scored at the real size (default: {' '.join(REAL_SIZE_PROXIES)})",
    )
    parser.add_argument("--predictors", nargs="*", default=None, help="default: every registered predictor")
    parser.add_argument("--recorded", nargs="*", default=list(RECORDED), help="the authors' recorded settings to list")
    parser.add_argument("--batches", type=int, default=1, help="training batches per data-dependent proxy")
    parser.add_argument("--folds", type=int, default=10, help="k of the model-based rows' k-fold cross-validation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "proxy_scores.csv")
    parser.add_argument("--out", type=Path, default=RESULTS / "estimation.csv")
    args = parser.parse_args(argv)
    _import_plugins(args.plugin)  # before the defaults that list what is registered
    args.proxies = args.proxies or list(estimators("proxy"))
    args.predictors = list(predictors()) if args.predictors is None else args.predictors
    unknown = sorted(set(args.proxies) - set(estimators("proxy"))) + sorted(set(args.predictors) - set(predictors()))
    if unknown:
        parser.error(f"unknown proxies or predictors: {', '.join(unknown)} (known: {', '.join([*estimators('proxy'), *predictors()])})")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_arguments(argv)
    torch.set_num_threads(1)
    table = leaderboard(args)
    print(f"Estimators of the {max(r['n'] for r in table)} reference architectures (goals: r_s >= {GOAL_ZERO_LABEL} with no label, "
          f">= {GOAL_WITH_LABELS} cross-validated, each at <= {GOAL_SECONDS:.0f} CPU-s/arch)")
    print_table(table)
    for name in ("zero-label", "with-labels"):
        meeting = [r["estimator"] for r in table if r["goal"] == name]
        print(f"rows meeting the {name} goal: {', '.join(meeting) if meeting else 'none'}")
    write_csv(args.out, table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    try:
        main()
    except NasError as error:
        sys.exit(f"error: {error}")
