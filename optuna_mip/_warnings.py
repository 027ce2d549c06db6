"""Warnings through Optuna's helper where this Optuna has one (5.0+), else :func:`warnings.warn`."""

from __future__ import annotations

import warnings


try:
    from optuna._warnings import optuna_warn as _optuna_warn
except ImportError:  # Optuna 4.x
    _optuna_warn = None


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 1) -> None:
    if _optuna_warn is not None:
        _optuna_warn(message, category, stacklevel=stacklevel + 1)
    else:
        warnings.warn(message, category, stacklevel=stacklevel + 1)
