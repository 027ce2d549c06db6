import json
import os
import socket
import subprocess
import sys
import sqlite3
import time

import shutil

import pytest

from nas import DARTS_V2, PRESETS, Budget, ResultStore, StoreError, TrainResult, sample_genotype
from nas.store import result_key
from nas.store._schema import result_values

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
    assert reopened.accuracies(budget, "d").accuracies == {DARTS_V2.hash(): 0.5}


def test_failed_results_are_kept_but_not_correlated(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    failed = TrainResult("failed", None, 2.0, 100, 10, float("nan"), 2, "non-finite training loss in epoch 2")
    store.put(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32", failed)
    stored = store.get(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32")
    assert stored.status == "failed" and stored.reason == failed.reason and stored.epochs == 2
    assert store.accuracies(PRESETS["bpe1"]).accuracies == {}


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
    assert store.accuracies(budget, "cifar").accuracies == {DARTS_V2.hash(): 0.5}


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
    assert store.accuracies(budget, "d", numerics="cpu-fp32").accuracies == {sample_genotype(2).hash(): 0.5}


def test_fields_added_later_leave_the_key_alone_at_their_default():
    budget = PRESETS["bpe1"]
    key = json.loads(result_key(budget, "cpu-fp32"))["budget"]
    assert "evaluation" not in key and "network" not in key and key["epochs"] == 10
    assert result_key(budget.replace(evaluation="test-best"), "cpu-fp32") != result_key(budget, "cpu-fp32")
    assert "batchnorm_init" not in budget.to_dict() and "batchnorm_init" not in key  # studies keep their identity too
    uniform = budget.replace(batchnorm_init="uniform")
    assert json.loads(result_key(uniform, "cpu-fp32"))["budget"]["batchnorm_init"] == "uniform"
    assert Budget(**uniform.to_dict()) == uniform and Budget(**budget.to_dict()) == budget


FAILED = TrainResult("failed", None, 2.0, 100, 10, float("nan"), 1, "non-finite training loss in epoch 1")


def test_accuracies_say_what_they_skipped(tmp_path):
    path = tmp_path / "r.db"
    store = ResultStore(f"sqlite:///{path}")
    budget = PRESETS["bpe1"]
    for seed in range(2):
        store.put(sample_genotype(seed), budget, "d|split", "cpu-fp32", RESULT)
    store.put(sample_genotype(2), budget, "d|split", "cpu-fp32", FAILED)
    store.put(sample_genotype(3), budget, "d|split", "cuda-fp16", RESULT)
    store.put(sample_genotype(4), budget, "e|split", "cpu-fp32", RESULT)
    store.put(sample_genotype(5), budget.replace(seed=1), "d|split", "cpu-fp32", RESULT)  # another budget: not counted
    # Code version 1 keyed results by the plain budget, which had no evaluation or network field yet.
    version_1_key = json.dumps({k: v for k, v in budget.to_dict().items() if k not in ("evaluation", "network")}, sort_keys=True)
    with sqlite3.connect(path) as connection:
        for seed in (6, 7):
            connection.execute(
                "insert into nas_results (arch_hash, budget_key, dataset, genotype, status, accuracy, seconds, flops,"
                " params, loss, epochs, device, created_at) values (?, ?, 'd|split', '', 'ok', 0.9, 1, 1, 1, 1, 1,"
                " 'cpu', '2026-01-01 00:00:00')",
                (sample_genotype(seed).hash(), version_1_key),
            )
    stored = store.accuracies(budget, "d", "cpu-fp32")
    assert stored.accuracies == {sample_genotype(0).hash(): 0.5, sample_genotype(1).hash(): 0.5}
    assert stored.skipped == {
        "failed": 1,
        "results in arithmetic cuda-fp16": 1,
        "results of code version 1": 2,
        "results on dataset e|split": 1,
    }
    assert stored.skipped_text() == (
        "1 failed, 1 results in arithmetic cuda-fp16, 2 results of code version 1, 1 results on dataset e|split"
    )
    assert store.accuracies(budget.replace(seed=1)).skipped_text() == ""


def test_failed_results_can_be_deleted_for_a_retry(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    budget = PRESETS["bpe1"]
    store.put(DARTS_V2, budget, "d", "cpu-fp32", FAILED)
    store.put(sample_genotype(1), budget, "d", "cpu-fp32", RESULT)
    assert store.delete_failed([DARTS_V2, sample_genotype(1)], budget, "d", "cpu-fp32") == 1
    assert store.get(DARTS_V2, budget, "d", "cpu-fp32") is None
    assert store.get(sample_genotype(1), budget, "d", "cpu-fp32") == RESULT


def _claim(store, genotype=DARTS_V2):
    return store.try_claim(genotype, PRESETS["bpe1"], "d", "cpu-fp32")


def test_a_claim_is_exclusive_until_released_even_when_training_raises(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    first, second = ResultStore(url), ResultStore(url)
    claim = _claim(first)
    assert claim is not None and _claim(second) is None
    assert _claim(second, sample_genotype(1)) is not None  # another key is free
    with pytest.raises(RuntimeError):
        with claim:
            assert _claim(second) is None
            raise RuntimeError("training crashed")
    assert _claim(second) is not None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_heartbeat_keeps_a_claim_and_a_dead_owners_claim_is_taken_over(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'r.db'}" if backend == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    worker, other = ResultStore(url, claim_seconds=0.4), ResultStore(url, claim_seconds=0.4)
    with _claim(worker):
        time.sleep(1.2)  # three lifetimes: alive only through the heartbeat
        assert _claim(other) is None
    assert _claim(worker) is not None  # claimed, never entered: no heartbeat, as if its worker was killed
    assert _claim(other) is None
    time.sleep(0.6)
    assert _claim(other) is not None


_HOLD_A_CLAIM = """
import sys, time
from nas import DARTS_V2, PRESETS, ResultStore
store = ResultStore(sys.argv[1])
assert store.try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32") is not None
print(store.owner, flush=True)
time.sleep(600)
"""


def _process_holding_a_claim(url, *prefix):
    holder = subprocess.Popen([*prefix, sys.executable, "-c", _HOLD_A_CLAIM, url], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return holder, holder.stdout.readline().strip()


def test_claim_of_a_process_that_died_on_this_machine_is_taken_over_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    holder, owner = _process_holding_a_claim(url)
    assert owner.startswith(f"{socket.gethostname()}:{holder.pid}:")
    other = ResultStore(url)
    assert other.try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32") is None  # its owner lives
    holder.kill()
    holder.wait()
    assert other.try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32") is not None  # its owner is gone


def test_opening_the_store_releases_the_claims_that_stopped_workers_left(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    # Expired an hour ago, longer than a live owner could be cut off; expired a minute ago, it may be renewed still.
    abandoned, recent = ResultStore(url, claim_seconds=-3600), ResultStore(url, claim_seconds=-60)
    live = ResultStore(url)
    holder, _ = _process_holding_a_claim(url)  # DARTS_V2, then killed: its owner is provably dead
    assert abandoned.try_claim(sample_genotype(1), PRESETS["bpe1"], "d", "cpu-fp32") is not None
    assert recent.try_claim(sample_genotype(3), PRESETS["bpe1"], "d", "cpu-fp32") is not None
    assert live.try_claim(sample_genotype(2), PRESETS["bpe1"], "d", "cpu-fp32") is not None
    holder.kill()
    holder.wait()
    said = []
    store = ResultStore(url, say=said.append)
    assert len(said) == 1 and said[0].startswith("released 2 claim(s) left by workers that stopped"), said
    with sqlite3.connect(tmp_path / "r.db") as connection:
        assert connection.execute("select count(*) from nas_claims").fetchone() == (2,)
    assert store.try_claim(sample_genotype(2), PRESETS["bpe1"], "d", "cpu-fp32") is None  # the live one holds
    assert ResultStore(url, say=said.append).release_dead_claims() == 0 and len(said) == 1


def _can_unshare():
    return shutil.which("unshare") and subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"]).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="unshare --pid needs root (or user namespaces)")
def test_a_live_claim_in_another_pid_namespace_is_not_taken_over(tmp_path):
    # Its pid means nothing here: it is chosen to be one no process has here, as if it were dead.
    pid = next(pid for pid in range(54321, 60000) if not os.path.exists(f"/proc/{pid}"))
    url = f"sqlite:///{tmp_path / 'r.db'}"
    # The namespace's shell sets its next pid, then forks the holder (the "; true" keeps it from exec'ing it).
    command = f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid; \"$@\"; true"
    holder, owner = _process_holding_a_claim(url, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c", command, "sh")
    try:
        assert owner.split(":")[:2] == [socket.gethostname(), str(pid)] and not os.path.exists(f"/proc/{pid}")
        assert ResultStore(url).try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32") is None
    finally:
        holder.kill()
        holder.wait()


def test_an_owner_from_another_machine_is_never_judged_dead_here(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = ResultStore(url)
    holder.owner = f"{socket.gethostname()}:{dead.pid}:{'0' * 32}|0123456789ab:12345"  # same name, other kernel
    assert holder.try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32") is not None
    assert ResultStore(url).try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32") is None


def test_worker_identities_are_unique_per_store():
    assert len({ResultStore("sqlite://").owner for _ in range(5)}) == 5


def _record(genotype, **changes):
    return {"arch_hash": genotype.hash(), "budget_key": result_key(PRESETS["bpe1"], "cpu-fp32"), "dataset": "d",
            "genotype": genotype.to_str(), **result_values(RESULT), **changes}  # fmt: skip


def test_spooled_results_survive_a_cut_line_a_failing_record_and_an_earlier_crash(tmp_path):
    url, lines = f"sqlite:///{tmp_path / 'r.db'}", []
    spool = ResultStore(url, spool_dir=tmp_path).spool
    unbindable = _record(sample_genotype(1), seconds=[1.0])  # fails on every try
    spool.write_text("".join(json.dumps(r) + "\n" for r in [_record(DARTS_V2), unbindable, _record(sample_genotype(2))]) + '{"arch_ha')
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    spool.with_name(f"{spool.name}.{dead.pid}.{'0' * 32}").write_text(json.dumps(_record(sample_genotype(3))) + "\n")
    spool.with_name(f"{spool.name}.{'1' * 32}").write_text(json.dumps(_record(sample_genotype(4))) + "\n")  # older naming
    store = ResultStore(url, spool_dir=tmp_path, say=lines.append)
    assert store.count() == 4
    assert [json.loads(line)["arch_hash"] for line in spool.read_text().splitlines()] == [unbindable["arch_hash"]]
    assert spool.with_suffix(".bad.jsonl").read_text() == '{"arch_ha\n'
    assert sorted(path.name for path in tmp_path.glob(f"{spool.name}*")) == [spool.name]
    assert any("1 lines" in line and "bad.jsonl" in line for line in lines), lines


def test_spooled_results_not_stored_before_an_interrupt_stay_spooled(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    spool = ResultStore(url, spool_dir=tmp_path).spool
    spool.write_text("".join(json.dumps(_record(sample_genotype(seed))) + "\n" for seed in range(3)))

    class InterruptedOnTheSecond(ResultStore):
        inserts = 0

        def _insert(self, record):
            InterruptedOnTheSecond.inserts += 1
            if InterruptedOnTheSecond.inserts == 2:
                raise KeyboardInterrupt
            return super()._insert(record)

    with pytest.raises(KeyboardInterrupt):
        InterruptedOnTheSecond(url, spool_dir=tmp_path)
    assert len(spool.read_text().splitlines()) == 2
    assert ResultStore(url, spool_dir=tmp_path).count() == 3 and not spool.exists()


def test_a_result_the_database_refuses_is_spooled_with_a_one_line_error(tmp_path):
    path = tmp_path / "r.db"
    ResultStore(f"sqlite:///{path}")  # the tables
    store = ResultStore(f"sqlite:///file:{path}?mode=ro&uri=true", spool_dir=tmp_path)
    with pytest.raises(StoreError, match="readonly.*kept in") as info:
        store.put(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32", RESULT)
    assert "\n" not in str(info.value)
    assert json.loads(store.spool.read_text())["arch_hash"] == DARTS_V2.hash()


def test_a_relative_sqlite_path_has_a_spool_per_file(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    in_a = ResultStore("sqlite:///r.db", spool_dir=tmp_path).spool
    assert ResultStore(f"sqlite:///{tmp_path / 'a' / 'r.db'}", spool_dir=tmp_path).spool == in_a
    monkeypatch.chdir(tmp_path / "b")
    assert ResultStore("sqlite:///r.db", spool_dir=tmp_path).spool != in_a


def test_an_owner_whose_proc_entry_is_hidden_is_alive(monkeypatch):
    from nas.store import _claims

    owner = ResultStore("sqlite://").owner  # this process: alive
    assert not _claims.provably_dead(owner)
    monkeypatch.setattr(_claims, "_start_time", lambda pid: None)  # /proc mounted with hidepid
    assert not _claims.provably_dead(owner)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert _claims.provably_dead(owner.replace(f":{os.getpid()}:", f":{dead.pid}:", 1))


def test_a_claim_ends_quickly_while_the_database_is_locked(tmp_path):
    path = tmp_path / "r.db"
    store = ResultStore(f"sqlite:///{path}", claim_seconds=0.4, retry_seconds=120, say=lambda _: None)
    claim = _claim(store)
    locker = sqlite3.connect(path, isolation_level=None)
    with claim:
        locker.execute("BEGIN EXCLUSIVE")
        time.sleep(0.5)  # the heartbeat is retrying now
        started = time.monotonic()
    assert time.monotonic() - started < 30  # not the 120 s retries of heartbeat and release
    locker.execute("ROLLBACK")
