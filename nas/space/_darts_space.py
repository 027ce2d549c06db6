"""The DARTS cell space as a :class:`~nas.space.SearchSpace`: genotypes and their CIFAR/ImageNet networks."""

from __future__ import annotations

import random
from typing import Any, Sequence

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution

from nas.space._genotype import (
    SAMPLED_OPERATIONS,
    Genotype,
    genotype_to_params,
    mutate_genotype,
    mutate_genotype_params,
    parse_genotype,
    sample_genotype,
    suggest_genotype,
)
from nas.space._model import Network, cifar_network, imagenet_network
from nas.space._search_space import SearchSpace

_NETWORKS = {"cifar": cifar_network, "imagenet": imagenet_network}


class DartsSpace(SearchSpace[Genotype]):
    """Genotypes whose nodes each take two distinct earlier inputs with one of ``operations`` each."""

    def __init__(self, operations: Sequence[str] = SAMPLED_OPERATIONS) -> None:
        self.operations = tuple(operations)

    def sample(self, seed: int | random.Random) -> Genotype:
        return sample_genotype(seed, self.operations)

    def mutate(self, architecture: Genotype, seed: int | random.Random) -> Genotype:
        return mutate_genotype(architecture, seed, self.operations)

    def encode(self, architecture: Genotype) -> str:
        return architecture.to_str()

    def decode(self, text: str) -> Genotype:
        return parse_genotype(text)

    def suggest(self, trial: optuna.Trial) -> Genotype:
        return suggest_genotype(trial, self.operations)

    def to_params(self, architecture: Genotype) -> dict[str, Any]:
        return genotype_to_params(architecture)

    def mutate_params(
        self, values: dict[str, Any], search_space: dict[str, CategoricalDistribution], rng: np.random.Generator
    ) -> tuple[dict[str, Any], str | None]:
        return mutate_genotype_params(values, search_space, rng)

    def to_network(self, architecture: Genotype, *, network: str = "cifar", **options: Any) -> Network:
        """DARTS's ``network`` (``cifar`` or ``imagenet``) of ``architecture``: ``channels``,
        ``layers``, ``num_classes`` and ``auxiliary`` as :func:`~nas.space.cifar_network` takes them."""
        return _NETWORKS[network](architecture, **options)


DARTS_SPACE = DartsSpace()
"""The space the search commands and the authors' data use (the seven operations besides ``none``)."""
