"""The leaderboard bench on a tiny synthetic setup: a user's plugin gets its rows, and the goal
column says which goal a row meets."""

import csv
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nas import TrainResult, sample_genotype
from nas.estimation import estimators, register_estimator
from nas.estimation import _registry

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench_estimation.py"
TINY_SIZE = "bpe1 layers=3 channels=4 image_size=16 batch_size=16"

PLUGIN = textwrap.dedent(
    """
    from sklearn.linear_model import Ridge
    from nas.estimation import register_estimator, register_predictor

    register_estimator("weight_tensors", lambda model, batches: float(len(list(model.parameters()))))
    register_predictor("ridge", lambda: Ridge(alpha=10.0))
    """
)


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_estimation", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _reference(folder: Path, count: int) -> Path:
    folder.mkdir()
    with (folder / "ground_truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch", "genotype", "accuracy"])
        for i in range(count):
            writer.writerow([f"arch_{i:03d}", sample_genotype(i).to_str(), 96 + (i * 37 % count) / count])
    return folder


def test_a_plugins_proxy_and_predictor_appear_in_the_table(tmp_path):
    (tmp_path / "user_plugin.py").write_text(PLUGIN)
    out = tmp_path / "estimation.csv"
    command = [
        sys.executable, str(BENCH), "--plugin", "user_plugin", "--reference", str(_reference(tmp_path / "reference", 24)),
        "--data", "synthetic:64", "--storage", f"sqlite:///{tmp_path / 'store.db'}", "--cache", str(tmp_path / "cache.csv"),
        "--proxy-sizes", TINY_SIZE, "--proxies", "params", "weight_tensors", "--predictors", "ridge", "--budget", "bpe1 epochs=1",
        "--curve-budget", "--recorded", "--folds", "4", "--out", str(out),
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    assert done.returncode == 0, done.stderr
    with out.open(newline="") as handle:
        rows = {row["estimator"]: row for row in csv.DictReader(handle)}
    proxy = rows[f"weight_tensors @ {TINY_SIZE}"]
    assert proxy["kind"] == "proxy" and proxy["n"] == "24" and proxy["labels_used"] == "0" and 0 <= float(proxy["precision_at_10"]) <= 1
    for features in ("encoding", f"encoding + proxies @ {TINY_SIZE}"):
        model = rows[f"ridge on {features}"]
        assert model["kind"] == "model-based" and model["n"] == "24" and model["labels_used"] == "18"  # 3 of 4 folds
    assert rows["bpe1 epochs=1"]["n"] == "0" and rows["bpe1 epochs=1"]["goal"] == "n/a"
    assert "rows meeting the zero-label goal" in done.stdout


def test_goal_says_which_goal_a_row_meets(bench):
    def meets(r_s: float, seconds: float | None, labels: int, n: int = 100) -> str:
        return bench.goal(bench.Estimator("e", "k", {}, seconds, labels_used=labels), r_s, n, 100)

    assert meets(0.55, 30.0, 0) == "zero-label"
    assert meets(0.55, 30.0, 90) == "no"  # with labels the bar is 0.60
    assert meets(0.65, 30.0, 90) == "with-labels"
    assert meets(0.9, 61.0, 0) == "no"  # over one CPU-minute per architecture
    assert meets(0.7, None, 0) == "n/a"  # a recorded GPU budget
    assert meets(float("nan"), 1.0, 0) == "n/a"
    assert meets(0.9, 30.0, 0, n=24) == "no"  # on 24 of the 100: another sample's r_s


def test_choices_made_on_these_archs_are_marked_and_the_a_priori_pair_is_not(bench):
    truth = {f"a{i}": float(i) for i in range(12)}
    good = bench.Estimator("good @ s", "proxy", dict(truth), 1.0)
    synflow = bench.Estimator("synflow @ s", "proxy", {name: float(i * 7 % 12) for i, name in enumerate(truth)}, 1.0)
    naswot = bench.Estimator("naswot @ s", "proxy", dict.fromkeys(truth, 1.0), 1.0)  # constant: no r_s
    trained = bench.Estimator("budget", "trained", {name: -value for name, value in truth.items()}, 50.0)
    rows = bench.rank_averages([synflow, naswot, good], [trained], truth, "s")
    assert [(r.name, r.note, r.cpu_seconds) for r in rows] == [
        ("good @ s + budget", "best proxy chosen on these archs", 51.0),
        ("synflow @ s + naswot @ s", "pair chosen beforehand", 2.0),
        ("naswot @ s + good @ s", "best of all proxy pairs, chosen on these archs", 2.0),  # ranks as good alone
    ]


def test_curve_rows_read_every_curve_estimator_of_results_that_have_a_curve(bench, monkeypatch):
    monkeypatch.setattr(_registry, "_registered", dict(_registry._registered))
    register_estimator("first_accuracy", lambda result: result.curve[0][1], kind="curve")  # a user's, by name
    results = {
        "a": TrainResult("ok", 0.5, 10.0, 1, 1, 1.5, 2, curve=((2.0, 0.3), (1.5, 0.5))),
        "b": TrainResult("failed", None, 30.0, 1, 1, float("nan"), 1, "diverged", curve=((float("nan"), None),)),  # NaN: left out
        "c": TrainResult("ok", 0.4, 50.0, 1, 1, 1.0, 2),  # stored before curves were
    }
    features = bench.curve_features(results)
    assert set(features) == set(estimators("curve")) and features["first_accuracy"] == {"a": 0.3}
    assert features["last_accuracy"] == {"a": 0.5} and features["sotl"] == {"a": -3.5}
    rows = {row.name: row for row in bench.curve_rows("bpe1 epochs=3", features, results)}
    curve = rows["first_accuracy (bpe1 epochs=3)"]
    assert (curve.kind, curve.predictions, curve.cpu_seconds) == ("curve", {"a": 0.3}, 10.0)
