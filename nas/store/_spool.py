"""The spool: finished results kept in a local file while the database cannot take them.

One file a database (see :func:`nas.store._connection.spool_identity`), of JSON lines; each
worker takes it over under a name of its own before storing its lines, so no two store the same.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Callable

from nas.store._claims import pid_exists
from nas.store._schema import ADDED_COLUMNS, RESULT_FIELDS

SPOOL_FIELDS = ["arch_hash", "budget_key", "dataset", "genotype", *RESULT_FIELDS]
# Lines spooled by a version before learning curves lack the curve: they are results all the same.
_ACCEPTED_FIELDS = (set(SPOOL_FIELDS), set(SPOOL_FIELDS) - set(ADDED_COLUMNS))


def take_spool_files(spool: Path) -> list[Path]:
    """Move the spool file to a name of this process's own, so no two workers store the same
    lines, and take over those that processes that died meanwhile had taken."""
    taken = []
    for path in spool.parent.glob(f"{spool.name}.*"):
        pid, _, rest = path.name[len(spool.name) + 1 :].partition(".")
        if not rest or (pid.isdigit() and not pid_exists(int(pid))):  # no pid: named by an older version
            taken.append(path)
    mine = spool.with_name(f"{spool.name}.{os.getpid()}.{uuid.uuid4().hex}")
    with contextlib.suppress(FileNotFoundError):
        os.replace(spool, mine)
        taken.append(mine)
    return taken

def read_spool_file(path: Path, spool: Path, say: Callable[[str], None]) -> list[dict[str, object]]:
    records, bad = [], []
    with contextlib.suppress(FileNotFoundError):  # a concurrent worker took it over
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or set(record) not in _ACCEPTED_FIELDS:
                    raise ValueError
            except ValueError:
                if line.strip():
                    bad.append(line)
                continue
            records.append(record)
    if bad:
        moved = spool.with_suffix(".bad.jsonl")
        with moved.open("a") as handle:
            handle.write("".join(line + "\n" for line in bad))
        say(f"{len(bad)} lines of {spool} are not results (cut short?): moved to {moved}")
    return records

def append_to_spool(spool: Path, records: list[dict[str, object]]) -> None:
    spool.parent.mkdir(parents=True, exist_ok=True)
    with spool.open("a") as handle:  # one write of whole lines: concurrent appends do not interleave
        handle.write("".join(json.dumps(record) + "\n" for record in records))
        handle.flush()
        os.fsync(handle.fileno())
