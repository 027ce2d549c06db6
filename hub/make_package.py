"""Assemble the OptunaHub package of the sampler from this repository.

    python hub/make_package.py DEST

writes ``DEST/`` in the optunahub-registry's form (``package/samplers/minimum_importance_pruning/``
in a registry checkout): the modules of ``optuna_mip/`` (which import each other relatively, so
they load under any package name), this folder's README.md, example.py and requirements.txt,
and the repository's LICENSE. ``optuna_mip/`` stays the one source of the code; nothing here is
edited by hand in the copy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil


HUB_DIR = Path(__file__).resolve().parent
REPO_ROOT = HUB_DIR.parent
HUB_FILES = ("README.md", "example.py", "requirements.txt")


def make_package(dest: Path) -> list[Path]:
    """Write the package into ``dest`` (created, or emptied of stale modules); return its files."""

    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob("*.py"):
        stale.unlink()
    sources = [*sorted((REPO_ROOT / "optuna_mip").glob("*.py")), REPO_ROOT / "LICENSE"]
    sources += [HUB_DIR / name for name in HUB_FILES]
    return [Path(shutil.copyfile(source, dest / source.name)) for source in sources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="the package folder to write")
    written = make_package(parser.parse_args().dest)
    print(f"wrote {len(written)} files to {written[0].parent}")


if __name__ == "__main__":
    main()
