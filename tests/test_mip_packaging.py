"""``pip install optuna-mip`` pulls in the sampler's three dependencies, not the NAS stack."""

from __future__ import annotations

import os
from pathlib import Path
import re
import subprocess
import sys

import pytest


try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")


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
    # scikit-learn (and scipy under it) load when the first round is decided.
    heavy = ("torch", "torchvision", "nas", "plotly", "optuna_dashboard", "yaml", "sklearn", "scipy")
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


def test_the_nas_command_without_the_nas_extra_names_it_in_one_line() -> None:
    # torch made unimportable, as in `pip install optuna-mip` without [nas].
    code = "import sys; sys.modules['torch'] = None; import nas_launcher; sys.exit(nas_launcher.main())"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code, "--help"], env=env, capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the nas command needs the [nas] extra (torch") and "optuna-mip[nas]" in line


def test_the_nas_command_runs_the_cli_when_the_extra_is_installed() -> None:
    pytest.importorskip("torch")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "nas_launcher", "--help"], env=env, capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_the_hub_package_declares_the_sampler_s_requirements() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    hub = (REPO_ROOT / "hub" / "requirements.txt").read_text().split()
    assert set(hub) == {r for r in project["dependencies"] if requirement_name(r) != "optuna"}
