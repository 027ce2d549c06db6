"""The DARTS cell space: genotypes and the networks built from them, behind the :class:`SearchSpace`
contract that the strategies search through (:class:`DartsSpace`, :data:`DARTS_SPACE`).

The cell (:mod:`nas.space._cell`) and its operations (:mod:`nas.space._ops`) are one for the
fixed networks (:mod:`nas.space._model`) and the supernet (:mod:`nas.oneshot`)."""

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
