"""Reading the CSV tables of architectures, ground truth and recorded budget accuracies.

Formats (the paper authors' released data, converted to CSV, uses all three):
- architectures: ``arch,genotype`` (more columns are ignored);
- ground truth: ``arch,genotype,accuracy`` (accuracy after full training, in percent or as a fraction);
- recorded table: ``setting,arch,accuracy``, one row per architecture and budget setting.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from nas._errors import NasError
from nas.space._genotype import Genotype, parse_genotype


class TableError(NasError, ValueError):
    """A CSV table that is missing, lacks a column or holds a bad row."""


@dataclass(frozen=True)
class Architecture:
    name: str
    genotype: Genotype
    accuracy: float | None = None


def read_rows(path: str | os.PathLike, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a CSV that must have ``columns``, each with a value, and at least one row."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"table not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in columns if column not in (reader.fieldnames or [])]
            if missing:
                raise TableError(f"{path} lacks column(s) {', '.join(missing)} (has: {', '.join(reader.fieldnames or [])})")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as error:
        raise TableError(f"{path} is not a readable CSV file: {error}") from None
    if not rows:
        raise TableError(f"{path} has a header but no rows")
    for line, row in enumerate(rows, start=2):
        empty = [column for column in columns if not row[column]]
        if empty:
            raise TableError(f"{path} line {line}: no value for {', '.join(empty)}")
    return rows


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise TableError(f"{path} line {line}: {column} {text!r} is not a number") from None


def read_architectures(path: str | os.PathLike, *, with_accuracy: bool = False) -> list[Architecture]:
    """Architectures of a CSV, in file order; ``with_accuracy`` also requires the ``accuracy`` column."""
    columns = ("arch", "genotype", "accuracy") if with_accuracy else ("arch", "genotype")
    architectures = []
    for line, row in enumerate(read_rows(path, columns), start=2):
        try:
            genotype = parse_genotype(row["genotype"])
        except NasError as error:
            raise TableError(f"{path} line {line} ({row['arch']}): {error}") from None
        accuracy = _number(Path(path), line, "accuracy", row["accuracy"]) if with_accuracy else None
        architectures.append(Architecture(row["arch"], genotype, accuracy))
    names = [architecture.name for architecture in architectures]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TableError(f"{path} names an architecture twice: {', '.join(repeated[:5])}")
    return architectures


def read_recorded_table(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """A ``setting,arch,accuracy`` table as ``{setting: {architecture name: accuracy}}``."""
    table: dict[str, dict[str, float]] = {}
    for line, row in enumerate(read_rows(path, ("setting", "arch", "accuracy")), start=2):
        table.setdefault(row["setting"], {})[row["arch"]] = _number(Path(path), line, "accuracy", row["accuracy"])
    return table


def read_recorded(path: str | os.PathLike, setting: str) -> dict[str, float]:
    """One setting's accuracies from a ``setting,arch,accuracy`` table, keyed by architecture name."""
    table = read_recorded_table(path)
    if setting not in table:
        settings = sorted(table, key=lambda s: (len(s), s))
        raise TableError(f"setting {setting!r} not in {path} (has: {', '.join(settings[:40])})")
    return table[setting]

