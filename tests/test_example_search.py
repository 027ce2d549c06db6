"""examples/search_cifar10.py as a new user runs it: it ends after the trials asked for, says what each did, reads cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _cli import ROOT

EXAMPLE = ROOT / "examples" / "search_cifar10.py"
TINY = ["epochs=2", "layers=2", "channels=4", "batch_size=16", "image_size=8", "train_fraction=1.0"]


def _run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True, text=True, timeout=timeout, env=environment)


def test_help_shows_each_default_once_and_threads() -> None:
    done = _run("--help", timeout=600)
    text = " ".join(done.stdout.split())
    assert done.returncode == 0 and "--threads" in text and "(default: demo)" in text
    assert text.count("(default: 1)") == 1 and "(default 1)" not in text  # --top


def test_a_storage_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    done = _run("--storage", f"sqlite:///{tmp_path}", "--data", "synthetic:64", timeout=600)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unable to open database file" in done.stderr, done.stderr


def test_zero_trials_is_a_one_line_error() -> None:
    done = _run("--trials", "0", "--data", "synthetic:64", timeout=600)
    assert done.returncode == 2 and done.stderr == "error: --trials must be >= 1, got 0\n", done.stderr


def test_a_tiny_search_ends_after_the_finished_trials_with_one_line_each(tmp_path: Path) -> None:
    done = _run(
        "--strategy", "evolution", "--storage", f"sqlite:///{tmp_path / 's.db'}", "--data", "synthetic:256", "--trials", "3",
        "--search-set", *TINY, "--final-set", *TINY, "cutout=0", "--threads", "1",
        "--checkpoint-dir", str(tmp_path / "checkpoints"),
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("trials ")]
    assert [line.split(" | ")[0] for line in lines] == ["trials 1/3", "trials 2/3", "trials 3/3"]
    assert all(" | left ~" in line and (" completed, accuracy " in line or " pruned after epoch " in line) for line in lines)
    assert "test accuracy " in done.stdout and "\r" not in done.stdout + done.stderr
    assert "train epoch 2/2 | loss " in done.stderr  # the final training, a line per epoch in a log
    assert done.stdout.strip().splitlines()[-1].startswith("dashboard: ")
