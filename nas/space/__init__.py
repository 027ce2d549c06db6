"""The DARTS cell space: genotypes and the networks built from them."""

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

__all__ = [
    "DARTS_V2",
    "NODES",
    "OPERATIONS",
    "SAMPLED_OPERATIONS",
    "Cell",
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
