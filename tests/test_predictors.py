"""Model-based predictors: the genotype encoding, k-fold cross-validation that never scores an
architecture with a model fitted on its label, and the predictors' registry."""

import numpy as np
import pytest
from scipy import stats
from sklearn.ensemble import RandomForestRegressor
from sklearn.neighbors import KNeighborsRegressor

from nas import DARTS_V2, parse_genotype, sample_genotype
from nas.estimation import ENCODING_LENGTH, PREDICTORS, PredictorError, cross_validated, encode, predictor, predictors, register_predictor
from nas.estimation import _predictors


@pytest.fixture(autouse=True)
def _registry_restored(monkeypatch):
    monkeypatch.setattr(_predictors, "_predictors", dict(_predictors._predictors))


def _memorising() -> KNeighborsRegressor:
    """A model that repeats the label of the nearest training row: perfect on what it was fitted on."""
    return KNeighborsRegressor(n_neighbors=1)


def test_encoding_is_fixed_length_and_tells_one_operation_apart():
    text = DARTS_V2.to_str()
    changed = parse_genotype(text.replace("('dil_conv_3x3', 2)", "('dil_conv_5x5', 2)", 1))
    assert encode(DARTS_V2).shape == encode(sample_genotype(1)).shape == (ENCODING_LENGTH,)
    assert np.array_equal(encode(DARTS_V2), encode(parse_genotype(text)))
    assert not np.array_equal(encode(DARTS_V2), encode(changed))
    # One edge changed its operation: one entry left, one came.
    assert np.abs(encode(DARTS_V2) - encode(changed)).sum() == 2


def test_encoding_ignores_the_order_of_a_nodes_edges():
    text = DARTS_V2.to_str()
    assert "[('sep_conv_3x3', 1), ('skip_connect', 0)]" in text
    swapped = parse_genotype(text.replace("[('sep_conv_3x3', 1), ('skip_connect', 0)]", "[('skip_connect', 0), ('sep_conv_3x3', 1)]"))
    assert swapped != DARTS_V2 and np.array_equal(encode(DARTS_V2), encode(swapped))


def test_folds_partition_the_architectures_and_never_train_on_what_they_score():
    rng = np.random.default_rng(0)
    result = cross_validated(rng.normal(size=(53, 4)), rng.normal(size=53), _memorising, folds=10, seed=3)
    scored = np.concatenate(result.test_indices)
    assert sorted(scored) == list(range(53))  # every architecture scored exactly once
    for fold, (train, test) in enumerate(zip(result.train_indices, result.test_indices)):
        assert not set(train) & set(test)
        assert sorted([*train, *test]) == list(range(53))
        assert (result.folds[test] == fold).all()
    assert result.labels_used == max(len(train) for train in result.train_indices) == 48


def test_a_memorising_model_ranks_random_labels_by_chance_out_of_fold():
    """Fitted on all architectures, a 1-nearest-neighbour model would rank them perfectly."""
    rng = np.random.default_rng(1)
    features, labels = rng.normal(size=(200, 5)), rng.normal(size=200)
    in_sample = _memorising().fit(features, labels).predict(features)
    assert stats.spearmanr(labels, in_sample).statistic == pytest.approx(1.0)
    out_of_fold = cross_validated(features, labels, _memorising).predictions
    assert abs(stats.spearmanr(labels, out_of_fold).statistic) < 0.2


def test_learnable_labels_are_learned_and_the_same_seed_gives_the_same_predictions():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(60, 3))
    labels = features @ [1.0, -2.0, 0.5] + 0.1 * rng.normal(size=60)

    def forest() -> RandomForestRegressor:
        return RandomForestRegressor(n_estimators=20, random_state=0, n_jobs=1)

    first = cross_validated(features, labels, forest, seed=4)
    assert stats.spearmanr(labels, first.predictions).statistic > 0.6
    assert np.array_equal(first.predictions, cross_validated(features, labels, forest, seed=4).predictions)
    assert not np.array_equal(first.folds, cross_validated(features, labels, _memorising, seed=5).folds)


@pytest.mark.parametrize("name", PREDICTORS)
def test_every_built_in_predictor_cross_validates(name):
    rng = np.random.default_rng(3)
    features = rng.normal(size=(30, 4))
    result = cross_validated(features, features[:, 0] + 0.1 * rng.normal(size=30), predictor(name), folds=5)
    assert np.isfinite(result.predictions).all() and result.labels_used == 24


def test_a_registered_predictor_is_listed_after_the_built_in_ones():
    register_predictor("nearest", _memorising)
    assert predictors() == (*PREDICTORS, "nearest") and predictor("nearest") is _memorising
    with pytest.raises(ValueError, match="taken"):
        register_predictor("nearest", _memorising)
    with pytest.raises(PredictorError, match="unknown predictor"):
        predictor("missing")


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(PredictorError, match="one row of features per label"):
        cross_validated(np.zeros((5, 2)), np.zeros(4), _memorising)
    with pytest.raises(PredictorError, match="folds must be in 2..5"):
        cross_validated(np.zeros((5, 2)), np.zeros(5), _memorising, folds=6)
    with pytest.raises(PredictorError, match="finite"):
        cross_validated(np.array([[np.nan]] * 5), np.zeros(5), _memorising, folds=2)
