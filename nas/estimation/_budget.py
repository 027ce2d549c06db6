"""The budget of a performance estimation (the paper's BPE): one typed, validated object."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

from nas._errors import BudgetError

PRECISIONS = ("fp32", "mixed", "half")
# What a training reports: the last epoch's accuracy on the validation split set apart from the
# training images (ours, for search), the best epoch's accuracy on the test split (the authors'
# BPE evaluation: trained on all training images, as pt.darts), or the last epoch's test accuracy
# (final evaluation: the paper's Table 2 column).
EVALUATIONS = ("valid-last", "test-best", "test-last")
NETWORKS = ("cifar", "imagenet")
# The affine batch-norm weights' start: 1, as PyTorch since 1.2, or U(0, 1), as PyTorch up to 1.1,
# which the authors' code ran (it pins torch 1.0.0).
BATCHNORM_INITS = ("ones", "uniform")
# Fields added after studies and results were stored under this code version: :meth:`Budget.to_dict`
# leaves them out at their default, so what was stored before them keeps its identity and key
# (the result key alone also omits a few older ones: _FIELDS_KEYED_WHEN_CHANGED in nas/store/_schema.py).
_OMITTED_AT_DEFAULT = {"batchnorm_init": "ones"}


@dataclass(frozen=True)
class Budget:
    """How one architecture is trained to estimate its performance.

    The first eight fields are the paper's BPE hyper-parameters. ``precision`` is ``"fp32"`` or
    ``"mixed"`` (autocast: fp16 on CUDA, bf16 on CPU) or ``"half"`` (CUDA only: ``model.half()``, fp16
    weights, batch norm and SGD updates without loss scaling, the authors' 16-bit budgets). ``train_fraction`` samples the training split
    (dataset sampling), ``seed`` seeds initialisation, sampling and augmentation. The optimizer
    follows DARTS: SGD with momentum 0.9, weight decay 3e-4, cosine schedule, gradient clipping 5.
    ``evaluation`` is one of :data:`EVALUATIONS` and ``network`` the CIFAR network or DARTS's
    ImageNet mobile-setting network; both change the result, so both are part of its store key.
    ``batchnorm_init`` is one of :data:`BATCHNORM_INITS`: where the affine batch-norm weights start.
    """

    epochs: int
    batch_size: int
    lr: float
    layers: int
    channels: int
    precision: str = "fp32"
    cutout: int = 0
    image_size: int = 32
    train_fraction: float = 1.0
    seed: int = 0
    auxiliary_weight: float = 0.0
    drop_path: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    evaluation: str = "valid-last"
    network: str = "cifar"
    batchnorm_init: str = "ones"

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            expected = float if field.type == "float" else int if field.type == "int" else str
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, field.name, float(value))
            elif not isinstance(value, expected) or isinstance(value, bool):
                raise BudgetError(f"budget field {field.name!r} must be {expected.__name__}, got {value!r}")
        self._check("epochs", self.epochs >= 1, ">= 1")
        self._check("batch_size", self.batch_size >= 2, ">= 2 (batch norm needs two samples)")
        self._check("lr", self.lr > 0 and self.lr < float("inf"), "> 0")
        self._check("layers", self.layers >= 2, ">= 2")
        self._check("channels", self.channels >= 2, ">= 2")
        self._check("precision", self.precision in PRECISIONS, f"one of {', '.join(PRECISIONS)}")
        self._check("image_size", self.image_size >= 8, ">= 8")
        self._check("cutout", 0 <= self.cutout <= self.image_size, f"in 0..image_size ({self.image_size})")
        self._check("train_fraction", 0 < self.train_fraction <= 1, "in (0, 1]")
        self._check("seed", 0 <= self.seed < 2**32, "in 0..2**32-1")
        self._check("auxiliary_weight", self.auxiliary_weight >= 0, ">= 0")
        self._check("drop_path", 0 <= self.drop_path < 1, "in [0, 1)")
        self._check("momentum", 0 <= self.momentum < 1, "in [0, 1)")
        self._check("weight_decay", self.weight_decay >= 0, ">= 0")
        self._check("grad_clip", self.grad_clip > 0, "> 0")
        self._check("evaluation", self.evaluation in EVALUATIONS, f"one of {', '.join(EVALUATIONS)}")
        self._check("network", self.network in NETWORKS, f"one of {', '.join(NETWORKS)}")
        self._check("batchnorm_init", self.batchnorm_init in BATCHNORM_INITS, f"one of {', '.join(BATCHNORM_INITS)}")

    def _check(self, name: str, ok: bool, requirement: str) -> None:
        if not ok:
            raise BudgetError(f"budget field {name!r} must be {requirement}, got {getattr(self, name)!r}")

    def replace(self, **changes: Any) -> "Budget":
        unknown = set(changes) - {field.name for field in dataclasses.fields(self)}
        if unknown:
            raise BudgetError(f"unknown budget field(s): {', '.join(sorted(unknown))} (known: {', '.join(field_names())})")
        return dataclasses.replace(self, **changes)

    def with_settings(self, settings: Iterable[str]) -> "Budget":
        """Apply command-line ``key=value`` overrides, converting each value to its field's type."""
        types = {field.name: field.type for field in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for setting in settings:
            key, sep, text = setting.partition("=")
            key = key.strip()
            if not sep:
                raise BudgetError(f"budget setting {setting!r} must be key=value")
            if key not in types:
                raise BudgetError(f"unknown budget field {key!r} (known: {', '.join(field_names())})")
            try:
                changes[key] = {"int": int, "float": float, "str": str}[types[key]](text.strip())
            except ValueError:
                raise BudgetError(f"budget field {key!r} must be {types[key]}, got {text!r}") from None
        return self.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in dataclasses.asdict(self).items() if _OMITTED_AT_DEFAULT.get(name, object()) != value}


def measures_on_test(budget: Budget) -> bool:
    return budget.evaluation.startswith("test")


def refuse_test_split(budget: Budget, what: str) -> None:
    """Raise a one-line :class:`BudgetError` when ``budget`` measures on the test split: ``what`` (an
    architecture search) would then select by test accuracy, which makes the test result meaningless."""
    if measures_on_test(budget):
        raise BudgetError(
            f"{what} must not measure on the test split (budget evaluation={budget.evaluation!r}): "
            "use evaluation=valid-last; only nas evaluate reports the test accuracy of a chosen architecture"
        )


TEST_SPLIT_NOTE = (
    "note: this budget measures on the test split (evaluation={}): fit for comparing estimators "
    "with the authors' recorded numbers, never for choosing an architecture"
)


def field_names() -> list[str]:
    return [field.name for field in dataclasses.fields(Budget)]


# The authors train every BPE with the auxiliary head (weight 0.4) and drop-path rising to 0.2.
_AUTHORS_BPE = dict(batch_size=128, lr=0.03, precision="fp32", cutout=0, image_size=16, auxiliary_weight=0.4, drop_path=0.2)

PRESETS: dict[str, Budget] = {
    # The paper's BPE-1 and BPE-2 (Table 1) trained as the authors trained them: the recorded settings
    # task5 (BPE-1 in fp32, r_s 0.497) and task32 (BPE-2, r_s 0.625) of the reference data. They are
    # measured differently on purpose: the last epoch on the validation split, where the authors took
    # the best epoch on the test set (``evaluation="test-best"``), which a search must not look at.
    "bpe1": Budget(epochs=10, layers=6, channels=8, **_AUTHORS_BPE),
    "bpe2": Budget(epochs=30, layers=16, channels=16, **_AUTHORS_BPE),
    # DARTS's search-phase training, and full training.
    "darts": Budget(epochs=50, batch_size=64, lr=0.025, layers=8, channels=16, precision="fp32", cutout=0, image_size=32),
    "full": Budget(
        epochs=600,
        batch_size=96,
        lr=0.025,
        layers=20,
        channels=36,
        precision="fp32",
        cutout=16,
        image_size=32,
        auxiliary_weight=0.4,
        drop_path=0.2,
    ),
    # DARTS's ImageNet mobile setting (14 cells, 48 channels, 224 px), reporting test accuracy. DARTS
    # also smooths labels (0.1) and decays the rate stepwise; this trainer does neither.
    "imagenet": Budget(
        epochs=250,
        batch_size=128,
        lr=0.1,
        layers=14,
        channels=48,
        image_size=224,
        auxiliary_weight=0.4,
        weight_decay=3e-5,
        evaluation="test-last",
        network="imagenet",
    ),
}


def preset(name: str) -> Budget:
    try:
        return PRESETS[name]
    except KeyError:
        raise BudgetError(f"unknown budget preset {name!r} (known: {', '.join(PRESETS)})") from None
