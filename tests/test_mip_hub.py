"""The OptunaHub package made by hub/make_package.py loads with optunahub and runs a study."""

from __future__ import annotations

import ast
from pathlib import Path
import re
import runpy
import sys
import types

import optuna
import pytest


REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "samplers/minimum_importance_pruning"

sys.path.insert(0, str(REPO_ROOT / "hub"))
from make_package import make_package  # noqa: E402


optunahub = pytest.importorskip("optunahub")


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    make_package(tmp_path / "package" / PACKAGE)
    return tmp_path / "package"


def load(registry: Path) -> types.ModuleType:
    return optunahub.load_local_module(package=PACKAGE, registry_root=str(registry))


def test_the_hub_copy_imports_only_itself(registry: Path) -> None:
    for source in (registry / PACKAGE).glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert not (node.module or "").startswith("optuna_mip"), source.name
            elif isinstance(node, ast.Import):
                assert all(not a.name.startswith("optuna_mip") for a in node.names), source.name
    mip = load(registry)
    assert mip.MIPSampler.__module__.startswith("optunahub_registry.package.samplers.")
    assert mip.importance.NullCorrectedImportanceEvaluator.__module__.startswith("optunahub_")


def test_the_hub_package_runs_a_study_and_its_example(
    registry: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mip = load(registry)
    example = runpy.run_path(str(registry / PACKAGE / "example.py"))  # Its objective, no main.
    study = optuna.create_study(
        direction="maximize", sampler=mip.MIPSampler(cost=example["cost"], seed=1)
    )
    study.optimize(example["objective"], n_trials=100)
    assert len(study.trials) == 30
    assert [d.param for d in mip.pruning_history(study)][-1] == "channels"
    assert study.best_params["channels"] == 16

    # The example as a user runs it; only the download from the registry is replaced.
    monkeypatch.setattr(optunahub, "load_module", lambda package: load(registry))
    runpy.run_path(str(registry / PACKAGE / "example.py"), run_name="__main__")
    assert "trials: 30" in capsys.readouterr().out


def test_the_hub_readme_has_the_registry_s_front_matter_and_sections(registry: Path) -> None:
    readme = (registry / PACKAGE / "README.md").read_text()
    match = re.match(r"---\n(.*?)\n---\n", readme, re.S)
    assert match, "front matter"
    fields = dict(line.split(": ", 1) for line in match.group(1).splitlines())
    assert set(fields) == {"author", "title", "description", "tags", "optuna_versions", "license"}
    assert "sampler" in [tag.strip() for tag in fields["tags"].strip("[]").split(",")]
    assert fields["license"] == "MIT License"
    lowest = re.search(r'"optuna>=([0-9.]+)', (REPO_ROOT / "pyproject.toml").read_text())
    assert lowest is not None
    versions = [v.strip() for v in fields["optuna_versions"].strip("[]").split(",")]
    assert any(v.startswith(lowest.group(1)) for v in versions)
    for section in ("## Abstract", "## APIs", "## Installation", "## Example", "### Bibtex"):
        assert f"\n{section}\n" in readme
    assert "@inproceedings{zheng2020" in readme
    assert (registry / PACKAGE / "LICENSE").read_text().startswith("MIT License")
    assert (registry / PACKAGE / "requirements.txt").read_text().split()
