"""DARTS search: the second-order gradient, the derived genotype, and resuming a killed trial."""

from __future__ import annotations

import optuna
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from nas._errors import BudgetError, NasError
from nas.data import load_dataset
from nas.estimation import preset
from nas.store import Checkpoint
from nas.oneshot import DartsObjective, DartsSearch, derive_genotype
from nas.oneshot._darts import checkpoint_folder, relaxed_loss, unrolled_alpha_gradients
from nas.oneshot._supernet import CELL_TYPES, EDGES, Supernet, edge_index
from nas.space import OPERATIONS, parse_genotype

TINY = preset("bpe1").replace(epochs=2, layers=3, channels=4, image_size=8, batch_size=16)


def _tiny_problem(seed: int = 0, batch: int = 6, size: int = 8):
    torch.manual_seed(seed)
    model = Supernet(OPERATIONS, channels=4, layers=3, num_classes=3).double()
    alphas = {name: (0.5 * torch.randn(EDGES, len(OPERATIONS), dtype=torch.float64)).requires_grad_() for name in CELL_TYPES}
    labels = torch.arange(batch) % 3
    train_batch = (torch.randn(batch, 3, size, size, dtype=torch.float64), labels)
    valid_batch = (torch.randn(batch, 3, size, size, dtype=torch.float64), (labels + 1) % 3)
    return model, alphas, train_batch, valid_batch


def _sgd_with_momentum(model, train_batch, alphas, xi, momentum=0.9, weight_decay=0.05):
    """The weight optimiser after one real step, so that its momentum buffers are not zero."""
    optimizer = torch.optim.SGD(model.parameters(), lr=xi, momentum=momentum, weight_decay=weight_decay)
    other_batch = (train_batch[0].flip(0), train_batch[1])  # the buffers come from another batch than the unrolled step's
    relaxed_loss(model, alphas, *other_batch).backward(inputs=list(model.parameters()))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return optimizer


def _unrolled_objective(model, alphas, train_batch, valid_batch, optimizer, *, plain_sgd=False) -> float:
    """L_val(w', alpha) with w' = w - xi * (mu * m + grad_w L_train(w, alpha) + lambda * w) as DARTS
    unrolls (``plain_sgd``: w' = w - xi * grad_w L_train), computed exactly (no Hessian approximation)."""
    (group,) = optimizer.param_groups
    xi, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
    params = {name: p.detach().clone().requires_grad_() for name, p in model.named_parameters()}
    buffers = {name: optimizer.state[p]["momentum_buffer"] for name, p in model.named_parameters()}

    def loss(weights, x, y):
        logits = functional_call(model, weights, (x, {name: F.softmax(alphas[name], dim=-1) for name in CELL_TYPES}))
        return F.cross_entropy(logits, y)

    grads = torch.autograd.grad(loss(params, *train_batch), list(params.values()))
    if plain_sgd:
        unrolled = {name: p - xi * g for (name, p), g in zip(params.items(), grads)}
    else:
        unrolled = {
            name: p - xi * (momentum * buffers[name] + g + weight_decay * p) for (name, p), g in zip(params.items(), grads)
        }
    return loss(unrolled, *valid_batch).item()


def _numeric_derivative(objective, alpha: torch.Tensor, edge: int, op: int, step: float = 1e-6) -> float:
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            alpha[edge, op] += sign * step
        values.append(objective())
        with torch.no_grad():
            alpha[edge, op] -= sign * step
    return (values[0] - values[1]) / (2 * step)


def test_second_order_alpha_gradient_matches_finite_differences() -> None:
    """Against the numerical derivative of the exact unrolled objective (with the weight optimiser's
    momentum buffer and weight decay, as DARTS unrolls), in float64.

    The Hessian step is 1e-5 here instead of DARTS's 0.01, on a 4-pixel supernet: larger steps and
    networks cross ReLU and max-pool kinks, where grad_alpha L_train jumps, and the finite-difference
    product is off by O(1) (DARTS's estimate is that coarse).
    """
    model, alphas, train_batch, valid_batch = _tiny_problem(seed=1, batch=4, size=4)
    xi = 0.5  # large, so the second-order term is far from negligible
    optimizer = _sgd_with_momentum(model, train_batch, alphas, xi)
    second = torch.stack(unrolled_alpha_gradients(model, alphas, train_batch, valid_batch, optimizer, hessian_epsilon=1e-5))
    first = torch.stack(torch.autograd.grad(relaxed_loss(model, alphas, *valid_batch), [alphas[name] for name in CELL_TYPES]))
    # The entries whose second-order term is largest, where a wrong term would show most.
    entries = [tuple(divmod(int(i), EDGES * len(OPERATIONS))) for i in (second - first).flatten().abs().topk(4).indices]
    for slot, flat in entries:
        cell_name, (edge, op) = CELL_TYPES[slot], divmod(flat, len(OPERATIONS))
        numeric = _numeric_derivative(
            lambda: _unrolled_objective(model, alphas, train_batch, valid_batch, optimizer), alphas[cell_name], edge, op
        )
        plain_sgd = _numeric_derivative(
            lambda: _unrolled_objective(model, alphas, train_batch, valid_batch, optimizer, plain_sgd=True),
            alphas[cell_name], edge, op,
        )  # fmt: skip
        implemented, first_order = float(second[slot, edge, op]), float(first[slot, edge, op])
        tolerance = 1e-2 * abs(first_order - numeric)
        assert abs(first_order - numeric) > 1e-2, (cell_name, edge, op)  # the Hessian term matters here
        assert abs(plain_sgd - numeric) > tolerance, (cell_name, edge, op)  # and so do the momentum and decay
        assert implemented == pytest.approx(numeric, abs=tolerance), (cell_name, edge, op)


def test_unrolled_gradient_restores_the_weights() -> None:
    model, alphas, train_batch, valid_batch = _tiny_problem(1)
    optimizer = _sgd_with_momentum(model, train_batch, alphas, 0.1)
    before = [p.detach().clone() for p in model.parameters()]
    unrolled_alpha_gradients(model, alphas, train_batch, valid_batch, optimizer)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_derived_genotype_takes_the_two_strongest_non_none_inputs() -> None:
    alphas = {name: torch.zeros(EDGES, len(OPERATIONS)) for name in CELL_TYPES}
    none, sep3, maxp, dil5 = (OPERATIONS.index(op) for op in ("none", "sep_conv_3x3", "max_pool_3x3", "dil_conv_5x5"))
    # Node 2 (first node): input 1 strongly sep_conv_3x3, input 0 weakly max_pool.
    alphas["normal"][edge_index(0, 1), sep3] = 3.0
    alphas["normal"][edge_index(0, 0), maxp] = 1.0
    # Node 3: 'none' dominates input 0, but it never counts; inputs 1 and 2 win.
    alphas["normal"][edge_index(1, 0), none] = 9.0
    alphas["normal"][edge_index(1, 1), dil5] = 2.0
    alphas["normal"][edge_index(1, 2), sep3] = 1.5
    genotype = derive_genotype(alphas)
    assert genotype.normal.nodes[0] == (("max_pool_3x3", 0), ("sep_conv_3x3", 1))
    assert genotype.normal.nodes[1] == (("dil_conv_5x5", 1), ("sep_conv_3x3", 2))
    assert all(op != "none" for cell in genotype.cells().values() for node in cell.nodes for op, _ in node)
    assert all(len({source for _, source in node}) == 2 for cell in genotype.cells().values() for node in cell.nodes)
    assert parse_genotype(str(genotype)) == genotype
    assert parse_genotype(genotype.to_str("flat")) == genotype


def test_search_derives_a_valid_genotype_each_epoch() -> None:
    dataset = load_dataset("synthetic:80")
    search = DartsSearch(TINY.replace(epochs=1), dataset, order=1, device="cpu")
    record = search.run_epoch()
    assert record.epoch == 1 and 0 <= record.accuracy <= 1
    assert parse_genotype(record.genotype) == search.genotype()


def test_weight_learning_rate_anneals_to_dartss_minimum() -> None:
    search = DartsSearch(TINY, load_dataset("synthetic:80"), order=1, device="cpu")
    for _ in range(TINY.epochs):
        search.weight_optimizer.step()  # no gradients: a step that changes nothing
        search.scheduler.step()
    assert search.weight_optimizer.param_groups[0]["lr"] == pytest.approx(0.001)


class _Killed(Exception):
    pass


class _KillAfterEpoch(optuna.pruners.BasePruner):
    """Stands for ``kill -9`` right after an epoch's checkpoint: Optuna asks it after each report."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def prune(self, study, trial) -> bool:
        if trial.last_step == self.epoch:
            raise _Killed
        return False


def _study(tmp_path, name, pruner=None):
    return optuna.create_study(storage=f"sqlite:///{tmp_path / 'darts.db'}", study_name=name, direction="maximize", pruner=pruner)


def test_darts_trial_killed_after_an_epoch_resumes_to_the_same_genotype(tmp_path, monkeypatch) -> None:
    dataset = load_dataset("synthetic:80")
    params = {"seed": 7, "order": 2}

    reference = _study(tmp_path, "uninterrupted")
    reference.enqueue_trial(params)
    reference.optimize(DartsObjective(TINY, dataset, checkpoint_dir=tmp_path / "a", device="cpu", progress=False), n_trials=1)
    expected = reference.trials[0]

    objective = DartsObjective(TINY, dataset, checkpoint_dir=tmp_path / "b", device="cpu", progress=False)
    killed = _study(tmp_path, "killed", pruner=_KillAfterEpoch(1))
    killed.enqueue_trial(params)
    with pytest.raises(_Killed):
        killed.optimize(objective, n_trials=1)
    folder = checkpoint_folder(tmp_path / "b", TINY.replace(seed=7), 2, dataset)
    assert Checkpoint(folder).load()[0] == 1

    epochs_run = []
    run_epoch = DartsSearch.run_epoch
    monkeypatch.setattr(DartsSearch, "run_epoch", lambda self, *a: epochs_run.append(self.epoch) or run_epoch(self, *a))
    resumed = optuna.load_study(study_name="killed", storage=f"sqlite:///{tmp_path / 'darts.db'}")
    resumed.enqueue_trial(params)
    resumed.optimize(objective, n_trials=1)
    trial = resumed.trials[-1]
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert epochs_run == [1]  # only the second epoch was trained again
    for key in ("genotype", "genotype_epoch_1", "genotype_epoch_2", "alpha_normal", "alpha_reduce"):
        assert trial.user_attrs[key] == expected.user_attrs[key], key
    assert trial.value == expected.value
    assert trial.intermediate_values == expected.intermediate_values
    assert parse_genotype(trial.user_attrs["genotype"]).hash() == parse_genotype(expected.user_attrs["genotype"]).hash()
    assert (expected.user_attrs["genotype_choice"], expected.user_attrs["genotype_from_epoch"]) == ("last", 2)



def test_objective_rejects_what_darts_cannot_search(tmp_path) -> None:
    dataset = load_dataset("synthetic:80")
    with pytest.raises(NasError, match="order"):
        DartsObjective(TINY, dataset, checkpoint_dir=tmp_path, order=3)
    with pytest.raises(BudgetError, match="layers"):
        DartsObjective(TINY.replace(layers=2), dataset, checkpoint_dir=tmp_path)
    for evaluation in ("test-last", "test-best"):
        with pytest.raises(BudgetError, match="evaluation"):
            DartsObjective(TINY.replace(evaluation=evaluation), dataset, checkpoint_dir=tmp_path)
    with pytest.raises(BudgetError, match="batchnorm_init 'uniform' is for training one network"):
        DartsObjective(TINY.replace(batchnorm_init="uniform"), dataset, checkpoint_dir=tmp_path)


def test_best_genotype_is_the_first_epoch_of_best_validation_accuracy() -> None:
    from nas.oneshot import DartsResult, EpochRecord

    history = tuple(EpochRecord(epoch, accuracy, f"g{epoch}") for epoch, accuracy in enumerate((0.3, 0.5, 0.5, 0.4), start=1))
    result = DartsResult(parse_genotype(str(derive_genotype({"normal": torch.zeros(14, 8), "reduce": torch.zeros(14, 8)}))), {}, history)
    assert result.chosen("best").epoch == 2  # ties keep the earlier epoch, as pt.darts' strict "<"
    assert result.chosen("last").epoch == 4 and result.chosen("last").accuracy == result.accuracy
    with pytest.raises(NasError, match="genotype epoch must be one of last, best"):
        result.chosen("first")


def test_objective_returns_the_best_epochs_genotype_when_asked(tmp_path) -> None:
    dataset = load_dataset("synthetic:80")
    budget, params = TINY.replace(epochs=3), {"seed": 3, "order": 1}
    last = _study(tmp_path, "last")
    last.enqueue_trial(params)
    last.optimize(DartsObjective(budget, dataset, checkpoint_dir=tmp_path, device="cpu", progress=False), n_trials=1)
    expected = last.trials[0]
    assert (expected.user_attrs["genotype_choice"], expected.user_attrs["genotype_from_epoch"]) == ("last", 3)
    best = _study(tmp_path, "best")  # the finished search's checkpoint answers at once
    best.enqueue_trial(params)
    best.optimize(DartsObjective(budget, dataset, checkpoint_dir=tmp_path, genotype_epoch="best", device="cpu", progress=False), n_trials=1)
    chosen = best.trials[0]
    epoch = chosen.user_attrs["genotype_from_epoch"]
    values = expected.intermediate_values
    assert chosen.user_attrs["genotype_choice"] == "best" and chosen.value == max(values.values()) == values[epoch]
    assert epoch == min(step for step, value in values.items() if value == chosen.value)
    assert chosen.user_attrs["genotype"] == str(parse_genotype(expected.user_attrs[f"genotype_epoch_{epoch}"]))
