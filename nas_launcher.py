"""The ``nas`` console script: says what to install when the NAS side is missing.

``pip install optuna-mip`` installs the sampler's dependencies only, but the distribution also
carries the ``nas`` package and its console script. Importing ``nas`` needs torch and the rest of
the ``[nas]`` extra; without them the command prints one line naming the extra (exit 2) instead
of a ``ModuleNotFoundError`` traceback. This module sits outside ``nas`` because importing any
module of that package imports torch.
"""

from __future__ import annotations

import sys


# Top-level modules of the [nas] extra's requirements (pyproject.toml) that the CLI imports.
NAS_MODULES = ("torch", "torchvision", "scipy", "sqlalchemy", "plotly", "yaml", "PIL", "tqdm")


def missing_modules() -> list[str]:
    missing = []
    for name in NAS_MODULES:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    return missing


def main() -> int:
    missing = missing_modules()
    if missing:
        print(
            f"error: the nas command needs the [nas] extra ({', '.join(missing)} not installed): "
            "pip install 'optuna-mip[nas]'",
            file=sys.stderr,
        )
        return 2
    from nas.cli import main as nas_main

    return nas_main()


if __name__ == "__main__":
    sys.exit(main())
