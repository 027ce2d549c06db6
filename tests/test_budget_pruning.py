"""Budget trials report as they go and can be pruned: objectives, pruners, spend, report, workers.

This file is also the worker script of the PostgreSQL test::

    python tests/test_budget_pruning.py STORAGE_URL STUDY_NAME N_TRIALS

It optimises the recorded objective with MIP and the median pruner on that study and prints, as
JSON, the MIP decisions it sees at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
import sys

import optuna
from optuna.trial import TrialState
import pytest
from scipy import stats

import optuna_mip
from nas import Architecture, BudgetSpace, RecordedObjective, ResultStore, TrainingObjective, load_dataset, read_recorded_budgets, sample_genotype
from nas._errors import NasError
from nas.budget_search import DEFAULT_PRUNER, PRUNERS, make_pruner, pruned_summary, spend_curve, write_report
from nas.budget_search._objectives import shared_order

from _workers import finish, start_script

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "zheng2020"
needs_reference = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")


@functools.cache
def _recorded() -> tuple:
    """Read once: each recorded budget bootstraps its r_s interval on first use, which takes a while."""
    return tuple(read_recorded_budgets(REFERENCE))


def _recorded_study(pruner: optuna.pruners.BasePruner, n_trials: int, seed: int = 0) -> tuple[optuna.Study, RecordedObjective]:
    objective = RecordedObjective(_recorded())
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    study.optimize(objective, n_trials=n_trials)
    return study, objective


def _replayed(objective: RecordedObjective, setting: str, measured: int) -> float:
    """r_s of ``setting`` on the first ``measured`` architectures of the shared order, recomputed here."""
    recorded = next(r for r in objective.recorded if r.setting == setting)
    pairs = dict(zip(recorded.architectures, recorded.pairs))
    first = [pairs[name] for name in objective.architectures[:measured]]
    return float(stats.spearmanr(*zip(*first)).statistic)


@needs_reference
def test_recorded_study_with_median_pruner_reports_every_ten_architectures_and_prunes_cheaply():
    study, objective = _recorded_study(make_pruner("median"), 30)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    assert complete and pruned
    for trial in complete:
        assert list(trial.intermediate_values) == list(range(10, 101, 10))
        assert trial.intermediate_values[100] == pytest.approx(trial.value)
        assert trial.user_attrs["architectures_measured"] == 100
    for trial in pruned:
        steps = list(trial.intermediate_values)
        assert steps == list(range(10, steps[-1] + 1, 10)) and steps[-1] < 100
        assert trial.user_attrs["architectures_measured"] == steps[-1]
        assert trial.user_attrs["pruned_r_s"] == pytest.approx(_replayed(objective, trial.user_attrs["setting"], steps[-1]))
        # What a pruned trial spends is below what a complete trial of the same budget spends.
        assert spend_curve([trial], "gpu_hours")[-1] < trial.user_attrs["gpu_hours"]
        assert f"pruned after {steps[-1]} of 100 architectures" in pruned_summary(trial)


@needs_reference
def test_every_trial_replays_the_same_architecture_order():
    objective = RecordedObjective(_recorded(), order_seed=3)
    assert objective.architectures == shared_order(objective.architectures, 3) != shared_order(objective.architectures, 4)
    study, objective = _recorded_study(make_pruner("none"), 6)
    for trial in study.trials:
        setting = trial.user_attrs["setting"]
        assert trial.intermediate_values[20] + trial.user_attrs["penalty_cost"] == pytest.approx(_replayed(objective, setting, 20))


@needs_reference
def test_spend_counts_a_pruned_budget_for_what_it_trained_and_a_revisit_for_the_rest():
    study, _ = _recorded_study(make_pruner("median"), 30)
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    by_setting: dict[str, float] = {}
    expected = 0.0
    for trial in finished:
        share = trial.user_attrs["architectures_measured"] / 100
        expected += max(0.0, share - by_setting.get(trial.user_attrs["setting"], 0.0)) * trial.user_attrs["gpu_hours"]
        by_setting[trial.user_attrs["setting"]] = max(share, by_setting.get(trial.user_attrs["setting"], 0.0))
    assert spend_curve(finished, "gpu_hours")[-1] == pytest.approx(expected)
    complete_only = study.get_trials(states=(TrialState.COMPLETE,))
    assert spend_curve(finished, "gpu_hours")[-1] > spend_curve(complete_only, "gpu_hours")[-1]


@needs_reference
def test_report_counts_pruned_budgets_and_the_compute_they_did_not_spend(tmp_path):
    study, _ = _recorded_study(make_pruner("median"), 30)
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    objective = RecordedObjective(_recorded())
    text = write_report(study, objective.space, tmp_path, n_shuffles=2).read_text()
    assert f"- Pruned budgets: {len(pruned)} trials" in text
    assert "Compute they did not spend" in text


def test_pruners_are_optunas_and_unknown_names_say_which_exist():
    assert PRUNERS[:4] == ("none", "median", "successive-halving", "hyperband")
    assert DEFAULT_PRUNER in PRUNERS
    assert isinstance(make_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(make_pruner("hyperband", architectures=10), optuna.pruners.HyperbandPruner)
    for name in PRUNERS:
        assert isinstance(make_pruner(name), optuna.pruners.BasePruner)
    with pytest.raises(NasError, match="unknown pruner 'mean'; choose one of: none, median"):
        make_pruner("mean")


def test_interval_pruner_trusts_a_running_r_s_more_the_more_architectures_it_covers():
    study = optuna.create_study(direction="maximize", pruner=make_pruner("interval"))
    study.add_trial(optuna.trial.create_trial(value=0.7))  # the best complete budget so far

    def pruned(value: float, step: int) -> bool:
        trial = study.ask()
        trial.set_user_attr("penalty_cost", 0.05)
        trial.set_user_attr("architectures_total", 100)
        trial.report(value, step)
        decision = trial.should_prune()
        study.tell(trial, state=TrialState.PRUNED)
        return decision

    assert not pruned(0.6, 20)  # r_s 0.65 on 20 architectures: 0.75 is within its interval
    assert pruned(0.6, 90)  # on 90 of 100 it is not any more
    assert pruned(0.1, 20)
    assert not pruned(0.1, 5)  # too few architectures to decide anything


def test_training_objective_stops_training_when_pruned(tmp_path):
    space = BudgetSpace(values={"epochs": (1,)}, fixed={"batch_size": 32, "lr": 0.05, "layers": 2, "channels": 4, "image_size": 16})
    truth = [Architecture(f"a{i}", sample_genotype(i), accuracy=90.0 + i) for i in range(6)]
    store = ResultStore(f"sqlite:///{tmp_path / 'study.db'}")
    objective = TrainingObjective(space, truth, load_dataset("synthetic:256"), store, device="cpu", progress=False, report_every=3)
    # A real Optuna pruner that stops every trial at its first report: r_s never reaches 2.
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=2.0))
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert store.count() == 3  # only the first group of the shared order was trained
    assert trial.user_attrs["architectures_measured"] == 3 and trial.user_attrs["architectures_total"] == 6
    assert list(trial.intermediate_values) == [3]
    order = [arch.name for arch in objective.architectures]
    assert order == shared_order([arch.name for arch in truth], 0)


@needs_reference
@pytest.mark.postgres
def test_two_workers_on_postgres_with_a_pruner_keep_their_own_reports_and_agree(fresh_postgres_url: str):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=fresh_postgres_url, study_name="pruned", direction="maximize")
    workers = [start_script(__file__, fresh_postgres_url, "pruned", "60") for _ in range(2)]
    seen = [finish(worker, timeout=600) for worker in workers]
    history = json.loads(_decisions_json(study))
    assert len(history) == 8 and history == seen[0] == seen[1]  # both saw every decision, the same ones

    objective = RecordedObjective(_recorded())
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len({t.user_attrs["worker"] for t in finished}) == 2  # both workers ran trials
    assert any(t.state == TrialState.PRUNED for t in finished)
    for trial in finished:
        setting, penalty_cost = trial.user_attrs["setting"], trial.user_attrs["penalty_cost"]
        for step, value in trial.intermediate_values.items():
            assert value + penalty_cost == pytest.approx(_replayed(objective, setting, step))


def _decisions_json(study: optuna.Study) -> str:
    return json.dumps([dataclasses.asdict(decision) for decision in optuna_mip.pruning_history(study)], default=repr)


def worker_main(argv: list[str]) -> None:
    import os
    import warnings

    storage, study_name, n_trials = argv[0], argv[1], int(argv[2])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    objective = RecordedObjective(read_recorded_budgets(REFERENCE))

    def own(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", str(os.getpid()))
        return objective(trial)

    sampler = optuna_mip.MIPSampler(cost=objective.space.value_costs(), seed=0, samples_per_round=3)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler, pruner=make_pruner("median"))
    study.optimize(own, n_trials=n_trials, callbacks=[optuna_mip.StopWhenAllFixed()])
    print(_decisions_json(study))


if __name__ == "__main__":
    worker_main(sys.argv[1:])
