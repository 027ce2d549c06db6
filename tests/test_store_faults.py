"""The result store under faults, on a PostgreSQL server of these tests' own (they restart,
stop and freeze it): a restart mid-run, a frozen server, a database away for longer than the
retries last, and a worker whose clock is 300 s ahead."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from _postgres import PostgresServer, initdb_path
from nas import DARTS_V2, PRESETS, ResultStore, StoreError, TrainResult, sample_genotype
from nas.store import _connection as _store

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(initdb_path() is None, reason="PostgreSQL is not installed")]

RESULT = TrainResult("ok", 0.5, 1.0, 100, 10, 0.7, 3, None, "cpu")
BUDGET = PRESETS["bpe1"]


@pytest.fixture(scope="module")
def server():
    with PostgresServer.start() as server:
        yield server


def _lines():
    lines: list[str] = []
    return lines, lines.append


def test_operations_ride_out_a_restart(server, tmp_path):
    lines, say = _lines()
    store = ResultStore(server.create_database(), spool_dir=tmp_path, say=say)
    store.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    server.restart()  # every pooled connection is dead now
    store.put(sample_genotype(1), BUDGET, "d", "cpu-fp32", RESULT)
    assert store.count() == 2
    restarted = threading.Timer(0.5, server.restart)
    restarted.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # operations during the restart itself: refused, then retried
        assert store.get(DARTS_V2, BUDGET, "d", "cpu-fp32") == RESULT
    restarted.join()
    assert store.count() == 2


def test_a_result_is_kept_while_the_database_is_away_and_stored_when_it_is_back(server, tmp_path):
    lines, say = _lines()
    url = server.create_database()
    store = ResultStore(url, retry_seconds=2, spool_dir=tmp_path, say=say)
    server.stop_server()
    try:
        with pytest.raises(StoreError, match="unreachable for 2 s.*kept in") as info:
            store.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
        assert "\n" not in str(info.value)
        assert any("retrying for up to 2 s" in line for line in lines)
    finally:
        server.start_server()
    assert store.spool.exists()
    reopened = ResultStore(url, spool_dir=tmp_path, say=say)  # the next run stores it
    assert reopened.get(DARTS_V2, BUDGET, "d", "cpu-fp32") == RESULT
    assert not store.spool.exists() and any("stored 1 results that were kept" in line for line in lines)


def test_a_frozen_server_is_waited_for_with_a_line_and_reconnected(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_store, "NOTICE_SECONDS", 1.0)
    monkeypatch.setattr(_store, "ANSWER_SECONDS", 3.0)
    monkeypatch.setattr(_store, "CONNECT_SECONDS", 2)
    lines, say = _lines()
    store = ResultStore(server.create_database(), spool_dir=tmp_path, say=say)
    store.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    server.signal_all(signal.SIGSTOP)
    thaw = threading.Timer(6.0, server.signal_all, args=(signal.SIGCONT,))
    thaw.start()
    try:
        started = time.monotonic()
        assert store.get(DARTS_V2, BUDGET, "d", "cpu-fp32") == RESULT
        assert time.monotonic() - started >= 5.0
    finally:
        thaw.join()
    assert any("waiting for the result database" in line and "no answer for" in line for line in lines), lines
    assert any("reconnecting" in line for line in lines), lines


def test_a_frozen_server_fails_in_one_line_after_the_bounded_wait(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_store, "ANSWER_SECONDS", 2.0)
    monkeypatch.setattr(_store, "CONNECT_SECONDS", 1)
    store = ResultStore(server.create_database(), retry_seconds=3, spool_dir=tmp_path, say=lambda _: None)
    store.count()
    server.signal_all(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="unreachable") as info:
            store.count()
        assert time.monotonic() - started < 20 and "\n" not in str(info.value)
    finally:
        server.signal_all(signal.SIGCONT)


_TRY_CLAIM = """
import sys
from nas import DARTS_V2, PRESETS, ResultStore
claim = ResultStore(sys.argv[1]).try_claim(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32")
print("claimed" if claim else "held")
"""


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed (apt-get install faketime)")
def test_a_worker_with_its_clock_300_s_ahead_does_not_take_a_live_claim(server, tmp_path):
    url = server.create_database()
    holder = ResultStore(url)
    assert holder.try_claim(DARTS_V2, BUDGET, "d", "cpu-fp32") is not None  # expires in 120 s by the database's clock
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    ahead = subprocess.run(
        ["faketime", "-f", "+300s", sys.executable, "-c", "import time; print(time.time())"], env=env, capture_output=True, text=True
    )
    assert float(ahead.stdout) - time.time() > 290  # the fake clock works on this machine
    taker = subprocess.run(["faketime", "-f", "+300s", sys.executable, "-c", _TRY_CLAIM, url], env=env, capture_output=True, text=True)
    assert taker.returncode == 0, taker.stderr
    assert taker.stdout.split() == ["held"]


def test_a_heartbeat_that_finds_its_claim_taken_says_so(server, tmp_path):
    lines, say = _lines()
    url = server.create_database()
    worker, other = ResultStore(url, claim_seconds=0.4, say=say), ResultStore(url, claim_seconds=0.4)
    claim = worker.try_claim(DARTS_V2, BUDGET, "d", "cpu-fp32")
    time.sleep(0.6)  # expired before its heartbeat began
    assert other.try_claim(DARTS_V2, BUDGET, "d", "cpu-fp32") is not None
    with claim:
        time.sleep(0.5)
    assert claim.lost and any("was lost" in line for line in lines)
