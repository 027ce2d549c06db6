"""The DARTS cell space: genotypes and the networks built from them, behind the :class:`SearchSpace`
contract that the strategies search through (:class:`DartsSpace`, :data:`DARTS_SPACE`).

The cell (:mod:`nas.space._cell`) and its operations (:mod:`nas.space._ops`) are one for the
fixed networks (:mod:`nas.space._model`) and the supernet (:mod:`nas.oneshot`).

Its names are imported on first use (:mod:`nas._lazy`): the genotype's names need no torch, so the
result store reads genotypes without it; the networks and the search-space contract load it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.space._darts_space import DARTS_SPACE, DartsSpace
    from nas.space._genotype import (
        DARTS_V2,
        NODES,
        OPERATIONS,
        SAMPLED_OPERATIONS,
        Cell,
        Genotype,
        genotype_to_params,
        mutate_genotype_params,
        mutate_genotype,
        parse_genotype,
        sample_genotype,
        suggest_genotype,
    )
    from nas.space._model import Network, cifar_network, count_flops, count_parameters, imagenet_network
    from nas.space._search_space import SearchSpace

__all__ = [
    "DARTS_SPACE",
    "DARTS_V2",
    "NODES",
    "OPERATIONS",
    "SAMPLED_OPERATIONS",
    "SearchSpace",
    "Cell",
    "DartsSpace",
    "Genotype",
    "Network",
    "cifar_network",
    "count_flops",
    "count_parameters",
    "genotype_to_params",
    "mutate_genotype_params",
    "imagenet_network",
    "mutate_genotype",
    "parse_genotype",
    "sample_genotype",
    "suggest_genotype",
]

_SOURCES: dict[str, tuple[str, ...]] = {
    "nas.space._darts_space": ("DARTS_SPACE", "DartsSpace"),
    "nas.space._genotype": (
        "DARTS_V2",
        "NODES",
        "OPERATIONS",
        "SAMPLED_OPERATIONS",
        "Cell",
        "Genotype",
        "genotype_to_params",
        "mutate_genotype_params",
        "mutate_genotype",
        "parse_genotype",
        "sample_genotype",
        "suggest_genotype",
    ),
    "nas.space._model": ("Network", "cifar_network", "count_flops", "count_parameters", "imagenet_network"),
    "nas.space._search_space": ("SearchSpace",),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
