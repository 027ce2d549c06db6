"""Final evaluation: train a chosen architecture under a large budget and measure it on the test split.

Such a training takes hours to days, so it checkpoints every epoch into a folder keyed like the
result store (architecture hash, then a digest of the result key and the dataset key): the same
command, killed and run again, continues from the last finished epoch. Its result is stored as any
other; its budget's ``evaluation`` (``test-last`` or ``test-best``) keeps it apart from the
validation results of the search.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from nas.estimation._budget import Budget

# torch and the trainer are imported where a training runs: ``nas evaluate``'s options read
# DEFAULT_CHECKPOINT_DIR, and every command builds them.
if TYPE_CHECKING:
    import torch

    from nas.data import Dataset
    from nas.estimation._trainer import TrainResult
    from nas.space._genotype import Genotype
    from nas.store import ResultStore

DEFAULT_CHECKPOINT_DIR = "runs/checkpoints"


def on_test_split(budget: Budget) -> Budget:
    """``budget`` measured on the test split: a ``valid-last`` evaluation becomes ``test-last``."""
    return budget if budget.evaluation.startswith("test") else budget.replace(evaluation="test-last")


def evaluate_final(
    genotype: Genotype,
    budget: Budget,
    dataset: Dataset,
    store: ResultStore | None,
    *,
    checkpoint_dir: str | os.PathLike = DEFAULT_CHECKPOINT_DIR,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Test accuracy of ``genotype`` trained under :func:`on_test_split` of ``budget``: stored, resumed
    from its checkpoint, or trained from scratch, in that order of preference."""
    import torch

    from nas.estimation._estimate import get_or_train
    from nas.estimation._trainer import default_device

    budget = on_test_split(budget)
    device = torch.device(device) if device is not None else default_device()
    return get_or_train(genotype, budget, dataset, store, device=device, progress=progress, checkpoint_dir=checkpoint_dir)
