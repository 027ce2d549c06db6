"""Training throughput at the ``bpe1`` budget: this project's trainer against a plain PyTorch pipeline.

Both train the same network (arch_001 of the reference set, or DARTS V2) with the same batch size
and the same optimization step, for a fixed number of steps after a warm-up:

* baseline: a ``torch.utils.data.DataLoader`` (2 workers) over the decoded 32-px training images,
  with per-sample torchvision transforms on PIL images (random crop at 32 px with 4-px padding,
  flip, resize, to-tensor, normalise), and an eager fp32 model in the default (NCHW) layout, as the
  authors' ``preproc.py`` does;
* baseline at the budget's precision: the same, under the same autocast as the project's trainer;
* project: the 32-px images kept as one uint8 tensor on the device, cropped, flipped and resized per
  batch with tensor ops (``nas.data.BatchLoader``), a channels-last model (``build_network``),
  at the budget's precision, and again in fp32.

Usage: python benchmarks/bench_trainer.py [--data ../shared/data/cifar10-jpeg.zip] [--steps 30]
Prints a table of images per second and each row's ratio to the fp32 baseline, measured in this run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.transforms import functional as TF

from nas import DARTS_V2, load_dataset, preset, read_architectures
from nas.data import BatchLoader, ImageSet
from nas.estimation._trainer import TrainingStep, build_network, default_device

SHARED = Path(__file__).resolve().parents[2] / "shared"


class _PilImages(torch.utils.data.Dataset):
    """Decoded images served one PIL image at a time, as torchvision's CIFAR datasets do."""

    def __init__(self, images: ImageSet, transform: Callable) -> None:
        self.images, self.labels, self.transform = images.images, images.labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(TF.to_pil_image(self.images[index])), int(self.labels[index])


def _measure(batches: Iterable, step: TrainingStep, device: torch.device, warmup: int, steps: int) -> float:
    """Images per second over ``steps`` steps, after ``warmup`` steps; data loading included."""
    iterator = iter(batches)
    for _ in range(warmup):
        x, y = next(iterator)
        step(x.to(device, non_blocking=True), y.to(device, non_blocking=True))
    if device.type == "cuda":
        torch.cuda.synchronize()
    images = 0
    started = time.perf_counter()
    for _ in range(steps):
        x, y = next(iterator)
        step(x.to(device, non_blocking=True), y.to(device, non_blocking=True)).item()
        images += len(y)
    return images / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data" / "cifar10-jpeg.zip"))
    parser.add_argument("--budget", default="bpe1")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    device = torch.device(args.device) if args.device else default_device()
    budget = preset(args.budget)
    dataset = load_dataset(args.data)
    reference = SHARED / "reference" / "zheng2020" / "ground_truth.csv"
    genotype = read_architectures(reference)[0].genotype if reference.exists() else DARTS_V2
    size, side = budget.image_size, dataset.train.images.shape[-1]
    per_sample = transforms.Compose(
        [
            transforms.RandomCrop(side, padding=side // 8),
            transforms.RandomHorizontalFlip(),
            transforms.Resize(size),
            transforms.ToTensor(),
            transforms.Normalize(dataset.mean, dataset.std),
        ]
    )
    if args.warmup + args.steps > len(dataset.train) // budget.batch_size:
        parser.error(f"--warmup + --steps must fit in one epoch ({len(dataset.train) // budget.batch_size} steps)")

    # Loaders are built per row, not shared: each starts with no prefetched batches.
    def plain_loader() -> DataLoader:
        return DataLoader(
            _PilImages(dataset.train, per_sample),
            batch_size=budget.batch_size,
            shuffle=True,
            num_workers=2,
            drop_last=True,
            pin_memory=device.type == "cuda",
            persistent_workers=False,
            generator=torch.Generator().manual_seed(0),
        )

    def tensor_loader() -> BatchLoader:
        return BatchLoader(
            dataset.train, batch_size=budget.batch_size, train=True, mean=dataset.mean, std=dataset.std, device=device, size=size
        )

    rows = []
    for name, loader, precision in [
        ("baseline: DataLoader + per-sample transforms, fp32", plain_loader, "fp32"),
        (f"baseline: DataLoader + per-sample transforms, {budget.precision}", plain_loader, budget.precision),
        ("project: tensor batches, fp32", tensor_loader, "fp32"),
        (f"project: tensor batches, {budget.precision} (the budget's)", tensor_loader, budget.precision),
    ]:
        torch.manual_seed(0)
        row_budget = budget.replace(precision=precision)
        model = build_network(genotype, row_budget, dataset.num_classes, device).train()
        if name.startswith("baseline"):
            model = model.to(memory_format=torch.contiguous_format)
        rate = _measure(loader(), TrainingStep(model, row_budget, device), device, args.warmup, args.steps)
        rows.append((name, rate))

    baseline = rows[0][1]
    print(f"\n{args.budget} ({budget.layers} layers, {budget.channels} channels, {size} px, batch {budget.batch_size}), "
          f"{args.steps} steps after {args.warmup} warm-up, device {device.type}, {torch.get_num_threads()} threads")
    print(f"| {'pipeline':<58} | {'images/s':>9} | {'vs baseline':>11} |")
    print(f"|{'-' * 60}|{'-' * 11}|{'-' * 13}|")
    for name, rate in rows:
        print(f"| {name:<58} | {rate:>9.0f} | {rate / baseline:>10.2f}x |")


if __name__ == "__main__":
    main()
