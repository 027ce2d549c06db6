"""Estimating many architectures on a CPU: one process with every thread against N worker processes.

Small networks at small budgets use many threads poorly (each convolution is too small to split
well), so N processes with a share of the threads each, training N architectures side by side,
may go faster than one process with all of them. Both rows run ``nas.estimate`` on the same
architectures and budget, each into a fresh result store (nothing is reused); the N-process rows
go through the store's claims (``estimate(..., workers=N)``), process start-up included.

Usage: python benchmarks/bench_workers.py [--data ../shared/data/cifar10-jpeg.zip] [--archs 4]
           [--workers 2] [--set epochs=1 train_fraction=0.02]
Prints a table of architectures per minute and training images per second, and each row's ratio
to the one-process row, measured in this run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from nas import ResultStore, estimate, load_dataset, preset, read_architectures
from nas.estimation._trainer import make_splits

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _run(architectures, budget, dataset, workers: int, threads: int) -> float:
    """Seconds to estimate ``architectures`` with ``workers`` processes of ``threads`` threads each."""
    with tempfile.TemporaryDirectory() as folder:
        store = ResultStore(f"sqlite:///{folder}/results.db")
        torch.set_num_threads(threads)
        started = time.perf_counter()
        estimate(architectures, budget, dataset, store, device="cpu", progress=False, workers=workers, threads=threads)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"))
    parser.add_argument("--ground-truth", default=str(SHARED / "reference" / "zheng2020" / "ground_truth.csv"))
    parser.add_argument("--archs", type=int, default=4, help="how many architectures of --ground-truth to train")
    parser.add_argument("--budget", default="bpe1")
    parser.add_argument("--set", nargs="*", default=["epochs=1", "train_fraction=0.02"], metavar="KEY=VALUE")
    parser.add_argument("--cores", type=int, default=torch.get_num_threads(), help="threads to share out (default: torch's)")
    parser.add_argument("--workers", type=int, nargs="*", help="process counts to compare (default: --cores)")
    args = parser.parse_args()

    budget = preset(args.budget).with_settings(args.set)
    dataset = load_dataset(args.data)
    architectures = read_architectures(args.ground_truth)[: args.archs]
    images = len(make_splits(dataset, budget).train) * budget.epochs * len(architectures)
    print(f"{len(architectures)} architectures, budget {args.budget} {' '.join(args.set)}, {args.cores} cores, {dataset.name}")
    rows = [(1, args.cores)] + [(n, max(1, args.cores // n)) for n in (args.workers or [args.cores]) if n > 1]
    print(f"{'setup':<26}{'seconds':>9}{'archs/min':>11}{'images/s':>10}{'ratio':>7}")
    baseline = None
    for workers, threads in rows:
        seconds = _run(architectures, budget, dataset, workers, threads)
        baseline = baseline or seconds
        setup = f"{workers} process{'es' if workers > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
        print(f"{setup:<26}{seconds:>9.1f}{len(architectures) * 60 / seconds:>11.2f}{images / seconds:>10.0f}{baseline / seconds:>7.2f}")


if __name__ == "__main__":
    main()
