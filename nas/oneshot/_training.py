"""What the DARTS search and the one-shot supernet training share: data, precision, weight optimizer."""

from __future__ import annotations

import torch

from nas.estimation._budget import Budget
from nas.data import BatchLoader, Dataset, ImageSet

EVAL_BATCH = 512
# ``mixed`` precision runs a supernet in bfloat16 on CPU and CUDA alike (the trainer uses float16 on
# CUDA): bfloat16 has float32's range, so the unrolled second-order step and the finite-difference
# Hessian-vector product need no loss scaling, which float16 would. Training and evaluation use it.
MIXED_DTYPE = torch.bfloat16


def evaluation_loader(images: ImageSet, dataset: Dataset, device: torch.device) -> BatchLoader:
    return BatchLoader(images, batch_size=EVAL_BATCH, train=False, mean=dataset.mean, std=dataset.std, device=device)


def weight_optimizer(
    parameters, budget: Budget, *, min_lr: float = 0.0
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.CosineAnnealingLR]:
    """The trainer's optimizer: SGD with momentum and weight decay, cosine learning rate over the
    epochs down to ``min_lr`` (the trainer's 0 by default)."""
    optimizer = torch.optim.SGD(parameters, lr=budget.lr, momentum=budget.momentum, weight_decay=budget.weight_decay)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, budget.epochs, eta_min=min_lr)
