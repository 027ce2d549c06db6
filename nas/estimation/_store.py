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
"""

from __future__ import annotations

import collections
import contextlib
import csv
import datetime
import hashlib
import json
import os
import socket
import sys
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from nas.estimation._budget import Budget
from nas._errors import StoreError, display_url, hide_password
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
    owner: Mapped[str] = mapped_column(sa.String(128))  # see _worker_identity
    expires_at: Mapped[float]  # seconds since the epoch, by the database's clock


_RESULT_FIELDS = [field.name for field in fields(TrainResult)]
_SPOOL_FIELDS = ["arch_hash", "budget_key", "dataset", "genotype", *_RESULT_FIELDS]
CLAIM_SECONDS = 120.0
"""How long a claim lasts without a heartbeat: the time a dead worker's work waits to be taken over."""
RETRY_SECONDS = 300.0
"""How long an operation is retried while the database is unreachable, before it fails in one line."""
CONNECT_SECONDS = 10
"""How long opening a PostgreSQL connection may take (a server that does not answer)."""
ANSWER_SECONDS = 60.0
"""How long a PostgreSQL statement may go unanswered (a frozen server) before its connection is dropped and retried."""
NOTICE_SECONDS = 10.0
"""After this long without an answer, a line says what the worker waits for."""

T = TypeVar("T")


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
    result or raised.

    ``lost`` turns true, with a line saying so, when a heartbeat finds the claim no longer this
    worker's (it expired while the database was unreachable, and another worker took it over);
    the training goes on, and whichever result is stored first stands.
    """

    def __init__(self, store: ResultStore, where: sa.ColumnElement[bool], name: str) -> None:
        self._store, self._where, self._name = store, where, name
        self.lost = False
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._beat, name="nas-claim-heartbeat", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._store.claim_seconds / 4):
            try:
                held = self._store._extend_claim(self._where, stop=self._stop)
            except StoreError:
                continue  # unreachable for long: the claim may expire, and the next beat says so
            if not held:
                self.lost = True
                self._store._say(f"claim on {self._name} was lost (it expired and another worker took it over)")
                return

    def __enter__(self) -> Claim:
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._heartbeat.join()  # its retries end once _stop is set
        try:  # one attempt (_stop is set): a claim left behind expires on its own
            self._store._attempt(lambda session: session.execute(sa.delete(_ClaimRow).where(self._where)), stop=self._stop)
        except StoreError as error:
            self._store._say(f"could not release the claim on {self._name}: {error}")


class _Unreachable(StoreError):
    """The database did not answer for the whole retry period."""


class ResultStore:
    """Training results keyed by (architecture hash, :func:`result_key`, dataset).

    ``claim_seconds`` is how long a claim lives between two heartbeats of its owner; its owner is
    this store object (see :func:`_worker_identity`), so each worker has its own.
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
        self.owner = _worker_identity()
        self._say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        try:
            self._engine = _create_engine(url)
            self._watchdog = _Watchdog(self) if self._engine.dialect.name == "postgresql" else None
            self._create_table()
        except ImportError as error:
            raise StoreError(f"no driver for result database {self.shown_url}: {error} (pip install -e '.[postgres]')") from None
        except (exc.SQLAlchemyError, ValueError) as error:
            raise StoreError(f"cannot open result database {self.shown_url}: {self._reason(error)}") from None
        spool_name = hashlib.sha256(_spool_identity(url, self.shown_url).encode()).hexdigest()[:16]
        self.spool = Path(spool_dir or _default_spool_dir()) / f"{spool_name}.jsonl"
        self.store_spooled()
        self.release_dead_claims()

    def _create_table(self) -> None:
        """Create the tables if missing; workers starting together may race to create them."""
        try:
            _Base.metadata.create_all(self._engine)
        except exc.DBAPIError:
            inspector = sa.inspect(self._engine)
            if not all(inspector.has_table(table) for table in _Base.metadata.tables):
                raise

    def get(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str) -> TrainResult | None:
        row = self._attempt(lambda session: session.scalars(self._select(genotype, result_key(budget, numerics), dataset)).first())
        return None if row is None else TrainResult(**{name: getattr(row, name) for name in _RESULT_FIELDS})

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
            **result.to_dict(),
        }
        try:
            self._insert(record)
        except BaseException as error:
            try:
                self._append_to_spool([record])
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
            self._attempt(lambda session: session.add(_ResultRow(**record)))
        except exc.IntegrityError:
            return False  # a concurrent worker trained the same architecture; its result stands
        return True

    def store_spooled(self) -> int:
        """Store the results that earlier workers on this machine kept in the spool file; returns
        how many. Those still unstorable stay spooled: all of them while the database is
        unreachable, a failing one without holding up the others. Lines that do not parse (a
        write cut short) are moved to the ``.bad.jsonl`` file beside the spool, with a line."""
        taken = self._take_spool_files()
        records = [record for path in taken for record in self._read_spool_file(path)]
        kept, done = [], 0
        try:
            for record in records:
                try:
                    self._insert(record)
                except _Unreachable:
                    break
                except (StoreError, exc.StatementError) as error:  # this record only (a full disk, a bad value)
                    reason = error if isinstance(error, StoreError) else self._reason(error)
                    self._say(f"a result kept in {self.spool} cannot be stored ({reason}); it stays there")
                    kept.append(record)
                done += 1
        finally:  # interrupted or not, what was not stored goes back; a crash leaves the taken files to the next run
            if kept or done < len(records):
                self._append_to_spool(kept + records[done:])
            for path in taken:
                path.unlink(missing_ok=True)
        stored = done - len(kept)
        if stored:
            self._say(f"stored {stored} results that were kept in {self.spool} while {self.shown_url} was unreachable")
        return stored

    def _take_spool_files(self) -> list[Path]:
        """Move the spool file to a name of this process's own, so no two workers store the same
        lines, and take over those that processes that died meanwhile had taken."""
        taken = []
        for path in self.spool.parent.glob(f"{self.spool.name}.*"):
            pid, _, rest = path.name[len(self.spool.name) + 1 :].partition(".")
            if not rest or (pid.isdigit() and not _pid_exists(int(pid))):  # no pid: named by an older version
                taken.append(path)
        mine = self.spool.with_name(f"{self.spool.name}.{os.getpid()}.{uuid.uuid4().hex}")
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.spool, mine)
            taken.append(mine)
        return taken

    def _read_spool_file(self, path: Path) -> list[dict[str, object]]:
        records, bad = [], []
        with contextlib.suppress(FileNotFoundError):  # a concurrent worker took it over
            for line in path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict) or set(record) != set(_SPOOL_FIELDS):
                        raise ValueError
                except ValueError:
                    if line.strip():
                        bad.append(line)
                    continue
                records.append(record)
        if bad:
            moved = self.spool.with_suffix(".bad.jsonl")
            with moved.open("a") as handle:
                handle.write("".join(line + "\n" for line in bad))
            self._say(f"{len(bad)} lines of {self.spool} are not results (cut short?): moved to {moved}")
        return records

    def _append_to_spool(self, records: list[dict[str, object]]) -> None:
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a") as handle:  # one write of whole lines: concurrent appends do not interleave
            handle.write("".join(json.dumps(record) + "\n" for record in records))
            handle.flush()
            os.fsync(handle.fileno())

    def count(self, budget: Budget | None = None, dataset: str | None = None) -> int:
        """Results stored, of this code version under ``budget`` when given (any arithmetic)."""
        query = sa.select(sa.func.count()).select_from(_ResultRow)
        if budget is not None:
            query = query.where(_ResultRow.budget_key.in_(_keys(budget)))
        if dataset is not None:
            query = query.where(_ResultRow.dataset == dataset)
        return self._attempt(lambda session: session.scalar(query))

    def accuracies(self, budget: Budget, dataset: str | None = None, numerics: str | None = None) -> StoredAccuracies:
        """Successful results of this code version under ``budget``, keyed by architecture hash,
        with counts of the results under ``budget`` that were skipped: of other code versions,
        datasets or arithmetics, and failed ones.

        ``dataset`` is a prefix of the dataset key; without it, the results must all come from one
        dataset, since accuracies on two datasets do not rank together. Likewise for ``numerics``.
        """
        columns = (_ResultRow.arch_hash, _ResultRow.accuracy, _ResultRow.dataset, _ResultRow.budget_key, _ResultRow.status)
        query = sa.select(*columns).where(_ResultRow.budget_key.in_(_keys_of_any_version(budget)))
        rows = self._attempt(lambda session: session.execute(query).all())
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
        statement = sa.delete(_ResultRow).where(
            _ResultRow.arch_hash.in_(hashes),
            _ResultRow.budget_key == result_key(budget, numerics),
            _ResultRow.dataset == dataset,
            _ResultRow.status != "ok",
        )
        return self._attempt(lambda session: session.execute(statement).rowcount)

    def export_csv(self, path: str | os.PathLike) -> int:
        """Write every stored result, keys intact (code version and arithmetic included), to a CSV
        file that :meth:`import_csv` reads; returns how many."""
        rows = self._attempt(lambda session: session.scalars(sa.select(_ResultRow).order_by(_ResultRow.id)).all())
        partial = Path(f"{path}.{uuid.uuid4().hex}.partial")  # written whole, then renamed: never half a file at ``path``
        try:
            with open(partial, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
                writer.writeheader()
                for row in rows:
                    writer.writerow({column: _to_text(getattr(row, column)) for column in EXPORT_COLUMNS})
            os.replace(partial, path)
        except OSError as error:
            raise StoreError(f"cannot write {path}: {error.strerror or error}") from None
        finally:
            partial.unlink(missing_ok=True)
        return len(rows)

    def import_csv(self, path: str | os.PathLike) -> tuple[int, int]:
        """Add the results of an :meth:`export_csv` file that this store lacks; returns (added,
        already stored). The whole file is checked before anything is added."""
        by_key: dict[tuple, dict[str, object]] = {}
        for record in read_export(path):  # a key twice in the file: its first row stands, as in a store
            by_key.setdefault((record["arch_hash"], record["budget_key"], record["dataset"]), record)
        columns = (_ResultRow.arch_hash, _ResultRow.budget_key, _ResultRow.dataset)
        existing = {tuple(row) for row in self._attempt(lambda session: session.execute(sa.select(*columns)).all())}
        new = [record for key, record in by_key.items() if key not in existing]
        try:
            self._attempt(lambda session: session.add_all([_ResultRow(**record) for record in new]))
            added = len(new)
        except exc.IntegrityError:  # another worker stored some meanwhile: one by one
            added = sum(self._insert(record) for record in new)
        return added, len(by_key) - added

    def try_claim(self, genotype: Genotype, budget: Budget, dataset: str, numerics: str) -> Claim | None:
        """Claim the training of ``genotype`` for this store's owner; None while another worker holds it.

        A claim that expired (by the database's clock) is taken over, and so is one whose owner
        is provably dead (see :func:`_provably_dead`). Enter the returned claim (``with claim:``)
        around the training: it is kept alive while it runs and released after.
        """
        key = {"arch_hash": genotype.hash(), "budget_key": result_key(budget, numerics), "dataset": dataset}
        where = sa.and_(*(getattr(_ClaimRow, column) == value for column, value in key.items()))
        mine = {"owner": self.owner, "expires_at": self._now() + self.claim_seconds}
        try:
            self._attempt(lambda session: session.execute(sa.insert(_ClaimRow).values(**key, **mine)))
        except exc.IntegrityError:  # held: take it over only if it expired, is our own, or its owner is dead
            holder = self._attempt(lambda session: session.scalar(sa.select(_ClaimRow.owner).where(where)))
            takers = [self.owner, holder] if holder and _provably_dead(holder) else [self.owner]
            free = sa.or_(_ClaimRow.expires_at < self._now(), _ClaimRow.owner.in_(takers))
            statement = sa.update(_ClaimRow).where(where, free).values(**mine)
            if self._attempt(lambda session: session.execute(statement).rowcount) != 1:
                return None
        return Claim(self, sa.and_(where, _ClaimRow.owner == self.owner), genotype.hash())

    def release_dead_claims(self) -> int:
        """Delete the claims that workers which stopped left behind: those whose owner is provably
        dead, and those expired (by the database's clock) for longer than a live owner could have
        been cut off from the database (its retry period and ten claim lifetimes), whose heartbeat
        would otherwise renew them. They would be taken over when their architecture came up again;
        deleted, they no longer read as trainings in progress. Writes only when there is one to
        delete (a read-only database stays usable) and says how many in one line."""
        abandoned = _ClaimRow.expires_at < self._now() - (self.retry_seconds + 10 * self.claim_seconds)
        rows = self._attempt(lambda session: session.execute(sa.select(_ClaimRow.owner, abandoned)).all())
        dead = sorted({owner for owner, _ in rows if _provably_dead(owner)})
        if not dead and not any(expired for _, expired in rows):
            return 0
        statement = sa.delete(_ClaimRow).where(sa.or_(abandoned, _ClaimRow.owner.in_(dead)))
        released = self._attempt(lambda session: session.execute(statement).rowcount)
        if released:
            self._say(f"released {released} claim(s) left by workers that stopped; their architectures are trained when next asked for")
        return released

    def _extend_claim(self, where: sa.ColumnElement[bool], stop: threading.Event | None = None) -> bool:
        """Extend a claim of this owner; False when it is no longer ours."""
        statement = sa.update(_ClaimRow).where(where).values(expires_at=self._now() + self.claim_seconds)
        return self._attempt(lambda session: session.execute(statement).rowcount, stop=stop) == 1

    def _now(self) -> sa.ColumnElement[float]:
        """The database's clock in seconds since the epoch, as SQL."""
        if self._engine.dialect.name == "sqlite":
            return (sa.func.julianday("now") - 2440587.5) * 86400.0
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)

    @staticmethod
    def _select(genotype: Genotype, key: str, dataset: str) -> sa.Select:
        return sa.select(_ResultRow).where(
            _ResultRow.arch_hash == genotype.hash(),
            _ResultRow.budget_key == key,
            _ResultRow.dataset == dataset,
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
                    raise _Unreachable(f"result database {self.shown_url} unreachable: {reason}") from None
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.retry_seconds
                    self._say(f"result database {self.shown_url} unreachable ({reason}); retrying for up to {self.retry_seconds:.0f} s")
                if now + delay > deadline:
                    raise _Unreachable(f"result database {self.shown_url} unreachable for {self.retry_seconds:.0f} s: {reason}") from None
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


class _Watchdog:
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


def _create_engine(url: str) -> sa.Engine:
    """An engine that checks a pooled connection before use (a restarted server) and, on
    PostgreSQL, gives up a connection attempt after :data:`CONNECT_SECONDS`."""
    backend = sa.engine.make_url(url).get_backend_name()
    connect_args = {"connect_timeout": CONNECT_SECONDS} if backend == "postgresql" else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _spool_identity(url: str, shown_url: str) -> str:
    """What names a database's spool: a SQLite file by its resolved path (``sqlite:///nas.db``
    is another file in each working directory), any other by its URL as shown."""
    with contextlib.suppress(Exception):
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            return f"sqlite:///{Path(parsed.database).resolve()}"
    return shown_url


def _default_spool_dir() -> Path:
    from nas.estimation._data import cache_root

    return cache_root() / "unstored-results"


EXPORT_COLUMNS = ["arch_hash", "budget_key", "dataset", "genotype", *_RESULT_FIELDS, "created_at"]


def _to_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)  # repr: floats round-trip exactly


def read_export(path: str | os.PathLike) -> list[dict[str, object]]:
    """The rows of an :meth:`ResultStore.export_csv` file as result rows; StoreError naming the
    line and the problem when the file is not one."""
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != EXPORT_COLUMNS:
                raise StoreError(f"{path} is not a result export: its columns must be {','.join(EXPORT_COLUMNS)}")
            records = []
            for row in reader:
                try:
                    records.append(_parse_export_row(row))
                except (ValueError, TypeError, KeyError) as error:
                    raise StoreError(f"{path} line {reader.line_num}: {error}") from None
            return records
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise StoreError(f"cannot read {path}: {' '.join(str(error).split())}") from None


def _parse_export_row(row: dict[str, str | None]) -> dict[str, object]:
    if None in row or any(value is None for value in row.values()):
        raise ValueError(f"expected {len(EXPORT_COLUMNS)} fields")
    text = {key: value for key, value in row.items()}
    _parse_key(text["budget_key"])  # a key of any code version parses
    if text["status"] not in ("ok", "failed"):
        raise ValueError(f"status {text['status']!r} is neither ok nor failed")
    optional = lambda value, kind: None if value == "" else kind(value)  # noqa: E731
    return {
        "arch_hash": text["arch_hash"],
        "budget_key": text["budget_key"],
        "dataset": text["dataset"],
        "genotype": text["genotype"],
        "status": text["status"],
        "accuracy": optional(text["accuracy"], float),
        "seconds": float(text["seconds"]),
        "flops": int(text["flops"]),
        "params": int(text["params"]),
        "loss": optional(text["loss"], float),
        "epochs": int(text["epochs"]),
        "reason": optional(text["reason"], str),
        "device": text["device"],
        "created_at": datetime.datetime.fromisoformat(text["created_at"]),
    }


def _worker_identity() -> str:
    """``host:pid:uuid|proof``: the random UUID makes it unique to this store object on any
    machine (host and pid are for people reading it); ``proof`` lets another worker on the same
    kernel and in the same PID namespace tell that this process is dead (:func:`_provably_dead`)."""
    host = socket.gethostname()[:40]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex}|{_namespace() or '-'}:{_start_time(os.getpid()) or '-'}"


def _namespace() -> str | None:
    """This kernel boot and PID namespace, hashed; None where /proc does not say (not Linux)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return hashlib.sha256(f"{boot}|{namespace}".encode()).hexdigest()[:12]


def _start_time(pid: int | str) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None when that cannot be read
    (no such process, or /proc hides it: hidepid)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def _provably_dead(owner: str) -> bool:
    """Whether claim owner ``owner`` is a process that no longer runs: it ran on this kernel in
    this PID namespace (so its pid means the same here) and that pid is gone or now another
    process (another start time). Anything else (another machine, a container, an older worker's
    owner string) cannot be proven dead: its claim waits to expire."""
    shown, _, proof = owner.partition("|")
    namespace, _, started = proof.partition(":")
    pid = shown.split(":")[-2] if shown.count(":") >= 2 else ""
    if not pid.isdigit() or namespace != _namespace() or started in ("", "-"):
        return False
    if not _pid_exists(int(pid)):
        return True
    now = _start_time(pid)  # unreadable (hidepid): not proof of anything
    return now is not None and now != started


def _pid_exists(pid: int) -> bool:
    """Whether a process ``pid`` runs in this PID namespace (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _keys(budget: Budget) -> list[str]:
    return [result_key(budget, kind) for kind in NUMERICS]
