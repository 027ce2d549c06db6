"""Several workers on one result store: claims, ``--workers``, ``--retry-failed`` and what
``correlate`` skipped. Each counts trainings by the progress lines ("<arch> trained, ...") that
every training prints, so training an architecture twice shows even when the store keeps only
one of the two results."""

import csv
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from _cli import REFERENCE, ROOT, run_nas
from nas import DARTS_V2, PRESETS, ResultStore, TrainResult, dataset_key, load_dataset, parse_genotype, sample_genotype

TINY = ["--set", "epochs=1", "layers=3", "channels=4", "batch_size=32"]
TRAINED = re.compile(r"\ba\d+ trained, ")


def _archs(path, count):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch", "genotype"])
        for seed in range(count):
            writer.writerow([f"a{seed}", sample_genotype(seed).to_str()])
    return path


def _estimate_args(archs, url, cache):
    return ["estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic:256", "--cache-dir", str(cache),
            "--storage", url, "--threads", "1", *TINY]


def _stored(url):
    store = ResultStore(url)
    return store.count(), len(store.accuracies(PRESETS["bpe1"].with_settings(TINY[1:])).accuracies)


@pytest.mark.postgres
def test_two_estimate_processes_on_postgres_train_each_architecture_once(tmp_path, fresh_postgres_url):
    args = _estimate_args(_archs(tmp_path / "archs.csv", 6), fresh_postgres_url, tmp_path)
    ResultStore(fresh_postgres_url)  # the tables exist before both start
    processes = [
        subprocess.Popen([sys.executable, "-m", "nas", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    trained = [len(TRAINED.findall(err)) for _, err in outputs]
    assert sum(trained) == 6, trained  # without claims both would train the same architectures
    assert _stored(fresh_postgres_url) == (6, 6)


def test_workers_option_trains_side_by_side_through_claims(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    done = run_nas(*_estimate_args(_archs(tmp_path / "archs.csv", 4), url, tmp_path), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert len(TRAINED.findall(done.stderr)) == 4
    assert re.search(r"estimate 4/4 \| elapsed \S+ \| left", done.stderr)
    assert "4 architectures under this budget (0 failed, valid accuracies)" in done.stdout
    assert _stored(url) == (4, 4)
    with sa.create_engine(url).connect() as connection:  # every claim was released
        assert connection.execute(sa.text("select count(*) from nas_claims")).scalar() == 0


def test_retry_failed_trains_a_stored_failure_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    budget = PRESETS["bpe1"].with_settings(TINY[1:])
    key = dataset_key(load_dataset("synthetic:256"))
    failed = TrainResult("failed", None, 1.0, 1, 1, float("nan"), 1, "non-finite training loss (nan) in epoch 1")
    ResultStore(url).put(DARTS_V2, budget, key, "cpu-fp32", failed)
    args = ["train", DARTS_V2.to_str(), "--budget", "bpe1", "--data", "synthetic:256", "--cache-dir", str(tmp_path),
            "--storage", url, "--device", "cpu", "--quiet", *TINY]
    reused = run_nas(*args)
    assert reused.returncode == 1 and "non-finite" in reused.stdout
    retried = run_nas(*args, "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert ResultStore(url).get(DARTS_V2, budget, key, "cpu-fp32").status == "ok"
    assert ResultStore(url).count() == 1


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")
def test_correlate_says_what_it_skipped(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    store = ResultStore(url)
    with (REFERENCE / "ground_truth.csv").open() as handle:
        rows = list(csv.DictReader(handle))[:5]
    for index, row in enumerate(rows):
        status = "failed" if index == 4 else "ok"
        result = TrainResult(status, None if status == "failed" else 0.1 * index, 1.0, 1, 1, 1.0, 1, None)
        store.put(parse_genotype(row["genotype"]), PRESETS["bpe1"], "d", "cpu-fp32", result)
    done = run_nas("correlate", "--ground-truth", str(REFERENCE / "ground_truth.csv"), "--storage", url, "--budget", "bpe1")
    assert done.returncode == 0, done.stderr
    assert "n 4" in done.stdout and "skipped: 1 failed" in done.stdout


def test_bad_threads_and_workers_are_one_line_errors(tmp_path):
    archs = _archs(tmp_path / "archs.csv", 1)
    for option, value in (("--threads", "0"), ("--workers", "0")):
        done = run_nas("estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic", option, value)
        assert done.returncode == 2 and option in done.stderr and "Traceback" not in done.stderr
