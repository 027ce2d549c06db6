"""Where results and training state are kept: the result store, its claims, exports and checkpoints.

* :class:`ResultStore` (:mod:`nas.store._results`): training results in their own tables beside
  Optuna's (:mod:`nas.store._schema`), retried while the database is away, spooled locally when it
  stays away (:mod:`nas.store._spool`, :mod:`nas.store._connection`);
* :class:`Claim` (:mod:`nas.store._claims`): which worker trains which architecture;
* :func:`read_export` (:mod:`nas.store._export`): the CSV files of ``nas export``/``nas import``;
* :class:`Checkpoint` (:mod:`nas.store._checkpoint`): per-epoch checkpoints of a long training.

Its names are imported on first use (:mod:`nas._lazy`): ``nas export``, ``nas import`` and reading
results need no torch, only checkpoints do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas._lazy import lazy_exports

if TYPE_CHECKING:
    from nas.store._checkpoint import Checkpoint
    from nas.store._claims import Claim
    from nas.store._export import EXPORT_COLUMNS, read_export
    from nas.store._results import CLAIM_SECONDS, RETRY_SECONDS, ResultStore, StoredAccuracies
    from nas.store._schema import budget_identity, result_key

__all__ = [
    "CLAIM_SECONDS",
    "EXPORT_COLUMNS",
    "RETRY_SECONDS",
    "Checkpoint",
    "Claim",
    "ResultStore",
    "StoredAccuracies",
    "budget_identity",
    "read_export",
    "result_key",
]

_SOURCES: dict[str, tuple[str, ...]] = {
    "nas.store._checkpoint": ("Checkpoint",),
    "nas.store._claims": ("Claim",),
    "nas.store._export": ("EXPORT_COLUMNS", "read_export"),
    "nas.store._results": ("CLAIM_SECONDS", "RETRY_SECONDS", "ResultStore", "StoredAccuracies"),
    "nas.store._schema": ("budget_identity", "result_key"),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)
