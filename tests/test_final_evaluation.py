"""``nas evaluate``: killed with SIGKILL and run again, it ends as an uninterrupted run does."""

import json
import signal
import subprocess
import sys
import time

from _cli import ROOT, run_json, run_nas
from nas import DARTS_V2
from nas.store import Checkpoint

G = DARTS_V2.to_str()
SMALL = ["--budget", "full", "--set", "epochs=6", "layers=3", "channels=4", "batch_size=32", "image_size=16",
         "cutout=4", "--data", "synthetic:512", "--quiet"]


def _checkpoint_epochs(folder):
    files = list(folder.rglob("checkpoint.pt"))
    return Checkpoint(files[0].parent).epochs_done() if files else 0


def test_evaluate_killed_with_sigkill_resumes_to_the_same_accuracy(tmp_path):
    uninterrupted = run_json("evaluate", G, *SMALL, "--storage", f"sqlite:///{tmp_path / 'a.db'}",
                             "--checkpoint-dir", str(tmp_path / "a"))["results"][0]

    args = ["evaluate", G, *SMALL, "--storage", f"sqlite:///{tmp_path / 'b.db'}", "--checkpoint-dir", str(tmp_path / "b")]
    process = subprocess.Popen([sys.executable, "-m", "nas", *args], cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _checkpoint_epochs(tmp_path / "b") < 2:
        assert process.poll() is None, "evaluate ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _checkpoint_epochs(tmp_path / "b")
    assert 2 <= killed_at < 6

    done = run_nas(*args, "--json")
    assert done.returncode == 0, done.stderr
    assert f"resuming from epoch {killed_at} of 6" in done.stderr


    resumed = json.loads(done.stdout)["results"][0]
    assert resumed["status"] == uninterrupted["status"] == "ok" and "test_accuracy" not in resumed  # "accuracy" is on the test split
    assert (resumed["accuracy"], resumed["loss"]) == (uninterrupted["accuracy"], uninterrupted["loss"])


def test_imagenet_mobile_network_through_the_same_command(tmp_path):
    out = run_json("evaluate", G, "--budget", "imagenet", "--set", "epochs=1", "layers=3", "channels=8", "image_size=64",
                   "batch_size=16", "--data", "synthetic:128", "--storage", f"sqlite:///{tmp_path / 'i.db'}",
                   "--checkpoint-dir", str(tmp_path / "i"), "--quiet")
    assert out["budget"]["network"] == "imagenet" and out["results"][0]["status"] == "ok"
