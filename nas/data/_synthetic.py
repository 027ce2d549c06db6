"""A deterministic, learnable dataset made in memory: what ``--data synthetic:N`` loads, for tests and
trying the commands without a download."""

from __future__ import annotations

import re

import torch

from nas.data._dataset import DataError, Dataset, ImageSet, make_dataset

SYNTHETIC_CLASSES = 10
SYNTHETIC_SIZE = 32
SYNTHETIC_DEFAULT_N = 512


def synthetic_from_spec(argument: str) -> Dataset:
    match = re.fullmatch(r"(\d+)?(?::(\d+))?", argument)
    if match is None:
        raise DataError(f"bad synthetic source {'synthetic:' + argument!r}: write synthetic[:N[:SEED]]")
    size = int(match.group(1)) if match.group(1) else SYNTHETIC_DEFAULT_N
    seed = int(match.group(2)) if match.group(2) else 0
    if size < SYNTHETIC_CLASSES:
        raise DataError(f"synthetic source needs at least {SYNTHETIC_CLASSES} images, got {size}")
    return synthetic_dataset(size, seed=seed)


def synthetic_dataset(size: int = SYNTHETIC_DEFAULT_N, *, seed: int = 0) -> Dataset:
    """A deterministic, learnable 10-class set of 32-pixel images, made in memory.

    Each class has its own colour and its own stripe orientation and frequency; every image has a
    random stripe phase and Gaussian noise. Single pixels are too noisy to tell the classes apart,
    but averages over the image are not, so a small CNN is well above chance within a few epochs.
    """
    generator = torch.Generator().manual_seed(seed)
    train = _synthetic_images(size, generator)
    test = _synthetic_images(size // 4, generator)
    classes = tuple(f"class{k}" for k in range(SYNTHETIC_CLASSES))
    return make_dataset(f"synthetic-{size}-{seed}", classes, train, test)


def _synthetic_images(count: int, generator: torch.Generator) -> ImageSet:
    labels = torch.arange(count) % SYNTHETIC_CLASSES
    labels = labels[torch.randperm(count, generator=generator)]
    k = labels.to(torch.float32)
    colour = torch.stack([0.5 + 0.3 * torch.cos(k * 0.63 + shift) for shift in (0.0, 2.1, 4.2)], dim=1)
    angle = k * (torch.pi / SYNTHETIC_CLASSES)
    frequency = 2 * torch.pi / (4.0 + 2.0 * (k % 3))
    phase = torch.rand(count, generator=generator) * 2 * torch.pi
    grid = torch.arange(SYNTHETIC_SIZE, dtype=torch.float32)
    along = grid[None, None, :] * torch.cos(angle)[:, None, None] + grid[None, :, None] * torch.sin(angle)[:, None, None]
    stripes = torch.sin(frequency[:, None, None] * along + phase[:, None, None])
    noise = torch.randn(count, 3, SYNTHETIC_SIZE, SYNTHETIC_SIZE, generator=generator)
    values = colour[:, :, None, None] + 0.25 * stripes[:, None] + 0.12 * noise
    images = (values.clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageSet(images, labels)
