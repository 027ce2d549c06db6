"""What a training produced and what makes two results comparable: shared by the trainer, which
makes results, and the result store (:mod:`nas.store`), which keys them by :data:`CODE_VERSION` and
the arithmetic (:data:`NUMERICS`), so neither imports the other."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

EpochPoint = tuple[float, "float | None"]
"""One finished epoch: its mean training loss and the held-out accuracy after it (None where a
result stored before curves were recorded gave only its end point)."""

# Bump whenever a change to the networks, the data pipeline or the trainer changes results: stored
# results of another version are not comparable and are not reused. 2: pooling followed by batch
# norm, auxiliary head and drop-path in the BPE presets (the authors' training). 3: the authors'
# augmentation order (crop at the dataset's size, then resize), their auxiliary-head pooling,
# precision=half, the DARTS genotype's choice of epoch.
CODE_VERSION = 3
NUMERICS = ("cpu-fp32", "cpu-bf16", "cuda-fp32", "cuda-fp32-tf32", "cuda-fp16", "cuda-half")


@dataclass(frozen=True)
class TrainResult:
    """What one training run measured. ``accuracy`` is top-1 held-out accuracy as a fraction (on the
    validation or the test split, per the budget's ``evaluation``).

    ``curve`` is the learning curve the run saw on the way, one :data:`EpochPoint` per finished epoch:
    learning-curve estimators (SoTL, best epoch, extrapolation) read it from the stored result, so
    they cost no second training. Results stored before curves were recorded have ``()``."""

    status: str  # "ok" or "failed"
    accuracy: float | None
    seconds: float
    flops: int
    params: int
    loss: float | None
    epochs: int
    reason: str | None = None
    device: str = "cpu"
    curve: tuple[EpochPoint, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
