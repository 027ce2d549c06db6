"""Shared pytest fixtures.

PostgreSQL: ``postgres_server`` starts one real PostgreSQL server for the whole session (see
``tests/_postgres.py``); ``postgres_url`` is the SQLAlchemy URL of a database on it that the
whole session shares, ``fresh_postgres_url`` a new empty database per test. Tests using them
should be marked ``@pytest.mark.postgres``; they are skipped when ``initdb`` is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


try:  # tests/ may or may not become a package.
    from ._postgres import initdb_path
    from ._postgres import PostgresServer
except ImportError:
    from _postgres import initdb_path  # type: ignore[no-redef]
    from _postgres import PostgresServer  # type: ignore[no-redef]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if initdb_path() is None:
        pytest.skip("PostgreSQL is not installed (initdb not found on PATH)")
    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://...`` URL of a database shared by the whole test session."""

    return postgres_server.create_database("test")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    """URL of a new, empty database for one test."""

    return postgres_server.create_database()
