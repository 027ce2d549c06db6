"""The store's tables and the key a result is stored under.

The table and column names, and the key's JSON, are what stored results are found by: results of
earlier versions of this code stay readable as long as none of them changes.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import fields
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nas._errors import StoreError
from nas._result import CODE_VERSION, NUMERICS, TrainResult

if TYPE_CHECKING:
    from nas.estimation._budget import Budget


class Base(DeclarativeBase):
    pass


class ResultRow(Base):
    __tablename__ = "nas_results"
    __table_args__ = (sa.UniqueConstraint("arch_hash", "budget_key", "dataset", name="nas_results_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arch_hash: Mapped[str] = mapped_column(sa.String(32), index=True)
    budget_key: Mapped[str] = mapped_column(sa.String(1024))
    dataset: Mapped[str] = mapped_column(sa.String(512))
    genotype: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))
    accuracy: Mapped[float | None]
    seconds: Mapped[float]
    flops: Mapped[int] = mapped_column(sa.BigInteger)
    params: Mapped[int] = mapped_column(sa.BigInteger)
    loss: Mapped[float | None]
    epochs: Mapped[int]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    device: Mapped[str] = mapped_column(sa.String(16))
    # JSON of TrainResult.curve; NULL for results stored before curves were (see ``upgrade_columns``).
    curve: Mapped[str | None] = mapped_column(sa.Text, default=None)
    created_at: Mapped[datetime.datetime] = mapped_column(default=lambda: datetime.datetime.now(datetime.timezone.utc))


class ClaimRow(Base):
    """Work a worker is doing: the key of the result it will store, and until when it holds it."""

    __tablename__ = "nas_claims"
    __table_args__ = (sa.UniqueConstraint("arch_hash", "budget_key", "dataset", name="nas_claims_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arch_hash: Mapped[str] = mapped_column(sa.String(32))
    budget_key: Mapped[str] = mapped_column(sa.String(1024))
    dataset: Mapped[str] = mapped_column(sa.String(512))
    owner: Mapped[str] = mapped_column(sa.String(128))  # see nas.store._claims.worker_identity
    expires_at: Mapped[float]  # seconds since the epoch, by the database's clock


RESULT_FIELDS = [field.name for field in fields(TrainResult)]
ADDED_COLUMNS = {"curve": "TEXT"}
"""Result columns added after stores were made: an older store gets them (NULL) when opened."""


def upgrade_columns(engine: sa.Engine) -> None:
    """Add :data:`ADDED_COLUMNS` that the store's ``nas_results`` lacks. Workers opening an old store
    together may race to add one; whoever loses finds it there (PostgreSQL: ``IF NOT EXISTS``, and a
    lock timeout so that the upgrade never queues the other workers behind a long transaction)."""
    postgres = engine.dialect.name == "postgresql"
    for column, kind in ADDED_COLUMNS.items():
        if column in _columns(engine):
            continue
        try:
            with engine.begin() as connection:
                if postgres:
                    connection.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
                exists = "IF NOT EXISTS " if postgres else ""
                connection.execute(sa.text(f"ALTER TABLE {ResultRow.__tablename__} ADD COLUMN {exists}{column} {kind}"))
        except sa.exc.DBAPIError as error:
            if column not in _columns(engine):
                reason = " ".join(str(error.orig).split()) if error.orig is not None else type(error).__name__
                raise StoreError(
                    f"this store predates learning curves and its {column!r} column cannot be added ({reason}): "
                    "open it once where it can be written, or export it with the previous version"
                ) from None


def _columns(engine: sa.Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(ResultRow.__tablename__)}


def result_values(result: TrainResult) -> dict[str, object]:
    """``result`` as the row's columns (the curve as JSON, NULL when it has none)."""
    return {**result.to_dict(), "curve": json.dumps(result.curve) if result.curve else None}


def stored_result(row: ResultRow) -> TrainResult:
    """The TrainResult a row stores (its curve parsed from JSON)."""
    points = tuple((float(loss), None if accuracy is None else float(accuracy)) for loss, accuracy in json.loads(row.curve)) if row.curve else ()
    return TrainResult(**{name: getattr(row, name) for name in RESULT_FIELDS if name != "curve"}, curve=points)


# Budget fields added after results of this code version were stored: at their default they leave
# the key as it was, so those results stay found. (Fields added after studies were stored too are
# left out by Budget.to_dict itself: _OMITTED_AT_DEFAULT in nas/estimation/_budget.py.)
_FIELDS_KEYED_WHEN_CHANGED = {"evaluation": "valid-last", "network": "cifar"}


def budget_identity(budget: Budget) -> dict[str, object]:
    """The budget's fields as results are keyed by them (see ``_FIELDS_KEYED_WHEN_CHANGED``)."""
    return {
        name: value
        for name, value in budget.to_dict().items()
        if _FIELDS_KEYED_WHEN_CHANGED.get(name, object()) != value
    }


def result_key(budget: Budget, numerics: str, code_version: int = CODE_VERSION) -> str:
    """Everything besides architecture and dataset that changes a result: the budget (with its
    seed), the arithmetic it ran in (:func:`nas.estimation._trainer.numerics`) and the code version."""
    return json.dumps({"budget": budget_identity(budget), "code_version": code_version, "numerics": numerics}, sort_keys=True)


def parse_key(key: str) -> tuple[int, str | None]:
    """(code version, arithmetic) of a stored key; version 1 stored the plain budget, no arithmetic."""
    document = json.loads(key)
    if "code_version" not in document:
        return 1, None
    return document["code_version"], document["numerics"]


def keys_of_any_version(budget: Budget) -> list[str]:
    """Every key a result under ``budget`` may have been stored with, in any version and arithmetic."""
    keys = [json.dumps(budget_identity(budget), sort_keys=True)]  # version 1 predates the later fields
    return keys + [result_key(budget, kind, version) for version in range(2, CODE_VERSION + 1) for kind in NUMERICS]


def current_keys(budget: Budget) -> list[str]:
    """The keys of this code version under ``budget``, in every arithmetic."""
    return [result_key(budget, kind) for kind in NUMERICS]
