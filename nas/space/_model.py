"""Networks built from a genotype: DARTS's CIFAR network and its ImageNet mobile-setting network."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from nas.space._cell import FixedCell
from nas.space._genotype import Genotype


class _AuxiliaryPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = x.shape[-1]
        if x.shape[-2] == side and side in (7, 8):
            return F.avg_pool2d(x, 5, stride=side - 5)
        return F.adaptive_avg_pool2d(x, 2)


class AuxiliaryHead(nn.Module):
    """Auxiliary classifier at 2/3 depth.

    As the authors' ``AuxiliaryHead``: a 7x7 or 8x8 map (28 or 32 px images on CIFAR) is pooled by
    DARTS's fixed 5x5 window with stride ``side - 5``, any other map (16 or 8 px images) adaptively
    to 2x2. Both give 2x2, so the parameters are the same; the pooled values differ (at 8x8 the
    windows overlap, an adaptive pool's do not).
    """

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            # Not in place: with 3 layers or fewer the head sits after the last cell, whose output
            # also feeds the classifier.
            nn.ReLU(inplace=False),
            _AuxiliaryPool(),
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class Network(nn.Module):
    """A stem, ``layers`` cells with reduction cells at 1/3 and 2/3 of the depth, and a classifier.

    ``forward`` returns ``(logits, auxiliary_logits)``; the second is ``None`` unless the network has
    an auxiliary head and is training.
    """

    def __init__(
        self, genotype: Genotype, stem: "_CifarStem | _ImageNetStem", *, layers: int, num_classes: int, auxiliary: bool
    ) -> None:
        super().__init__()
        self.stem = stem
        self.drop_path_prob = 0.0
        c_prev_prev = c_prev = stem.out_channels
        c = stem.cell_channels
        reduction_prev = stem.halves_last
        self.cells = nn.ModuleList()
        self.auxiliary_head: AuxiliaryHead | None = None
        self.auxiliary_after = 2 * layers // 3
        for index in range(layers):
            reduction = index in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            cell_genotype = genotype.reduce if reduction else genotype.normal
            cell = FixedCell(cell_genotype, c_prev_prev, c_prev, c, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c
            if auxiliary and index == self.auxiliary_after:
                self.auxiliary_head = AuxiliaryHead(c_prev, num_classes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        s0 = s1 = self.stem(x)
        if isinstance(s0, tuple):
            s0, s1 = s0
        auxiliary_logits = None
        for index, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if index == self.auxiliary_after and self.auxiliary_head is not None and self.training:
                auxiliary_logits = self.auxiliary_head(s1)
        return self.classifier(self.pool(s1).flatten(1)), auxiliary_logits


class _CifarStem(nn.Sequential):
    """A 3x3 convolution to 3x the cells' channels, with no downsampling."""

    halves_last = False

    def __init__(self, channels: int) -> None:
        super().__init__(nn.Conv2d(3, 3 * channels, 3, padding=1, bias=False), nn.BatchNorm2d(3 * channels))
        self.out_channels, self.cell_channels = 3 * channels, channels


class _ImageNetStem(nn.Module):
    """Two stride-2 stems; their two outputs feed the first cell as its two inputs."""

    halves_last = True  # the second output is half the size of the first, as after a reduction cell

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.out_channels = self.cell_channels = channels
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, channels // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, self.stem1(s0)


def cifar_network(
    genotype: Genotype, *, channels: int, layers: int, num_classes: int = 10, auxiliary: bool = False
) -> Network:
    """DARTS's CIFAR network: no downsampling before the cells."""
    return Network(genotype, _CifarStem(channels), layers=layers, num_classes=num_classes, auxiliary=auxiliary)


def imagenet_network(
    genotype: Genotype, *, channels: int = 48, layers: int = 14, num_classes: int = 1000, auxiliary: bool = False
) -> Network:
    """DARTS's ImageNet mobile-setting network: two stride-2 stems (8x down) before 14 cells."""
    return Network(genotype, _ImageNetStem(channels), layers=layers, num_classes=num_classes, auxiliary=auxiliary)


def count_parameters(model: nn.Module) -> int:
    """Parameters without the auxiliary head, which is dropped after training (as DARTS reports them)."""
    return sum(p.numel() for name, p in model.named_parameters() if not name.startswith("auxiliary_head"))


def count_flops(model: nn.Module, image_size: int) -> int:
    """Multiply-accumulate operations of one image's forward pass (the NAS literature's "FLOPs").

    Counted by :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products),
    which counts two operations per multiply-accumulate; the auxiliary head is not counted.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, image_size, image_size, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2
