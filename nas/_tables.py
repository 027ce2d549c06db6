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
from nas._genotype import Genotype, parse_genotype


class TableError(NasError, ValueError):
    """A CSV table that is missing, lacks a column or holds a bad row."""


@dataclass(frozen=True)
class Architecture:
    name: str
    genotype: Genotype
    accuracy: float | None = None


def _rows(path: str | os.PathLike, columns: tuple[str, ...]) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise TableError(f"table not found: {path}")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in columns if column not in (reader.fieldnames or [])]
        if missing:
            raise TableError(f"{path} lacks column(s) {', '.join(missing)} (has: {', '.join(reader.fieldnames or [])})")
        return list(reader)


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise TableError(f"{path} line {line}: {column} {text!r} is not a number") from None


def read_architectures(path: str | os.PathLike, *, with_accuracy: bool = False) -> list[Architecture]:
    """Architectures of a CSV, in file order; ``with_accuracy`` also requires the ``accuracy`` column."""
    columns = ("arch", "genotype", "accuracy") if with_accuracy else ("arch", "genotype")
    architectures = []
    for line, row in enumerate(_rows(path, columns), start=2):
        try:
            genotype = parse_genotype(row["genotype"])
        except NasError as error:
            raise TableError(f"{path} line {line} ({row['arch']}): {error}") from None
        accuracy = _number(Path(path), line, "accuracy", row["accuracy"]) if with_accuracy else None
        architectures.append(Architecture(row["arch"], genotype, accuracy))
    return architectures


def read_recorded(path: str | os.PathLike, setting: str) -> dict[str, float]:
    """One setting's accuracies from a ``setting,arch,accuracy`` table, keyed by architecture name."""
    rows = _rows(path, ("setting", "arch", "accuracy"))
    found = {
        row["arch"]: _number(Path(path), line, "accuracy", row["accuracy"])
        for line, row in enumerate(rows, start=2)
        if row["setting"] == setting
    }
    if not found:
        settings = sorted({row["setting"] for row in rows}, key=lambda s: (len(s), s))
        raise TableError(f"setting {setting!r} not in {path} (has: {', '.join(settings[:40])})")
    return found
