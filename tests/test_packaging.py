"""The wheel carries the package data that the code loads (the budget spaces' YAML files)."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from _cli import ROOT


def test_wheel_carries_the_budget_spaces_and_an_installed_copy_loads_them(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves no build/ or egg-info in the checkout
    for package in ("nas", "optuna_mip"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "nas_launcher.py"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    if built.returncode != 0 and "No module named pip" in built.stderr:
        pytest.skip("pip is not installed in this environment")
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("optuna_mip-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = sorted(name for name in names if name.startswith("nas/budget_search/spaces/"))
    expected = sorted(f"nas/budget_search/spaces/{path.name}" for path in (ROOT / "nas/budget_search/spaces").glob("*.yaml"))
    assert expected and shipped == expected

    target = tmp_path / "installed"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    loaded = subprocess.run(
        [sys.executable, "-c", "import nas.budget_search as b; print(b.__file__); print(len(b.BudgetSpace.from_yaml('paper').values))"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
    )
    assert loaded.returncode == 0, loaded.stderr
    where, count = loaded.stdout.split()
    assert where.startswith(str(target)) and int(count) > 0
