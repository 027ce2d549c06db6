"""A cache of training results in the database a study uses, so nothing is trained twice.

Results live in their own table (``nas_results``) beside Optuna's tables, in a SQLite file by
default or a PostgreSQL database shared by several workers. A result is committed as soon as its
training ends, so a killed run loses at most the architecture it was training.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from dataclasses import fields
from typing import Iterator

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


_RESULT_FIELDS = [field.name for field in fields(TrainResult)]


# Budget fields added after results of this code version were stored: at their default they leave
# the key as it was, so those results stay found.
_FIELDS_KEYED_WHEN_CHANGED = {"evaluation": "valid-last", "network": "cifar"}


def result_key(budget: Budget, numerics: str, code_version: int = CODE_VERSION) -> str:
    """Everything besides architecture and dataset that changes a result: the budget (with its
    seed), the arithmetic it ran in (:func:`nas.estimation._trainer.numerics`) and the code version."""
    fields = {
        name: value
        for name, value in budget.to_dict().items()
        if _FIELDS_KEYED_WHEN_CHANGED.get(name, object()) != value
    }
    return json.dumps({"budget": fields, "code_version": code_version, "numerics": numerics}, sort_keys=True)


class ResultStore:
    """Training results keyed by (architecture hash, :func:`result_key`, dataset)."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._engine = sa.create_engine(url)
            self._create_table()
        except ImportError as error:
            raise StoreError(f"no driver for result database {url}: {error} (pip install -e '.[postgres]')") from None
        except (exc.SQLAlchemyError, ValueError) as error:
            raise StoreError(f"cannot open result database {url}: {_reason(error)}") from None

    def _create_table(self) -> None:
        """Create ``nas_results`` if missing; workers starting together may race to create it."""
        try:
            _Base.metadata.create_all(self._engine)
        except exc.DBAPIError:
            if not sa.inspect(self._engine).has_table(_ResultRow.__tablename__):
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

    def accuracies(self, budget: Budget, dataset: str | None = None, numerics: str | None = None) -> dict[str, float]:
        """Successful results of this code version under ``budget``, keyed by architecture hash.

        ``dataset`` is a prefix of the dataset key; without it, the results must all come from one
        dataset, since accuracies on two datasets do not rank together. Likewise for ``numerics``.
        """
        keys = _keys(budget) if numerics is None else [result_key(budget, numerics)]
        query = sa.select(_ResultRow.arch_hash, _ResultRow.accuracy, _ResultRow.dataset, _ResultRow.budget_key).where(
            _ResultRow.budget_key.in_(keys), _ResultRow.status == "ok"
        )
        if dataset is not None:
            query = query.where(_ResultRow.dataset.startswith(dataset, autoescape=True))
        with self._session() as session:
            rows = session.execute(query).all()
        datasets = sorted({row.dataset for row in rows})
        if len(datasets) > 1:
            raise StoreError(f"results under this budget come from several datasets ({', '.join(datasets)}): pick one with --dataset")
        kinds = sorted({json.loads(row.budget_key)["numerics"] for row in rows})
        if len(kinds) > 1:
            raise StoreError(f"results under this budget ran in several arithmetics ({', '.join(kinds)}): pick one with --numerics")
        return {row.arch_hash: row.accuracy for row in rows}

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


def _keys(budget: Budget) -> list[str]:
    return [result_key(budget, kind) for kind in NUMERICS]


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0]
