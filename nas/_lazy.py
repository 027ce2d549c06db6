"""Package namespaces whose public names are imported on first use (PEP 562).

Every ``python -m nas`` command imports ``nas`` and the packages its parser needs; if those imported
all their names, each command, ``--help`` included, would load torch, SciPy, scikit-learn and plotly
(seconds of CPU for each command a user or CI starts). A package that uses :func:`lazy_exports`
imports a submodule only when one of its names is first looked up.
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping


def lazy_exports(
    package: str, sources: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``, whose public names come from ``sources``:
    each submodule and the names it gives. A name looked up is kept in the package's namespace, so
    it is imported once and is the submodule's own object."""
    module_of = {name: module for module, names in sources.items() for name in names}

    def __getattr__(name: str) -> object:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *module_of})

    return __getattr__, __dir__
