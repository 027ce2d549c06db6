"""Strategies and estimators registered from outside the package, as a user's plugin does."""

import textwrap

import optuna
import pytest

from _cli import run_json, run_nas
from nas import DARTS_V2, Budget, ResultStore, load_dataset, parse_genotype
from nas.estimation import PROXIES, dataset_key, estimators, preset, register_estimator, score
from nas.search import STRATEGIES, make_sampler, register_strategy, strategies
from nas.estimation import _registry
from nas.search import _strategies

TINY = Budget(epochs=1, batch_size=32, lr=0.05, layers=3, channels=4, image_size=16)
TINY_SET = ["--budget", "bpe1", "--set", "epochs=1", "layers=3", "channels=4", "batch_size=32", "image_size=16",
            "auxiliary_weight=0", "drop_path=0"]

# A plugin: a module that registers a strategy when imported.
PLUGIN = textwrap.dedent(
    """
    import optuna
    from nas.search import register_strategy

    register_strategy("quasi-random", lambda seed: optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False))
    """
)


@pytest.fixture(autouse=True)
def _registries_restored(monkeypatch):
    """A test's registrations end with it, so the suite can run twice in one process."""
    monkeypatch.setattr(_strategies, "_factories", dict(_strategies._factories))
    monkeypatch.setattr(_registry, "_registered", dict(_registry._registered))


def test_a_registered_strategy_is_made_by_make_sampler():
    register_strategy("tpe-test", lambda seed: optuna.samplers.TPESampler(seed=seed))
    assert isinstance(make_sampler("tpe-test", 3), optuna.samplers.TPESampler)
    assert strategies()[: len(STRATEGIES)] == STRATEGIES and "tpe-test" in strategies()
    with pytest.raises(ValueError, match="taken"):
        register_strategy("tpe-test", lambda seed: optuna.samplers.RandomSampler(seed=seed))
    with pytest.raises(ValueError, match="taken"):
        register_strategy("darts", lambda seed: optuna.samplers.RandomSampler(seed=seed))


def test_a_registered_estimator_scores_architectures():
    register_estimator("depth", lambda model, batches: float(len(model.cells)))
    assert estimators("proxy")[: len(PROXIES)] == PROXIES and "depth" in estimators("proxy")
    assert score(DARTS_V2, "depth", TINY, load_dataset("synthetic:64"), device="cpu").score == 3.0
    with pytest.raises(ValueError, match="taken"):
        register_estimator("params", lambda model, batches: 0.0)


def test_a_plugin_strategy_runs_through_the_cli(tmp_path):
    (tmp_path / "my_strategies.py").write_text(PLUGIN)
    args = ["search", "--plugin", "my_strategies", "--strategy", "quasi-random", *TINY_SET, "--data", "synthetic:128",
            "--storage", f"sqlite:///{tmp_path / 'search.db'}", "--seed", "0", "--trials", "2", "--quiet"]
    assert run_json(*args, cwd=tmp_path)["n_complete"] == 2
    unknown = run_nas("search", "--plugin", "no_such_plugin", "--strategy", "random", "--trials", "1", *TINY_SET,
                      "--data", "synthetic:128", cwd=tmp_path)
    assert unknown.returncode == 2 and "cannot import plugin 'no_such_plugin'" in unknown.stderr


# A user's estimator, registered in a few lines, as the trials' value of a search.
ESTIMATOR_PLUGIN = textwrap.dedent(
    """
    from nas.estimation import register_estimator

    register_estimator("weight_count", lambda model, batches: float(sum(p.numel() for p in model.parameters())))
    """
)


def test_a_plugin_estimator_is_a_search_objective_and_a_curve_estimator_reads_the_stored_training(tmp_path):
    (tmp_path / "my_estimators.py").write_text(ESTIMATOR_PLUGIN)
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    common = ["--strategy", "random", *TINY_SET, "--data", "synthetic:128", "--storage", storage, "--seed", "0", "--trials", "2", "--quiet"]
    proxied = run_json("search", "--plugin", "my_estimators", "--estimator", "weight_count", *common, cwd=tmp_path)
    study = optuna.load_study(study_name=proxied["study"], storage=storage)
    budget = preset("bpe1").with_settings(TINY_SET[3:])
    for trial in study.trials:
        genotype = parse_genotype(trial.user_attrs["genotype"])
        register_estimator("weight_count", lambda model, batches: float(sum(p.numel() for p in model.parameters())))
        expected = score(genotype, "weight_count", budget, load_dataset("synthetic:128"), device="cpu").score
        _registry._registered.pop("weight_count")
        assert trial.value == expected and "accuracy" not in trial.user_attrs  # nothing was trained
    assert study.user_attrs["estimator"] == "weight_count"

    curved = run_json("search", "--estimator", "sotl", *common, cwd=tmp_path)
    assert curved["study"] != proxied["study"]  # another objective, another default study
    store = ResultStore(storage)
    for trial in optuna.load_study(study_name=curved["study"], storage=storage).trials:
        stored = store.get(parse_genotype(trial.user_attrs["genotype"]), budget, dataset_key(load_dataset("synthetic:128")), "cpu-fp32")
        assert trial.value == -sum(loss for loss, _ in stored.curve) and trial.user_attrs["accuracy"] == stored.accuracy

    unknown = run_nas("search", "--estimator", "no_such", *common, cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown estimator 'no_such'" in unknown.stderr and len(unknown.stderr.splitlines()) == 1
