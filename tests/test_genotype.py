import random
from pathlib import Path

import optuna
import pytest

from nas import (
    DARTS_V2,
    GenotypeError,
    genotype_to_params,
    mutate_genotype,
    parse_genotype,
    sample_genotype,
    suggest_genotype,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "zheng2020"

FLAT = (
    "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
    "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
    "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
    "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
    "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])"
)


def test_flat_form_round_trips():
    genotype = parse_genotype(FLAT)
    assert genotype == DARTS_V2
    assert genotype.to_str("flat") == FLAT
    assert parse_genotype(genotype.to_str("nested")) == genotype


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")
def test_all_reference_genotypes_parse_and_round_trip_exactly():
    import csv

    with (REFERENCE / "ground_truth.csv").open() as handle:
        texts = [row["genotype"] for row in csv.DictReader(handle)]
    assert len(texts) == 100
    for text in texts:
        genotype = parse_genotype(text)
        assert genotype.to_str("nested") == text
        assert parse_genotype(genotype.to_str("flat")) == genotype
    assert len({parse_genotype(t).hash() for t in texts}) == 100


def test_nested_form_allows_more_than_two_inputs():
    text = (
        "Genotype(normal=[[('sep_conv_3x3', 0), ('skip_connect', 1), ('max_pool_3x3', 1)], "
        "[('sep_conv_3x3', 2)], [('avg_pool_3x3', 3)], [('dil_conv_5x5', 4)]], normal_concat=range(2, 6), "
        "reduce=[[('max_pool_3x3', 0)], [('skip_connect', 2)], [('skip_connect', 3)], [('max_pool_3x3', 1)]], "
        "reduce_concat=[5])"
    )
    genotype = parse_genotype(text)
    assert len(genotype.normal.nodes[0]) == 3
    assert genotype.reduce.concat == (5,)
    assert parse_genotype(genotype.to_str()) == genotype
    with pytest.raises(GenotypeError, match="two inputs"):
        genotype.to_str("flat")


@pytest.mark.parametrize(
    "text, message",
    [
        (FLAT.replace("dil_conv_3x3", "conv_7x7"), "unknown operation 'conv_7x7'"),
        (FLAT.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "out of range"),
        (FLAT.replace("('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat", "], normal_concat"), "3 nodes"),
        ("Genotype(normal=[", "syntax"),
        ("print('hi')", "expected Genotype"),
        (FLAT.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 9]"), "normal_concat"),
    ],
)
def test_invalid_genotypes_give_clear_errors(text, message):
    with pytest.raises(GenotypeError, match=message):
        parse_genotype(text)


def test_hash_ignores_edge_order_and_node_numbering():
    a = parse_genotype(
        "Genotype(normal=[[('sep_conv_3x3', 0), ('skip_connect', 1)], [('max_pool_3x3', 0), ('avg_pool_3x3', 1)], "
        "[('sep_conv_5x5', 2), ('dil_conv_3x3', 3)], [('skip_connect', 2), ('sep_conv_3x3', 4)]], normal_concat=range(2, 6), "
        "reduce=[[('max_pool_3x3', 0), ('max_pool_3x3', 1)], [('skip_connect', 2), ('max_pool_3x3', 1)], "
        "[('max_pool_3x3', 0), ('skip_connect', 2)], [('skip_connect', 2), ('max_pool_3x3', 1)]], reduce_concat=range(2, 6))"
    )
    # Same cell: edges swapped within nodes, and nodes 2 and 3 (independent of each other) renumbered.
    b = parse_genotype(
        "Genotype(normal=[[('avg_pool_3x3', 1), ('max_pool_3x3', 0)], [('skip_connect', 1), ('sep_conv_3x3', 0)], "
        "[('dil_conv_3x3', 2), ('sep_conv_5x5', 3)], [('sep_conv_3x3', 4), ('skip_connect', 3)]], normal_concat=range(2, 6), "
        "reduce=[[('max_pool_3x3', 1), ('max_pool_3x3', 0)], [('max_pool_3x3', 1), ('skip_connect', 2)], "
        "[('skip_connect', 2), ('max_pool_3x3', 0)], [('max_pool_3x3', 1), ('skip_connect', 2)]], reduce_concat=range(2, 6))"
    )
    assert a != b
    assert a.hash() == b.hash()
    assert a.hash() != mutate_genotype(a, 0).hash()


def test_sampling_is_seeded_valid_and_diverse():
    assert sample_genotype(7) == sample_genotype(7)
    genotypes = [sample_genotype(seed) for seed in range(50)]
    for genotype in genotypes:
        genotype.validate()
        assert all(len({src for _, src in node}) == 2 for node in genotype.normal.nodes)
        assert all(op != "none" for node in genotype.normal.nodes for op, _ in node)
    assert len({g.hash() for g in genotypes}) == 50


def test_mutation_changes_exactly_one_edge():
    rng = random.Random(3)
    for _ in range(100):
        parent = sample_genotype(rng)
        child = mutate_genotype(parent, rng).validate()
        changed = [
            (a, b)
            for cell in ("normal", "reduce")
            for node_a, node_b in zip(getattr(parent, cell).nodes, getattr(child, cell).nodes)
            for a, b in zip(node_a, node_b)
            if a != b
        ]
        assert len(changed) == 1
        (op_a, src_a), (op_b, src_b) = changed[0]
        assert (op_a != op_b) != (src_a != src_b)


def test_optuna_params_round_trip_through_enqueue():
    genotype = sample_genotype(11)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial(genotype_to_params(genotype))
    seen = []
    study.optimize(lambda trial: seen.append(suggest_genotype(trial)) or 0.0, n_trials=3)
    assert seen[0].hash() == genotype.hash()
    for suggested in seen:
        suggested.validate()
    assert genotype_to_params(seen[1]) == study.trials[1].params
