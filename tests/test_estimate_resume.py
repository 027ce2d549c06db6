import csv
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from _cli import ROOT, run_json
from nas import PRESETS, ResultStore, load_dataset, sample_genotype, train
from nas.estimation import Architecture, estimate, training_checkpoint


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


def _killed_after_the_first_epoch(genotype, budget, dataset, checkpoint):
    def kill(epoch, accuracy):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(genotype, budget, dataset, device="cpu", progress=False, on_epoch=kill, checkpoint=checkpoint)
    assert checkpoint.epochs_done() == 1


def test_estimate_with_a_checkpoint_dir_resumes_a_killed_training_from_its_last_epoch(tmp_path):
    dataset = load_dataset("synthetic:128")
    budget = PRESETS["bpe1"].replace(epochs=3, layers=2, channels=4, batch_size=32)
    architecture = Architecture("a0", sample_genotype(0))

    def run(store_name, checkpoint_dir=None):
        store = ResultStore(f"sqlite:///{tmp_path / store_name}")
        return estimate([architecture], budget, dataset, store, device="cpu", progress=False, checkpoint_dir=checkpoint_dir)["a0"]

    uninterrupted = run("clean.db")
    resumed_dir, tampered_dir = tmp_path / "resumed", tmp_path / "tampered"
    for folder in (resumed_dir, tampered_dir):
        checkpoint = training_checkpoint(folder, architecture.genotype, budget, dataset, torch.device("cpu"))
        _killed_after_the_first_epoch(architecture.genotype, budget, dataset, checkpoint)
    # Exact on CPU: the resumed training ends as the uninterrupted one did.
    resumed = run("resumed.db", resumed_dir)
    assert (resumed.accuracy, resumed.loss) == (uninterrupted.accuracy, uninterrupted.loss)
    # And it did start from the checkpoint: one with its weights halved ends elsewhere.
    checkpoint = training_checkpoint(tampered_dir, architecture.genotype, budget, dataset, torch.device("cpu"))
    done, state = checkpoint.load()
    state["model"] = {name: value * 0.5 if value.is_floating_point() else value for name, value in state["model"].items()}
    checkpoint.save(done, state)
    assert run("tampered.db", tampered_dir).loss != uninterrupted.loss
