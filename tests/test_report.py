"""Reports of a budget search: Table 1, Fig. 4, importances against their null, the report folder."""

from __future__ import annotations

from pathlib import Path
import re

import numpy as np
import optuna
from optuna.distributions import CategoricalDistribution
import pytest

import nas
from nas import BudgetSpace, RecordedObjective, read_recorded_budgets
from nas.budget_search._analysis import MIN_TRIALS_FOR_FOREST, budget_key, spend_curve
import optuna_mip


optuna.logging.set_verbosity(optuna.logging.WARNING)

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "zheng2020"

# A synthetic space: only "layers" drives r_s; "epochs" (eight values) and "channels" (two) are flat.
SYNTHETIC = BudgetSpace(
    values={"epochs": (1, 2, 3, 4, 5, 6, 7, 8), "layers": (3, 5, 8), "channels": (4, 8)},
    fixed={"batch_size": 64, "lr": 0.1},
)
LAYERS_R_S = {3: 0.2, 5: 0.45, 8: 0.7}


def synthetic_study(n_trials: int = 60, seed: int = 0) -> optuna.Study:
    rng = np.random.default_rng(seed)
    distributions = {name: CategoricalDistribution(list(values)) for name, values in SYNTHETIC.values.items()}
    study = optuna.create_study(direction="maximize")
    for _ in range(n_trials):
        params = {name: values[rng.integers(len(values))] for name, values in SYNTHETIC.values.items()}
        r_s = LAYERS_R_S[params["layers"]] + rng.normal(0.0, 0.03)
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=distributions,
                value=r_s,
                user_attrs={"r_s": r_s, "r_s_ci": [r_s - 0.1, r_s + 0.1], "kendall": r_s * 0.7, "cost": 0.0},
            )
        )
    return study


@pytest.fixture(scope="module")
def recorded() -> RecordedObjective:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE}")
    return RecordedObjective(read_recorded_budgets(REFERENCE))


@pytest.fixture(scope="module")
def mip_study(recorded: RecordedObjective) -> optuna.Study:
    """Three rounds of MIP on the paper authors' recorded budgets (cheap settings, many repeats)."""
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna_mip.MIPSampler(cost=recorded.space.value_costs(), seed=0),
        pruner=optuna.pruners.NopPruner(),  # every trial measured in full
    )
    study.optimize(recorded, n_trials=30)
    return study


# ----------------------------------------------------------------------------------- Table 1


def test_table_is_sorted_and_deduplicated_on_recorded_study(mip_study, recorded) -> None:
    rows = nas.budget_table(mip_study, recorded.space, top=5)
    complete = mip_study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    n_distinct = len({budget_key(t) for t in complete})
    assert n_distinct < len(complete), "MIP should repeat budgets, or deduplication is not tested"

    assert len(rows) == min(5, n_distinct)
    objectives = [row["objective"] for row in rows]
    assert objectives == sorted(objectives, reverse=True)
    assert len({row["setting"] for row in rows}) == len(rows)
    assert rows[0]["objective"] == pytest.approx(mip_study.best_value)
    assert rows[0]["setting"] == mip_study.best_trial.user_attrs["setting"]
    for row in rows:
        trial = mip_study.trials[row["trial"]]
        assert row["n_trials"] == sum(budget_key(t) == budget_key(trial) for t in complete)
        assert row["r_s_ci"][0] <= row["r_s"] <= row["r_s_ci"][1]
        assert set(recorded.space.values) <= set(row) and "gpu_hours" in row and "kendall" in row

    text = nas.format_table(rows)
    lines = text.strip().splitlines()
    assert lines[0].count("|") == len(rows) + 2
    assert f"| setting | {rows[0]['setting']} |" in text
    assert any(line.startswith("| r_s 95% CI | [") for line in lines)


def test_table_keeps_best_trial_per_budget_and_prefers_cheaper_ties() -> None:
    distribution = {"epochs": CategoricalDistribution([1, 2, 3])}

    def add(epochs: int, value: float, cost: float, budget: dict) -> None:
        study.add_trial(
            optuna.trial.create_trial(
                params={"epochs": epochs},
                distributions=distribution,
                value=value,
                user_attrs={"r_s": value, "cost": cost, "budget": budget},
            )
        )

    study = optuna.create_study(direction="maximize")
    add(1, 0.5, 0.1, {"epochs": 1})
    add(3, 0.6, 0.9, {"epochs": 3})
    add(2, 0.6, 0.2, {"epochs": 2})  # same objective as trial 1, cheaper: ranks first
    add(3, 0.6, 0.9, {"epochs": 3})  # repeat of trial 1's budget
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    space = BudgetSpace(values={"epochs": (1, 2, 3)}, fixed={"batch_size": 64, "lr": 0.1, "layers": 3, "channels": 4})

    rows = nas.budget_table(study, space, top=10)
    assert [(row["trial"], row["epochs"], row["n_trials"]) for row in rows] == [(2, 2, 1), (1, 3, 2), (0, 1, 1)]
    assert [row["trial"] for row in nas.budget_table(study, space, top=2)] == [2, 1]
    assert spend_curve(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))).tolist() == pytest.approx(
        [0.1, 1.0, 1.2, 1.2]
    )


# ----------------------------------------------------------------------------------- Fig. 4


def test_effects_figure_has_one_subplot_per_parameter(mip_study, recorded) -> None:
    figure = nas.plot_hyperparameter_effects(mip_study, recorded.space)
    names = list(recorded.space.values)
    titles = [annotation.text for annotation in figure.layout.annotations]
    importances = nas.parameter_importances(mip_study, recorded.space)
    assert titles == [f"{name} ({importances[name]:.2f})" for name in names]
    assert len({trace.xaxis for trace in figure.data}) == len(names)
    for name, axis in zip(names, sorted({trace.xaxis for trace in figure.data}, key=lambda a: int(a[1:] or 1))):
        curve = [t for t in figure.data if t.xaxis == axis and t.mode == "lines+markers"]
        assert len(curve) == 1 and list(curve[0].x) == [str(v) for v in recorded.space.values[name]]


def test_effects_curve_is_steep_for_the_driver_and_flat_otherwise() -> None:
    figure = nas.plot_hyperparameter_effects(synthetic_study(), SYNTHETIC)
    curves = {trace.name.split()[0]: np.asarray(trace.y) for trace in figure.data if trace.mode == "lines+markers"}
    assert curves["layers"][-1] - curves["layers"][0] > 0.3  # true effect 0.5, with the others averaged out
    assert np.all(np.diff(curves["layers"]) > 0)
    assert np.ptp(curves["epochs"]) < 0.1 and np.ptp(curves["channels"]) < 0.1


# ----------------------------------------------------------------------------------- null


def test_driver_is_above_its_null_and_flat_parameters_are_not() -> None:
    study = synthetic_study()
    importance = nas.parameter_importances(study, SYNTHETIC)
    null = nas.null_importances(study, SYNTHETIC, n_shuffles=20, seed=0)
    assert set(null) == set(SYNTHETIC.values)
    assert importance["layers"] > null["layers"][1] + 0.3
    for flat in ("epochs", "channels"):
        assert importance[flat] <= null[flat][1]
    # The bias the null corrects: shuffled, the eight-valued parameter takes more than the two-valued one.
    assert null["epochs"][0] > null["channels"][0]
    for mean, p95 in null.values():
        assert 0.0 <= mean <= p95 <= 1.0

    figure = nas.plot_importance_vs_null(study, SYNTHETIC, n_shuffles=5)
    assert list(figure.data[0].x)[0] == "layers"


def test_null_needs_trials_and_shuffles() -> None:
    small = synthetic_study(n_trials=MIN_TRIALS_FOR_FOREST - 1)
    assert nas.null_importances(small, SYNTHETIC) == {} and nas.parameter_importances(small, SYNTHETIC) == {}
    assert "not enough trials" in nas.plot_hyperparameter_effects(small, SYNTHETIC).layout.title.text
    with pytest.raises(ValueError, match="n_shuffles"):
        nas.null_importances(synthetic_study(), SYNTHETIC, n_shuffles=0)


# ----------------------------------------------------------------------------------- report


def test_write_report_on_recorded_mip_study(mip_study, recorded, tmp_path) -> None:
    path = nas.write_report(mip_study, recorded.space, tmp_path / "out", n_shuffles=5)
    assert path == tmp_path / "out" / "report.md"
    text = path.read_text()
    best = mip_study.best_trial
    assert f"Trial {best.number} (recorded setting `{best.user_attrs['setting']}`)" in text
    assert f"objective {best.value:.4f}" in text
    assert f"- Trials: {len(mip_study.trials)} (" in text
    spent = sum({t.user_attrs["setting"]: t.user_attrs["gpu_hours"] for t in mip_study.trials}.values())
    assert f"GPU-hours / arch: {spent:.4g}" in text
    decisions = optuna_mip.pruning_history(mip_study)
    assert len(decisions) == 3
    assert all(f"| {d.round} | `{d.param}` |" in text for d in decisions)
    assert re.search(r"\| \w+ \| 0\.\d{3} \| 0\.\d{3} \| 0\.\d{3} \| (yes|no) \|", text)
    for name in ("hyperparameter_effects", "importance_vs_null", "importance_history", "optimization_history"):
        html = (path.parent / f"{name}.html").read_text()
        assert f"]({name}.html)" in text
        assert 'src="plotly.min.js"' in html  # opens offline
    assert (path.parent / "plotly.min.js").stat().st_size > 1_000_000


def test_write_report_with_three_trials(recorded, tmp_path) -> None:
    study = optuna.create_study(
        direction="maximize", sampler=optuna_mip.MIPSampler(cost=recorded.space.value_costs(), seed=1)
    )
    study.optimize(recorded, n_trials=3)
    text = nas.write_report(study, recorded.space, tmp_path).read_text()
    assert "Not enough trials to fit the random forest (3 complete" in text
    assert "No pruning decision in this study." in text
    assert f"`{nas.budget_table(study, recorded.space)[0]['setting']}`" in text
    assert "not enough trials" in (tmp_path / "hyperparameter_effects.html").read_text()


def test_write_report_without_complete_trials(tmp_path) -> None:
    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    text = nas.write_report(study, SYNTHETIC, tmp_path).read_text()
    assert "No complete trial yet." in text and "- Trials: 1 (1 fail)" in text
    assert nas.budget_table(study, SYNTHETIC) == []


# ----------------------------------------------------------------------------------- noise


def _budget_study(measured: list[tuple[int, float, tuple[float, float]]], n_architectures: int = 10) -> optuna.Study:
    """One trial per (layers, r_s, 95% interval), each r_s measured on ``n_architectures`` architectures."""
    distributions = {"layers": CategoricalDistribution([3, 5, 8])}
    study = optuna.create_study(direction="maximize")
    for layers, r_s, ci in measured:
        attrs = {
            "r_s": r_s, "r_s_ci": list(ci), "kendall": r_s * 0.7, "cost": 0.1,
            "R_b": {f"a{i}": 0.5 for i in range(n_architectures)}, "training_flops": 2.0e12, "mean_seconds": 3.25,
        }
        study.add_trial(
            optuna.trial.create_trial(params={"layers": layers}, distributions=distributions, value=r_s, user_attrs=attrs)
        )
    return study


def test_a_wide_interval_is_called_noise_with_the_architectures_it_would_take() -> None:
    # The demo's numbers: r_s 0.818 in [0.31, 0.99] on 10 architectures; the next budget has r_s 0.75.
    study = _budget_study([(3, 0.818, (0.31, 0.99)), (5, 0.75, (0.2, 0.95)), (8, 0.2, (-0.5, 0.7))])
    verdict = nas.budget_search.noise_verdict(study, SYNTHETIC)
    assert verdict.startswith("Not distinguishable from noise")
    assert "on 10 architectures" in verdict and "r_s of 1 other budget(s) (up to 0.750)" in verdict
    assert "about 559 architectures" in verdict  # 10 * ((0.818 - 0.31) / (0.818 - 0.75))^2 = 558.1


def test_the_architectures_it_would_take_are_set_against_the_reference_set() -> None:
    study = _budget_study([(3, 0.818, (0.31, 0.99)), (5, 0.75, (0.2, 0.95))])
    beyond = nas.budget_search.noise_verdict(study, SYNTHETIC, reference_size=100)
    assert "about 559 architectures" in beyond and "the reference set has 100, so no run on it can separate them." in beyond
    within = nas.budget_search.noise_verdict(study, SYNTHETIC, reference_size=1000)
    assert within.endswith("the reference set has 1000.") and "no run on it" not in within


def test_a_budget_clear_of_the_others_is_distinguishable() -> None:
    study = _budget_study([(3, 0.9, (0.85, 0.95)), (5, 0.6, (0.5, 0.7)), (8, 0.3, (0.1, 0.5))], n_architectures=100)
    verdict = nas.budget_search.noise_verdict(study, SYNTHETIC)
    assert verdict.startswith("Distinguishable from noise") and "above the next best budget's r_s (0.600)" in verdict


def test_a_single_budget_is_judged_against_no_correlation() -> None:
    assert nas.budget_search.noise_verdict(_budget_study([(3, 0.4, (-0.2, 0.8))]), SYNTHETIC).startswith(
        "Not distinguishable from noise"
    )
    assert "zero (no correlation)" in nas.budget_search.noise_verdict(_budget_study([(3, 0.4, (0.1, 0.8))]), SYNTHETIC)


def test_importances_at_their_null_are_called_noise() -> None:
    rng = np.random.default_rng(2)  # pure noise; with 3 parameters about 1 seed in 7 clears a 95th percentile by chance
    distributions = {name: CategoricalDistribution(list(values)) for name, values in SYNTHETIC.values.items()}
    study = optuna.create_study(direction="maximize")
    for _ in range(30):  # r_s independent of every parameter
        r_s = float(rng.normal(0.5, 0.1))
        params = {name: values[rng.integers(len(values))] for name, values in SYNTHETIC.values.items()}
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=distributions, value=r_s, user_attrs={"r_s": r_s, "r_s_ci": [r_s - 0.3, r_s + 0.3]}
            )
        )
    assert "No hyper-parameter's importance is above its null" in nas.budget_search.noise_verdict(study, SYNTHETIC)
    driven = nas.budget_search.noise_verdict(synthetic_study(), SYNTHETIC)
    assert "importance is above its null" not in driven


def test_report_states_the_verdict_and_training_costs(tmp_path) -> None:
    study = _budget_study([(3, 0.818, (0.31, 0.99)), (5, 0.75, (0.2, 0.95))])
    text = nas.write_report(study, SYNTHETIC, tmp_path).read_text()
    assert "**Not distinguishable from noise: the best budget's r_s 0.818" in text
    assert "training seconds / arch (measured here, no data decoding) 3.25" in text
    assert "training FLOPs / arch (multiply-adds) 2e+12" in text


def _paired_study(accuracies: dict[int, list[float]], full: list[float]) -> optuna.Study:
    """One trial per (layers: accuracies of the same architectures), with R_f and R_b recorded."""
    distributions = {"layers": CategoricalDistribution([3, 5, 8])}
    study = optuna.create_study(direction="maximize")
    names = [f"arch_{i:03d}" for i in range(len(full))]
    for layers, budgeted in accuracies.items():
        correlation = nas.estimation.correlate(full, budgeted)
        attrs = {
            "r_s": correlation.spearman, "r_s_ci": list(correlation.spearman_ci), "kendall": correlation.kendall, "cost": 0.1,
            "R_f": dict(zip(names, full)), "R_b": dict(zip(names, budgeted)),
        }
        value = correlation.spearman - 0.01 * layers  # the cheaper of two equal budgets is the best
        study.add_trial(optuna.trial.create_trial(params={"layers": layers}, distributions=distributions, value=value, user_attrs=attrs))
    return study


def test_budgets_differing_by_a_constant_offset_are_not_distinguishable() -> None:
    rng = np.random.default_rng(0)
    full = rng.normal(0.9, 0.02, 40).tolist()
    budgeted = (np.asarray(full) + rng.normal(0, 0.01, 40)).tolist()
    difference = nas.estimation.spearman_difference(full, budgeted, [a - 0.05 for a in budgeted])
    assert difference.delta == 0 and difference.ci == (0, 0) and not difference.distinguishable
    verdict = nas.budget_search.noise_verdict(_paired_study({3: budgeted, 5: [a - 0.05 for a in budgeted]}, full), SYNTHETIC)
    assert verdict.startswith("Not distinguishable from noise") and "Δr_s 0.000, 95% interval [0.00, 0.00]" in verdict
    assert "no number of architectures would separate them" in verdict


def test_a_budget_that_ranks_better_on_the_same_architectures_is_distinguishable() -> None:
    rng = np.random.default_rng(1)
    full = rng.normal(0.9, 0.02, 40)
    good, poor = full + rng.normal(0, 0.005, 40), full + rng.normal(0, 0.04, 40)
    study = _paired_study({3: good.tolist(), 5: poor.tolist()}, full.tolist())
    verdict = nas.budget_search.noise_verdict(study, SYNTHETIC)
    assert verdict.startswith("Distinguishable from noise") and "paired bootstrap over the same 40 architectures" in verdict
