from pathlib import Path

import optuna
import pytest

import optuna_mip
from nas import (
    Architecture,
    BudgetError,
    BudgetSpace,
    RecordedObjective,
    ResultStore,
    TrainingObjective,
    load_dataset,
    read_recorded_budgets,
    sample_genotype,
)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "zheng2020"
needs_reference = pytest.mark.skipif(not REFERENCE.exists(), reason="../shared reference data absent")


def test_paper_space_covers_the_paper_and_costs_follow_flops():
    space = BudgetSpace.from_yaml("paper")
    assert set(space.values) == {"epochs", "batch_size", "lr", "layers", "channels", "precision", "cutout", "image_size"}
    costs = space.value_costs()
    for name in ("epochs", "layers", "channels", "image_size"):
        ordered = [costs[name][value] for value in space.values[name]]
        assert ordered == sorted(ordered) and ordered[0] < ordered[-1], name
    assert costs["epochs"][20] == pytest.approx(2 * costs["epochs"][10])
    assert costs["precision"]["mixed"] == pytest.approx(costs["precision"]["fp32"] / 2)
    assert len(set(costs["lr"].values())) == 1  # the learning rate costs nothing
    cheapest = space.cheapest()
    assert (cheapest.epochs, cheapest.layers, cheapest.channels, cheapest.image_size) == (5, 4, 4, 8)
    assert space.normalised_cost(space.most_expensive()) == 1.0
    assert 0 < space.normalised_cost(cheapest) < 0.001


def test_cutout_scales_with_image_size():
    space = BudgetSpace(values={"image_size": (8, 16, 32)}, fixed={"epochs": 1, "batch_size": 8, "lr": 0.1, "layers": 2, "channels": 4, "cutout": 16})
    assert [space.budget_of({"image_size": size}).cutout for size in (8, 16, 32)] == [4, 8, 16]


@pytest.mark.parametrize(
    "text, message",
    [
        ("values: {epochs: [1, 2]}", "neither searches nor fixes"),
        ("values: {epochs: [1, 2], colour: [red]}\nfixed: {batch_size: 8, lr: 0.1, layers: 2, channels: 2}", "unknown field 'colour'"),
        ("values: {epochs: [0, 2]}\nfixed: {batch_size: 8, lr: 0.1, layers: 2, channels: 2}", "'epochs'"),
        ("values: [", "not valid YAML"),
        ("fixed: {epochs: 1}", "needs a 'values' mapping"),
    ],
)
def test_bad_space_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(BudgetError, match=message):
        BudgetSpace.from_yaml(path)


@needs_reference
def test_recorded_objective_answers_with_the_matching_recorded_budget():
    recorded = read_recorded_budgets(REFERENCE)
    assert len(recorded) == 32
    objective = RecordedObjective(recorded, penalty=0.2)
    task1 = next(r for r in recorded if r.setting == "task1")
    study = optuna.create_study(direction="maximize")
    params = {name: getattr(task1.budget, name) for name in objective.space.values}
    study.enqueue_trial(params)
    study.optimize(objective, n_trials=1)
    trial = study.trials[0]
    assert trial.user_attrs["setting"] == "task1"
    assert round(trial.user_attrs["r_s"], 3) == 0.493
    assert trial.value == pytest.approx(trial.user_attrs["r_s"] - 0.2 * task1.gpu_hours / max(r.gpu_hours for r in recorded))


@needs_reference
def test_mip_on_recorded_budgets_fixes_everything_and_finds_a_good_budget():
    objective = RecordedObjective(read_recorded_budgets(REFERENCE))
    sampler = optuna_mip.MIPSampler(cost=objective.space.value_costs(), seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=optuna.pruners.NopPruner())
    study.optimize(objective, n_trials=200, callbacks=[optuna_mip.StopWhenAllFixed()])
    assert len(optuna_mip.pruning_history(study)) == 8
    assert len(study.trials) == optuna_mip.required_trials(8)
    # Better than the paper's BPE-1 (r_s 0.49), the cheapest corner of the recorded space.
    assert study.best_trial.user_attrs["r_s"] > 0.6


def test_training_objective_trains_once_per_budget_and_records_attributes(tmp_path):
    space = BudgetSpace(
        values={"epochs": (1, 2)},
        fixed={"batch_size": 32, "lr": 0.05, "layers": 2, "channels": 4, "image_size": 16},
    )
    truth = [Architecture(f"a{i}", sample_genotype(i), accuracy=90.0 + i) for i in range(4)]
    store = ResultStore(f"sqlite:///{tmp_path / 'study.db'}")
    objective = TrainingObjective(space, truth, load_dataset("synthetic:256"), store, penalty=0.5, device="cpu", progress=False)
    study = optuna.create_study(direction="maximize")
    for epochs in (1, 1, 2):
        study.enqueue_trial({"epochs": epochs})
    study.optimize(objective, n_trials=3)
    assert store.count() == 8  # 4 architectures x 2 distinct budgets: the repeated budget was not retrained
    first, repeat, longer = study.trials
    assert first.value == repeat.value
    assert set(first.user_attrs["R_b"]) == {"a0", "a1", "a2", "a3"}
    low, high = first.user_attrs["r_s_ci"]
    assert low <= first.user_attrs["r_s"] <= high
    assert longer.user_attrs["cost"] == 1.0 and first.user_attrs["cost"] == pytest.approx(0.5)
    assert first.value == pytest.approx(first.user_attrs["r_s"] - 0.5 * 0.5)


def test_training_objective_needs_full_training_accuracies(tmp_path):
    space = BudgetSpace(values={"epochs": (1,)}, fixed={"batch_size": 8, "lr": 0.1, "layers": 2, "channels": 4})
    archs = [Architecture("a", sample_genotype(0))] * 3
    with pytest.raises(ValueError, match="full-training accuracy"):
        TrainingObjective(space, archs, load_dataset("synthetic:64"), ResultStore(f"sqlite:///{tmp_path / 'r.db'}"))


def test_training_objective_under_several_seeds_ranks_the_per_architecture_means(tmp_path):
    space = BudgetSpace(values={"epochs": (1,)}, fixed={"batch_size": 32, "lr": 0.05, "layers": 2, "channels": 4, "image_size": 16})
    truth = [Architecture(f"a{i}", sample_genotype(i), accuracy=90.0 + i) for i in range(4)]
    store = ResultStore(f"sqlite:///{tmp_path / 'study.db'}")
    objective = TrainingObjective(space, truth, load_dataset("synthetic:256"), store, device="cpu", progress=False, seeds=2)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    assert store.count() == 8  # 4 architectures x 2 seeds
    budget = study.trials[0].user_attrs["budget"]
    from nas import Budget

    per_seed = [store.accuracies(Budget(**{**budget, "seed": seed})).accuracies for seed in (0, 1)]
    expected = {arch.name: (per_seed[0][arch.genotype.hash()] + per_seed[1][arch.genotype.hash()]) / 2 for arch in truth}
    assert study.trials[0].user_attrs["R_b"] == pytest.approx(expected)
    assert "seed_to_seed_spearman" in study.trials[0].user_attrs
