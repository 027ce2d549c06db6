"""``pip install optuna-mip`` pulls in the sampler's three dependencies, not the NAS stack."""

from __future__ import annotations

import os
from pathlib import Path
import re
import subprocess
import sys
import tomllib


REPO_ROOT = Path(__file__).resolve().parents[1]


def requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()


def test_core_dependencies_are_the_sampler_s_only() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert {requirement_name(r) for r in project["dependencies"]} <= {
        "optuna",
        "numpy",
        "scikit-learn",
    }
    extras = project["optional-dependencies"]
    assert "torch" in {requirement_name(r) for r in extras["nas"]}
    # The README's set-up (`pip install -e ".[dev]"`) installs everything the tests need.
    assert {"optuna-mip[nas,postgres]", "pytest>=7.0"} <= set(extras["dev"])


def test_importing_the_sampler_loads_no_nas_dependency() -> None:
    # scipy is not listed: scikit-learn needs it.
    heavy = ("torch", "torchvision", "nas", "plotly", "optuna_dashboard", "yaml")
    code = (
        "import sys, optuna_mip; "
        f"loaded = [m for m in {heavy!r} if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
