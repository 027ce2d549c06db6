"""Checkpoints: atomic, and safe when two processes checkpoint into one folder."""

from __future__ import annotations

import os
import threading
import time

from nas.store import Checkpoint
from nas._files import STALE_TEMP_SECONDS


class _SlowToPickle:
    """Pickles as 1 once ``release`` is set: a save of it stays in progress until then."""

    def __init__(self, started: threading.Event, release: threading.Event) -> None:
        self.started, self.release = started, release

    def __reduce__(self):
        self.started.set()
        self.release.wait(60)
        return int, (1,)


def test_a_save_in_progress_survives_another_writers_load_and_save(tmp_path) -> None:
    started, release, errors = threading.Event(), threading.Event(), []

    def slow_save() -> None:
        try:
            Checkpoint(tmp_path).save(1, {"value": _SlowToPickle(started, release)})
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    writer = threading.Thread(target=slow_save)
    writer.start()
    try:
        assert started.wait(60)
        other = Checkpoint(tmp_path)
        assert other.load() is None  # no checkpoint yet; the write in progress is left alone
        other.save(2, {"value": 2})
        assert other.load()[0] == 2
    finally:
        release.set()
        writer.join()
    assert not errors, errors
    assert Checkpoint(tmp_path).load() == (1, {"value": 1})  # the last rename wins, whole
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_removes_only_stale_temp_files(tmp_path) -> None:
    Checkpoint(tmp_path).save(3, {"value": 3})
    stale, fresh = tmp_path / ".checkpoint.pt.killed.tmp", tmp_path / ".checkpoint.pt.writing.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"partial")
    long_ago = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (long_ago, long_ago))
    assert Checkpoint(tmp_path).load() == (3, {"value": 3})
    assert not stale.exists() and fresh.exists()
