"""Learning curves in the result store: stored with each result, exported and imported with it, and
stores, exports and spool files made before curves existed still read (their results have none)."""

import csv
import json
import sqlite3

import pytest

from nas import DARTS_V2, PRESETS, ResultStore, StoreError, TrainResult, sample_genotype
from nas.store import result_key

CURVE = ((2.1, 0.25), (1.7, 0.375), (1.5, 0.5))
RESULT = TrainResult("ok", 0.5, 1.0, 100, 10, 1.5, 3, None, "cpu", CURVE)
BUDGET = PRESETS["bpe1"]


def test_a_stored_result_keeps_its_curve_exactly(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    store.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    store.put(sample_genotype(1), BUDGET, "d", "cpu-fp32", TrainResult("ok", 0.4, 1.0, 1, 1, 0.5, 1))
    assert store.get(DARTS_V2, BUDGET, "d", "cpu-fp32") == RESULT
    assert store.get(sample_genotype(1), BUDGET, "d", "cpu-fp32").curve == ()


def test_curves_survive_export_and_import(tmp_path):
    source = ResultStore(f"sqlite:///{tmp_path / 'source.db'}")
    source.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    source.export_csv(tmp_path / "x.csv")
    target = ResultStore(f"sqlite:///{tmp_path / 'target.db'}")
    assert target.import_csv(tmp_path / "x.csv") == (1, 0)
    assert target.get(DARTS_V2, BUDGET, "d", "cpu-fp32") == RESULT


def test_an_export_made_before_curves_imports_without_them(tmp_path):
    source = ResultStore(f"sqlite:///{tmp_path / 'source.db'}")
    source.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    source.export_csv(tmp_path / "x.csv")
    with open(tmp_path / "x.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(tmp_path / "old.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in rows[0] if c != "curve"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    target = ResultStore(f"sqlite:///{tmp_path / 'target.db'}")
    assert target.import_csv(tmp_path / "old.csv") == (1, 0)
    stored = target.get(DARTS_V2, BUDGET, "d", "cpu-fp32")
    assert stored.curve == () and stored.accuracy == RESULT.accuracy


def test_a_malformed_curve_in_an_export_is_refused(tmp_path):
    source = ResultStore(f"sqlite:///{tmp_path / 'source.db'}")
    source.put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    source.export_csv(tmp_path / "x.csv")
    text = (tmp_path / "x.csv").read_text().replace(json.dumps(CURVE), '"[1, 2]"')
    (tmp_path / "x.csv").write_text(text)
    target = ResultStore(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        target.import_csv(tmp_path / "x.csv")
    except Exception as error:  # noqa: BLE001 - the message is what is checked
        assert "line 2" in str(error) and "curve" in str(error)
    else:
        raise AssertionError("a malformed curve was imported")
    assert target.count() == 0


def test_a_store_made_before_curves_gets_the_column_and_keeps_its_results(tmp_path):
    path = tmp_path / "old.db"
    ResultStore(f"sqlite:///{path}").put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    with sqlite3.connect(path) as connection:  # as a store of the previous version was made
        connection.execute("ALTER TABLE nas_results DROP COLUMN curve")
    store = ResultStore(f"sqlite:///{path}")
    old = store.get(DARTS_V2, BUDGET, "d", "cpu-fp32")
    assert old.accuracy == RESULT.accuracy and old.curve == ()
    store.put(sample_genotype(2), BUDGET, "d", "cpu-fp32", RESULT)
    assert store.get(sample_genotype(2), BUDGET, "d", "cpu-fp32").curve == CURVE


def test_a_result_spooled_before_curves_is_stored(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    spool = ResultStore(url, spool_dir=tmp_path).spool
    record = {"arch_hash": DARTS_V2.hash(), "budget_key": result_key(BUDGET, "cpu-fp32"), "dataset": "d",
              "genotype": DARTS_V2.to_str(), **{k: v for k, v in RESULT.to_dict().items() if k != "curve"}}  # fmt: skip
    spool.write_text(json.dumps(record) + "\n")
    store = ResultStore(url, spool_dir=tmp_path)
    assert store.get(DARTS_V2, BUDGET, "d", "cpu-fp32").accuracy == RESULT.accuracy


def test_an_old_store_that_cannot_be_written_is_one_line_naming_why(tmp_path):
    path = tmp_path / "old.db"
    ResultStore(f"sqlite:///{path}").put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    with sqlite3.connect(path) as connection:
        connection.execute("ALTER TABLE nas_results DROP COLUMN curve")
    with pytest.raises(StoreError, match="predates learning curves.*readonly.*open it once where it can be written") as caught:
        ResultStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert "\n" not in str(caught.value)
    with sqlite3.connect(path) as connection:  # nothing was lost
        assert connection.execute("SELECT count(*) FROM nas_results").fetchone() == (1,)


@pytest.mark.postgres
def test_workers_opening_an_old_postgresql_store_together_upgrade_it_once(fresh_postgres_url):
    import sqlalchemy as sa
    from concurrent.futures import ThreadPoolExecutor

    ResultStore(fresh_postgres_url).put(DARTS_V2, BUDGET, "d", "cpu-fp32", RESULT)
    engine = sa.create_engine(fresh_postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE nas_results DROP COLUMN curve"))
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: ResultStore(fresh_postgres_url), range(4)))
    assert stores[0].get(DARTS_V2, BUDGET, "d", "cpu-fp32").curve == ()
    stores[1].put(sample_genotype(5), BUDGET, "d", "cpu-fp32", RESULT)
    assert stores[2].get(sample_genotype(5), BUDGET, "d", "cpu-fp32").curve == CURVE
