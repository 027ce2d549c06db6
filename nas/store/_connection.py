"""Reaching the database: engines, a watchdog for unanswered statements, and where the spool lives."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nas._errors import StoreError
from nas._files import cache_root

if TYPE_CHECKING:
    from nas.store._results import ResultStore

CONNECT_SECONDS = 10
"""How long opening a PostgreSQL connection may take (a server that does not answer)."""
ANSWER_SECONDS = 60.0
"""How long a PostgreSQL statement may go unanswered (a frozen server) before its connection is dropped and retried."""
NOTICE_SECONDS = 10.0
"""After this long without an answer, a line says what the worker waits for."""


class Unreachable(StoreError):
    """The database did not answer for the whole retry period."""


class Watchdog:
    """Says when a PostgreSQL statement goes unanswered (a frozen server), and after
    :data:`ANSWER_SECONDS` shuts the sockets of the store's connections down, so the blocked
    statement fails and is retried: libpq has no client-side statement timeout."""

    def __init__(self, store: ResultStore) -> None:
        self._store = store
        self._sockets: weakref.WeakSet = weakref.WeakSet()
        self._started: dict[int, float] = {}  # thread id -> when its statement began
        self._lock = threading.Lock()
        sa.event.listen(store._engine, "connect", lambda connection, _: self._sockets.add(connection))
        threading.Thread(target=self._run, name="nas-store-watchdog", daemon=True).start()

    @contextlib.contextmanager
    def watch(self) -> Iterator[None]:
        with self._lock:
            self._started[threading.get_ident()] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._started.pop(threading.get_ident(), None)

    def _run(self) -> None:
        noticed: set[float] = set()
        while True:
            time.sleep(1.0)
            with self._lock:
                waits = {started: time.monotonic() - started for started in self._started.values()}
            for started, waited in waits.items():
                if waited >= NOTICE_SECONDS and started not in noticed:
                    noticed.add(started)
                    self._store._say(f"waiting for the result database {self._store.shown_url}: no answer for {waited:.0f} s")
            if any(waited >= ANSWER_SECONDS for waited in waits.values()):
                self._store._say(f"no answer from {self._store.shown_url} for {ANSWER_SECONDS:.0f} s: reconnecting")
                for connection in list(self._sockets):
                    _shut_down(connection)
                with self._lock:  # counted again from now: the retry reconnects with a bounded timeout
                    self._started = {thread: time.monotonic() for thread in self._started}
            noticed &= set(waits)


def _shut_down(connection: object) -> None:
    with contextlib.suppress(Exception):  # already closed
        descriptor = connection.pgconn.socket  # psycopg 3
        with socket.socket(fileno=os.dup(descriptor)) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)


def create_engine(url: str) -> sa.Engine:
    """An engine that checks a pooled connection before use (a restarted server) and, on
    PostgreSQL, gives up a connection attempt after :data:`CONNECT_SECONDS`."""
    backend = sa.engine.make_url(url).get_backend_name()
    connect_args = {"connect_timeout": CONNECT_SECONDS} if backend == "postgresql" else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def spool_identity(url: str, shown_url: str) -> str:
    """What names a database's spool: a SQLite file by its resolved path (``sqlite:///nas.db``
    is another file in each working directory), any other by its URL as shown."""
    with contextlib.suppress(Exception):
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            return f"sqlite:///{Path(parsed.database).resolve()}"
    return shown_url


def default_spool_dir() -> Path:
    return cache_root() / "unstored-results"
