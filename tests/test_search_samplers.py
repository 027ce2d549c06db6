"""RegularizedEvolutionSampler and ReinforceSampler: Optuna's sampler contract and their own rules.

``optuna.testing.pytest_samplers`` ships the test cases Optuna runs on its own samplers. Both
samplers run the basic, relative (their ``sample_relative`` answers for every parameter it is
given) and single-objective-only cases. Evolution runs with a population of 3 so that the cases
reach its evolving phase, not only the random initial population.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import optuna
from optuna.samplers import BaseSampler
from optuna.trial import Trial, TrialState
import pytest

from nas.search import STRATEGIES, RegularizedEvolutionSampler, ReinforceSampler, make_sampler, trial_line

pytest_samplers = pytest.importorskip(
    "optuna.testing.pytest_samplers", reason="this Optuna does not ship its sampler test cases"
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

SAMPLERS: dict[str, Callable[[], BaseSampler]] = {
    "evolution": lambda: RegularizedEvolutionSampler(population_size=3, sample_size=2, seed=0),
    "reinforce": lambda: ReinforceSampler(momentum=0.5, entropy_weight=0.1, seed=0),
}
CHOICES = ["a", "b", "c", "d"]


class _Fixture:
    # The Optuna test cases define a ``sampler`` fixture that raises; override it in the class.
    @pytest.fixture(params=list(SAMPLERS), ids=list(SAMPLERS))
    def sampler(self, request: pytest.FixtureRequest) -> Callable[[], BaseSampler]:
        return SAMPLERS[request.param]


class TestBasicContract(_Fixture, pytest_samplers.BasicSamplerTestCase):
    pass


class TestRelativeContract(_Fixture, pytest_samplers.RelativeSamplerTestCase):
    pass


class TestSingleObjectiveOnly(_Fixture, pytest_samplers.SingleOnlySamplerTestCase):
    pass


def toy(trial: Trial) -> float:
    """Four categorical parameters and one float; best: every parameter "c", x = 1."""
    values = [trial.suggest_categorical(f"p{i}", CHOICES) for i in range(4)]
    x = trial.suggest_float("x", 0.0, 1.0)
    return sum(CHOICES.index(v) == 2 for v in values) + 0.1 * x


def test_strategies_are_registered() -> None:
    assert STRATEGIES == ("random", "evolution", "reinforce")
    assert isinstance(make_sampler("evolution", 0), RegularizedEvolutionSampler)
    assert isinstance(make_sampler("reinforce", 0), ReinforceSampler)


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_same_seed_same_trials(name: str) -> None:
    def run(seed: int) -> list[dict[str, Any]]:
        factory = {
            "evolution": lambda: RegularizedEvolutionSampler(5, 3, seed=seed),
            "reinforce": lambda: ReinforceSampler(learning_rate=1.0, seed=seed),
        }[name]
        study = optuna.create_study(direction="maximize", sampler=factory())
        study.optimize(toy, n_trials=25)
        return [t.params for t in study.trials]

    assert run(3) == run(3)
    assert run(3) != run(4)


def add_trial(study: optuna.Study, p0: str, value: float | None) -> None:
    study.enqueue_trial({"p0": p0, "p1": "a"})
    trial = study.ask()
    trial.suggest_categorical("p0", CHOICES)
    trial.suggest_categorical("p1", CHOICES)
    study.tell(trial, value, state=TrialState.FAIL if value is None else TrialState.COMPLETE)


def test_population_is_the_youngest_complete_trials() -> None:
    sampler = RegularizedEvolutionSampler(population_size=3, sample_size=2, seed=0)
    study = optuna.create_study(sampler=sampler)
    for p0, value in [("a", 1.0), ("b", None), ("c", 2.0)]:
        add_trial(study, p0, value)
    running = study.ask()  # never a member while running
    assert sampler.population(study) == []  # 2 complete < population_size: still random
    add_trial(study, "d", 3.0)
    assert [t.number for t in sampler.population(study)] == [0, 2, 4]
    add_trial(study, "a", 4.0)
    assert [t.number for t in sampler.population(study)] == [2, 4, 5]  # the oldest died
    study.tell(running, 0.0)  # completes late with a lower number: it is older than 4 and 5
    assert [t.number for t in sampler.population(study)] == [3, 4, 5]


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_child_mutates_one_parameter_of_the_tournament_best(direction: str) -> None:
    # A tournament of 60 draws from 4 members contains the best one with certainty here.
    sampler = RegularizedEvolutionSampler(population_size=4, sample_size=60, seed=1)
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.optimize(toy, n_trials=30)
    for child in study.trials[4:]:
        parent = study.trials[child.system_attrs["evolution:parent"]]
        members = [t for t in study.trials if child.number - 4 <= t.number < child.number]
        assert parent.value == (max if direction == "maximize" else min)(t.value for t in members)
        changed = {n for n in child.params if n != "x" and child.params[n] != parent.params[n]}
        assert changed == {child.system_attrs["evolution:mutated"]}
    best = study.best_value
    assert best >= 3.5 if direction == "maximize" else best <= 0.1


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_reinforce_moves_toward_the_rewarded_value(direction: str) -> None:
    sign = 1.0 if direction == "maximize" else -1.0
    sampler = ReinforceSampler(learning_rate=0.3, seed=0)
    study = optuna.create_study(direction=direction, sampler=sampler)
    study.optimize(lambda t: sign * toy(t), n_trials=60)
    policy = sampler.policy(study)
    assert set(policy) == {"p0", "p1", "p2", "p3"}  # the float is not part of the policy
    for probabilities in policy.values():
        assert probabilities["c"] > 0.75  # from 0.25
        assert sum(probabilities.values()) == pytest.approx(1.0)


def test_reinforce_replays_when_a_lower_numbered_trial_completes_late() -> None:
    sampler = ReinforceSampler(learning_rate=1.0, momentum=0.5, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(toy, n_trials=10)
    late = study.ask()
    for i in range(4):
        late.suggest_categorical(f"p{i}", CHOICES)
    late.suggest_float("x", 0.0, 1.0)
    study.optimize(toy, n_trials=5)
    before = sampler.policy(study)  # remembers trials 0-9 and 11-15
    study.tell(late, 4.0)
    after = sampler.policy(study)
    assert after == ReinforceSampler(learning_rate=1.0, momentum=0.5, seed=0).policy(study)
    assert after != before


def test_multi_objective_study_is_refused_at_the_first_suggestion() -> None:
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=SAMPLERS["reinforce"]())
    with pytest.raises(ValueError, match="single-objective"):
        study.optimize(lambda t: (toy(t), 0.0), n_trials=1)


def test_genotype_mutation_moves_one_input_or_changes_one_operation_half_the_time_each() -> None:
    import numpy as np

    from nas.space import SAMPLED_OPERATIONS, genotype_to_params, mutate_genotype_params, sample_genotype

    def searched(params: dict) -> dict:  # the first node's inputs have one choice: samplers leave them out
        return {name: value for name, value in params.items() if not name.endswith("node2_inputs")}

    space = {name: optuna.distributions.CategoricalDistribution(SAMPLED_OPERATIONS) for name in genotype_to_params(sample_genotype(0))}
    rng, kinds = np.random.default_rng(0), []
    for seed in range(600):
        parent = searched(genotype_to_params(sample_genotype(seed)))
        child, mutated = mutate_genotype_params(parent, space, rng)
        assert set(child) == set(parent)
        parent = {**parent, "normal_node2_inputs": "0-1", "reduce_node2_inputs": "0-1"}
        child = {**child, "normal_node2_inputs": "0-1", "reduce_node2_inputs": "0-1"}
        node = mutated.rsplit("_", 1)[0]
        assert {n for n in child if child[n] != parent[n]} <= {f"{node}_inputs", f"{node}_op0", f"{node}_op1"}
        edges = {(child[f"{node}_op{slot}"], int(child[f"{node}_inputs"].split("-")[slot])) for slot in (0, 1)}
        before = {(parent[f"{node}_op{slot}"], int(parent[f"{node}_inputs"].split("-")[slot])) for slot in (0, 1)}
        assert len(edges & before) == 1  # exactly one edge changed: its input or its operation
        moved = mutated.endswith("_inputs")
        kept_ops = sorted(op for op, _ in edges) == sorted(op for op, _ in before)
        assert moved == kept_ops  # an input moves with its operation; otherwise an operation changes
        kinds.append(moved)
    assert 0.45 < np.mean(kinds) < 0.55  # Real et al.: each kind with probability 1/2
    assert mutate_genotype_params({"p0": "a"}, {"p0": space["normal_node2_op0"]}, rng) == ({"p0": "a"}, None)


def _pruned_then_complete(study: optuna.Study, pruned_value: float, complete_value: float) -> None:
    for p0, state, value in (("c", TrialState.PRUNED, pruned_value), ("a", TrialState.COMPLETE, complete_value)):
        study.enqueue_trial({"p0": p0, "p1": "a"})
        trial = study.ask()
        trial.suggest_categorical("p0", CHOICES)
        trial.suggest_categorical("p1", CHOICES)
        trial.report(value, 1)
        study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)


def test_a_pruned_trial_competes_with_its_last_reported_value() -> None:
    sampler = RegularizedEvolutionSampler(population_size=2, sample_size=40, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    _pruned_then_complete(study, pruned_value=0.9, complete_value=0.5)
    assert [t.number for t in sampler.population(study)] == [0, 1]
    child = study.ask()
    child.suggest_categorical("p0", CHOICES)
    assert study._storage.get_trial_system_attrs(child._trial_id)["evolution:parent"] == 0  # 0.9 beats 0.5


def test_reinforce_rewards_a_pruned_trial_by_its_last_reported_value() -> None:
    def policy(state: TrialState) -> dict:
        sampler = ReinforceSampler(learning_rate=1.0, seed=0)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        _pruned_then_complete(study, pruned_value=0.9, complete_value=0.1)
        if state == TrialState.COMPLETE:  # the same history with the first trial complete at 0.9
            study = optuna.create_study(direction="maximize", sampler=sampler)
            for p0, value in (("c", 0.9), ("a", 0.1)):
                study.enqueue_trial({"p0": p0, "p1": "a"})
                study.optimize(lambda t: (t.suggest_categorical("p0", CHOICES), t.suggest_categorical("p1", CHOICES)) and value, n_trials=1)
        return sampler.policy(study)

    pruned, complete = policy(TrialState.PRUNED), policy(TrialState.COMPLETE)
    assert pruned == complete and pruned["p0"]["c"] > 0.25


def test_evolution_over_the_genotype_parameters_mutates_every_child() -> None:
    from nas.space import mutate_genotype_params, suggest_genotype

    sampler = RegularizedEvolutionSampler(population_size=3, sample_size=2, seed=0, mutation=mutate_genotype_params)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda trial: float(len(suggest_genotype(trial).hash()) + trial.number % 5), n_trials=12)
    for child in study.trials[3:]:
        parent = study.trials[child.system_attrs["evolution:parent"]]
        changed = {name for name in child.params if child.params[name] != parent.params[name]}
        assert child.system_attrs["evolution:mutated"] in changed and len(changed) <= 3


def test_a_trial_line_says_the_outcome_and_which_trial_evolution_mutated() -> None:
    def objective(trial: Trial) -> float:
        x, y = trial.suggest_categorical("x", CHOICES), trial.suggest_categorical("y", CHOICES)
        trial.set_user_attr("hash", f"{x}{y}" * 4)
        if trial.number == 4:
            raise optuna.TrialPruned()
        return CHOICES.index(x) + CHOICES.index(y) / 10

    study = optuna.create_study(direction="maximize", sampler=RegularizedEvolutionSampler(population_size=3, sample_size=2, seed=0))
    study.optimize(objective, n_trials=6)
    lines = [trial_line(trial, study) for trial in study.trials]
    assert all(" completed, accuracy " in line and "child of" not in line for line in lines[:3]), lines
    assert lines[4].startswith("trial 4 ") and " pruned before its first epoch | " in lines[4], lines[4]
    for trial, line in zip(study.trials[3:], lines[3:]):
        assert f" | child of trial {trial.system_attrs['evolution:parent']} | best " in line, line
