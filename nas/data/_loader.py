"""Batches built on the training device with a handful of tensor operations, DARTS's augmentation included."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F

from nas.data._dataset import ImageSet
from nas.data._splits import interpolate, resize


class BatchLoader:
    """Batches ``(x, y)`` already on ``device``: x float32 normalised ``(B, 3, H, W)``, y int64.

    The uint8 images are moved to ``device`` once (zero-padded by ``pad`` when training, so a crop is
    a gather). Evaluation yields the images in order, the last batch short. Training draws, per
    epoch, a seeded permutation and drops the short last batch (batch norm never sees a batch of
    one); each image gets, as whole-batch tensor operations, the augmentation of DARTS:

    * a random crop back to ``H x W`` of the image zero-padded by ``pad`` (default ``H // 8``: 4 px at
      32, DARTS's ``RandomCrop(32, padding=4)``),
    * a horizontal flip with probability 1/2,
    * a resize to ``size`` x ``size`` when given (bilinear, antialiased, rounded as :func:`resize`),
      after the crop and flip as the authors' ``preproc.py`` (``RandomCrop(32, padding=4)``, flip,
      then PIL's ``Resize``): at 16 px a crop shifts the image by half-pixels, not by 2-px steps;
    * after normalisation, as DARTS, ``cutout``: a ``cutout x cutout`` square set to 0 around a
      uniform random centre, clipped at the border (0 = off; the side is exactly ``cutout``, the
      same as DARTS's ``Cutout`` for its even lengths).

    Evaluation images are only resized to ``size``. Randomness comes from a ``torch.Generator`` on ``device``, re-seeded at each epoch from
    ``(seed, epoch)``: the same seed gives the same batches (on CPU, bit for bit), whether or not an
    earlier epoch was read to the end. ``epoch`` counts the training epochs begun; set it to resume.
    """

    def __init__(
        self,
        images: ImageSet,
        *,
        batch_size: int,
        train: bool,
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device | str = "cpu",
        seed: int = 0,
        cutout: int = 0,
        pad: int | None = None,
        size: int | None = None,
    ) -> None:
        if not train and size is not None:
            images = resize(images, size)
        height, width = images.images.shape[-2:]
        pad = min(height, width) // 8 if pad is None else pad
        if batch_size < 1 or cutout < 0 or pad < 0:
            raise ValueError(f"need batch_size >= 1, cutout >= 0, pad >= 0; got {batch_size}, {cutout}, {pad}")
        self.batch_size, self.train, self.seed, self.cutout, self.pad = batch_size, train, seed, cutout, pad
        self.size = size if train and size is not None and (size, size) != (height, width) else None
        self.epoch = 0
        self.device = torch.device(device)
        pixels = images.images.to(self.device)
        self._images = F.pad(pixels, (pad,) * 4) if train and pad else pixels
        self._labels = images.labels.to(self.device)
        mean_ = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        std_ = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._scale, self._shift = 1 / (255 * std_), mean_ / std_
        self._rows = torch.arange(height, device=self.device)
        self._cols = torch.arange(width, device=self.device)
        # Cutout cuts the output images, which a resize makes ``size`` square.
        self._out_rows = self._rows if self.size is None else torch.arange(self.size, device=self.device)
        self._out_cols = self._cols if self.size is None else self._out_rows
        self._generator = torch.Generator(device=self.device)

    def __len__(self) -> int:
        count = self._labels.shape[0]
        return count // self.batch_size if self.train else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self._train_batches() if self.train else self._eval_batches()

    def _eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, self._labels.shape[0], self.batch_size):
            stop = start + self.batch_size
            yield self._normalise(self._images[start:stop]), self._labels[start:stop]

    def _train_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._generator.manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        self.epoch += 1
        order = torch.randperm(self._labels.shape[0], generator=self._generator, device=self.device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self._augment(index), self._labels[index]

    def _normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(torch.float32).mul_(self._scale).sub_(self._shift)

    def _augment(self, index: torch.Tensor) -> torch.Tensor:
        """Crop, flip (one gather from the padded images), resize, normalise, then cut out."""
        count, height, width = index.shape[0], self._rows.shape[0], self._cols.shape[0]
        top = self._draw(2 * self.pad + 1, count)
        left = self._draw(2 * self.pad + 1, count)
        flip = self._draw(2, count).bool()
        rows = top[:, None] + self._rows
        cols = left[:, None] + torch.where(flip[:, None], self._cols.flip(0), self._cols)
        channels = torch.arange(3, device=self.device).view(1, 3, 1, 1)
        pixels = self._images[index.view(-1, 1, 1, 1), channels, rows.view(-1, 1, height, 1), cols.view(-1, 1, 1, width)]
        if self.size is not None:
            pixels = interpolate(pixels, (self.size, self.size))
        x = self._normalise(pixels)
        if self.cutout:
            x.masked_fill_(self._holes(count), 0.0)
        return x

    def _holes(self, count: int) -> torch.Tensor:
        """``(B, 1, H, W)`` masks of the cutout squares, each at its own random centre."""
        half = self.cutout // 2
        rows, cols = self._out_rows, self._out_cols
        top = self._draw(rows.shape[0], count) - half
        left = self._draw(cols.shape[0], count) - half
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + self.cutout)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + self.cutout)
        return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]

    def _draw(self, high: int, count: int) -> torch.Tensor:
        return torch.randint(high, (count,), generator=self._generator, device=self.device)
