"""Splitting, sampling and resizing whole image tensors, seeded and stratified by class."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nas.data._dataset import ImageSet

_RESIZE_CHUNK = 4096  # images per interpolate call: bounds the float32 copy to ~50 MB at 32 px


def train_valid_split(
    train: ImageSet, *, valid_size: int | float = 0.1, seed: int = 0
) -> tuple[ImageSet, ImageSet]:
    """Split the training images into (train, valid): a seeded, stratified draw.

    ``valid_size`` is a fraction in [0, 1) or a count. Stratified so every class gets its share of
    the validation images (CIFAR-10 with 0.1: 4,500 / 500 per class, 45,000 / 5,000 in all), which
    keeps accuracies of small validation sets comparable. Both parts keep the original order; the
    draw depends only on the labels and ``seed`` (a CPU ``torch.Generator``), so it is the same on
    every machine and before or after :func:`resize`.
    """
    count = _valid_count(valid_size, len(train))
    valid_index = _stratified_pick(train.labels, count, seed)
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[valid_index] = False
    return train.subset(keep), train.subset(valid_index)


def _valid_count(valid_size: int | float, total: int) -> int:
    if isinstance(valid_size, float) and 0 <= valid_size < 1:
        return round(valid_size * total)
    if isinstance(valid_size, int) and not isinstance(valid_size, bool) and 0 <= valid_size < max(total, 1):
        return valid_size
    raise ValueError(f"valid_size must be a fraction in [0, 1) or a count below {total}, got {valid_size!r}")


def subsample(images: ImageSet, fraction: float, *, seed: int) -> ImageSet:
    """A seeded, class-stratified sample of ``round(fraction * N)`` images (at least one).

    For budgets that train on part of the data: stratified so a 10 % sample still has every class in
    its proportion. ``fraction == 1`` returns ``images`` itself.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1 or len(images) == 0:
        return images
    count = max(1, round(fraction * len(images)))
    return images.subset(_stratified_pick(images.labels, count, seed))


def _stratified_pick(labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``count`` items, drawn at random within each class, in proportion to its size.

    Quotas are apportioned by largest remainder (ties to the lower class), so they sum to ``count``
    exactly. Vectorised: one permutation, grouped by a stable sort on the labels.
    """
    generator = torch.Generator().manual_seed(seed)
    total = labels.numel()
    order = torch.randperm(total, generator=generator)
    order = order[torch.argsort(labels[order], stable=True)]
    _, sizes = torch.unique(labels, return_counts=True)
    quota = sizes.to(torch.float64) * count / max(total, 1)
    take = quota.floor().to(torch.int64)
    short = count - int(take.sum())
    if short > 0:
        take[torch.argsort(take - quota, stable=True)[:short]] += 1
    starts = torch.cumsum(sizes, 0) - sizes
    rank = torch.arange(total) - starts.repeat_interleave(sizes)
    return order[rank < take.repeat_interleave(sizes)].sort().values


def resize(images: ImageSet, size: int) -> ImageSet:
    """The images resized to ``size`` x ``size`` (bilinear, antialiased, rounded back to uint8).

    Returns ``images`` itself when already that size. Not memoised: the trainer caches the resized
    splits of a budget (``make_splits``), and the subsets it resizes are new tensors every time.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if tuple(images.images.shape[-2:]) == (size, size):
        return images
    chunks = [interpolate(chunk, (size, size)) for chunk in images.images.split(_RESIZE_CHUNK)]
    pixels = torch.cat(chunks) if chunks else torch.empty(0, 3, size, size, dtype=torch.uint8)
    return ImageSet(pixels, images.labels)


def interpolate(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` to uint8 ``(N, 3, *size)``: antialiased bilinear, rounded, clamped."""
    values = F.interpolate(images.to(torch.float32), size=size, mode="bilinear", antialias=True, align_corners=False)
    return values.round_().clamp_(0, 255).to(torch.uint8)


# --------------------------------------------------------------------------------------------------
# Batches
