"""One-shot architecture search on the DARTS space: DARTS itself, and what a weight-sharing supernet ranks.

* :class:`DartsObjective` runs one DARTS search (first or second order) per Optuna trial, under a
  budget, checkpointed per epoch (:func:`run_darts` without Optuna);
* :class:`OneShotAnalysis` trains a supernet by sampled paths (uniform or fair) and measures how well its
  inherited weights rank architectures, globally and locally (the paper's Table 4).
"""

from nas.oneshot._analysis import OneShotAnalysis
from nas.oneshot._darts import ORDERS, DartsResult, DartsSearch, EpochRecord, derive_genotype, run_darts
from nas.oneshot._objective import DartsObjective
from nas.oneshot._supernet import Supernet, check_supernet_budget, genotype_path

__all__ = [
    "ORDERS",
    "DartsObjective",
    "DartsResult",
    "DartsSearch",
    "EpochRecord",
    "OneShotAnalysis",
    "Supernet",
    "check_supernet_budget",
    "derive_genotype",
    "genotype_path",
    "run_darts",
]
