"""A cache of training results in the database a study uses, so nothing is trained twice.

Results live in their own table (``nas_results``) beside Optuna's tables, in a SQLite file by
default or a PostgreSQL database shared by several workers. A result is committed as soon as its
training ends, so a killed run loses at most the architecture it was training.

Workers sharing a database claim an architecture (table ``nas_claims``, unique on the result's
key) before training it, so two of them never train the same one. A claim expires unless its
owner's heartbeat extends it, so the work of a worker that died is taken over by another. Expiry
is measured by the database's clock, never a worker's: workers whose clocks disagree still agree
on when a claim ran out.

The database may go away for a while (a restart, a frozen server): every operation is retried
with backoff for a bounded time, saying what it waits for, and a finished result that cannot be
stored is kept in a local spool file and stored by the next store opened on that database.

This module is :class:`ResultStore` alone (a little over 350 lines): every operation runs through
its one retry loop (``_attempt``); tables, claims, the connection, the spool and exports are the
modules beside it.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import Session

from nas._errors import StoreError, display_url, hide_password
from nas._result import CODE_VERSION, TrainResult
from nas.space._genotype import Genotype
from nas.store._claims import Claim, provably_dead, worker_identity
from nas.store._connection import Unreachable, Watchdog, create_engine, default_spool_dir, spool_identity
from nas.store._export import read_export, write_export
from nas.store._schema import (
    Base,
    ClaimRow,
    ResultRow,
    current_keys,
    keys_of_any_version,
    parse_key,
    result_key,
    result_values,
    stored_result,
    upgrade_columns,
)
from nas.store._spool import append_to_spool, read_spool_file, take_spool_files

CLAIM_SECONDS = 120.0
"""How long a claim lasts without a heartbeat: the time a dead worker's work waits to be taken over."""
RETRY_SECONDS = 300.0
"""How long an operation is retried while the database is unreachable, before it fails in one line."""

T = TypeVar("T")

if TYPE_CHECKING:
    from nas.estimation._budget import Budget


@dataclass(frozen=True)
class StoredAccuracies:
    """The comparable accuracies under one budget, and how many stored results were left out, by why."""

    accuracies: dict[str, float]  # by architecture hash
    skipped: dict[str, int]  # e.g. {"results of code version 1": 12, "failed": 3}

    def skipped_text(self) -> str:
        """``"12 results of code version 1, 3 failed"``, or ``""`` when nothing was left out."""
        return ", ".join(f"{count} {why}" for why, count in self.skipped.items())


class ResultStore:
    """Training results keyed by (architecture hash, :func:`result_key`, dataset).

    ``claim_seconds`` is how long a claim lives between two heartbeats of its owner; its owner is
    this store object (see :func:`~nas.store._claims.worker_identity`), so each worker has its own.
    ``retry_seconds`` bounds how long an operation waits for an unreachable database;
    ``spool_dir`` keeps the results that could not be stored meanwhile (default: under the data
    cache folder). ``say`` prints the lines about waiting (default: to stderr).
    """

    def __init__(
        self,
        url: str,
        *,
        claim_seconds: float = CLAIM_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        spool_dir: str | os.PathLike | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.url, self.claim_seconds, self.retry_seconds = url, claim_seconds, retry_seconds
        self.shown_url = display_url(url)
        self.owner = worker_identity()
        self._say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        try:
            self._engine = create_engine(url)
            self._watchdog = Watchdog(self) if self._engine.dialect.name == "postgresql" else None
            self._create_table()
        except ImportError as error:
            raise StoreError(f"no driver for result database {self.shown_url}: {error} (pip install -e '.[postgres]')") from None
        except StoreError as error:
            raise StoreError(f"cannot open result database {self.shown_url}: {error}") from None
        except (exc.SQLAlchemyError, ValueError) as error:
            raise StoreError(f"cannot open result database {self.shown_url}: {self._reason(error)}") from None
        spool_name = hashlib.sha256(spool_identity(url, self.shown_url).encode()).hexdigest()[:16]
        self.spool = Path(spool_dir or default_spool_dir()) / f"{spool_name}.jsonl"
        self.store_spooled()
        self.release_dead_claims()

    def _create_table(self) -> None:
        """Create the tables if missing; workers starting together may race to create them."""
        try:
            Base.metadata.create_all(self._engine)
        except exc.DBAPIError:
            inspector = sa.inspect(self._engine)
            if not all(inspector.has_table(table) for table in Base.metadata.tables):
                raise
        upgrade_columns(self._engine)

    def get(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str) -> TrainResult | None:
        row = self._attempt(lambda session: session.scalars(self._select(genotype, result_key(budget, numerics), dataset)).first())
        return None if row is None else stored_result(row)

    def put(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str, result: TrainResult) -> None:
        """Store ``result`` unless another worker stored one for the same key first.

        When it cannot be stored (the database unreachable for the whole retry period, a full
        disk, an interrupt), the result is kept in the spool file, stored by the next store opened
        on this database, and the error is raised: a StoreError saying so, or the interrupt.
        """
        record = {
            "arch_hash": genotype.hash(),
            "budget_key": result_key(budget, numerics),
            "dataset": dataset,
            "genotype": genotype.to_str(),
            **result_values(result),
        }
        try:
            self._insert(record)
        except BaseException as error:
            try:
                append_to_spool(self.spool, [record])
            except OSError as full:
                raise StoreError(f"{error or type(error).__name__}; nor can the finished result be kept in {self.spool}: {full.strerror or full}") from None
            kept = f"the finished result is kept in {self.spool} and stored by the next run on this database"
            if isinstance(error, StoreError):
                raise StoreError(f"{error}; {kept}") from None
            self._say(kept)
            raise
        self.store_spooled()

    def _insert(self, record: dict[str, object]) -> bool:
        """Store one result row; False when one with its key is stored already."""
        try:
            self._attempt(lambda session: session.add(ResultRow(**record)))
        except exc.IntegrityError:
            return False  # a concurrent worker trained the same architecture; its result stands
        return True

    def store_spooled(self) -> int:
        """Store the results that earlier workers on this machine kept in the spool file; returns
        how many. Those still unstorable stay spooled: all of them while the database is
        unreachable, a failing one without holding up the others. Lines that do not parse (a
        write cut short) are moved to the ``.bad.jsonl`` file beside the spool, with a line."""
        taken = take_spool_files(self.spool)
        records = [record for path in taken for record in read_spool_file(path, self.spool, self._say)]
        kept, done = [], 0
        try:
            for record in records:
                try:
                    self._insert(record)
                except Unreachable:
                    break
                except (StoreError, exc.StatementError) as error:  # this record only (a full disk, a bad value)
                    reason = error if isinstance(error, StoreError) else self._reason(error)
                    self._say(f"a result kept in {self.spool} cannot be stored ({reason}); it stays there")
                    kept.append(record)
                done += 1
        finally:  # interrupted or not, what was not stored goes back; a crash leaves the taken files to the next run
            if kept or done < len(records):
                append_to_spool(self.spool, kept + records[done:])
            for path in taken:
                path.unlink(missing_ok=True)
        stored = done - len(kept)
        if stored:
            self._say(f"stored {stored} results that were kept in {self.spool} while {self.shown_url} was unreachable")
        return stored

    def count(self, budget: Budget | None = None, dataset: str | None = None) -> int:
        """Results stored, of this code version under ``budget`` when given (any arithmetic)."""
        query = sa.select(sa.func.count()).select_from(ResultRow)
        if budget is not None:
            query = query.where(ResultRow.budget_key.in_(current_keys(budget)))
        if dataset is not None:
            query = query.where(ResultRow.dataset == dataset)
        return self._attempt(lambda session: session.scalar(query))

    def accuracies(self, budget: Budget, dataset: str | None = None, numerics: str | None = None) -> StoredAccuracies:
        """Successful results of this code version under ``budget``, keyed by architecture hash,
        with counts of the results under ``budget`` that were skipped: of other code versions,
        datasets or arithmetics, and failed ones.

        ``dataset`` is a prefix of the dataset key; without it, the results must all come from one
        dataset, since accuracies on two datasets do not rank together. Likewise for ``numerics``.
        """
        columns = (ResultRow.arch_hash, ResultRow.accuracy, ResultRow.dataset, ResultRow.budget_key, ResultRow.status)
        query = sa.select(*columns).where(ResultRow.budget_key.in_(keys_of_any_version(budget)))
        rows = self._attempt(lambda session: session.execute(query).all())
        skipped: collections.Counter[str] = collections.Counter()
        comparable = []
        for row in rows:
            version, kind = parse_key(row.budget_key)
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
        statement = sa.delete(ResultRow).where(
            ResultRow.arch_hash.in_(hashes),
            ResultRow.budget_key == result_key(budget, numerics),
            ResultRow.dataset == dataset,
            ResultRow.status != "ok",
        )
        return self._attempt(lambda session: session.execute(statement).rowcount)

    def export_csv(self, path: str | os.PathLike) -> int:
        """Write every stored result, keys intact (code version and arithmetic included), to a CSV
        file that :meth:`import_csv` reads; returns how many."""
        rows = self._attempt(lambda session: session.scalars(sa.select(ResultRow).order_by(ResultRow.id)).all())
        write_export(rows, path)
        return len(rows)

    def import_csv(self, path: str | os.PathLike) -> tuple[int, int]:
        """Add the results of an :meth:`export_csv` file that this store lacks; returns (added,
        already stored). The whole file is checked before anything is added."""
        by_key: dict[tuple, dict[str, object]] = {}
        for record in read_export(path):  # a key twice in the file: its first row stands, as in a store
            by_key.setdefault((record["arch_hash"], record["budget_key"], record["dataset"]), record)
        columns = (ResultRow.arch_hash, ResultRow.budget_key, ResultRow.dataset)
        existing = {tuple(row) for row in self._attempt(lambda session: session.execute(sa.select(*columns)).all())}
        new = [record for key, record in by_key.items() if key not in existing]
        try:
            self._attempt(lambda session: session.add_all([ResultRow(**record) for record in new]))
            added = len(new)
        except exc.IntegrityError:  # another worker stored some meanwhile: one by one
            added = sum(self._insert(record) for record in new)
        return added, len(by_key) - added

    def try_claim(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str) -> Claim | None:
        """Claim the training of ``genotype`` for this store's owner; None while another worker holds it.

        A claim that expired (by the database's clock) is taken over, and so is one whose owner
        is provably dead (see :func:`provably_dead`). Enter the returned claim (``with claim:``)
        around the training: it is kept alive while it runs and released after.
        """
        key = {"arch_hash": genotype.hash(), "budget_key": result_key(budget, numerics), "dataset": dataset}
        where = sa.and_(*(getattr(ClaimRow, column) == value for column, value in key.items()))
        mine = {"owner": self.owner, "expires_at": self._now() + self.claim_seconds}
        try:
            self._attempt(lambda session: session.execute(sa.insert(ClaimRow).values(**key, **mine)))
        except exc.IntegrityError:  # held: take it over only if it expired, is our own, or its owner is dead
            holder = self._attempt(lambda session: session.scalar(sa.select(ClaimRow.owner).where(where)))
            takers = [self.owner, holder] if holder and provably_dead(holder) else [self.owner]
            free = sa.or_(ClaimRow.expires_at < self._now(), ClaimRow.owner.in_(takers))
            statement = sa.update(ClaimRow).where(where, free).values(**mine)
            if self._attempt(lambda session: session.execute(statement).rowcount) != 1:
                return None
        return Claim(self, sa.and_(where, ClaimRow.owner == self.owner), genotype.hash())

    def release_dead_claims(self) -> int:
        """Delete the claims that workers which stopped left behind: those whose owner is provably
        dead, and those expired (by the database's clock) for longer than a live owner could have
        been cut off from the database (its retry period and ten claim lifetimes), whose heartbeat
        would otherwise renew them. They would be taken over when their architecture came up again;
        deleted, they no longer read as trainings in progress. Writes only when there is one to
        delete (a read-only database stays usable) and says how many in one line."""
        abandoned = ClaimRow.expires_at < self._now() - (self.retry_seconds + 10 * self.claim_seconds)
        rows = self._attempt(lambda session: session.execute(sa.select(ClaimRow.owner, abandoned)).all())
        dead = sorted({owner for owner, _ in rows if provably_dead(owner)})
        if not dead and not any(expired for _, expired in rows):
            return 0
        statement = sa.delete(ClaimRow).where(sa.or_(abandoned, ClaimRow.owner.in_(dead)))
        released = self._attempt(lambda session: session.execute(statement).rowcount)
        if released:
            self._say(f"released {released} claim(s) left by workers that stopped; their architectures are trained when next asked for")
        return released

    def _extend_claim(self, where: sa.ColumnElement[bool], stop: threading.Event | None = None) -> bool:
        """Extend a claim of this owner; False when it is no longer ours."""
        statement = sa.update(ClaimRow).where(where).values(expires_at=self._now() + self.claim_seconds)
        return self._attempt(lambda session: session.execute(statement).rowcount, stop=stop) == 1

    def _now(self) -> sa.ColumnElement[float]:
        """The database's clock in seconds since the epoch, as SQL."""
        if self._engine.dialect.name == "sqlite":
            return (sa.func.julianday("now") - 2440587.5) * 86400.0
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)

    @staticmethod
    def _select(genotype: Genotype, key: str, dataset: str) -> sa.Select:
        return sa.select(ResultRow).where(
            ResultRow.arch_hash == genotype.hash(),
            ResultRow.budget_key == key,
            ResultRow.dataset == dataset,
        )

    def _attempt(self, operation: Callable[[Session], T], stop: threading.Event | None = None) -> T:
        """``operation`` in one transaction, retried with backoff while the database is
        unreachable, for ``retry_seconds`` at most or until ``stop`` is set; database failures
        become one-line StoreErrors (IntegrityError passes through)."""
        deadline, delay = None, 0.5
        while True:
            try:
                with self._watching(), Session(self._engine, expire_on_commit=False) as session, session.begin():
                    outcome = operation(session)
                if deadline is not None:
                    self._say(f"result database {self.shown_url} answers again")
                return outcome
            except exc.IntegrityError:
                raise
            except exc.DBAPIError as error:
                reason = self._reason(error)
                if not self._transient(error, reason):
                    raise StoreError(f"result database {self.shown_url} failed: {reason}") from None
                if stop is not None and stop.is_set():
                    raise Unreachable(f"result database {self.shown_url} unreachable: {reason}") from None
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.retry_seconds
                    self._say(f"result database {self.shown_url} unreachable ({reason}); retrying for up to {self.retry_seconds:.0f} s")
                if now + delay > deadline:
                    raise Unreachable(f"result database {self.shown_url} unreachable for {self.retry_seconds:.0f} s: {reason}") from None
                if stop is not None:
                    stop.wait(delay)
                else:
                    time.sleep(delay)
                delay = min(2 * delay, 10.0)

    def _transient(self, error: exc.DBAPIError, reason: str) -> bool:
        """Whether ``error`` is the database being away (restarting, unreachable, busy), not a bad statement."""
        if self._engine.dialect.name == "sqlite":
            return "locked" in reason
        return error.connection_invalidated or isinstance(error, (exc.OperationalError, exc.InterfaceError))

    def _watching(self) -> contextlib.AbstractContextManager:
        return self._watchdog.watch() if self._watchdog is not None else contextlib.nullcontext()

    def _reason(self, error: Exception) -> str:
        original = getattr(error, "orig", None) or error
        text = str(original).strip().splitlines()
        return hide_password(text[0] if text else type(original).__name__, self.url)
