"""GPU check: CUDA training works in fp32, mixed precision and half, and what BPE-1 costs per architecture.

(a) Training: a short training (the budget cut to ``--check-epochs`` epochs on ``--check-fraction``
    of the training split) in fp32, in mixed precision (fp16 autocast with a GradScaler on CUDA)
    and in half (``model.half()``, the authors' 16-bit budgets; CUDA only, "n/a" elsewhere), each
    twice with the same seed: the loss must be finite, the validation accuracy above
    chance (``1 / classes + 0.05``), and the two runs close (accuracies within ``--tolerance``;
    cuDNN's kernels are not bit-reproducible).
(b) Timing: the 100 reference architectures under the budget, through the result store (resumable:
    stored results are reused), in file order until ``--minutes`` of wall clock since the start
    would be exceeded by one more architecture (at the mean time per architecture so far) or
    ``--limit`` architectures are done. Reports the architectures done, the mean seconds per
    architecture and r_s against the ground truth so far.

Prints one table; exits 1 when a check of (a) fails. It stops within ``--minutes`` (8 by default):

    python benchmarks/gpu_check.py --storage sqlite:///$OUT/gpu_check.db

Smoke test on a CPU (a tiny budget, two architectures):

    OMP_NUM_THREADS=1 python benchmarks/gpu_check.py --device cpu --limit 2 \\
        --set epochs=1 train_fraction=0.02 layers=3 channels=4 --storage sqlite:////tmp/gpu_check.db
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script without installing the project

import torch  # noqa: E402

from bench_estimation import REFERENCE, SHARED, print_table  # noqa: E402
from nas._errors import NasError  # noqa: E402
from nas.data import Dataset, load_dataset  # noqa: E402
from nas.estimation import (  # noqa: E402
    Budget,
    correlate,
    get_or_train,
    preset,
    read_architectures,
    train,
)
from nas.estimation._trainer import numerics  # noqa: E402
from nas.store import ResultStore  # noqa: E402


def training_checks(budget: Budget, dataset: Dataset, device: torch.device, tolerance: float) -> list[dict[str, Any]]:
    """Rows of (a): for each precision, two same-seed trainings and whether they pass."""
    chance = 1 / dataset.num_classes
    rows = []
    for precision in ("fp32", "mixed", "half"):
        short = budget.replace(precision=precision)
        if precision == "half" and device.type != "cuda":  # model.half() is refused off CUDA, by design
            rows.append({"check": "train half", "numerics": "-", "result": "n/a: needs a CUDA device", "pass": "n/a"})
            continue
        first, second = (train(first_reference_genotype(), short, dataset, device=device, progress=False) for _ in range(2))
        finite = first.status == "ok" and second.status == "ok" and math.isfinite(first.loss) and math.isfinite(second.loss)
        learned = finite and min(first.accuracy, second.accuracy) > chance + 0.05
        close = finite and abs(first.accuracy - second.accuracy) <= tolerance
        rows.append(
            {
                "check": f"train {precision}",
                "numerics": numerics(short, device),
                "result": f"loss {first.loss:.3f}/{second.loss:.3f}, accuracy {first.accuracy}/{second.accuracy}, {first.seconds:.1f} s"
                if finite
                else f"{first.reason or second.reason or 'non-finite loss'}",
                "pass": "yes" if finite and learned and close else f"NO (finite={finite}, above chance={learned}, same seed close={close})",
            }
        )
    return rows


def first_reference_genotype():
    """The first reference architecture: a real cell of the space the timing then covers."""
    return read_architectures(REFERENCE / "ground_truth.csv")[0].genotype


def timing(budget: Budget, dataset: Dataset, device: torch.device, store: ResultStore, deadline: float, limit: int) -> dict[str, Any]:
    """Row of (b): train (or reuse) reference architectures in order until the deadline or the limit."""
    architectures = read_architectures(REFERENCE / "ground_truth.csv", with_accuracy=True)[:limit]
    done: list[tuple[float, float, float]] = []  # (full-training accuracy, budget accuracy, seconds)
    failed = 0
    for architecture in architectures:
        mean = sum(s for *_, s in done) / len(done) if done else 0.0
        if time.monotonic() + mean > deadline:
            break
        result = get_or_train(architecture.genotype, budget, dataset, store, device=device, progress=False)
        if result.status == "ok":
            done.append((architecture.accuracy, result.accuracy, result.seconds))
        else:
            failed += 1
        print(f"timing {len(done) + failed}/{len(architectures)}: {architecture.name} {result.status} {result.accuracy} {result.seconds:.1f} s", flush=True)
    seconds = sum(s for *_, s in done) / len(done) if done else float("nan")
    text = f"{len(done)} of {len(architectures)} archs ok ({failed} failed), {seconds:.1f} s/arch"
    if len(done) >= 3:
        correlation = correlate([a for a, _, _ in done], [b for _, b, _ in done])
        low, high = correlation.spearman_ci
        text += f", r_s {correlation.spearman:.3f} [{low:.3f}, {high:.3f}]"
    return {"check": "time BPE archs", "numerics": numerics(budget, device), "result": text, "pass": "-"}


def main() -> int:
    started = time.monotonic()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"))
    parser.add_argument("--budget", default="bpe1")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of --budget")
    parser.add_argument("--storage", default=f"sqlite:///{ROOT / 'runs' / 'gpu_check.db'}")
    parser.add_argument("--minutes", type=float, default=8.0, help="wall-clock limit of the whole script")
    parser.add_argument("--limit", type=int, default=100, help="at most this many architectures to time")
    parser.add_argument("--check-epochs", type=int, default=3)
    parser.add_argument("--check-fraction", type=float, default=0.2)
    parser.add_argument("--tolerance", type=float, default=0.03, help="largest accuracy gap of two same-seed runs")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise NasError("CUDA is not available on this machine (use --device cpu for a smoke test)")
    budget = preset(args.budget).with_settings(args.set)
    short = budget.replace(epochs=min(budget.epochs, args.check_epochs), train_fraction=min(budget.train_fraction, args.check_fraction))
    dataset = load_dataset(args.data)
    store = ResultStore(args.storage)
    rows = training_checks(short, dataset, device, args.tolerance)
    rows.append(timing(budget, dataset, device, store, started + 60 * args.minutes, args.limit))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"\nGPU check on {name}, budget {' '.join([args.budget, *args.set])}, {time.monotonic() - started:.0f} s in all")
    print_table(rows)
    return 0 if all(row["pass"] in ("yes", "-", "n/a") for row in rows) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except NasError as error:
        sys.exit(f"error: {error}")
