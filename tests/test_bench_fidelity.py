"""The fidelity bench on stored results made here: the table against the authors' task5 and the
paired ablation of one training change, with numbers known in advance."""

import importlib.util
from pathlib import Path

import pytest
from scipy import stats

from _cli import REFERENCE
from nas import PRESETS, TrainResult
from nas.estimation import read_architectures
from nas.estimation._tables import read_recorded_table
from nas.store import ResultStore

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_fidelity.py"
OFFSETS = (-0.5, -1.5, -0.5, -1.5, -1.0)  # points below task5 of arch_001..005 under the authors' protocol
CHANGES = (0.2, 0.4, 0.6, 0.8)  # points the ablated setting adds to arch_001..004


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_fidelity", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def store_url(tmp_path):
    """arch_001..005 by ``OFFSETS`` off task5 under the authors' protocol; arch_001..004 also with
    batch-norm weights from U(0, 1), each by its ``CHANGES`` entry higher; arch_005 only without."""
    url = f"sqlite:///{tmp_path / 'fidelity.db'}"
    store = ResultStore(url)
    task5 = read_recorded_table(REFERENCE / "budget_accuracies.csv")["task5"]
    base = PRESETS["bpe1"].with_settings(["evaluation=test-best"])
    changed = base.with_settings(["batchnorm_init=uniform"])
    for index, arch in enumerate(read_architectures(REFERENCE / "ground_truth.csv", with_accuracy=True)[:5]):
        accuracy = (task5[arch.name] + OFFSETS[index]) / 100
        store.put(arch.genotype, base, "d", "cpu-fp32", TrainResult("ok", accuracy, 1.0, 1, 1, 0.5, 10))
        if index < len(CHANGES):
            result = TrainResult("ok", accuracy + CHANGES[index] / 100, 1.0, 1, 1, 0.5, 10)
            store.put(arch.genotype, changed, "d", "cpu-fp32", result)
    return url


def test_the_table_sets_each_stored_architecture_beside_task5(bench, store_url, tmp_path):
    bench.main(["--storage", store_url, "--out", str(tmp_path)])
    rows = (tmp_path / "fidelity_bpe1_task5.csv").read_text().splitlines()
    assert rows[0] == "arch,ours,authors_task5,difference" and len(rows) == 6
    assert [float(row.split(",")[-1]) for row in rows[1:]] == list(OFFSETS)
    summary = (tmp_path / "fidelity_bpe1_task5.txt").read_text()
    assert "n 5 of 24; mean |difference| 1.00 points, mean difference -1.00 (95% t-interval -1.62 to -0.38; SD of the differences 0.50" in summary
    assert "not trained yet: arch_006, arch_007," in summary and summary.count("arch_024") == 1


def test_the_summary_ranks_ours_against_task5_ground_truth_and_the_authors_rerun(bench, store_url, tmp_path):
    """Each Spearman of the summary, against scipy on the same five architectures: swapping an
    argument (ours for task5, task1 for ground truth) changes at least one of them."""
    bench.main(["--storage", store_url, "--out", str(tmp_path)])
    summary = (tmp_path / "fidelity_bpe1_task5.txt").read_text()
    recorded = read_recorded_table(REFERENCE / "budget_accuracies.csv")
    archs = read_architectures(REFERENCE / "ground_truth.csv", with_accuracy=True)[:5]
    task5, task1 = ([recorded[task][arch.name] for arch in archs] for task in ("task5", "task1"))
    ours = [theirs + offset for theirs, offset in zip(task5, OFFSETS)]
    truth = [arch.accuracy for arch in archs]

    def rho(first, second) -> float:
        return stats.spearmanr(first, second).statistic

    assert f"Spearman(ours, task5) {rho(ours, task5):.3f}" in summary
    assert f"Spearman(ours, ground truth) {rho(ours, truth):.3f}; Spearman(task5, ground truth) {rho(task5, truth):.3f}" in summary
    assert f"ours minus task5 {rho(ours, truth) - rho(task5, truth):+.3f}" in summary
    assert f"vs task5: Spearman {rho(task1, task5):.3f}" in summary
    assert f"ours minus task1: {rho(ours, task5) - rho(task1, task5):+.3f}" in summary


def test_an_ablation_pairs_each_architecture_trained_with_and_without_the_change(bench, store_url, tmp_path):
    bench.main(["--storage", store_url, "--out", str(tmp_path), "--ablate", "batchnorm_init=uniform"])
    text = (tmp_path / "fidelity_ablation_batchnorm_init-uniform.txt").read_text()
    table, line = text.splitlines()[1:5], text.splitlines()[5]
    assert [row.split()[0] for row in table] == ["arch_001", "arch_002", "arch_003", "arch_004"]  # arch_005 has no pair
    assert [float(row.split()[-1]) for row in table] == list(CHANGES)
    assert "n 4: mean change +0.50 points (95% t-interval +0.09 to +0.91)" in line  # 0.5 ± 3.18 * 0.129
    assert "mean difference -1.00 -> -0.50, mean |difference| 1.00 -> 0.55" in line


def test_an_ablation_without_pairs_or_without_a_change_says_so_in_one_line(bench, store_url, tmp_path):
    with pytest.raises(SystemExit, match="0 of the first 24 architectures have results both without and with cutout=16"):
        bench.main(["--storage", store_url, "--out", str(tmp_path), "--ablate", "cutout=16"])
    with pytest.raises(SystemExit) as stopped:
        bench.main(["--storage", store_url, "--out", str(tmp_path), "--ablate", "batchnorm_init=ones"])
    assert stopped.value.code == 2  # argparse's one-line error: the base has it already
