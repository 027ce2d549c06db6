"""Seconds per DARTS supernet epoch at the BPE-1 size, first order against second order.

Both searches run the same supernet (6 layers, 8 channels, 16 px by default: ``bpe1``) on a small
fraction of CIFAR-10 for a few steps after one warm-up step; the time per step is extrapolated to a
full epoch of the budget's training images (45,000 split into two halves: one step per pair of
batches). Validation is not timed. The ratio is second order over first order, measured in this run.

Usage: python benchmarks/bench_oneshot.py [--data ../shared/data/cifar10-jpeg.zip] [--steps 5] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import torch

from nas import load_dataset, preset
from nas.estimation._trainer import default_device
from nas.oneshot import DartsSearch

SHARED = Path(__file__).resolve().parents[2] / "shared"
FULL_TRAIN_IMAGES = 45_000


def seconds_per_step(search: DartsSearch, steps: int) -> float:
    batches = zip(search.weight_loader, search.alpha_loader)
    search.model.train()
    for train_batch, valid_batch in itertools.islice(batches, 1):  # warm-up
        search.step(train_batch, valid_batch)
    if search.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    done = 0
    for train_batch, valid_batch in itertools.islice(batches, steps):
        search.step(train_batch, valid_batch)
        done += 1
    if search.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--train-fraction", type=float, default=0.05)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override bpe1 fields")
    args = parser.parse_args()
    budget = preset("bpe1").with_settings(args.set).replace(train_fraction=args.train_fraction)
    dataset = load_dataset(args.data)
    device = default_device()
    steps_per_full_epoch = FULL_TRAIN_IMAGES // 2 // budget.batch_size
    rows = []
    for order in (1, 2):
        search = DartsSearch(budget, dataset, order=order, device=device)
        steps = min(args.steps, search.steps_per_epoch - 1)
        per_step = seconds_per_step(search, steps)
        rows.append((order, per_step, per_step * steps_per_full_epoch))
    print(f"DARTS supernet, {budget.layers} layers, {budget.channels} channels, {budget.image_size} px, batch {budget.batch_size}, {device}")
    print(f"{'order':>5}  {'s/step':>8}  {'s/full epoch':>12}  {'ratio':>6}")
    for order, per_step, per_epoch in rows:
        print(f"{order:>5}  {per_step:>8.3f}  {per_epoch:>12.1f}  {per_step / rows[0][1]:>6.2f}")


if __name__ == "__main__":
    main()
