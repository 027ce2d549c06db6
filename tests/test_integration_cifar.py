"""Real training on the CIFAR-10 copy in ../shared, at tiny budgets."""

import pytest

from _cli import CIFAR10_ZIP, REFERENCE, run_json
from nas import read_architectures

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CIFAR10_ZIP.exists() or not REFERENCE.exists(), reason="../shared data absent"),
]


def test_reference_architecture_learns_cifar10_at_bpe1(tmp_path_factory):
    arch = read_architectures(REFERENCE / "ground_truth.csv")[0]
    out = run_json(
        "train", arch.genotype.to_str(), "--budget", "bpe1", "--set", "epochs=3", "train_fraction=0.1",
        "--data", str(CIFAR10_ZIP), "--cache-dir", str(tmp_path_factory.mktemp("cache")), "--quiet",
    )
    assert out["status"] == "ok"
    assert out["accuracy"] > 0.30  # 10 classes: chance is 0.10


def test_search_on_cifar10_at_a_tiny_budget(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    out = run_json(
        "search", "--strategy", "random", "--trials", "2", "--budget", "bpe1", "--set", "epochs=1", "layers=3",
        "channels=4", "train_fraction=0.02", "--data", str(CIFAR10_ZIP), "--cache-dir", str(tmp),
        "--storage", f"sqlite:///{tmp / 'search.db'}", "--seed", "0", "--pruner", "median", "--quiet",
    )
    assert out["n_complete"] == 2 and 0.0 < out["best"]["value"] <= 1.0
