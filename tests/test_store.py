import json

import pytest

from nas import DARTS_V2, PRESETS, ResultStore, StoreError, TrainResult, sample_genotype
from nas.estimation._store import result_key

RESULT = TrainResult("ok", 0.5, 1.0, 100, 10, 0.7, 3, None, "cpu")


def test_results_are_keyed_by_architecture_budget_and_dataset(tmp_path):
    url = f"sqlite:///{tmp_path / 'results.db'}"
    store = ResultStore(url)
    budget = PRESETS["bpe1"]
    assert store.get(DARTS_V2, budget, "d", "cpu-fp32") is None
    store.put(DARTS_V2, budget, "d", "cpu-fp32", RESULT)
    store.put(DARTS_V2, budget, "d", "cpu-fp32", TrainResult("ok", 0.9, 1.0, 100, 10, 0.7, 3))  # duplicate: first stands
    reopened = ResultStore(url)
    assert reopened.get(DARTS_V2, budget, "d", "cpu-fp32") == RESULT
    assert reopened.get(DARTS_V2, budget.replace(seed=1), "d", "cpu-fp32") is None
    assert reopened.get(DARTS_V2, budget, "other", "cpu-fp32") is None
    assert reopened.get(sample_genotype(0), budget, "d", "cpu-fp32") is None
    assert reopened.count() == 1
    assert reopened.accuracies(budget, "d") == {DARTS_V2.hash(): 0.5}


def test_failed_results_are_kept_but_not_correlated(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    failed = TrainResult("failed", None, 2.0, 100, 10, float("nan"), 2, "non-finite training loss in epoch 2")
    store.put(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32", failed)
    stored = store.get(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32")
    assert stored.status == "failed" and stored.reason == failed.reason and stored.epochs == 2
    assert store.accuracies(PRESETS["bpe1"]) == {}


def test_corrupted_database_gives_one_line_error_and_is_left_alone(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="broken.db") as info:
        ResultStore(f"sqlite:///{path}")
    assert "\n" not in str(info.value)
    assert path.read_bytes() == before


@pytest.mark.postgres
def test_postgres_store_shares_results_between_handles(postgres_url):
    first, second = ResultStore(postgres_url), ResultStore(postgres_url)
    genotype = sample_genotype(5)
    first.put(genotype, PRESETS["bpe2"], "pg", "cpu-fp32", RESULT)
    second.put(genotype, PRESETS["bpe2"], "pg", "cpu-fp32", TrainResult("ok", 0.1, 1.0, 1, 1, 1.0, 1))
    assert second.get(genotype, PRESETS["bpe2"], "pg", "cpu-fp32") == RESULT


def test_results_on_two_datasets_are_not_mixed(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    budget = PRESETS["bpe1"]
    store.put(DARTS_V2, budget, "cifar|split", "cpu-fp32", RESULT)
    store.put(sample_genotype(1), budget, "synthetic|split", "cpu-fp32", RESULT)
    with pytest.raises(StoreError, match="several datasets"):
        store.accuracies(budget)
    assert store.accuracies(budget, "cifar") == {DARTS_V2.hash(): 0.5}


@pytest.mark.parametrize(
    "url, message",
    [("postgresql+nosuchdriver://u@127.0.0.1:1/x", "nosuchdriver"), ("postgresql://u@127.0.0.1:1/x", "refused")],
)
def test_unusable_database_urls_are_one_line_errors(url, message):
    with pytest.raises(StoreError, match=message) as info:
        ResultStore(url)
    assert "\n" not in str(info.value)


@pytest.mark.postgres
def test_workers_opening_a_new_database_together_all_succeed(fresh_postgres_url):
    import concurrent.futures
    import threading

    start = threading.Barrier(6)

    def open_store():
        start.wait()
        return ResultStore(fresh_postgres_url)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(lambda _: open_store(), range(6)))
    stores[0].put(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32", RESULT)
    assert all(store.count() == 1 for store in stores)


def test_results_of_other_arithmetic_or_code_version_are_not_reused(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    budget = PRESETS["bpe1"]
    store.put(DARTS_V2, budget, "d", "cuda-fp32-tf32", RESULT)
    assert store.get(DARTS_V2, budget, "d", "cpu-fp32") is None
    assert store.get(DARTS_V2, budget, "d", "cuda-fp32-tf32") == RESULT
    store.put(sample_genotype(2), budget, "d", "cpu-fp32", RESULT)
    with pytest.raises(StoreError, match="several arithmetics"):
        store.accuracies(budget, "d")
    assert store.accuracies(budget, "d", numerics="cpu-fp32") == {sample_genotype(2).hash(): 0.5}


def test_fields_added_later_leave_the_key_alone_at_their_default():
    budget = PRESETS["bpe1"]
    key = json.loads(result_key(budget, "cpu-fp32"))["budget"]
    assert "evaluation" not in key and "network" not in key and key["epochs"] == 10
    assert result_key(budget.replace(evaluation="test-best"), "cpu-fp32") != result_key(budget, "cpu-fp32")
