"""``import nas`` stays light: every ``python -m nas`` command (and CI starts hundreds) imports it,
so its names are imported on first use (:mod:`nas._lazy`); an eager import re-added fails here."""

import importlib
import subprocess
import sys

import nas
from _cli import ROOT

HEAVY = ("torch", "scipy.stats", "sklearn", "plotly", "optuna")


def _loaded_after(code: str) -> list[str]:
    script = f"import sys; {code}; print('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.rsplit("loaded:", 1)[1].split()  # what the code itself printed comes before


def test_importing_nas_and_building_the_parser_loads_no_heavy_library():
    assert _loaded_after("import nas") == []
    assert _loaded_after("import nas.estimation, nas.search; from nas.cli import _parser; _parser()") == []


def test_moving_results_between_stores_loads_no_heavy_library(tmp_path):
    """``nas export``/``nas import`` of stored rows touch no network: no torch (seconds a command)."""
    source, copy = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    csv = tmp_path / "results.csv"
    rows = ROOT / "benchmarks" / "results" / "fidelity_bpe1_store.csv"
    commands = [
        ["import", str(rows), "--storage", source],
        ["export", "--storage", source, "--out", str(csv)],
        ["import", str(csv), "--storage", copy],
    ]
    code = (
        "from nas.cli import main; from nas.store import ResultStore; from nas.space import Genotype; "
        f"assert all(main(command) == 0 for command in {commands!r}); "
        f"assert ResultStore({copy!r}).count() == ResultStore({source!r}).count() > 0"
    )
    assert _loaded_after(code) == []


def test_every_public_name_is_the_submodules_own_object():
    modules = {name: module for module, names in nas._SOURCES.items() for name in names}
    assert sorted(modules) == sorted(nas.__all__)
    assert set(nas.__all__) <= set(dir(nas))
    for name in nas.__all__:
        assert getattr(nas, name) is getattr(importlib.import_module(modules[name]), name), name
    namespace: dict = {}
    exec(f"from nas import {', '.join(nas.__all__)}", namespace)
    assert all(namespace[name] is getattr(nas, name) for name in nas.__all__)


def test_the_lazy_subpackages_export_what_they_list():
    for package in ("nas.estimation", "nas.search", "nas.space", "nas.store"):
        module = importlib.import_module(package)
        assert sorted(module.__all__) == sorted(name for names in module._SOURCES.values() for name in names)
        assert all(getattr(module, name) is not None for name in module.__all__)


def test_an_unknown_name_is_an_attribute_error():
    try:
        nas.no_such_name
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("nas.no_such_name resolved")
