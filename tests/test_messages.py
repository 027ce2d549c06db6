"""What the commands print when things go wrong or a secret is at hand: a planted password shows
nowhere, a killed search worker's trial does not stay RUNNING, bad names and full disks are one line."""

import io
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from _cli import ROOT, run_nas
from nas import DARTS_V2
from nas._errors import display_url, hide_password, safe_name
from test_workers import TINY, _archs

PASSWORD = "Planted-S3cret"


def _with_password(url):
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")  # trust auth: any password works


def _search_args(url, study, trials, *extra):
    return ["search", "--strategy", "random", "--trials", str(trials), "--budget", "bpe1", "--data", "synthetic:256",
            "--storage", url, "--study-name", study, "--threads", "1", "--seed", "0", *TINY, *extra]  # fmt: skip


def test_display_url_masks_the_password_and_names_print_safely():
    assert display_url(f"postgresql://u:{PASSWORD}@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert PASSWORD not in display_url(f"not a url //u:{PASSWORD}@h")
    assert display_url(f"postgresql://u@h/db?sslmode=require&password={PASSWORD}") == "postgresql://u@h/db?sslmode=require&password=***"
    assert display_url(f"postgresql://u:{PASSWORD}@x@h/db") == "postgresql://u:***@h/db"  # an unencoded '@' in it
    for url in (f"postgresql://u@h/db?password={PASSWORD}", f"postgresql://u:{PASSWORD}@x@h/db", "postgresql://u:p%40ss@h/db"):
        assert hide_password(f"failed for {PASSWORD}@x and p@ss", url).count("***") == 1, url
    assert safe_name("a\nb\x1b[31mc") == "a\\nb\\x1b[31mc"
    assert len(safe_name("x" * 100_000)) == 80


@pytest.mark.postgres
def test_a_planted_password_appears_in_no_output(tmp_path, fresh_postgres_url):
    url = _with_password(fresh_postgres_url)
    archs = _archs(tmp_path / "archs.csv", 2)
    runs = [
        run_nas("estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic:256", "--cache-dir", str(tmp_path),
                "--storage", url, "--threads", "1", *TINY),  # fmt: skip
        run_nas(*_search_args(url, "s", 1, "--cache-dir", str(tmp_path))),
        run_nas(*_search_args(url, "s", 1, "--cache-dir", str(tmp_path), "--json")),
        run_nas("export", "--storage", url, "--out", str(tmp_path / "r.csv")),
        run_nas("import", str(tmp_path / "r.csv"), "--storage", url),
        run_nas("correlate", "--ground-truth", str(archs), "--storage", url, "--budget", "bpe1"),  # an error: no accuracy column
        run_nas("export", "--storage", url.rsplit("/", 1)[0] + "/no_such_database", "--out", str(tmp_path / "x.csv")),
        run_nas("export", "--storage", url.replace("postgresql://", "postgresql+nosuchdriver://"), "--out", str(tmp_path / "x.csv")),
        run_nas(*_search_args(url.replace(url.split(":")[-1].split("/")[0], "1"), "s", 1, "--cache-dir", str(tmp_path))),  # refused
    ]
    assert [done.returncode for done in runs] == [0, 0, 0, 0, 0, 2, 2, 2, 2], [done.stderr[-300:] for done in runs]
    assert json.loads(runs[2].stdout)["storage"] == display_url(url)
    for done in runs:
        assert PASSWORD not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    assert "postgres:***@" in runs[0].stdout and "postgres:***@" in runs[1].stderr


def test_a_killed_search_workers_trial_does_not_stay_running(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = run_nas(*_search_args(url, "s", 1, "--cache-dir", str(tmp_path)))
    assert first.returncode == 0, first.stderr
    # A second worker, asked for one trial more, is killed in it: the study has its 1 trial and a RUNNING one.
    worker = subprocess.Popen([sys.executable, "-m", "nas", *_search_args(url, "s", 2, "--cache-dir", str(tmp_path))], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not _running(url) and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed = _running(url)
    assert killed, "the worker finished its trial before it could be killed"
    rerun = run_nas(*_search_args(url, "s", 1, "--cache-dir", str(tmp_path), "--heartbeat-grace", "2"))
    assert rerun.returncode == 0, rerun.stderr
    # Its trial is failed, at once or after a wait for its heartbeat to go stale (which one depends
    # on how long the rerun took to start), and never left RUNNING.
    assert _running(url) == []
    assert _states(url, [number for (number,) in killed]) == ["FAIL"]


def _states(url, numbers):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        marks = ", ".join("?" for _ in numbers)
        return [state for (state,) in connection.execute(f"select state from trials where number in ({marks})", numbers)]


def _running(url):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        try:
            return connection.execute("select number from trials where state = 'RUNNING'").fetchall()
        except sqlite3.OperationalError:  # no tables yet
            return []


@pytest.mark.postgres
def test_a_study_name_too_long_for_the_database_is_one_line(tmp_path, fresh_postgres_url):
    done = run_nas(*_search_args(fresh_postgres_url, "n" * 600, 1, "--cache-dir", str(tmp_path)))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, done.stderr
    assert "n" * 100 not in done.stderr  # the name is shown shortened


def test_a_corrupted_study_database_is_one_line_naming_the_cause(tmp_path):
    path = tmp_path / "s.db"
    url = f"sqlite:///{path}"
    assert run_nas(*_search_args(url, "s", 1, "--cache-dir", str(tmp_path))).returncode == 0
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page overwritten in place, size kept
    path.write_bytes(bytes(data))
    done = run_nas(*_search_args(url, "s", 2, "--cache-dir", str(tmp_path)))
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
    assert "malformed" in done.stderr and "Traceback" not in done.stderr


def test_describe_with_an_absurd_concat_is_one_line():
    genotype = DARTS_V2.to_str().replace("normal_concat=range(2, 6)", "normal_concat=range(2, 200000000)")
    assert "200000000" in genotype
    done = run_nas("describe", genotype)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr, done.stderr


def test_progress_prints_hostile_names_safely():
    from nas._progress import Progress

    stream = io.StringIO()
    Progress(1, "estimate", plain=True, stream=stream).step("a\x1b[2J\nb" + "x" * 100_000 + " trained")
    line = stream.getvalue()
    assert "\x1b" not in line and line.count("\n") == 1 and len(line) < 300 and "a\\x1b[2J\\nb" in line


def _mip_example():
    import importlib.util

    examples = str(ROOT / "examples")
    if examples not in sys.path:  # the example imports its sibling _run, as when run as a script
        sys.path.insert(0, examples)
    spec = importlib.util.spec_from_file_location("mip_cifar10_example", ROOT / "examples" / "mip_cifar10.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_examples_report_folder_stays_under_runs_and_is_claimed_at_start(tmp_path):
    from nas import NasError

    example = _mip_example()
    assert example.report_folder("../../../x").parent == example.ROOT / "runs"
    assert len(example.report_folder("n" * 300).name) <= 100
    example.check_report_folder(tmp_path / "r", {"storage": "a", "study": "one"})
    with pytest.raises(NasError, match="holds the report of study 'one'"):  # started together: the second is refused
        example.check_report_folder(tmp_path / "r", {"storage": "a", "study": "two"})
    example.check_report_folder(tmp_path / "r", {"storage": "a", "study": "one"})  # its own, resumed
    assert sorted(path.name for path in (tmp_path / "r").iterdir()) == ["study.json"]
