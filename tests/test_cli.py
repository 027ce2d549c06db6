import argparse
import sqlite3

import pytest

from _cli import REFERENCE, run_json, run_nas
from nas import DARTS_V2, sample_genotype


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


def test_train_in_a_log_prints_one_line_per_epoch_and_no_bar(tmp_path):
    done = run_nas(
        "train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "synthetic:128", "--cache-dir", str(tmp_path),
        "--set", "epochs=2", "layers=2", "channels=4", "batch_size=32",
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "it/s" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("train epoch ")]
    assert [line.split(" | ")[:1] for line in lines] == [["train epoch 1/2"], ["train epoch 2/2"]], done.stderr
    assert all(" | loss " in line for line in lines)


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
    tiny = ["--set", "epochs=1", "layers=2", "channels=4", "batch_size=16"]
    assert run_nas("train", DARTS_V2.to_str(), *args, *tiny).returncode == 0
    _assert_one_line_error(run_nas("train", DARTS_V2.to_str(), *args, "--set", "lr=-1"), "lr")
    with sqlite3.connect(tmp_path / "r.db") as connection:
        assert connection.execute("select count(*) from nas_results").fetchone()[0] == 1


def _shown_defaults(action: argparse.Action) -> int:
    from nas.cli._common import HelpFormatter

    return HelpFormatter("nas")._get_help_string(action).replace("%(default)s", "").count("(default")


def test_help_lists_every_budget_key_and_documents_every_option():
    from nas.cli import _parser
    from nas.estimation._budget import field_names

    done = run_nas("train", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # argparse wraps lines
    assert all(key in text for key in field_names())
    assert "(default: 0)" in " ".join(run_nas("correlate", "--help").stdout.split())  # --seed shows its default
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        undocumented = [a.dest for a in sub._actions if not a.help]
        assert not undocumented, f"{name}: {undocumented}"
        twice = [a.dest for a in sub._actions if a.help and _shown_defaults(a) > 1]
        assert not twice, f"{name}: default shown twice for {twice}"


def test_estimate_on_a_header_only_csv_is_an_error(tmp_path):
    archs = tmp_path / "archs.csv"
    archs.write_text("arch,genotype\n")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    done = run_nas("estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic", "--storage", url)
    _assert_one_line_error(done, "archs.csv", "no rows")
    assert not (tmp_path / "r.db").exists()


def test_estimate_progress_is_one_clean_line_per_architecture_in_a_log(tmp_path):
    archs = tmp_path / "archs.csv"
    archs.write_text("arch,genotype\n" + "".join(f'a{i},"{sample_genotype(i).to_str()}"\n' for i in range(2)))
    done = run_nas(
        "estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic:128", "--cache-dir", str(tmp_path),
        "--storage", f"sqlite:///{tmp_path / 'r.db'}", "--set", "epochs=1", "layers=2", "channels=4", "batch_size=16",
    )
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "it/s" not in done.stderr  # no tqdm bar in a pipe
    lines = [line for line in done.stderr.splitlines() if line.startswith("estimate ")]
    assert [line.split(" | ")[0] for line in lines] == ["estimate 1/2", "estimate 2/2"]
    assert all("elapsed" in line and "left ~" in line for line in lines)
    quiet = run_nas(
        "estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic:128", "--cache-dir", str(tmp_path),
        "--storage", f"sqlite:///{tmp_path / 'r.db'}", "--set", "epochs=1", "layers=2", "channels=4", "batch_size=16",
        "--quiet",
    )
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_estimate_under_several_seeds_prints_means_and_seed_to_seed_spearman(tmp_path):
    archs = tmp_path / "archs.csv"
    rows = [f"a{seed},\"{sample_genotype(seed).to_str()}\",{0.9 + seed / 100}" for seed in range(4)]
    archs.write_text("arch,genotype,accuracy\n" + "\n".join(rows) + "\n")
    args = (
        "estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic:128", "--cache-dir", str(tmp_path),
        "--storage", f"sqlite:///{tmp_path / 'r.db'}", "--set", "epochs=1", "layers=3", "channels=4", "batch_size=32", "--quiet",
    )
    out = run_json(*args, "--seeds", "2")
    summary, first = out["summary"], out["architectures"]["a0"]
    assert summary["seeds"] == [0, 1] and set(first["seeds"]) == {"0", "1"}
    runs = [first["seeds"][seed]["accuracy"] for seed in ("0", "1")]
    assert first["mean_accuracy"] == pytest.approx(sum(runs) / 2)
    assert -1 <= summary["seed_to_seed_spearman"] <= 1 and summary["spearman_of_means"]["n"] == 4
    text = run_nas(*args, "--seeds", "2").stdout  # stored: nothing trained again
    assert "seed-to-seed Spearman (mean over 2 seeds' pairs)" in text and "r_s of the per-architecture means" in text
    stored = run_json(
        "correlate", "--ground-truth", str(archs), "--storage", f"sqlite:///{tmp_path / 'r.db'}", "--budget", "bpe1",
        "--set", "epochs=1", "layers=3", "channels=4", "batch_size=32", "--seeds", "2",
    )
    assert stored["spearman"] == pytest.approx(summary["spearman_of_means"]["spearman"])
    assert stored["seed_to_seed_spearman"] == pytest.approx(summary["seed_to_seed_spearman"], nan_ok=True)
