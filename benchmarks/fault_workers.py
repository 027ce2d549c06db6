"""Fault injection against ``nas estimate`` workers on one PostgreSQL database (issue 15), rerunnable:

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/fault_workers.py [--archs 20] [--scenario all]

Scenarios (each on a fresh database of a PostgreSQL server this script starts):

* ``namespace``: two workers, one in another PID namespace (``unshare --pid --fork --mount-proc``,
  same hostname): every architecture must be trained once.
* ``clock``: two workers, one with its clock 300 s ahead (``faketime``): trained once each.
* ``restart``: 4 workers, ``pg_ctl restart -m fast`` mid-run: every worker finishes or fails in
  one line; after one rerun at most every architecture is stored, none trained twice.

Prints one row per scenario: trainings counted from the workers' progress lines ("<arch> trained"),
results stored, exit codes. Tiny synthetic trainings: a minute or two per scenario on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from _postgres import PostgresServer  # noqa: E402
from nas import PRESETS, ResultStore  # noqa: E402
from test_workers import TINY, TRAINED, _archs as write_archs  # noqa: E402  (the tests' tiny setup)

def start_worker(prefix: list[str], archs: Path, url: str, cache: Path) -> subprocess.Popen:
    command = [*prefix, sys.executable, "-m", "nas", "estimate", "--archs", str(archs), "--budget", "bpe1",
               "--data", "synthetic:256", "--cache-dir", str(cache), "--storage", url, "--threads", "1", *TINY]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def run_scenario(name: str, server: PostgresServer, count: int, folder: Path) -> dict[str, object]:
    url = server.create_database()
    archs, cache = write_archs(folder / f"{name}.csv", count), folder / "cache"
    ResultStore(url)  # tables made before the workers start
    prefixes = {
        "namespace": [[], ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]],
        "clock": [[], ["faketime", "-f", "+300s"]],
        "restart": [[]] * 4,
    }[name]
    workers = [start_worker(prefix, archs, url, cache) for prefix in prefixes]
    if name == "restart":
        time.sleep(20)  # some trainings done, some running
        server.restart()
    outputs = [worker.communicate() for worker in workers]
    codes = [worker.returncode for worker in workers]
    trained = sum(len(TRAINED.findall(err)) for _, err in outputs)
    failures = [err.strip().splitlines()[-1] for (_, err), code in zip(outputs, codes) if code != 0]
    reruns = 0
    if any(codes):  # one rerun at most
        rerun = start_worker([], archs, url, cache)
        _, err = rerun.communicate()
        trained += len(TRAINED.findall(err))
        codes.append(rerun.returncode)
        reruns = 1
    stored = len(ResultStore(url).accuracies(PRESETS["bpe1"].with_settings(TINY[1:])).accuracies)
    return {"scenario": name, "archs": count, "trainings": trained, "stored": stored, "exit codes": codes,
            "reruns": reruns, "failed lines": failures}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", type=int, default=20)
    parser.add_argument("--scenario", choices=["namespace", "clock", "restart", "all"], default="all")
    args = parser.parse_args()
    chosen = ["namespace", "clock", "restart"] if args.scenario == "all" else [args.scenario]
    if "clock" in chosen and shutil.which("faketime") is None:
        print("faketime is not installed (apt-get install faketime): skipping the clock scenario", file=sys.stderr)
        chosen.remove("clock")
    rows = []
    with PostgresServer.start() as server, tempfile.TemporaryDirectory() as folder:
        for name in chosen:
            restart_archs = 2 * args.archs if name == "restart" else args.archs  # 40 by default, as in the issue
            rows.append(run_scenario(name, server, restart_archs, Path(folder)))
    print(f"{'scenario':<10} {'archs':>5} {'trainings':>9} {'stored':>6} {'reruns':>6}  exit codes")
    for row in rows:
        print(f"{row['scenario']:<10} {row['archs']:>5} {row['trainings']:>9} {row['stored']:>6} {row['reruns']:>6}  {row['exit codes']}")
        for line in row["failed lines"]:
            print(f"           failed worker said: {line}")
    ok = all(row["trainings"] == row["archs"] == row["stored"] for row in rows)
    print("every architecture trained once and stored" if ok else "MISMATCH: some architecture trained twice or not stored")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
