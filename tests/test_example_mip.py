"""examples/mip_cifar10.py as a new user runs it: bad options fail at once, Ctrl-C and progress read cleanly."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from _cli import REFERENCE, ROOT

EXAMPLE = ROOT / "examples" / "mip_cifar10.py"

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")

# One hyper-parameter (MIP needs 2 complete trials at the demo's K = 2), networks small enough for seconds per architecture.
TINY_SPACE = "values:\n  epochs: [{epochs}]\nfixed:\n  layers: 2\n  channels: 4\n  batch_size: 16\n  lr: 0.05\n  seed: 0\n"


def _command(tmp_path: Path, *args: str) -> list[str]:
    return [
        sys.executable, str(EXAMPLE), "--storage", f"sqlite:///{tmp_path / 'study.db'}", "--out", str(tmp_path / "report"),
        "--data", "synthetic:256", "--architectures", "3", *args,
    ]


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _run(tmp_path: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(_command(tmp_path, *args), capture_output=True, text=True, timeout=timeout, env=_environment())


def _studies(tmp_path: Path) -> int:
    database = tmp_path / "study.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type = 'table'")}
        return connection.execute("select count(*) from studies").fetchone()[0] if "studies" in tables else 0


def _tiny_space(tmp_path: Path, epochs: str = "1, 2") -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE.format(epochs=epochs))
    return str(path)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--architectures", "1"], ["--architectures", "at least 3", "got 1"]),
        (["--architectures", "0"], ["--architectures", "got 0"]),
        (["--architectures", "-3"], ["--architectures", "got -3"]),
        (["--architectures", "101"], ["--architectures 101", "has 100"]),
        (["--penalty", "1.5"], ["--penalty", "1.5"]),
        (["--device", "tpu9"], ["tpu9"]),
        (["--space", "/no/such/space.yaml"], ["/no/such/space.yaml"]),
    ],
)
def test_bad_option_fails_in_one_line_before_any_study(tmp_path, args, words) -> None:
    done = _run(tmp_path, *args, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and all(word in done.stderr for word in words), done.stderr
    assert _studies(tmp_path) == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_fails_before_any_study(tmp_path) -> None:
    done = _run(tmp_path, "--device", "cuda", timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == (
        "error: device 'cuda' asked for, but CUDA is not available on this machine"
    )
    assert _studies(tmp_path) == 0


def test_a_storage_that_cannot_be_opened_is_named_first(tmp_path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "study.json").write_text(json.dumps({"storage": "sqlite:////elsewhere.db", "study": "other"}))
    command = [arg if not arg.startswith("sqlite:///") else f"sqlite:///{tmp_path}" for arg in _command(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=_environment())
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: cannot open study storage sqlite:///{tmp_path}: ") and "unable to open database file" in done.stderr


def test_another_studys_report_folder_is_refused(tmp_path) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "study.json").write_text(json.dumps({"storage": "sqlite:////elsewhere.db", "study": "other"}))
    done = _run(tmp_path, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "'other' in sqlite:////elsewhere.db" in done.stderr and "--out" in done.stderr
    assert _studies(tmp_path) == 0


def test_tiny_search_shows_trial_k_of_n_and_says_whether_it_is_noise(tmp_path) -> None:
    done = _run(tmp_path, "--space", _tiny_space(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "it/s" not in done.stderr  # no tqdm bars in a pipe
    lines = [line for line in done.stderr.splitlines() if line.startswith("finished trials ")]
    assert [line.split(" | ")[0] for line in lines] == ["finished trials 1/2", "finished trials 2/2"]
    assert all(" | elapsed " in line and " | left ~" in line for line in lines)
    assert "ExperimentalWarning" not in done.stderr
    assert "distinguishable from noise" in done.stdout
    # The recorded budgets came first, searched by MIP, TPE and random, and were stored in the same storage.
    assert "recorded: MIP found task" in done.stdout and all(f"  {m}: " in done.stdout for m in ("MIP", "TPE", "random"))
    last = done.stdout.strip().splitlines()[-2:]
    assert last[0].startswith("recorded (100 architectures): MIP found task")
    assert last[1].startswith("trained here (3 architectures): best budget") and "the reference set has 100" in last[1]
    with sqlite3.connect(tmp_path / "study.db") as connection:
        names = {row[0] for row in connection.execute("select study_name from studies")}
    assert names == {"mip-cifar10-demo", *(f"mip-cifar10-demo-recorded-{m}" for m in ("mip", "tpe", "random"))}
    report = (tmp_path / "report" / "report.md").read_text()
    assert "distinguishable from noise" in report
    assert "| | the authors' recorded trainings | trained here |" in report and "| architectures ranked | 100 | 3 |" in report
    assert "Hyper-parameter importance vs. null" in (tmp_path / "report" / "recorded" / "report.md").read_text()
    assert (tmp_path / "report" / "trained" / "report.md").is_file()
    owner = json.loads((tmp_path / "report" / "study.json").read_text())
    assert owner == {"storage": f"sqlite:///{(tmp_path / 'study.db').resolve()}", "study": "mip-cifar10-demo"}
    dashboard = next(line for line in done.stdout.splitlines() if line.startswith("dashboard: "))
    script = dashboard.split()[1]
    if script != "optuna-dashboard":  # installed next to this Python: runnable as printed, venv active or not
        assert os.access(script, os.X_OK) and Path(script).parent == Path(sys.executable).parent


def test_ctrl_c_is_one_friendly_line_and_the_trial_is_failed_as_interrupted(tmp_path) -> None:
    process = subprocess.Popen(
        _command(tmp_path, "--space", _tiny_space(tmp_path, epochs="6, 8")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(),
        # A shell's background job ignores SIGINT, and children inherit that: give the example
        # the terminal's default, as a user pressing Ctrl-C has.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
            if _studies(tmp_path):
                with sqlite3.connect(tmp_path / "study.db") as connection:
                    if connection.execute("select count(*) from trials where state = 'RUNNING'").fetchone()[0]:
                        break
        time.sleep(1.0)  # inside the objective, training
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert stderr.rstrip().endswith("run the same command to continue")
    assert " failed with " not in stderr  # none of Optuna's warnings about the NaN the interrupted trial returns
    with sqlite3.connect(tmp_path / "study.db") as connection:
        assert connection.execute(
            "select state, value_json from trials join studies using (study_id) join trial_user_attributes using (trial_id)"
            " where study_name = 'mip-cifar10-demo' and key = 'reason'"
        ).fetchall() == [("FAIL", '"interrupted by Ctrl-C"')]  # failed, not pruned: no evidence for MIP
