"""One-shot command: ``nas oneshot`` (global and local r_s of a supernet trained by sampled paths)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nas._errors import NasError
from nas.cli._common import (
    DEFAULT_STORAGE,
    SHARED_DIR,
    Commands,
    budget_from_args,
    device_from_args,
    emit,
    load_data,
    set_threads,
    training_options,
)
from nas.estimation._budget import preset, refuse_test_split

REFERENCE = SHARED_DIR / "reference" / "zheng2020" / "ground_truth.csv"
# Local r_s trains each sampled architecture on its own: the paper uses BPE-2; this default is
# BPE-1 cut to one epoch on 2% of the images, a few seconds per architecture on a CPU.
LOCAL_BUDGET = ("bpe1", ["epochs=1", "train_fraction=0.02"])


def _epochs(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise NasError(f"--epochs-to-evaluate must be comma-separated epochs, e.g. 1,2; got {text!r}") from None


def _oneshot(args: argparse.Namespace) -> None:
    from nas.store import ResultStore
    from nas.estimation import read_architectures
    from nas.oneshot._analysis import OneShotAnalysis, format_table, write_figure
    from nas.oneshot._paths import PathTraining, check_sampling

    check_sampling(args.sampling, args.random_level)
    budget = budget_from_args(args)
    local_budget = preset(args.local_budget).with_settings(args.local_set)
    refuse_test_split(budget, "the one-shot analysis's supernet")
    refuse_test_split(local_budget, "the one-shot analysis's sampled architectures (--local-budget)")
    epochs = _epochs(args.epochs_to_evaluate) if args.epochs_to_evaluate else list(range(1, budget.epochs + 1))
    reference = read_architectures(args.reference, with_accuracy=True)
    if args.archs is not None:
        if args.archs < 3:
            raise NasError(f"--archs must be >= 3 (r_s needs three architectures), got {args.archs}")
        reference = reference[: args.archs]
    device = device_from_args(args.device)
    set_threads(args.threads)
    store = ResultStore(args.storage)
    dataset = load_data(args)
    training = PathTraining(
        budget,
        dataset,
        sampling=args.sampling,
        level=args.random_level,
        device=device,
        valid_images=args.valid_images,
        recalibration_batches=args.recalibration_batches,
    )
    analysis = OneShotAnalysis(
        training,
        dataset,
        reference,
        local_budget=local_budget,
        store=store,
        epochs_to_evaluate=epochs,
        out_dir=args.out,
        local_archs=args.local_archs,
        progress=not args.quiet,
    )
    rows = analysis.run()
    title = f"one-shot supernet, {args.sampling} sampling ({args.random_level} level), budget {args.budget}"
    table = format_table(rows, title)
    out = Path(args.out)
    (out / "table.txt").write_text(table + "\n")
    write_figure(rows, out / "rank_correlation.html", title)
    emit(args, {"epochs": [row.to_dict() for row in rows], "out": str(out)}, f"{table}\nwritten to {out}")


def register(command: Commands) -> None:
    sub = command("oneshot", _oneshot, "global and local r_s of a supernet trained by sampled paths (the paper's Table 4)")
    training_options(sub)
    sub.add_argument("--sampling", required=True, help="random (uniform single path) or fair (every operation equally often)")
    sub.add_argument("--random-level", default="edge", help="edge (an operation per edge) or cell (one per cell type); default edge")
    sub.add_argument("--storage", default=DEFAULT_STORAGE, help=f"result database for the local budget's trainings (default {DEFAULT_STORAGE})")
    sub.add_argument("--epochs-to-evaluate", help="comma-separated supernet epochs to measure, e.g. 1,2 (default: every epoch)")
    sub.add_argument("--reference", default=str(REFERENCE), help="CSV arch,genotype,accuracy of full-training accuracies")
    sub.add_argument("--archs", type=int, help="only the first N reference architectures (a quicker, rougher global r_s)")
    sub.add_argument("--local-budget", default=LOCAL_BUDGET[0], help=f"budget preset for local r_s (default {LOCAL_BUDGET[0]})")
    sub.add_argument("--local-set", nargs="*", default=LOCAL_BUDGET[1], metavar="KEY=VALUE", help=f"override local budget fields (default {' '.join(LOCAL_BUDGET[1])})")
    sub.add_argument("--local-archs", type=int, default=5, help="sampled architectures per epoch for local r_s (default 5)")
    sub.add_argument("--valid-images", type=int, default=1000, help="validation images per supernet accuracy (default 1000)")
    sub.add_argument("--recalibration-batches", type=int, default=1, help="training batches to re-estimate batch norm per architecture (default 1)")
    sub.add_argument("--out", default="oneshot-out", help="output folder: table.txt, rank_correlation.html, checkpoints (default oneshot-out)")
