"""``nas export`` / ``nas import``: a result store carried to another database gives the same r_s there."""

import csv
import json
import random

import pytest

from _cli import REFERENCE, run_json, run_nas
from nas import DARTS_V2, PRESETS, ResultStore, TrainResult, parse_genotype, sample_genotype
from nas.store import budget_identity
from nas.store._schema import result_values

pytestmark = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")

GROUND_TRUTH = str(REFERENCE / "ground_truth.csv")


def _fill(url):
    """24 reference architectures with accuracies near their true ones, one failure, and one
    result of an older code version (kept, never mixed in)."""
    store = ResultStore(url)
    with open(GROUND_TRUTH) as handle:
        rows = list(csv.DictReader(handle))[:25]
    noise = random.Random(0)
    for index, row in enumerate(rows):
        if index == 24:
            result = TrainResult("failed", None, 1.0, 1, 1, float("nan"), 1, "non-finite training loss (nan) in epoch 1")
        else:
            accuracy = float(row["accuracy"]) / 100 + noise.gauss(0, 0.01)
            result = TrainResult("ok", accuracy, 1.5, 10**6, 10**5, 0.25, 2, curve=((0.5, accuracy / 3), (0.25, accuracy)))
        store.put(parse_genotype(row["genotype"]), PRESETS["bpe1"], "d|split", "cpu-fp32", result)
    old = TrainResult("ok", 0.1, 1.0, 1, 1, 1.0, 1)
    version_1_key = json.dumps(budget_identity(PRESETS["bpe1"]), sort_keys=True)  # version 1 keyed by the plain budget
    store._insert({"arch_hash": "0" * 32, "budget_key": version_1_key, "dataset": "d|split", "genotype": rows[0]["genotype"],
                   **result_values(old)})  # fmt: skip
    return store


def _correlate(url):
    return run_json("correlate", "--ground-truth", GROUND_TRUTH, "--storage", url, "--budget", "bpe1")


@pytest.mark.postgres
def test_an_imported_store_correlates_as_the_original_and_importing_twice_adds_nothing(tmp_path, fresh_postgres_url):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source)
    exported = run_json("export", "--storage", source, "--out", str(tmp_path / "results.csv"))
    assert exported["exported"] == 26
    first = run_json("import", str(tmp_path / "results.csv"), "--storage", fresh_postgres_url)
    assert first == {"added": 26, "already_stored": 0}
    again = run_json("import", str(tmp_path / "results.csv"), "--storage", fresh_postgres_url)
    assert again == {"added": 0, "already_stored": 26}
    assert ResultStore(fresh_postgres_url).count(PRESETS["bpe1"]) == 25  # this code version's; the other one's is kept apart
    original, imported = _correlate(source), _correlate(fresh_postgres_url)
    assert imported == original and imported["n"] == 24
    assert imported["skipped"] == {"failed": 1, "results of code version 1": 1}
    run_json("export", "--storage", fresh_postgres_url, "--out", str(tmp_path / "again.csv"))
    with open(tmp_path / "results.csv") as one, open(tmp_path / "again.csv") as other:
        assert sorted(one) == sorted(other)  # every field round-trips exactly, the creation time too


@pytest.mark.parametrize(
    "content, message",
    [
        ("arch,genotype\na,b\n", "is not a result export"),
        (None, "line 3: could not convert string to float"),
        (None, "line 2: status 'maybe'"),
    ],
)
def test_a_malformed_export_is_one_line_and_adds_nothing(tmp_path, content, message):
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _fill(source)
    run_json("export", "--storage", source, "--out", str(tmp_path / "results.csv"))
    lines = (tmp_path / "results.csv").read_text().splitlines(keepends=True)
    if content is None and "status" in message:
        lines[1] = lines[1].replace(",ok,", ",maybe,", 1)
    elif content is None:
        lines[2] = lines[2].replace(",1.5,", ",fast,", 1)
    broken = tmp_path / "broken.csv"
    broken.write_text(content if content is not None else "".join(lines))
    target = tmp_path / "target.db"
    done = run_nas("import", str(broken), "--storage", f"sqlite:///{target}")
    assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr, done.stderr
    assert len(done.stderr.splitlines()) == 1 and not target.exists()


def test_export_of_a_missing_database_is_one_line(tmp_path):
    done = run_nas("export", "--storage", f"sqlite:///{tmp_path / 'none.db'}", "--out", str(tmp_path / "x.csv"))
    assert done.returncode == 2 and "no result database" in done.stderr and not (tmp_path / "x.csv").exists()


def test_export_to_a_missing_folder_is_one_line_and_an_export_never_half_replaces_a_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    ResultStore(url).put(DARTS_V2, PRESETS["bpe1"], "d", "cpu-fp32", TrainResult("ok", 0.5, 1.0, 1, 1, 0.5, 1))
    done = run_nas("export", "--storage", url, "--out", str(tmp_path / "none" / "x.csv"))
    assert done.returncode == 2 and done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1, done.stderr
    assert "none" in done.stderr and not (tmp_path / "none").exists()
    assert run_nas("export", "--storage", url, "--out", str(tmp_path / "x.csv")).returncode == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["r.db", "x.csv"]  # no partial file left


def test_a_key_twice_in_one_file_is_added_once(tmp_path):
    source = ResultStore(f"sqlite:///{tmp_path / 'source.db'}")
    for seed, accuracy in ((0, 0.5), (1, 0.6)):
        source.put(sample_genotype(seed), PRESETS["bpe1"], "d", "cpu-fp32", TrainResult("ok", accuracy, 1.0, 1, 1, 0.5, 1))
    source.export_csv(tmp_path / "x.csv")
    rows = (tmp_path / "x.csv").read_text().splitlines()
    (tmp_path / "x.csv").write_text("\n".join([*rows, rows[1]]) + "\n")
    target = ResultStore(f"sqlite:///{tmp_path / 'target.db'}")
    assert target.import_csv(tmp_path / "x.csv") == (2, 0)
    assert target.import_csv(tmp_path / "x.csv") == (0, 2)
