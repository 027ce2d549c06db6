"""The containers of the data layer: images with their labels, and a dataset of two splits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nas._errors import NasError


class DataError(NasError, ValueError):
    """Bad data source; the message is one line naming the problem (path, reason)."""



@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images and their labels, kept together so that every selection keeps them aligned.

    ``images`` is ``(N, 3, H, W)`` uint8 on the CPU (1 byte a value: CIFAR-10 is 150 MB, not 600);
    ``labels`` is ``(N,)`` int64. Compared by identity (``eq=False``): tensors have no truth value.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W) uint8, got {tuple(images.shape)} {images.dtype}")
        if labels.dtype != torch.int64 or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels must be ({images.shape[0]},) int64, got {tuple(labels.shape)} {labels.dtype}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> ImageSet:
        """The images at ``index`` (integer indices or a boolean mask), in that order."""
        return ImageSet(self.images[index], self.labels[index])


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset: the official training images, the test images and their statistics.

    ``name`` identifies the source for result caching; ``mean`` and ``std`` are per channel, over the
    training images, in [0, 1] units, ready for normalisation.
    """

    name: str
    classes: tuple[str, ...]
    train: ImageSet
    test: ImageSet
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean and (population) std of uint8 images, in [0, 1] units.

    From exact per-channel histograms of the 256 values: no float copy of the images, no rounding.
    """
    if images.shape[0] == 0:
        raise DataError("cannot compute channel statistics of an empty training set")
    values = torch.arange(256, dtype=torch.float64) / 255
    counts = torch.stack([torch.bincount(images[:, c].flatten(), minlength=256) for c in range(3)]).double()
    total = counts.sum(dim=1)
    mean = (counts * values).sum(dim=1) / total
    variance = (counts * values.square()).sum(dim=1) / total - mean.square()
    return triple(mean), triple(variance.clamp_min(0).sqrt())


def triple(values: torch.Tensor) -> tuple[float, float, float]:
    first, second, third = (float(v) for v in values)
    return first, second, third


def make_dataset(name: str, classes: Sequence[str], train: ImageSet, test: ImageSet) -> Dataset:
    mean, std = channel_stats(train.images)
    return Dataset(name, tuple(classes), train, test, mean, std)


def one_line(error: BaseException) -> str:
    """``error``'s message on one line, for a :class:`DataError` or a warning."""
    return " ".join(str(error).split()) or type(error).__name__
