"""The test split never steers a search: every search entry point refuses a budget that measures on
it, in one line and before any training; training and estimation may measure there and say so."""

from __future__ import annotations

import pytest

from _cli import run_json, run_nas
from nas import DARTS_V2, BudgetError, load_dataset, preset
from nas.search._objective import ArchitectureObjective
from nas.search._strategies import STRATEGIES

_DATA = ("--data", "synthetic:80")
_TINY = ("epochs=1", "layers=3", "channels=4", "batch_size=16")


@pytest.mark.parametrize(
    "args",
    [
        *(["search", "--strategy", strategy, "--budget", "bpe1", "--set", "evaluation=test-best"] for strategy in STRATEGIES),
        ["search", "--strategy", "darts", "--budget", "bpe1", "--set", "evaluation=test-best"],
        ["search", "--strategy", "darts", "--budget", "bpe1", "--set", "evaluation=test-last"],
        ["search", "--strategy", "evolution", "--budget", "imagenet"],
        ["oneshot", "--sampling", "fair", "--budget", "bpe1", "--set", "evaluation=test-best"],
        ["oneshot", "--sampling", "fair", "--budget", "bpe1", "--local-budget", "bpe1", "--local-set", "evaluation=test-best"],
    ],
    ids=lambda args: " ".join(args[1:3] + args[-1:]),
)
def test_every_search_refuses_the_test_split_in_one_line(tmp_path, args) -> None:
    database = tmp_path / "x.db"
    extra = ["--trials", "1", "--checkpoint-dir", str(tmp_path / "o")] if args[0] == "search" else ["--out", str(tmp_path / "o")]
    done = run_nas(*args, *extra, *_DATA, "--storage", f"sqlite:///{database}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "must not measure on the test split" in done.stderr
    assert not database.exists() and not (tmp_path / "o").exists()  # refused before any store, study or training


def test_the_search_objective_refuses_the_test_split() -> None:
    with pytest.raises(BudgetError, match="must not measure on the test split"):
        ArchitectureObjective(preset("bpe1").replace(evaluation="test-best"), load_dataset("synthetic:80"), None)


def test_training_on_the_test_split_says_so(tmp_path) -> None:
    args = ("train", DARTS_V2.to_str(), "--budget", "bpe1", *_DATA, "--cache-dir", str(tmp_path), "--quiet")
    done = run_nas(*args, "--set", *_TINY, "evaluation=test-best")
    assert done.returncode == 0, done.stderr
    assert "measures on the test split (evaluation=test-best)" in done.stderr and done.stdout.startswith("test accuracy")
    assert run_json(*args, "--set", *_TINY)["split"] == "valid"
