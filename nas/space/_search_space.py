"""The contract between a space of architectures and what searches it (as Archai's ``discrete_search/api``).

A strategy sees a space only through these methods: it draws and mutates architectures, names them
by a text, hands them to Optuna as categorical parameters and back, and builds their networks. The
DARTS cell space (:class:`nas.space.DartsSpace`) implements it; another space implements the same
methods to be searched by the same samplers and objective.
"""

from __future__ import annotations

import abc
import random
from typing import Any, Generic, TypeVar

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from torch import nn

Architecture = TypeVar("Architecture")


class SearchSpace(abc.ABC, Generic[Architecture]):
    """A space of architectures of one type (DARTS's: :class:`~nas.space.Genotype`)."""

    @abc.abstractmethod
    def sample(self, seed: int | random.Random) -> Architecture:
        """An architecture drawn at random; the same seed draws the same one."""

    @abc.abstractmethod
    def mutate(self, architecture: Architecture, seed: int | random.Random) -> Architecture:
        """A random neighbour of ``architecture`` (one change), for evolutionary strategies."""

    @abc.abstractmethod
    def encode(self, architecture: Architecture) -> str:
        """The architecture as text that :meth:`decode` reads back: how results and reports name it."""

    @abc.abstractmethod
    def decode(self, text: str) -> Architecture:
        """The architecture :meth:`encode` wrote as ``text``."""

    @abc.abstractmethod
    def suggest(self, trial: optuna.Trial) -> Architecture:
        """An architecture chosen through ``trial``'s categorical parameters (a static, flat space, so
        any Optuna sampler can search it)."""

    @abc.abstractmethod
    def to_params(self, architecture: Architecture) -> dict[str, Any]:
        """The parameters :meth:`suggest` reads ``architecture`` from, for ``study.enqueue_trial``."""

    @abc.abstractmethod
    def mutate_params(
        self, values: dict[str, Any], search_space: dict[str, CategoricalDistribution], rng: np.random.Generator
    ) -> tuple[dict[str, Any], str | None]:
        """:meth:`mutate` on :meth:`suggest`'s parameters, for samplers that work on parameters: the
        child's values and the name of the parameter mutated (None: ``values`` are no architecture of
        this space, and come back as they are)."""

    @abc.abstractmethod
    def to_network(self, architecture: Architecture, **options: Any) -> nn.Module:
        """The trainable network of ``architecture``; ``options`` size it (channels, layers, classes)."""
