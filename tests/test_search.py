"""Architecture search: the objective, pruning, and the resumable ``nas search`` / ``nas evaluate`` commands."""

import signal
import sqlite3
import subprocess
import sys
import time

import optuna
import pytest

from _cli import ROOT, run_json, run_nas
from nas import DARTS_V2, PRESETS, Budget, NasError, ResultStore, genotype_to_params, load_dataset, sample_genotype
from nas.search import ArchitectureObjective

TINY = Budget(epochs=2, batch_size=32, lr=0.05, layers=3, channels=4, image_size=16)
TINY_SET = ["--budget", "bpe1", "--set", "epochs=1", "layers=3", "channels=4", "batch_size=32", "image_size=16",
            "auxiliary_weight=0", "drop_path=0"]
DATA = ["--data", "synthetic:256"]

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic:256")


def _study(tmp_path, **kwargs):
    return optuna.create_study(storage=f"sqlite:///{tmp_path / 'study.db'}", direction="maximize", **kwargs)


def test_objective_keeps_attributes_and_reuses_stored_results(synthetic, tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'study.db'}")
    study = _study(tmp_path, sampler=optuna.samplers.RandomSampler(seed=0))
    objective = ArchitectureObjective(TINY, synthetic, store, device="cpu")
    study.optimize(objective, n_trials=2)
    first = study.trials[0]
    study.enqueue_trial(genotype_to_params(sample_genotype(0)))
    study.enqueue_trial(first.params)  # the same architecture again: answered by the store
    study.optimize(objective, n_trials=2)
    again = study.trials[3]
    assert {"genotype", "hash", "params", "flops", "seconds", "reused"} <= set(first.user_attrs)
    assert first.user_attrs["params"] > 0 and first.user_attrs["flops"] > 0 and not first.user_attrs["reused"]
    assert list(first.intermediate_values) == [1, 2]  # one report per epoch
    assert again.user_attrs["reused"] and again.value == first.value and again.user_attrs["hash"] == first.user_attrs["hash"]
    assert not again.intermediate_values
    assert store.count(TINY) == 3 == len({trial.user_attrs["hash"] for trial in study.trials})


def test_without_a_pruner_no_epoch_is_measured_and_the_result_is_the_same(synthetic, tmp_path):
    params = genotype_to_params(sample_genotype(2))
    plain = _study(tmp_path, study_name="plain", pruner=optuna.pruners.NopPruner())
    for _ in range(2):
        plain.enqueue_trial(params)
    plain.optimize(ArchitectureObjective(TINY, synthetic, ResultStore(f"sqlite:///{tmp_path / 'study.db'}"), device="cpu"), n_trials=2)
    pruned = _study(tmp_path, study_name="pruned", pruner=optuna.pruners.MedianPruner())
    pruned.enqueue_trial(params)
    pruned.optimize(ArchitectureObjective(TINY, synthetic, None, device="cpu"), n_trials=1)
    (trained, reused), (measured,) = plain.trials, pruned.trials
    assert not trained.intermediate_values and not trained.user_attrs["reused"]
    assert reused.user_attrs["reused"] and reused.value == trained.value
    assert list(measured.intermediate_values) == [1, 2] and not measured.user_attrs["reused"]
    assert trained.value == measured.value


def test_median_pruner_stops_poor_trainings_and_stores_none_of_them(synthetic, tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'study.db'}")
    budget = TINY.replace(epochs=3, lr=0.01)  # a slow start, so the curves of architectures differ
    study = _study(tmp_path, sampler=optuna.samplers.RandomSampler(seed=0),
                   pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))
    study.optimize(ArchitectureObjective(budget, synthetic, store, device="cpu"), n_trials=6)
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert pruned and all(trial.last_step < budget.epochs for trial in pruned)
    assert store.count(budget) == len(complete)  # a pruned training is not the budget's result


def test_a_diverging_training_fails_the_trial_with_its_reason(synthetic, tmp_path):
    study = _study(tmp_path, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(ArchitectureObjective(TINY.replace(lr=1e12, grad_clip=1e30), synthetic, None, device="cpu"), n_trials=1)
    trial = study.trials[0]
    assert trial.state == optuna.trial.TrialState.FAIL and "non-finite" in trial.user_attrs["reason"]


def _counts(db):
    with sqlite3.connect(db) as connection:
        trials = connection.execute("select state, count(*) from trials group by state").fetchall()
        rows = connection.execute("select arch_hash, created_at from nas_results order by id").fetchall()
        hashes = connection.execute("select count(distinct value_json) from trial_user_attributes where key = 'hash'").fetchone()
    return dict(trials), rows, hashes[0]


def test_search_resumes_to_more_trials_without_training_an_architecture_twice(tmp_path):
    db = tmp_path / "search.db"
    args = ["search", "--strategy", "random", *TINY_SET, *DATA, "--storage", f"sqlite:///{db}", "--seed", "0",
            "--study-name", "s", "--quiet"]
    first = run_json(*args, "--trials", "6")
    states, rows, hashes = _counts(db)
    assert first["n_complete"] == 6 and states == {"COMPLETE": 6}
    resumed = run_json(*args, "--trials", "8")
    states, after, hashes = _counts(db)
    assert resumed["n_complete"] == 8 and states == {"COMPLETE": 8}
    assert after[:6] == rows and len(after) == hashes  # one training per distinct architecture
    assert resumed["best"]["value"] >= first["best"]["value"]
    assert set(resumed["best"]) >= {"trial", "value", "genotype", "hash", "params", "flops"}

    # The best two, trained again for the final evaluation: measured on the test split, stored apart.
    final = run_json("evaluate", "--study", "s", "--top", "2", "--storage", f"sqlite:///{db}", *TINY_SET, *DATA,
                     "--checkpoint-dir", str(tmp_path / "checkpoints"), "--quiet")
    assert [row["status"] for row in final["results"]] == ["ok", "ok"] and final["budget"]["evaluation"] == "test-last"
    assert final["results"][0]["hash"] == resumed["best"]["hash"] and final["results"][1]["hash"] != final["results"][0]["hash"]
    assert len(_counts(db)[1]) == len(after) + 2


def test_search_killed_with_sigkill_resumes(tmp_path):
    db = tmp_path / "search.db"
    args = ["search", "--strategy", "random", *TINY_SET, *DATA, "--storage", f"sqlite:///{db}", "--seed", "0",
            "--study-name", "s", "--trials", "4", "--quiet"]
    process = subprocess.Popen([sys.executable, "-m", "nas", *args], cwd=ROOT, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _complete(db) < 2:
        assert process.poll() is None, "search ended before it could be killed"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = _complete(db)
    assert 2 <= killed_at < 4
    assert run_json(*args)["n_complete"] == 4


def _complete(db):
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as connection:
            return connection.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


UNKNOWN_OP = DARTS_V2.to_str().replace("sep_conv_3x3", "sep_conv_9x9", 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "--strategy", "foo", "--trials", "2", *TINY_SET, *DATA], "unknown search strategy 'foo'"),
        (["search", "--strategy", "random", "--trials", "2", "--budget", "nope", *DATA], "unknown budget preset 'nope'"),
        (["search", "--strategy", "random", "--trials", "2", *TINY_SET, *DATA, "--pruner", "x"], "unknown pruner 'x'"),
        (["search", "--strategy", "random", "--trials", "2", *TINY_SET, "--data", "/nowhere"], "data source not found"),
        (["evaluate", "sep_conv_3x3", *TINY_SET, *DATA], "genotype"),
        (["evaluate", UNKNOWN_OP, *TINY_SET, *DATA], "sep_conv_9x9"),
        (["evaluate", "--study", "none", *TINY_SET, *DATA], "no study 'none'"),
    ],
)
def test_bad_input_is_one_line_and_creates_no_study(tmp_path, args, message):
    db = tmp_path / "study.db"
    done = run_nas(*args, "--storage", f"sqlite:///{db}")
    assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not db.exists() or optuna.get_all_study_names(f"sqlite:///{db}") == []


def test_a_study_of_another_search_is_refused_untouched(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    budget_search = optuna.create_study(storage=url, study_name="mip")
    budget_search.set_user_attr("space", {"epochs": [1, 2]})
    base = ["search", "--trials", "1", *DATA, "--storage", url, "--quiet"]
    for args, message in [
        (["--strategy", "random", *TINY_SET, "--study-name", "mip"], "not an architecture search"),
    ]:
        done = run_nas(*base, *args)
        assert done.returncode == 2 and message in done.stderr, done.stderr
    assert run_json(*base, "--strategy", "random", *TINY_SET, "--study-name", "a")["n_complete"] == 1
    done = run_nas(*base, "--strategy", "random", *TINY_SET, "epochs=2", "--study-name", "a")
    assert done.returncode == 2 and "another budget (epochs 1 there, 2 here)" in done.stderr
    assert optuna.load_study(study_name="mip", storage=url).user_attrs == {"space": {"epochs": [1, 2]}}
    assert len(optuna.load_study(study_name="a", storage=url).trials) == 1


@pytest.mark.postgres
def test_two_search_workers_on_one_postgresql_study_share_it(fresh_postgres_url):
    command = [sys.executable, "-m", "nas", "search", "--strategy", "evolution", "--trials", "6", "--study-name", "shared",
               "--storage", fresh_postgres_url, "--quiet", "--threads", "1", *TINY_SET, *DATA]
    workers = [subprocess.Popen([*command, "--seed", str(seed)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for seed in (0, 1)]
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr
    study = optuna.load_study(study_name="shared", storage=fresh_postgres_url)
    numbers = [trial.number for trial in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(numbers) == len(set(numbers)) and 6 <= len(complete) <= 7  # each stops at 6 complete: at most one more
    hashes = {trial.user_attrs["hash"] for trial in complete}
    budget = Budget(epochs=1, batch_size=32, lr=0.03, layers=3, channels=4, image_size=16)
    assert ResultStore(fresh_postgres_url).count(budget) == len(hashes)  # no architecture trained twice


def test_a_study_is_another_search_with_another_estimator_or_darts_genotype_and_old_setups_keep_their_identity(tmp_path):
    from nas.search import check_study, create_search_study, open_storage, search_setup

    data = load_dataset("synthetic:64")
    plain = search_setup("random", PRESETS["bpe1"], data)
    assert set(plain) == {"kind", "strategy", "budget", "dataset"}  # as studies made before these options recorded it
    storage = open_storage(f"sqlite:///{tmp_path / 's.db'}")
    create_search_study(storage, "s", plain, optuna.samplers.RandomSampler(seed=0), optuna.pruners.NopPruner())
    assert check_study(storage, "s", search_setup("random", PRESETS["bpe1"], data)) == 0
    with pytest.raises(NasError, match="another estimator .None there, 'naswot' here"):
        check_study(storage, "s", search_setup("random", PRESETS["bpe1"], data, estimator="naswot"))
    with pytest.raises(NasError, match="another darts_genotype"):
        check_study(storage, "s", search_setup("random", PRESETS["bpe1"], data, darts_genotype="best"))
