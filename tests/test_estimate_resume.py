import csv
import signal
import sqlite3
import subprocess
import sys
import time

from _cli import ROOT, run_json
from nas import sample_genotype


def _rows(db):
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("select arch_hash, created_at from nas_results order by id").fetchall()
        except sqlite3.OperationalError:  # the file is there, its tables not yet
            return []


def test_estimate_killed_with_sigkill_resumes_without_retraining(tmp_path):
    archs = tmp_path / "archs.csv"
    with archs.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["arch", "genotype"])
        for seed in range(10):
            writer.writerow([f"a{seed}", sample_genotype(seed).to_str()])
    db = tmp_path / "study.db"
    args = [
        "estimate", "--archs", str(archs), "--budget", "bpe1", "--data", "synthetic:256", "--cache-dir", str(tmp_path),
        "--storage", f"sqlite:///{db}", "--set", "epochs=2", "layers=3", "channels=4", "batch_size=32", "--quiet",
    ]
    process = subprocess.Popen([sys.executable, "-m", "nas", *args], cwd=ROOT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not db.exists() or len(_rows(db)) < 3):
        assert process.poll() is None, "estimate ended before it could be killed"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = _rows(db)
    assert 3 <= len(before) < 10

    out = run_json(*args)
    after = _rows(db)
    assert len(out) == 10 and all(result["status"] == "ok" for result in out.values())
    assert len(after) == 10 and len({arch for arch, _ in after}) == 10
    assert after[: len(before)] == before  # the first run's results were reused, not retrained
