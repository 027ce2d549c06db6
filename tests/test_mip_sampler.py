"""MIP rounds: which parameter is pruned, at which value, from which trials."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
import warnings

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.study import StudyDirection
from optuna.trial import Trial
from optuna.trial import TrialState
import pytest

from _mip_helpers import assert_decisions_are_pure
import optuna_mip
from optuna_mip import MIPSampler
from optuna_mip._cost import CostModel
from optuna_mip._rounds import _best
from optuna_mip._rounds import decide_round
from optuna_mip._rounds import RoundSettings
from optuna_mip._rounds import free_importances
from optuna_mip._rounds import predicted_best
from optuna_mip.importance import ForestImportanceEvaluator


optuna.logging.set_verbosity(optuna.logging.WARNING)

# Four categorical parameters; only "depth" matters, and its best value is not the cheapest.
COST = {
    "width": {8: 1.0, 16: 4.0, 32: 16.0},
    "epochs": {5: 5.0, 10: 10.0, 20: 20.0},
    "batch": {64: 2.0, 128: 1.0, 256: 1.5},
    "depth": {2: 1.0, 4: 2.0, 8: 4.0, 16: 8.0},
}
DEPTH_QUALITY = {2: 0.1, 4: 0.4, 8: 0.9, 16: 0.6}


def four_params(trial: Trial) -> float:
    for name, table in COST.items():
        trial.suggest_categorical(name, list(table))
    return DEPTH_QUALITY[trial.params["depth"]]


def run_mip(objective: Any, n_trials: int = 200, **kwargs: Any) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=MIPSampler(**kwargs))
    study.optimize(objective, n_trials=n_trials, callbacks=[optuna_mip.StopWhenAllFixed()])
    return study


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_only_important_parameter_is_fixed_last_at_its_best_value(seed: int) -> None:
    study = run_mip(four_params, cost=COST, seed=seed)
    history = optuna_mip.pruning_history(study)

    assert [d.round for d in history] == [1, 2, 3, 4]
    assert {d.param for d in history[:3]} == {"width", "epochs", "batch"}
    last = history[-1]
    assert (last.param, last.value, last.reason) == ("depth", 8, "best")
    for d in history:
        assert d.param in d.importances
        assert min(d.importances, key=d.importances.__getitem__) == d.param
        assert sum(d.importances.values()) == pytest.approx(1.0)
        if d.reason == "cheapest":
            assert d.value == min(COST[d.param], key=COST[d.param].__getitem__)
    assert [d.n_complete_trials for d in history] == [10, 20, 30, 40]
    assert len(study.trials) == optuna_mip.required_trials(4) == 40
    assert study.best_params["depth"] == 8
    assert MIPSampler.fixed_params(study) == {d.param: d.value for d in history}


def test_unimportant_parameter_goes_to_cheapest_important_to_best() -> None:
    # With a threshold of 1.0 every pruned parameter is "unimportant" and goes to its cheapest
    # value, except the last one, whose share among the free parameters is exactly 1.
    study = run_mip(four_params, cost=COST, seed=0, importance_threshold=1.0)
    history = optuna_mip.pruning_history(study)
    for d in history[:3]:
        assert d.reason == "cheapest"
        assert d.value == min(COST[d.param], key=COST[d.param].__getitem__)
    assert (history[-1].param, history[-1].reason, history[-1].value) == ("depth", "best", 8)


def test_trials_use_the_values_fixed_when_they_were_sampled() -> None:
    study = run_mip(four_params, cost=COST, seed=4, samples_per_round=5)
    history = optuna_mip.pruning_history(study)
    for trial in study.trials:
        round_ = len(trial.system_attrs["mip:fixed"])  # One parameter per decision.
        fixed = {d.param: d.value for d in history[:round_]}
        assert trial.system_attrs["mip:fixed"] == fixed
        assert {k: trial.params[k] for k in fixed} == fixed
        # A trial is sampled in round r iff r decisions had been made on earlier trials.
        assert round_ == sum(d.last_trial_number < trial.number for d in history)


def test_failed_trials_and_pruned_trials_without_reports_are_not_evidence() -> None:
    def objective(trial: Trial) -> float:
        value = four_params(trial)
        if trial.number % 4 == 1:
            raise RuntimeError("training diverged")
        if trial.number % 4 == 2:
            raise optuna.TrialPruned()  # Pruned before it reported anything.
        return value

    study = optuna.create_study(direction="maximize", sampler=MIPSampler(cost=COST, seed=0))
    study.optimize(objective, n_trials=80, catch=(RuntimeError,))
    history = optuna_mip.pruning_history(study)
    assert len(history) == 4
    assert [d.n_complete_trials for d in history] == [10, 20, 30, 40]
    complete = [t.number for t in study.trials if t.state == TrialState.COMPLETE]
    assert [d.last_trial_number for d in history] == [complete[9], complete[19], complete[29], complete[39]]

    # The same decisions come out of the trials alone.
    assert_decisions_are_pure(study, COST)


def test_pruned_trials_count_with_their_last_reported_value() -> None:
    # Every other trial is pruned after two reports; the last one carries the depth signal.
    def objective(trial: Trial) -> float:
        value = four_params(trial)
        if trial.number % 2 == 1:
            trial.report(0.0, step=1)
            trial.report(value, step=2)
            raise optuna.TrialPruned()
        return value

    study = optuna.create_study(direction="maximize", sampler=MIPSampler(cost=COST, seed=0))
    study.optimize(objective, n_trials=100, callbacks=[optuna_mip.StopWhenAllFixed()])
    history = optuna_mip.pruning_history(study)
    assert [d.n_complete_trials for d in history] == [10, 20, 30, 40]
    assert [d.last_trial_number for d in history] == [9, 19, 29, 39]
    assert (history[-1].param, history[-1].value) == ("depth", 8)
    # "Best" decisions point at complete trials whenever a round has one with the parameter.
    for d in history:
        assert study.trials[d.best_trial_number].state == TrialState.COMPLETE
    assert_decisions_are_pure(study, COST)


def test_complete_trials_are_best_before_pruned_ones_which_rank_by_last_step() -> None:
    x = {"x": CategoricalDistribution([0, 1, 2, 3])}

    def trial(value: float, state: TrialState, steps: dict[int, float] | None = None) -> Any:
        return optuna.trial.create_trial(
            params={"x": 0},
            distributions=x,
            value=value if state == TrialState.COMPLETE else None,
            intermediate_values=steps,
            state=state,
        )

    pruned_early = trial(0.0, TrialState.PRUNED, {1: 100.0})
    pruned_late = trial(0.0, TrialState.PRUNED, {1: -5.0, 3: 1.0})
    pruned_late_worse = trial(0.0, TrialState.PRUNED, {3: 0.5})
    complete = trial(0.1, TrialState.COMPLETE)
    for i, t in enumerate([pruned_early, pruned_late, pruned_late_worse, complete]):
        t.number = i
    maximize = StudyDirection.MAXIMIZE
    assert _best([pruned_early, pruned_late, pruned_late_worse, complete], maximize) is complete
    assert _best([pruned_early, pruned_late, pruned_late_worse], maximize) is pruned_late
    assert _best([pruned_early, pruned_late_worse], StudyDirection.MINIMIZE) is pruned_late_worse


def test_rounds_progress_under_a_median_pruner() -> None:
    # A learning curve per trial: the final score of "depth" reached in ten steps. MedianPruner
    # stops most trials below the running median; MIP must still decide every round.
    def objective(trial: Trial) -> float:
        final = four_params(trial)
        for step in range(1, 11):
            trial.report(final * step / 10, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return final

    study = optuna.create_study(
        direction="maximize",
        sampler=MIPSampler(cost=COST, seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    study.optimize(objective, n_trials=100, callbacks=[optuna_mip.StopWhenAllFixed()])
    history = optuna_mip.pruning_history(study)
    n_pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
    assert n_pruned >= 10
    assert len(history) == 4 and len(study.trials) == 40
    assert (history[-1].param, history[-1].value) == ("depth", 8)
    assert study.best_params["depth"] == 8
    assert_decisions_are_pure(study, COST)


def test_decisions_wait_for_running_trials_with_lower_numbers() -> None:
    x = {"x": CategoricalDistribution([0, 1])}

    def start(n: int) -> tuple[optuna.Study, list[Trial]]:
        study = optuna.create_study(sampler=MIPSampler(samples_per_round=2, seed=0))
        return study, [study.ask(x) for _ in range(n)]

    study, (held, first, second) = start(3)
    study.tell(first, 1.0)
    study.tell(second, 2.0)
    assert optuna_mip.pruning_history(study) == []  # Trial 0 may still complete.
    study.tell(held, 0.0)
    [decision] = optuna_mip.pruning_history(study)
    assert (decision.n_complete_trials, decision.last_trial_number) == (2, 1)

    # Two workers finishing the last trials of a round at once: neither sees the other's trial
    # as complete in after_trial. Simulate by finishing trial 0 behind the sampler's back; the
    # next trial's before_trial makes the decision.
    study, (held, first) = start(2)
    study.tell(first, 1.0)
    study._storage.set_trial_state_values(held._trial_id, TrialState.COMPLETE, [0.0])
    assert optuna_mip.pruning_history(study) == []
    assert study.ask(x).number == 2
    [decision] = optuna_mip.pruning_history(study)
    assert (decision.n_complete_trials, decision.last_trial_number) == (2, 1)


def test_constant_objective_breaks_ties_by_name() -> None:
    def objective(trial: Trial) -> float:
        for name in ("c", "a", "d", "b"):
            trial.suggest_categorical(name, [0, 1, 2])
        return 1.0

    study = run_mip(objective, seed=0, samples_per_round=3)
    history = optuna_mip.pruning_history(study)
    assert [d.param for d in history] == ["a", "b", "c", "d"]
    assert history[0].importances == {name: 0.0 for name in "abcd"}
    # No cost: nothing is cheaper than anything else, and every trial ties, so the earliest
    # trial's value is used.
    assert all(d.reason == "best" and d.best_trial_number == 0 for d in history)

    # With costs, a degenerate round sends every parameter, the last one too, to its cheapest.
    cost = {name: {0: 3.0, 1: 1.0, 2: 2.0} for name in "abcd"}
    study = run_mip(objective, seed=0, samples_per_round=3, cost=cost)
    history = optuna_mip.pruning_history(study)
    assert [(d.reason, d.value) for d in history] == [("cheapest", 1)] * 4


def test_infinite_and_single_valued_objectives_do_not_break_the_study() -> None:
    def objective(trial: Trial) -> float:
        x = trial.suggest_int("x", 0, 3)
        trial.suggest_categorical("only", ["one"])
        return math.inf if x == 0 else float(x)

    study = run_mip(objective, seed=0, samples_per_round=2)
    assert {d.param for d in optuna_mip.pruning_history(study)} == {"x", "only"}


def test_forest_on_degenerate_data() -> None:
    def importances(values: list[tuple[float, float, float]]) -> dict[str, float]:
        study = optuna.create_study()
        for a, b, y in values:
            study.add_trial(
                optuna.trial.create_trial(
                    params={"a": a, "b": b},
                    distributions={"a": FloatDistribution(0, 9), "b": FloatDistribution(0, 9)},
                    value=y,
                )
            )
        return ForestImportanceEvaluator(seed=0).evaluate(study)

    assert importances([]) == {}
    assert importances([(1.0, 1.0, 1.0)]) == {"a": 0.0, "b": 0.0}
    assert free_importances({"a": 0.0, "b": 0.0}, ["a", "b"]) == {"a": 0.0, "b": 0.0}
    # Column "a" never varies.
    assert importances([(0.0, 1.0, 1.0), (0.0, 2.0, 2.0), (0.0, 3.0, 3.0)]) == {"a": 0.0, "b": 1.0}
    assert free_importances({}, ["c"]) == {"c": 0.0}
    assert free_importances({"c": 0.2, "d": -0.1}, ["c", "d"]) == {"c": 1.0, "d": 0.0}


def test_every_distribution_kind() -> None:
    distributions = {
        "cat": CategoricalDistribution(["sgd", "adam", "rmsprop"]),
        "int": IntDistribution(1, 8),
        "int_step": IntDistribution(0, 20, step=4),
        "int_log": IntDistribution(1, 64, log=True),
        "int_huge": IntDistribution(0, 10**6),
        "float": FloatDistribution(0.0, 1.0),
        "float_log": FloatDistribution(1e-4, 1e-1, log=True),
        "float_step": FloatDistribution(0.0, 1.0, step=0.25),
    }
    cat_cost = {"sgd": 1.0, "adam": 3.0, "rmsprop": 2.0}

    def cost(name: str, value: Any) -> float | None:
        return cat_cost[value] if name == "cat" else float(value)

    def objective(trial: Trial) -> float:
        params = {name: trial._suggest(name, d) for name, d in distributions.items()}
        return params["float"] + math.log(params["float_log"]) + (params["cat"] == "adam")

    study = run_mip(objective, cost=cost, samples_per_round=3, seed=0, importance_threshold=0.5)
    history = optuna_mip.pruning_history(study)
    assert {d.param for d in history} == set(distributions)
    for trial in study.trials:
        for name, value in trial.params.items():
            assert distributions[name]._contains(distributions[name].to_internal_repr(value))
    cheapest = {"cat": "sgd", "int": 1, "int_step": 0, "int_log": 1, "float_step": 0.0}
    by_trial = {t.number: t for t in study.trials}
    for d in history:
        if d.reason == "cheapest":
            assert d.value == cheapest[d.param]
        else:
            assert d.value == by_trial[d.best_trial_number].params[d.param]
    for d in history:
        if d.param in ("int_huge", "float", "float_log"):
            assert d.reason == "best"  # No cost applies to a continuous range.


def test_dynamic_search_space_falls_back_sensibly() -> None:
    def first(trial: Trial) -> float:
        return trial.suggest_int("y", 0, 10) + trial.suggest_float("z", 0.0, 1.0)

    study = optuna.create_study(sampler=MIPSampler(samples_per_round=2, seed=0))
    study.optimize(first, n_trials=4)
    fixed = MIPSampler.fixed_params(study)
    assert set(fixed) == {"y", "z"}

    def second(trial: Trial) -> float:
        return trial.suggest_int("y", 20, 30, step=2) + trial.suggest_float("z", 0.0, 0.5)

    study.optimize(second, n_trials=3)
    for trial in study.trials[4:]:
        assert trial.params["y"] == 20  # Nearest legal value to the fixed one (<= 10).
        assert trial.params["z"] == min(fixed["z"], 0.5)

    # Optuna itself refuses to change a categorical's choices within a study, but a sampler can
    # still be asked about a choice that is gone: then the parameter is sampled as if free.
    trial = study.ask()
    study._storage.set_trial_system_attr(trial._trial_id, "mip:fixed", {"x": "a"})
    choices = CategoricalDistribution(["c", "d"])
    frozen = study._storage.get_trial(trial._trial_id)
    assert study.sampler.sample_independent(study, frozen, "x", choices) in ("c", "d")
    assert study.sampler.sample_independent(
        study, frozen, "x", CategoricalDistribution(["a", "c"])
    ) == "a"


def test_conditional_parameters_are_pruned_too() -> None:
    def objective(trial: Trial) -> float:
        kind = trial.suggest_categorical("kind", ["linear", "tree"])
        if kind == "linear":
            return trial.suggest_float("alpha", 0.0, 1.0)
        return trial.suggest_int("depth", 1, 5) / 5

    study = run_mip(objective, seed=0, samples_per_round=4)
    assert {d.param for d in optuna_mip.pruning_history(study)} == {"kind", "alpha", "depth"}
    assert "kind" in MIPSampler.fixed_params(study)


def test_the_sampler_stops_the_study_once_every_parameter_is_fixed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    study = optuna.create_study(direction="maximize", sampler=MIPSampler(cost=COST, seed=0))
    study.optimize(four_params, n_trials=100)
    assert len(optuna_mip.pruning_history(study)) == 4
    assert len(study.trials) == 40

    # Ask-and-tell has no loop to stop: the sampler says so once.
    study = optuna.create_study(
        direction="maximize", sampler=MIPSampler(cost=COST, seed=0, samples_per_round=2)
    )
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level("WARNING", logger="optuna"):
            for _ in range(12):
                trial = study.ask()
                study.tell(trial, four_params(trial))
    finally:
        optuna.logging.disable_propagation()
    assert len(optuna_mip.pruning_history(study)) == 4
    said = {r.getMessage() for r in caplog.records if "fixed all 4 parameters" in r.getMessage()}
    assert len(said) == 1

    # Asked to go on (e.g. to measure the final setting again): the study runs its n_trials.
    sampler = MIPSampler(cost=COST, seed=0, samples_per_round=2, stop_when_done=False)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(four_params, n_trials=12)
    assert len(study.trials) == 12
    assert all(t.params == MIPSampler.fixed_params(study) for t in study.trials[8:])


def test_required_trials() -> None:
    assert optuna_mip.required_trials(6) == 60
    assert optuna_mip.required_trials(3, samples_per_round=4) == 12
    with pytest.raises(ValueError):
        optuna_mip.required_trials(-1)


def test_decisions_are_published_only_on_request() -> None:
    study = run_mip(four_params, cost=COST, seed=0)
    assert study.user_attrs == {}  # The sampler writes only its own system attributes.
    system_attrs = study._storage.get_study_system_attrs(study._study_id)
    assert {k for k in system_attrs if not k.startswith("mip:")} == set()

    study = optuna.create_study(direction="maximize", sampler=MIPSampler(cost=COST, seed=0))
    study.optimize(
        four_params,
        n_trials=100,
        callbacks=[optuna_mip.StopWhenAllFixed(), optuna_mip.PublishDecisions()],
    )
    history = optuna_mip.pruning_history(study)
    assert study.user_attrs["mip:fixed"] == MIPSampler.fixed_params(study)
    for d in history:
        line = study.user_attrs[f"mip:round:{d.round:02d}"]
        assert line.startswith(f"round {d.round}: fixed {d.param!r} = {d.value!r} ({d.reason};")



def test_dashboard_note_and_importance_plot() -> None:
    # Optional extras of the sampler: skipped where only its own dependencies are installed.
    optuna_dashboard = pytest.importorskip("optuna_dashboard")
    go = pytest.importorskip("plotly.graph_objects")
    study = optuna.create_study(direction="maximize", sampler=MIPSampler(cost=COST, seed=0))
    study.optimize(four_params, n_trials=100, callbacks=[optuna_mip.PublishDecisions()])
    history = optuna_mip.pruning_history(study)
    note = optuna_dashboard.get_note(study)
    assert "Minimum Importance Pruning" in note and "`ForestImportanceEvaluator`" in note
    for d in history:
        assert f"| {d.round} | `{d.param}` | `{d.value!r}` | {d.reason} |" in note

    figure = optuna_mip.plot_importance_history(study)
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == [d.param for d in history]
    depth = figure.data[-1]
    assert list(depth.x) == [1, 2, 3, 4]
    assert list(depth.y) == [d.importances["depth"] for d in history]

    assert len(optuna_mip.plot_importance_history(optuna.create_study()).data) == 0


def test_multi_objective_studies_are_refused() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=MIPSampler(cost=COST))
    with pytest.raises(ValueError, match="multi-objective"):
        study.optimize(lambda t: (four_params(t), 0.0), n_trials=2)


def test_minimize_prunes_towards_the_lowest_objective() -> None:
    study = optuna.create_study(direction="minimize", sampler=MIPSampler(cost=COST, seed=0))
    study.optimize(
        lambda t: -four_params(t), n_trials=100, callbacks=[optuna_mip.StopWhenAllFixed()]
    )
    last = optuna_mip.pruning_history(study)[-1]
    assert (last.param, last.value, last.reason) == ("depth", 8, "best")
    assert study.best_params["depth"] == 8
    assert_decisions_are_pure(study, COST)


def test_infeasible_trials_are_never_best() -> None:
    # depth 8 scores best but violates the constraint; 16 is the best feasible value.
    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [1.0 if trial.params["depth"] == 8 else -1.0]

    study = run_mip(four_params, cost=COST, seed=0, constraints_func=constraints)
    last = optuna_mip.pruning_history(study)[-1]
    assert (last.param, last.value, last.reason) == ("depth", 16, "best")
    assert all(t.system_attrs["constraints"] for t in study.trials)
    assert study.best_params["depth"] == 16


def test_unused_conditional_parameter_is_retired_without_a_round() -> None:
    # "kind" matters most... no: "alpha" and "depth" matter, "kind" does not; once "kind" is
    # fixed, one of its children is never suggested again and must not cost a round.
    def objective(trial: Trial) -> float:
        trial.suggest_categorical("noise", [0, 1, 2])
        if trial.suggest_categorical("kind", ["linear", "tree"]) == "linear":
            return trial.suggest_float("alpha", 0.0, 1.0)
        return trial.suggest_int("depth", 1, 5) / 5

    cost = {"kind": {"linear": 1.0, "tree": 2.0}}
    study = run_mip(objective, cost=cost, seed=0, samples_per_round=6, importance_threshold=1.0)
    history = optuna_mip.pruning_history(study)
    kind = next(d for d in history if d.param == "kind")
    child = "depth" if kind.value == "linear" else "alpha"
    retired = [d for d in history if d.reason == "unused"]
    assert [d.param for d in retired] == [child]
    # Retired together with the next round's decision: same evidence, no extra round.
    [same_round] = [d for d in history if d.round == retired[0].round + 1]
    assert same_round.n_complete_trials == retired[0].n_complete_trials
    rounds = [d for d in history if d.reason != "unused"]
    assert [d.n_complete_trials for d in rounds] == [6 * (i + 1) for i in range(len(rounds))]
    assert len(rounds) == 3  # noise, kind and the used child: three rounds for four parameters.
    assert_decisions_are_pure(study, cost)


def test_numeric_categorical_values_are_ordered_by_value() -> None:
    from optuna_mip.importance import design_matrix

    distribution = CategoricalDistribution([32, 8, 16])
    trials = [
        optuna.trial.create_trial(params={"w": w}, distributions={"w": distribution}, value=0.0)
        for w in (16, 32, 8)
    ]
    assert design_matrix(trials, ["w"])[:, 0].tolist() == [16.0, 32.0, 8.0]
    mixed = CategoricalDistribution(["a", 1])
    trials = [
        optuna.trial.create_trial(params={"m": m}, distributions={"m": mixed}, value=0.0)
        for m in (1, "a")
    ]
    assert design_matrix(trials, ["m"])[:, 0].tolist() == [1.0, 0.0]  # Choice index.


def test_stuck_trial_is_reported_once_within_a_round(caplog: pytest.LogCaptureFixture) -> None:
    k = 5
    study = optuna.create_study(
        direction="maximize", sampler=MIPSampler(cost=COST, seed=0, samples_per_round=k)
    )
    study.ask()  # Asked and never told: trial 0 stays RUNNING.
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level("WARNING", logger="optuna"):
            study.optimize(four_params, n_trials=2 * k - 1)
            assert not [r for r in caplog.records if "still RUNNING" in r.getMessage()]
            study.optimize(four_params, n_trials=3 * k)
    finally:
        optuna.logging.disable_propagation()
    # The round needs k finished trials; the warning comes once, when it has k more.
    stalls = {r.getMessage() for r in caplog.records if "still RUNNING" in r.getMessage()}
    assert len(stalls) == 1
    [stall] = stalls
    assert f"needs {k} finished trials and has {2 * k}" in stall
    assert "trial 0" in stall and "fail_stale_trials" in stall
    assert optuna_mip.pruning_history(study) == []  # Decisions stay a function of the study.
    study.tell(0, state=TrialState.FAIL)
    study.optimize(four_params, n_trials=1)
    assert len(optuna_mip.pruning_history(study)) >= 1


def test_a_live_workers_running_trial_is_not_reported_as_stuck(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    # Another worker's trial with a fresh heartbeat: it holds the round back only until it ends.
    k = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=60, grace_period=600
        )
    study = optuna.create_study(
        storage=storage,
        direction="maximize",
        sampler=MIPSampler(cost=COST, seed=0, samples_per_round=k),
    )
    live = study.ask()
    storage.record_heartbeat(live._trial_id)
    optuna.logging.enable_propagation()
    try:
        with caplog.at_level("WARNING", logger="optuna"):
            study.optimize(four_params, n_trials=3 * k)
    finally:
        optuna.logging.disable_propagation()
    assert not [r for r in caplog.records if "still RUNNING" in r.getMessage()]


@pytest.mark.parametrize(
    "evaluator",
    [
        optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=0),
        optuna.importance.FanovaImportanceEvaluator(seed=0),
        optuna.importance.PedAnovaImportanceEvaluator(),
    ],
    ids=["mdi", "fanova", "ped-anova"],
)
def test_optuna_importance_evaluators(evaluator: Any) -> None:
    study = run_mip(four_params, cost=COST, seed=0, importance_evaluator=evaluator)
    history = optuna_mip.pruning_history(study)
    assert {d.param for d in history} == set(COST)
    assert history[-1].param == "depth" and history[-1].value == 8
    config = study._storage.get_study_system_attrs(study._study_id)["mip:config"]
    assert config["importance_evaluator"] == type(evaluator).__name__


def confounded_trials(sign: float) -> list[optuna.trial.FrozenTrial]:
    # "a" = 1 adds 1 and "b" = 1 adds 3, but "a" = 1 mostly came with "b" = 0, so the trials
    # with "a" = 1 score lower on average (1.6 vs 2.9); and one trial with "a" = 0 got +5 of noise.
    space = {"a": CategoricalDistribution([0, 1]), "b": CategoricalDistribution([0, 1])}
    trials = []
    for i in range(20):
        a = i % 2
        b = a if i % 10 < 2 else 1 - a
        value = a + 3 * b + (5.0 if i == 4 else 0.0)
        trials.append(
            optuna.trial.create_trial(params={"a": a, "b": b}, distributions=space, value=sign * value)
        )
    return trials


@pytest.mark.parametrize("direction", [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE])
def test_predicted_value_sees_past_luck_and_confounding(direction: StudyDirection) -> None:
    sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
    trials = confounded_trials(sign)
    mean = {v: sign * np.mean([t.value for t in trials if t.params["a"] == v]) for v in (0, 1)}
    assert _best(trials, direction).params["a"] == 0 and mean[0] > mean[1]
    assert [predicted_best("a", trials, direction, seed=s) for s in range(3)] == [1, 1, 1]
    assert predicted_best("a", trials[:1], direction, seed=0) == trials[0].params["a"]


def test_predicted_value_across_changing_ranges() -> None:
    # The range of "n" grew between trials; the value 8 is outside the first trials' range.
    def trial(n: int, high: int) -> optuna.trial.FrozenTrial:
        return optuna.trial.create_trial(
            params={"n": n}, distributions={"n": IntDistribution(1, high)}, value=float(n)
        )

    trials = [trial(n, 4) for n in (1, 2, 3, 4)] + [trial(n, 8) for n in (5, 8, 6)]
    assert predicted_best("n", trials, StudyDirection.MAXIMIZE, seed=0) == 8
    assert predicted_best("n", trials, StudyDirection.MINIMIZE, seed=0) == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fix_at_predicted_through_the_sampler(seed: int) -> None:
    study = run_mip(four_params, cost=COST, seed=seed, fix_at="predicted")
    history = optuna_mip.pruning_history(study)
    last = history[-1]
    assert (last.param, last.value, last.reason) == ("depth", 8, "predicted")
    assert {d.reason for d in history} <= {"cheapest", "predicted"}
    assert study._storage.get_study_system_attrs(study._study_id)["mip:config"]["fix_at"] == "predicted"
    assert "predicts best" in optuna_mip.decisions_markdown(study)
    assert_decisions_are_pure(study, COST)


def test_fix_at_predicted_ignores_infeasible_trials() -> None:
    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [1.0 if trial.params["depth"] == 8 else -1.0]

    study = run_mip(four_params, cost=COST, seed=0, constraints_func=constraints, fix_at="predicted")
    last = optuna_mip.pruning_history(study)[-1]
    assert (last.param, last.value, last.reason) == ("depth", 16, "predicted")


def test_unknown_fix_at_is_refused() -> None:
    with pytest.raises(ValueError, match="fix_at"):
        MIPSampler(fix_at="mean")  # type: ignore[arg-type]


def test_settings_stored_before_fix_at_existed_are_the_same_settings() -> None:
    study = run_mip(four_params, n_trials=12, cost=COST, seed=0)
    config = dict(study._storage.get_study_system_attrs(study._study_id)["mip:config"])
    del config["fix_at"]  # as written by optuna-mip before fix_at
    study._storage.set_study_system_attr(study._study_id, "mip:config", config)
    study.sampler = MIPSampler(cost=COST, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        study.optimize(four_params, n_trials=10)
    study.sampler = MIPSampler(cost=COST, seed=0, fix_at="predicted")
    with pytest.warns(UserWarning, match="differ from those stored"):
        study.optimize(four_params, n_trials=1)


def _kind_trial(number: int, kind: str, noise: int, noise_choices: list[int]) -> optuna.trial.FrozenTrial:
    """A finished trial of "noise" and "kind" (a-e), with "extra" only when kind == "e"."""
    params: dict[str, Any] = {"noise": noise, "kind": kind}
    distributions: dict[str, Any] = {
        "noise": CategoricalDistribution(noise_choices),
        "kind": CategoricalDistribution(list("abcde")),
    }
    if kind == "e":
        params["extra"], distributions["extra"] = 2, IntDistribution(1, 4)
    t = optuna.trial.create_trial(params=params, distributions=distributions, value=float(number))
    t.number = number
    return t


def test_a_child_is_not_retired_while_its_parent_is_free() -> None:
    # "extra" exists only when kind == "e"; no trial since the previous decision (on "noise")
    # drew "e", but "kind" is still free, so "extra" may still come up: no retirement.
    def trial(number: int, kind: str) -> optuna.trial.FrozenTrial:
        return _kind_trial(number, kind, noise=0, noise_choices=[0, 1])

    used = [trial(n, "e" if n < 2 else "abcd"[n % 4]) for n in range(10)]
    previous = [
        optuna_mip.PruningDecision(1, "noise", 0, "cheapest", {}, 5, 4, 0),
    ]
    settings = RoundSettings(samples_per_round=5, importance_threshold=0.1, forest_seed=0)
    decisions = decide_round(
        used, previous, settings, ForestImportanceEvaluator(seed=0), CostModel(None),
        StudyDirection.MAXIMIZE,
    )
    assert [d.reason for d in decisions] != ["unused"] and all(d.reason != "unused" for d in decisions)

    # Once "kind" is fixed to a branch without "extra", it is retired.
    previous.append(optuna_mip.PruningDecision(2, "kind", "a", "best", {}, 10, 9, 4))
    more = used + [trial(n, "a") for n in range(10, 15)]
    decisions = decide_round(
        more, previous, settings, ForestImportanceEvaluator(seed=0), CostModel(None),
        StudyDirection.MAXIMIZE,
    )
    assert [(d.param, d.reason) for d in decisions] == [("extra", "unused")]


def test_a_worker_with_other_cost_or_temperature_is_told() -> None:
    study = run_mip(four_params, n_trials=5, cost=COST, seed=0)
    cheaper = {**COST, "epochs": {5: 1.0, 10: 10.0, 20: 20.0}}
    for other in (MIPSampler(cost=cheaper, seed=0), MIPSampler(cost=COST, seed=0, temperature=2.0)):
        study.sampler = other
        with pytest.warns(UserWarning, match="differ from those stored"):
            study.optimize(four_params, n_trials=1)
    study.sampler = MIPSampler(cost=dict(COST), seed=0)  # An equal table is the same cost.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        study.optimize(four_params, n_trials=1)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_nan_constraints_raise_as_in_optunas_samplers() -> None:
    study = optuna.create_study(sampler=MIPSampler(constraints_func=lambda t: [float("nan")]))
    with pytest.raises(ValueError, match="NaN"):
        study.optimize(four_params, n_trials=1)


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_constraints_of_pruned_trials_are_stored_and_make_them_infeasible() -> None:
    # All complete trials have depth 2 (worst). Pruned trials with depth 8 report the highest
    # value but are infeasible; the feasible pruned ones have depth 16, which must win.
    def objective(trial: Trial) -> float:
        value = four_params(trial)
        if trial.params["depth"] == 2:
            return value
        trial.report(value, step=1)
        raise optuna.TrialPruned()

    def constraints(trial: optuna.trial.FrozenTrial) -> list[float]:
        return [1.0 if trial.params["depth"] == 8 else -1.0]

    study = optuna.create_study(
        direction="maximize",
        sampler=MIPSampler(cost=COST, seed=0, constraints_func=constraints, samples_per_round=20),
    )
    study.optimize(objective, n_trials=20)
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert pruned and all(t.system_attrs["constraints"] for t in pruned)
    best = _best([t for t in study.trials if t.params["depth"] != 2], StudyDirection.MAXIMIZE)
    assert best.params["depth"] == 16


def test_a_warm_start_decides_the_rounds_its_trials_allow_at_the_first_trial() -> None:
    donor = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    donor.optimize(four_params, n_trials=25)
    study = optuna.create_study(direction="maximize", sampler=MIPSampler(cost=COST, seed=0))
    study.add_trials(donor.trials)
    study.optimize(four_params, n_trials=1)
    assert [d.n_complete_trials for d in optuna_mip.pruning_history(study)] == [10, 20]


def test_a_child_is_not_retired_by_an_unconditional_parameter_fixed_elsewhere() -> None:
    # "extra" exists only when kind == "e" (trials 0 and 1, noise 0 and 1). "noise" is in every trial
    # and is fixed at 2, a value neither of extra's trials had; it is no parent of "extra", and
    # "kind" is still free, so "extra" must not be retired.
    def trial(number: int, kind: str) -> optuna.trial.FrozenTrial:
        return _kind_trial(number, kind, noise=number % 3, noise_choices=[0, 1, 2])

    used = [trial(n, "e" if n < 2 else "abcd"[n % 4]) for n in range(10)]
    previous = [optuna_mip.PruningDecision(1, "noise", 2, "cheapest", {}, 5, 4, 0)]
    settings = RoundSettings(samples_per_round=5, importance_threshold=0.1, forest_seed=0)
    decisions = decide_round(
        used, previous, settings, ForestImportanceEvaluator(seed=0), CostModel(None),
        StudyDirection.MAXIMIZE,
    )
    assert all(d.reason != "unused" for d in decisions)


def test_a_pruned_trial_whose_last_report_is_nan_is_no_evidence() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_categorical("x", [0, 1])
        trial.suggest_categorical("y", [0, 1])
        if trial.number % 3 == 0:
            trial.report(float("nan"), step=1)
            raise optuna.TrialPruned()
        return float(x)

    study = optuna.create_study(sampler=MIPSampler(samples_per_round=4, seed=0), direction="maximize")
    study.optimize(objective, n_trials=30)  # raised ValueError from after_trial before
    assert any(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    assert MIPSampler.fixed_params(study)
