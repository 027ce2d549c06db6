"""Estimation commands: describe, train, estimate and correlate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nas._errors import NasError
from nas.cli._common import (
    DEFAULT_STORAGE,
    Commands,
    budget_from_args,
    budget_options,
    device_from_args,
    emit,
    load_data,
    set_threads,
    training_options,
)
from nas.estimation._budget import TEST_SPLIT_NOTE, measures_on_test, preset


def _describe(args: argparse.Namespace) -> None:
    from nas.space._genotype import parse_genotype
    from nas.space._model import cifar_network, count_flops, count_parameters

    genotype = parse_genotype(args.genotype)
    # The same checks as a budget's (field names match): no network below these sizes.
    preset("bpe1").replace(layers=args.layers, channels=args.channels, image_size=args.image_size)
    if args.classes < 2:
        raise NasError(f"--classes must be >= 2, got {args.classes}")
    model = cifar_network(
        genotype, channels=args.channels, layers=args.layers, num_classes=args.classes, auxiliary=args.auxiliary
    )
    params, flops = count_parameters(model), count_flops(model, args.image_size)
    emit(
        args,
        {"params": params, "flops": flops, "hash": genotype.hash()},
        f"params {params / 1e6:.3f} M (without auxiliary head), FLOPs {flops / 1e6:.1f} M "
        f"(multiply-adds at {args.image_size} px), hash {genotype.hash()}",
    )


def _train(args: argparse.Namespace) -> int:
    from nas.estimation._estimate import get_or_train
    from nas.space._genotype import parse_genotype
    from nas.estimation._store import ResultStore

    genotype = parse_genotype(args.genotype)
    budget = budget_from_args(args)
    split = _held_out_split(budget)
    device = device_from_args(args.device)
    if args.retry_failed and not args.storage:
        raise NasError("--retry-failed needs --storage: without a database nothing failed before")
    set_threads(args.threads)
    dataset = load_data(args)
    store = ResultStore(args.storage) if args.storage else None
    # A bar only on a terminal: in a log file it would be a line of fragments per update.
    result = get_or_train(
        genotype,
        budget,
        dataset,
        store,
        device=device,
        progress=not args.quiet and sys.stderr.isatty(),
        retry_failed=args.retry_failed,
    )
    if result.status == "ok":
        text = f"{split} accuracy {result.accuracy:.4f} in {result.seconds:.1f} s, final loss {result.loss:.4f}"
    else:
        text = f"failed: {result.reason}"
    emit(args, {**result.to_dict(), "split": split}, text)
    return 0 if result.status == "ok" else 1


def _held_out_split(budget) -> str:
    """``"test"`` or ``"valid"``: where the budget measures; a test-split budget is said so on stderr."""
    if measures_on_test(budget):
        print(TEST_SPLIT_NOTE.format(budget.evaluation), file=sys.stderr)
        return "test"
    return "valid"


def _estimate(args: argparse.Namespace) -> None:
    from nas.estimation._estimate import estimate, threads_per_worker
    from nas.estimation._store import ResultStore
    from nas.estimation._tables import read_architectures

    architectures = read_architectures(args.archs)
    budget = budget_from_args(args)
    split = _held_out_split(budget)
    device = device_from_args(args.device)
    if args.workers < 1:
        raise NasError(f"--workers must be >= 1, got {args.workers}")
    threads = threads_per_worker(args.workers) if args.threads is None else args.threads
    set_threads(threads)
    dataset = load_data(args)
    store = ResultStore(args.storage)
    results = estimate(
        architectures,
        budget,
        dataset,
        store,
        device=device,
        progress=not args.quiet,
        retry_failed=args.retry_failed,
        workers=args.workers,
        threads=threads,
    )
    failed = sum(result.status != "ok" for result in results.values())
    hint = " (stored failures are kept: --retry-failed trains them again)" if failed else ""
    emit(
        args,
        {name: {**result.to_dict(), "split": split} for name, result in results.items()},
        f"{len(results)} architectures under this budget ({failed} failed{hint}, {split} accuracies), stored in {args.storage}",
    )


def _correlate(args: argparse.Namespace) -> None:
    from nas.estimation._correlation import correlate
    from nas.estimation._tables import TableError, read_architectures, read_recorded

    truth = read_architectures(args.ground_truth, with_accuracy=True)
    stored = None
    if args.table:
        if not args.setting:
            raise TableError("--table needs --setting NAME")
        recorded = read_recorded(args.table, args.setting)
        pairs = [(arch.accuracy, recorded[arch.name]) for arch in truth if arch.name in recorded]
        source = f"{args.table} setting {args.setting}"
    else:
        from nas.estimation._store import ResultStore

        if not args.budget:
            raise TableError("give either --table CSV --setting NAME or --storage URL --budget NAME")
        if args.storage.startswith("sqlite:///") and not Path(args.storage.removeprefix("sqlite:///")).is_file():
            raise TableError(f"no result database at {args.storage}")
        stored = ResultStore(args.storage).accuracies(budget_from_args(args), args.dataset, args.numerics)
        accuracies = stored.accuracies
        pairs = [(arch.accuracy, accuracies[arch.genotype.hash()]) for arch in truth if arch.genotype.hash() in accuracies]
        source = f"{args.storage} budget {args.budget}"
    if len(pairs) < 3:
        raise TableError(f"only {len(pairs)} architectures of {args.ground_truth} have results in {source}")
    full, budgeted = zip(*pairs)
    result = correlate(full, budgeted, seed=args.seed)
    low, high = result.spearman_ci
    text = (
        f"Spearman r_s {result.spearman:.3f} (95% CI {low:.3f} to {high:.3f}), Kendall tau {result.kendall:.3f}, "
        f"n {result.n}"
    )
    if stored is not None and stored.skipped:
        text += f"\nskipped: {stored.skipped_text()}"
    emit(args, {**result.to_dict(), "skipped": stored.skipped if stored else {}}, text)


_GENOTYPE_HELP = "DARTS genotype, e.g. \"Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=...)\""

_CORRELATE_MODES = """Spearman r_s (with a 95% bootstrap interval) and Kendall tau between the full-training
accuracies of --ground-truth and the accuracies of the same architectures under a budget,
taken from one of two sources:

  recorded:  --table CSV --setting NAME
             a table of recorded accuracies (columns setting,arch,accuracy), e.g. the
             paper authors' budget_accuracies.csv; no training.
  estimated: --storage URL --budget NAME [--set KEY=VALUE ...]
             the results 'nas estimate' stored in the database for that budget.
"""


def register(command: Commands) -> None:
    sub = command("describe", _describe, "parameters and FLOPs of a genotype's CIFAR network")
    sub.add_argument("genotype", help=_GENOTYPE_HELP)
    sub.add_argument("--layers", type=int, default=20, help="cells in the network")
    sub.add_argument("--channels", type=int, default=36, help="channels of the first cell")
    sub.add_argument("--image-size", type=int, default=32, help="input side in pixels (FLOPs depend on it)")
    sub.add_argument("--classes", type=int, default=10, help="number of output classes")
    sub.add_argument("--auxiliary", action="store_true", help="build the auxiliary head (not counted in params)")

    sub = command("train", _train, "train one genotype under a budget")
    sub.add_argument("genotype", help=_GENOTYPE_HELP)
    training_options(sub)
    sub.add_argument("--storage", help="also look up / store the result in this database URL (default: no database)")
    sub.add_argument("--retry-failed", action="store_true", help="train again if the stored result failed")

    sub = command("estimate", _estimate, "train every architecture of a CSV under one budget (resumable)")
    sub.add_argument("--archs", required=True, help="CSV with columns arch,genotype")
    training_options(sub)
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help="database URL the results are stored in")
    sub.add_argument("--retry-failed", action="store_true", help="train again the architectures whose stored result failed")
    sub.add_argument(
        "--workers", type=int, default=1, help="train this many architectures side by side, one process each (default 1)"
    )

    sub = command("correlate", _correlate, "Spearman r_s of a budget's accuracies against full training")
    sub.description = _CORRELATE_MODES
    sub.add_argument("--ground-truth", required=True, help="CSV with columns arch,genotype,accuracy")
    sub.add_argument("--table", help="recorded mode: CSV with columns setting,arch,accuracy")
    sub.add_argument("--setting", help="recorded mode: the setting of --table to correlate")
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help="estimated mode: database URL of the stored results")
    sub.add_argument("--dataset", help="only results on this dataset key (default: any)")
    sub.add_argument("--numerics", help="only results that ran in this arithmetic, e.g. cpu-fp32 or cuda-fp16 (default: any)")
    sub.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    budget_options(sub, required=False)
