"""Worker processes for tests that share a study between processes: start a script, collect its JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def start_script(script: str, *args: str) -> subprocess.Popen:
    """Run ``script`` with ``args``; the packages need not be installed: it imports this checkout."""
    path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, script, *args],
        env={**os.environ, "PYTHONPATH": path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(worker: subprocess.Popen, timeout: float = 120) -> Any:
    """The JSON on the worker's last output line, once it exited successfully."""
    try:
        stdout, stderr = worker.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise
    assert worker.returncode == 0, stderr
    return json.loads(stdout.strip().splitlines()[-1])
