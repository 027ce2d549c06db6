"""A cache of training results in the database a study uses, so nothing is trained twice.

Results live in their own table (``nas_results``) beside Optuna's tables, in a SQLite file by
default or a PostgreSQL database shared by several workers. A result is committed as soon as its
training ends, so a killed run loses at most the architecture it was training.

Workers sharing a database claim an architecture (table ``nas_claims``, unique on the result's
key) before training it, so two of them never train the same one. A claim expires unless its
owner's heartbeat extends it, so the work of a worker that died is taken over by another.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, fields
from typing import Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from nas.estimation._budget import Budget
from nas._errors import StoreError
from nas.space._genotype import Genotype
from nas.estimation._trainer import CODE_VERSION, NUMERICS, TrainResult


class _Base(DeclarativeBase):
    pass


class _ResultRow(_Base):
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
    created_at: Mapped[datetime.datetime] = mapped_column(default=lambda: datetime.datetime.now(datetime.timezone.utc))


class _ClaimRow(_Base):
    """Work a worker is doing: the key of the result it will store, and until when it holds it."""

    __tablename__ = "nas_claims"
    __table_args__ = (sa.UniqueConstraint("arch_hash", "budget_key", "dataset", name="nas_claims_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    arch_hash: Mapped[str] = mapped_column(sa.String(32))
    budget_key: Mapped[str] = mapped_column(sa.String(1024))
    dataset: Mapped[str] = mapped_column(sa.String(512))
    owner: Mapped[str] = mapped_column(sa.String(128))
    expires_at: Mapped[float]  # seconds since the epoch, by the owner's clock


_RESULT_FIELDS = [field.name for field in fields(TrainResult)]
CLAIM_SECONDS = 120.0
"""How long a claim lasts without a heartbeat: the time a dead worker's work waits to be taken over."""


# Budget fields added after results of this code version were stored: at their default they leave
# the key as it was, so those results stay found.
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


def _parse_key(key: str) -> tuple[int, str | None]:
    """(code version, arithmetic) of a stored key; version 1 stored the plain budget, no arithmetic."""
    document = json.loads(key)
    if "code_version" not in document:
        return 1, None
    return document["code_version"], document["numerics"]


def _keys_of_any_version(budget: Budget) -> list[str]:
    """Every key a result under ``budget`` may have been stored with, in any version and arithmetic."""
    keys = [json.dumps(budget_identity(budget), sort_keys=True)]  # version 1 predates the later fields
    return keys + [result_key(budget, kind, version) for version in range(2, CODE_VERSION + 1) for kind in NUMERICS]


@dataclass(frozen=True)
class StoredAccuracies:
    """The comparable accuracies under one budget, and how many stored results were left out, by why."""

    accuracies: dict[str, float]  # by architecture hash
    skipped: dict[str, int]  # e.g. {"results of code version 1": 12, "failed": 3}

    def skipped_text(self) -> str:
        """``"12 results of code version 1, 3 failed"``, or ``""`` when nothing was left out."""
        return ", ".join(f"{count} {why}" for why, count in self.skipped.items())


class Claim:
    """A claim on one result's key: a heartbeat thread extends it while the ``with`` block runs
    (the training), and it is released when the block ends, whether the training stored a
    result or raised."""

    def __init__(self, store: ResultStore, where: sa.ColumnElement[bool]) -> None:
        self._store, self._where = store, where
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="nas-claim-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._store.claim_seconds / 4):
            with contextlib.suppress(StoreError):  # a missed beat is harmless; the next one may succeed
                self._store._update_claim(self._where, expires_at=time.time() + self._store.claim_seconds)

    def __enter__(self) -> Claim:
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._heartbeat.join()
        with self._store._session() as session:
            session.execute(sa.delete(_ClaimRow).where(self._where))


class ResultStore:
    """Training results keyed by (architecture hash, :func:`result_key`, dataset).

    ``claim_seconds`` is how long a claim lives between two heartbeats of its owner; its owner is
    this store object (host, process and a random part), so each worker has its own.
    """

    def __init__(self, url: str, *, claim_seconds: float = CLAIM_SECONDS) -> None:
        self.url, self.claim_seconds = url, claim_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        try:
            self._engine = sa.create_engine(url)
            self._create_table()
        except ImportError as error:
            raise StoreError(f"no driver for result database {url}: {error} (pip install -e '.[postgres]')") from None
        except (exc.SQLAlchemyError, ValueError) as error:
            raise StoreError(f"cannot open result database {url}: {_reason(error)}") from None

    def _create_table(self) -> None:
        """Create the tables if missing; workers starting together may race to create them."""
        try:
            _Base.metadata.create_all(self._engine)
        except exc.DBAPIError:
            inspector = sa.inspect(self._engine)
            if not all(inspector.has_table(table) for table in _Base.metadata.tables):
                raise

    def get(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str) -> TrainResult | None:
        with self._session() as session:
            row = session.scalars(self._select(genotype, result_key(budget, numerics), dataset)).first()
            return None if row is None else TrainResult(**{name: getattr(row, name) for name in _RESULT_FIELDS})

    def put(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str, result: TrainResult) -> None:
        """Store ``result`` unless another worker stored one for the same key first."""
        row = _ResultRow(
            arch_hash=genotype.hash(),
            budget_key=result_key(budget, numerics),
            dataset=dataset,
            genotype=genotype.to_str(),
            **result.to_dict(),
        )
        try:
            with self._session() as session:
                session.add(row)
        except exc.IntegrityError:
            pass  # a concurrent worker trained the same architecture; its result stands

    def count(self, budget: Budget | None = None, dataset: str | None = None) -> int:
        """Results stored, of this code version under ``budget`` when given (any arithmetic)."""
        query = sa.select(sa.func.count()).select_from(_ResultRow)
        if budget is not None:
            query = query.where(_ResultRow.budget_key.in_(_keys(budget)))
        if dataset is not None:
            query = query.where(_ResultRow.dataset == dataset)
        with self._session() as session:
            return session.scalar(query)

    def accuracies(self, budget: Budget, dataset: str | None = None, numerics: str | None = None) -> StoredAccuracies:
        """Successful results of this code version under ``budget``, keyed by architecture hash,
        with counts of the results under ``budget`` that were skipped: of other code versions,
        datasets or arithmetics, and failed ones.

        ``dataset`` is a prefix of the dataset key; without it, the results must all come from one
        dataset, since accuracies on two datasets do not rank together. Likewise for ``numerics``.
        """
        columns = (_ResultRow.arch_hash, _ResultRow.accuracy, _ResultRow.dataset, _ResultRow.budget_key, _ResultRow.status)
        query = sa.select(*columns).where(_ResultRow.budget_key.in_(_keys_of_any_version(budget)))
        with self._session() as session:
            rows = session.execute(query).all()
        skipped: collections.Counter[str] = collections.Counter()
        comparable = []
        for row in rows:
            version, kind = _parse_key(row.budget_key)
            if version != CODE_VERSION:
                skipped[f"results of code version {version}"] += 1
            elif dataset is not None and not row.dataset.startswith(dataset):
                skipped[f"results on dataset {row.dataset}"] += 1
            elif numerics is not None and kind != numerics:
                skipped[f"results in arithmetic {kind}"] += 1
            elif row.status != "ok":
                skipped["failed"] += 1
            else:
                comparable.append((row, kind))
        datasets = sorted({row.dataset for row, _ in comparable})
        if len(datasets) > 1:
            raise StoreError(f"results under this budget come from several datasets ({', '.join(datasets)}): pick one with --dataset")
        kinds = sorted({kind for _, kind in comparable})
        if len(kinds) > 1:
            raise StoreError(f"results under this budget ran in several arithmetics ({', '.join(kinds)}): pick one with --numerics")
        return StoredAccuracies({row.arch_hash: row.accuracy for row, _ in comparable}, dict(sorted(skipped.items())))

    def delete_failed(self, genotypes: Iterable[Genotype], budget: Budget, dataset: str, numerics: str) -> int:
        """Forget the failed results of ``genotypes``, so they are trained again; returns how many."""
        hashes = [genotype.hash() for genotype in genotypes]
        with self._session() as session:
            return session.execute(
                sa.delete(_ResultRow).where(
                    _ResultRow.arch_hash.in_(hashes),
                    _ResultRow.budget_key == result_key(budget, numerics),
                    _ResultRow.dataset == dataset,
                    _ResultRow.status != "ok",
                )
            ).rowcount

    def try_claim(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str) -> Claim | None:
        """Claim the training of ``genotype`` for this store's owner; None while another worker holds it.

        A claim that expired (its owner died or hung) is taken over. Enter the returned claim
        (``with claim:``) around the training: it is kept alive while it runs and released after.
        """
        key = {"arch_hash": genotype.hash(), "budget_key": result_key(budget, numerics), "dataset": dataset}
        where = sa.and_(*(getattr(_ClaimRow, column) == value for column, value in key.items()))
        now = time.time()
        mine = {"owner": self.owner, "expires_at": now + self.claim_seconds}
        try:
            with self._session() as session:
                session.add(_ClaimRow(**key, **mine))
        except exc.IntegrityError:  # held: take it over only if it expired, is our own, or its owner died here
            with self._session() as session:
                holder = session.scalar(sa.select(_ClaimRow.owner).where(where))
            takers = [self.owner, holder] if _died_here(holder) else [self.owner]
            free = sa.or_(_ClaimRow.expires_at < now, _ClaimRow.owner.in_(takers))
            if not self._update_claim(sa.and_(where, free), **mine):
                return None
        return Claim(self, sa.and_(where, _ClaimRow.owner == self.owner))

    def _update_claim(self, where: sa.ColumnElement[bool], **values: object) -> bool:
        with self._session() as session:
            return session.execute(sa.update(_ClaimRow).where(where).values(**values)).rowcount == 1

    @staticmethod
    def _select(genotype: Genotype, key: str, dataset: str) -> sa.Select:
        return sa.select(_ResultRow).where(
            _ResultRow.arch_hash == genotype.hash(),
            _ResultRow.budget_key == key,
            _ResultRow.dataset == dataset,
        )

    @contextlib.contextmanager
    def _session(self) -> Iterator[Session]:
        """A transaction that commits on success and reports database failures as one line."""
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                yield session
        except exc.IntegrityError:
            raise
        except exc.DBAPIError as error:
            raise StoreError(f"result database {self.url} failed: {_reason(error)}") from None


def _died_here(owner: str | None) -> bool:
    """Whether ``owner`` was a process on this machine that is gone (killed with SIGKILL, say): its
    claim need not wait to expire."""
    host, _, rest = (owner or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, another user's
    return False


def _keys(budget: Budget) -> list[str]:
    return [result_key(budget, kind) for kind in NUMERICS]


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0]
