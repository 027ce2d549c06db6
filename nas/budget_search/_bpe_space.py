"""The space Omega of budgets that MIP searches, with the training cost of each value (Eq. 2).

A space lists candidate values for some :class:`~nas.Budget` fields and fixes the others. Its cost
model is analytic, so every worker computes the same costs without training anything: the
multiply-adds of one whole training of one architecture,

    cost(b) = epochs * training images * 3 * forward multiply-adds(layers, channels, image_size)
              * (0.5 if mixed precision else 1),

with 3 for forward plus backward, forward multiply-adds measured on DARTS V2's network, and half
precision counted at half price (as on tensor-core GPUs). Batch size, learning rate and cutout do
not change the arithmetic, so their values cost the same and MIP samples them uniformly.

Cutout is written in pixels at 32 px and scaled with ``image_size`` (16 at 32 px is 8 at 16 px), so
every combination of the space is a valid budget.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import optuna
import torch
import yaml

from nas.estimation._budget import Budget, field_names
from nas._errors import BudgetError
from nas.space._genotype import DARTS_V2
from nas.space._model import cifar_network, count_flops

SPACES_DIR = Path(__file__).parent / "spaces"
TRAIN_IMAGES = 45_000  # CIFAR-10's training split after 5,000 validation images are set apart
REFERENCE_IMAGE_SIZE = 32
_DEFAULTS = {"precision": "fp32", "cutout": 0, "image_size": REFERENCE_IMAGE_SIZE}


@functools.lru_cache(maxsize=None)
def forward_flops(layers: int, channels: int, image_size: int) -> int:
    """Multiply-adds of one image through DARTS V2's CIFAR network of this size.

    The network is built on the meta device: only shapes matter, so nothing is allocated or computed.
    """
    with torch.device("meta"):
        return count_flops(cifar_network(DARTS_V2, channels=channels, layers=layers), image_size)


@dataclass(frozen=True)
class BudgetSpace:
    """Candidate values of the searched budget fields (each sorted), and the fixed fields."""

    values: Mapping[str, tuple[Any, ...]]
    fixed: Mapping[str, Any]
    train_images: int = TRAIN_IMAGES

    def __post_init__(self) -> None:
        known = set(field_names())
        for name, candidates in self.values.items():
            if name not in known:
                raise BudgetError(f"budget space searches unknown field {name!r}")
            if not candidates:
                raise BudgetError(f"budget space field {name!r} has no values")
        overlap = set(self.values) & set(self.fixed)
        if overlap:
            raise BudgetError(f"budget space both searches and fixes {', '.join(sorted(overlap))}")
        missing = {"epochs", "batch_size", "lr", "layers", "channels"} - set(self.values) - set(self.fixed)
        if missing:
            raise BudgetError(f"budget space neither searches nor fixes {', '.join(sorted(missing))}")
        for name in self.values:  # every candidate must make a valid budget
            for value in self.values[name]:
                self._budget({**self._cheapest_params, name: value})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "BudgetSpace":
        """Read a space file (``values:`` and ``fixed:``); a bare name means ``nas/budget_search/spaces/<name>.yaml``."""
        path = Path(path)
        if not path.suffix and not path.exists():
            path = SPACES_DIR / f"{path}.yaml"
        if not path.is_file():
            raise BudgetError(f"budget space file not found: {path}")
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise BudgetError(f"budget space {path} is not valid YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(document.get("values"), dict):
            raise BudgetError(f"budget space {path} needs a 'values' mapping")
        values = {name: tuple(sorted(_as_list(v))) for name, v in document["values"].items()}
        return cls(values=values, fixed=dict(document.get("fixed") or {}))

    @functools.cached_property
    def _cheapest_params(self) -> dict[str, Any]:
        params = {name: candidates[0] for name, candidates in self.values.items()}
        for name, candidates in self.values.items():
            params[name] = min(candidates, key=lambda value: self.training_cost(self._budget({**params, name: value})))
        return params

    def cheapest(self) -> Budget:
        """The budget with every searched field at its cheapest value (ties: the smallest value)."""
        return self._budget(self._cheapest_params)

    def _budget(self, params: Mapping[str, Any]) -> Budget:
        fields = {**_DEFAULTS, **self.fixed, **params}
        # Cutout is given at 32 px (DARTS's 16 hides a quarter of the image) and scales with the size.
        fields["cutout"] = fields["cutout"] * fields["image_size"] // REFERENCE_IMAGE_SIZE
        return Budget(**fields)

    def suggest(self, trial: optuna.Trial) -> Budget:
        """Suggest every searched field as a categorical parameter named after the field."""
        return self._budget({name: trial.suggest_categorical(name, list(c)) for name, c in self.values.items()})

    def budget_of(self, params: Mapping[str, Any]) -> Budget:
        """The budget of a trial's parameters (for example a study's best trial)."""
        return self._budget({name: params[name] for name in self.values})

    def training_cost(self, budget: Budget) -> float:
        """Multiply-adds of training one architecture under ``budget`` (see the module docstring)."""
        images = self.train_images * budget.train_fraction
        precision = 1.0 if budget.precision == "fp32" else 0.5
        flops = forward_flops(budget.layers, budget.channels, budget.image_size)
        return budget.epochs * images * 3 * flops * precision

    def normalised_cost(self, budget: Budget) -> float:
        """``training_cost`` as a fraction of the most expensive budget of the space."""
        return self.training_cost(budget) / self._max_cost

    @functools.cached_property
    def _max_cost(self) -> float:
        return self.training_cost(self.most_expensive())

    def most_expensive(self) -> Budget:
        return self._budget({name: max(c, key=lambda v: self._value_cost(name, v)) for name, c in self.values.items()})

    def _value_cost(self, name: str, value: Any) -> float:
        return self.training_cost(self._budget({**self._cheapest_params, name: value}))

    def value_costs(self) -> dict[str, dict[Any, float]]:
        """Eq. 2's cost of each value: a training with this value and every other field at its cheapest."""
        return {name: {value: self._value_cost(name, value) for value in c} for name, c in self.values.items()}

    def describe(self) -> dict[str, Any]:
        return {"values": {k: list(v) for k, v in self.values.items()}, "fixed": dict(self.fixed)}


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]
