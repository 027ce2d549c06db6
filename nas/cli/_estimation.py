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
    from nas.store import ResultStore

    genotype = parse_genotype(args.genotype)
    budget = budget_from_args(args)
    split = _held_out_split(budget)
    device = device_from_args(args.device)
    if args.retry_failed and not args.storage:
        raise NasError("--retry-failed needs --storage: without a database nothing failed before")
    set_threads(args.threads)
    dataset = load_data(args)
    store = ResultStore(args.storage) if args.storage else None
    # A bar on a terminal, a line per epoch in a log.
    result = get_or_train(
        genotype,
        budget,
        dataset,
        store,
        device=device,
        progress=not args.quiet,
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
    from nas.store import ResultStore
    from nas.estimation._tables import read_architectures

    architectures = read_architectures(args.archs, with_accuracy=args.seeds > 1 and _has_accuracy_column(args.archs))
    budget = budget_from_args(args)
    _seeds(budget, args.seeds)
    split = _held_out_split(budget)
    device = device_from_args(args.device)
    if args.workers < 1:
        raise NasError(f"--workers must be >= 1, got {args.workers}")
    threads = threads_per_worker(args.workers) if args.threads is None else args.threads
    set_threads(threads)
    dataset = load_data(args)
    store = ResultStore(args.storage)
    per_seed = {}
    for seed in _seeds(budget, args.seeds):
        per_seed[seed] = estimate(
            architectures,
            budget.replace(seed=seed),
            dataset,
            store,
            device=device,
            progress=not args.quiet,
            retry_failed=args.retry_failed,
            workers=args.workers,
            threads=threads,
            checkpoint_dir=args.checkpoint_dir,
        )
    results = per_seed[budget.seed]
    failed = sum(result.status != "ok" for runs in per_seed.values() for result in runs.values())
    hint = " (stored failures are kept: --retry-failed trains them again)" if failed else ""
    payload = {name: {**result.to_dict(), "split": split} for name, result in results.items()}
    text = f"{len(results)} architectures under this budget ({failed} failed{hint}, {split} accuracies), stored in {store.shown_url}"
    if args.seeds > 1:
        payload, text = _seed_summary(architectures, per_seed, split, text)
    emit(args, payload, text)


def _has_accuracy_column(path: str) -> bool:
    import csv

    try:
        with open(path, newline="") as file:
            return "accuracy" in next(csv.reader(file), [])
    except OSError:
        return False  # read_architectures names the problem


def _seeds(budget, count: int) -> list[int]:
    if count < 1:
        raise NasError(f"--seeds must be >= 1, got {count}")
    return [budget.seed + k for k in range(count)]


def _seed_summary(architectures, per_seed: dict, split: str, text: str) -> tuple[dict, str]:
    """Per-architecture means over the seeds, seed-to-seed Spearman and, with ground truth, r_s of the means."""
    from nas.estimation._correlation import correlate, seed_agreement, seed_means

    accuracies = [{name: r.accuracy for name, r in runs.items() if r.status == "ok"} for runs in per_seed.values()]
    means = seed_means(accuracies)
    agreement = seed_agreement(accuracies)
    payload = {
        name: {"seeds": {str(seed): runs[name].to_dict() for seed, runs in per_seed.items()}, "mean_accuracy": means.get(name), "split": split}
        for name in next(iter(per_seed.values()))
    }
    rows = [f"{'arch':<16} " + " ".join(f"seed {seed:<5}" for seed in per_seed) + "  mean"]
    for name in payload:
        cells = " ".join(f"{accuracy[name]:<10.4f}" if name in accuracy else f"{'-':<10}" for accuracy in accuracies)
        rows.append(f"{name:<16} {cells}  {means[name]:.4f}" if name in means else f"{name:<16} {cells}  -")
    summary = {"seed_to_seed_spearman": agreement, "seeds": list(per_seed)}
    rows.append(f"seed-to-seed Spearman (mean over {len(per_seed)} seeds' pairs): {agreement:.3f}")
    truth = [arch for arch in architectures if arch.accuracy is not None and arch.name in means]
    if len(truth) >= 3:
        correlation = correlate([arch.accuracy for arch in truth], [means[arch.name] for arch in truth])
        summary["spearman_of_means"] = correlation.to_dict()
        low, high = correlation.spearman_ci
        rows.append(f"r_s of the per-architecture means {correlation.spearman:.3f} (95% CI {low:.3f} to {high:.3f}), n {correlation.n}")
    return {"architectures": payload, "summary": summary}, "\n".join(rows + [text])


def _correlate(args: argparse.Namespace) -> None:
    from nas.estimation._correlation import correlate, seed_agreement, seed_means
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
        from nas._errors import display_url

        if not args.budget:
            raise TableError("give either --table CSV --setting NAME or --storage URL --budget NAME")
        budget = budget_from_args(args)
        store = _existing_store(args.storage)
        runs = [store.accuracies(budget.replace(seed=seed), args.dataset, args.numerics) for seed in _seeds(budget, args.seeds)]
        stored = runs[0]
        accuracies = seed_means([run.accuracies for run in runs])  # the per-architecture mean over the seeds
        pairs = [(arch.accuracy, accuracies[arch.genotype.hash()]) for arch in truth if arch.genotype.hash() in accuracies]
        source = f"{display_url(args.storage)} budget {args.budget}"
    if len(pairs) < 3:
        raise TableError(f"only {len(pairs)} architectures of {args.ground_truth} have results in {source}")
    full, budgeted = zip(*pairs)
    result = correlate(full, budgeted, seed=args.seed)
    low, high = result.spearman_ci
    text = (
        f"Spearman r_s {result.spearman:.3f} (95% CI {low:.3f} to {high:.3f}), Kendall tau {result.kendall:.3f}, "
        f"n {result.n}"
    )
    extra = {}
    if args.seeds > 1 and stored is not None:
        extra["seed_to_seed_spearman"] = seed_agreement([run.accuracies for run in runs])
        text += f" (means over {args.seeds} seeds; seed-to-seed Spearman {extra['seed_to_seed_spearman']:.3f})"
    if stored is not None and stored.skipped:
        text += f"\nskipped: {stored.skipped_text()}"
    emit(args, {**result.to_dict(), **extra, "skipped": stored.skipped if stored else {}}, text)


def _existing_store(url: str):
    """The result store at ``url``, refusing to create an SQLite file that is not there."""
    from nas.store import ResultStore

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise NasError(f"no result database at {url}")
    return ResultStore(url)


def _export(args: argparse.Namespace) -> None:
    count = _existing_store(args.storage).export_csv(args.out)
    emit(args, {"exported": count, "out": args.out}, f"exported {count} results to {args.out}")


def _import(args: argparse.Namespace) -> None:
    from nas._errors import display_url
    from nas.store import ResultStore, read_export

    read_export(args.file)  # a malformed file is refused before a database is created
    added, present = ResultStore(args.storage).import_csv(args.file)
    emit(
        args,
        {"added": added, "already_stored": present},
        f"imported {added} results into {display_url(args.storage)} ({present} already there)",
    )


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
    sub.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="train each architecture under this many seeds (the budget's seed and the next ones); the table gives "
        "the per-architecture means, seed-to-seed Spearman and, when --archs has an accuracy column, r_s of the means",
    )
    sub.add_argument(
        "--checkpoint-dir",
        help="save each training's state every epoch under this folder, so that a killed run resumes the training "
        "it was in from its last epoch (default: none; a killed training starts again)",
    )

    sub = command("export", _export, "write every stored result (keys, code version and arithmetic intact) to a CSV file")
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help="database URL of the stored results")
    sub.add_argument("--out", required=True, help="CSV file to write")

    sub = command("import", _import, "add the results of a 'nas export' CSV file that the database lacks (twice adds nothing)")
    sub.add_argument("file", help="CSV file written by nas export")
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help="database URL to add the results to")

    sub = command("correlate", _correlate, "Spearman r_s of a budget's accuracies against full training")
    sub.description = _CORRELATE_MODES
    sub.add_argument("--ground-truth", required=True, help="CSV with columns arch,genotype,accuracy")
    sub.add_argument("--table", help="recorded mode: CSV with columns setting,arch,accuracy")
    sub.add_argument("--setting", help="recorded mode: the setting of --table to correlate")
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help="estimated mode: database URL of the stored results")
    sub.add_argument("--dataset", help="only results on this dataset key (default: any)")
    sub.add_argument("--numerics", help="only results that ran in this arithmetic, e.g. cpu-fp32 or cuda-fp16 (default: any)")
    sub.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    sub.add_argument("--seeds", type=int, default=1, help="estimated mode: average each architecture over this many budget seeds (as estimate --seeds)")
    budget_options(sub, required=False)
