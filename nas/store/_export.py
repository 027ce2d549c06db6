"""Results to and from CSV files (``nas export``/``nas import``), keys intact."""

from __future__ import annotations

import csv
import datetime
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from nas._errors import StoreError
from nas.store._schema import ADDED_COLUMNS, RESULT_FIELDS, ResultRow, parse_key

EXPORT_COLUMNS = ["arch_hash", "budget_key", "dataset", "genotype", *RESULT_FIELDS, "created_at"]
# Exports written before results had learning curves: still read (their results have no curve).
_EXPORT_COLUMNS_BEFORE_CURVES = [column for column in EXPORT_COLUMNS if column not in ADDED_COLUMNS]


def write_export(rows: Sequence[ResultRow], path: str | os.PathLike) -> None:
    """Write ``rows`` to ``path`` as :func:`read_export` reads them; a StoreError when it cannot."""
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
            if reader.fieldnames not in (EXPORT_COLUMNS, _EXPORT_COLUMNS_BEFORE_CURVES):
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
        raise ValueError(f"expected {len([column for column in row if column is not None])} fields")  # the header's
    text = {key: value for key, value in row.items()}
    parse_key(text["budget_key"])  # a key of any code version parses
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
        "curve": _curve(text.get("curve", "")),
        "created_at": datetime.datetime.fromisoformat(text["created_at"]),
    }


def _curve(text: str) -> str | None:
    """The stored JSON of a curve column, checked to be per-epoch ``[loss, accuracy or null]`` pairs."""
    if text == "":
        return None
    points = json.loads(text)
    if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 and all(v is None or isinstance(v, (int, float)) for v in p) for p in points):
        raise ValueError("curve must be a JSON list of [training loss, held-out accuracy] pairs")
    return text
