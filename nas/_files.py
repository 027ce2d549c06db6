"""Where the local files live, and atomic writes of torch files that several processes may write at
once (data cache, checkpoints). Light to import: the result store finds its spool folder here
without loading torch."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STALE_TEMP_SECONDS = 600  # a temp file untouched this long was left by a killed writer, not a slow one

CACHE_ENV = "OPTUNA_MIP_CACHE"
"""Environment variable naming the local cache folder (default ``~/.cache/optuna-mip``): the decoded
data and the result store's spool of unstored results."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$OPTUNA_MIP_CACHE``, else ``~/.cache/optuna-mip``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "optuna-mip").expanduser()


def save_atomically(payload: Any, target: Path) -> None:
    """``torch.save`` ``payload`` to ``target``: readers see the previous file or the new one, whole.

    The payload goes to a temp file of this call's own beside ``target`` (``.<name>.<random>.tmp``),
    then is renamed over it, so writers of one target never touch each other's temp files. Raises
    ``OSError`` (and whatever the payload's pickling raises), leaving no temp file.
    """
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(payload, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; a cache shared through $OPTUNA_MIP_CACHE must be readable
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_stale_temps(folder: Path, name_pattern: str) -> None:
    """Delete the temp files of :func:`save_atomically` for targets in ``folder`` matching the glob
    ``name_pattern`` that a killed writer left: those older than any write takes (a younger one may
    be another process's write in progress)."""
    old = time.time() - STALE_TEMP_SECONDS
    for path in folder.glob(f".{name_pattern}.*.tmp"):
        try:
            if path.stat().st_mtime < old:
                path.unlink()
        except OSError:
            pass  # another process removed it, or it is not ours to remove: harmless
