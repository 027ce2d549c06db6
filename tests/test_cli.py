import sqlite3

import pytest

from _cli import REFERENCE, run_json, run_nas
from nas import DARTS_V2


def test_describe_darts_v2():
    out = run_json("describe", DARTS_V2.to_str("flat"), "--layers", "20", "--channels", "36")
    assert out["params"] == pytest.approx(3.35e6, rel=0.01)
    assert out["flops"] > 1e8


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")
@pytest.mark.parametrize("setting, expected", [("task1", 0.493), ("task32", 0.625)])
def test_correlate_reference_table(setting, expected):
    out = run_json(
        "correlate",
        "--ground-truth", str(REFERENCE / "ground_truth.csv"),
        "--table", str(REFERENCE / "budget_accuracies.csv"),
        "--setting", setting,
    )
    assert round(out["spearman"], 3) == expected
    low, high = out["spearman_ci"]
    assert low < out["spearman"] < high
    assert out["n"] == 100 and 0 < out["kendall"] < out["spearman"]


def test_train_synthetic_json(tmp_path):
    out = run_json(
        "train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "synthetic:256", "--cache-dir", str(tmp_path),
        "--set", "epochs=2", "layers=3", "channels=4", "batch_size=32", "--quiet",
    )
    assert out["status"] == "ok"
    assert 0 <= out["accuracy"] <= 1 and out["seconds"] > 0


def _assert_one_line_error(done, *words):
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", DARTS_V2.to_str().replace("dil_conv_3x3", "conv_9x9"), "--budget", "bpe1", "--data", "synthetic"], ["conv_9x9"]),
        (["train", DARTS_V2.to_str(), "--budget", "bpe1", "--set", "lr=-1", "--data", "synthetic"], ["lr"]),
        (["train", DARTS_V2.to_str(), "--budget", "bpe1", "--set", "image_size=0", "--data", "synthetic"], ["image_size"]),
        (["train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "/no/such/folder"], ["/no/such/folder"]),
        (["estimate", "--archs", "/no/such.csv", "--budget", "bpe1", "--data", "synthetic"], ["/no/such.csv"]),
        (["train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "synthetic:64", "--set", "batch_size=128"], ["batch_size"]),
        (["describe", DARTS_V2.to_str(), "--channels", "0"], ["channels"]),
        (["train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "synthetic", "--device", "tpu9"], ["tpu9"]),
    ],
)
def test_bad_input_gives_one_line_error(args, words):
    _assert_one_line_error(run_nas(*args), *words)


def test_corrupted_database_is_reported_and_untouched(tmp_path):
    path = tmp_path / "study.db"
    path.write_bytes(b"garbage" * 1000)
    done = run_nas(
        "train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "synthetic", "--storage", f"sqlite:///{path}"
    )
    _assert_one_line_error(done, "study.db")
    assert path.read_bytes() == b"garbage" * 1000


def test_bad_input_keeps_stored_results(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    args = ["--budget", "bpe1", "--data", "synthetic:128", "--cache-dir", str(tmp_path), "--storage", url, "--quiet"]
    tiny = ["--set", "epochs=1", "layers=2", "channels=2", "batch_size=16"]
    assert run_nas("train", DARTS_V2.to_str(), *args, *tiny).returncode == 0
    _assert_one_line_error(run_nas("train", DARTS_V2.to_str(), *args, "--set", "lr=-1"), "lr")
    with sqlite3.connect(tmp_path / "r.db") as connection:
        assert connection.execute("select count(*) from nas_results").fetchone()[0] == 1
