"""Zero-cost proxies: scores of an untrained network that are meant to rank architectures.

Each proxy scores an architecture at a budget's network size (layers, channels, image size) from a
seeded initialisation and a few batches of the budget's training images, in seconds instead of a
training's minutes. A higher score predicts a better architecture. Definitions:

* ``params``, ``flops``: parameters and multiply-accumulates of one image's forward pass (bigger
  networks of the DARTS space tend to be more accurate).
* ``grad_norm`` (Abdelfattah et al. 2021): the sum over weight tensors of the L2 norm of the
  cross-entropy loss's gradient.
* ``snip`` (Lee et al. 2019, as Abdelfattah et al. sum it): ``sum |θ ⊙ ∂L/∂θ|`` over weights.
* ``synflow`` (Tanaka et al. 2020): with every parameter replaced by its absolute value, batch norm
  in eval mode and double precision, ``R`` = the sum of the network's outputs for an all-ones image;
  the score is ``sum |θ ⊙ ∂R/∂θ|``. It needs no data.
* ``jacob_cov`` (Mellor et al. 2020, v1): the correlation matrix ``Σ`` of the per-image gradients of the
  summed logits with respect to the input; ``-sum_i log(λ_i + k) + 1 / (λ_i + k)`` over ``Σ``'s
  eigenvalues, ``k = 1e-5``. Less correlated gradients (eigenvalues near 1) score higher.
* ``naswot`` (Mellor et al. 2021): each ReLU's output as a binary code per image; ``K[i, j]`` = the
  number of units where images ``i`` and ``j`` agree (``N_A`` minus the Hamming distance) summed over
  ReLUs; the score is ``log |det K|``. Networks that tell images apart score higher.

Weights are those of convolutions and linear layers. The network has no auxiliary head (it is
dropped after training) and no drop-path; everything runs in fp32 whatever the budget's precision,
except synflow (fp64). The same seed on CPU gives the same score.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from nas._errors import NasError
from nas.estimation._budget import Budget
from nas.estimation._registry import estimators, lookup, register_estimator
from nas.data import Dataset
from nas.estimation._trainer import build_network, default_device, make_splits, training_batches
from nas.space._genotype import Genotype
from nas.space._model import Network, count_flops, count_parameters

Batches = list[tuple[torch.Tensor, torch.Tensor]]
JACOB_COV_K = 1e-5


class ProxyError(NasError, ValueError):
    """An unknown proxy name or too few batches."""


@dataclass(frozen=True)
class ProxyResult:
    """One proxy's score of one architecture (higher predicts better) and the seconds it took,
    building the network included, preparing the budget's images (cached) not."""

    proxy: str
    score: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weights(model: nn.Module) -> Iterator[nn.Parameter]:
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            yield module.weight


def _loss_gradients(model: Network, batches: Batches) -> None:
    """Gradients of the mean cross-entropy over ``batches``, batch statistics in batch norm."""
    model.train()
    model.zero_grad(set_to_none=True)
    for x, y in batches:
        logits, _ = model(x)
        (F.cross_entropy(logits, y) / len(batches)).backward()


def _params(model: Network, batches: Batches) -> float:
    return float(count_parameters(model))


def _flops(model: Network, batches: Batches) -> float:
    return float(count_flops(model, batches[0][0].shape[-1]))


def _grad_norm(model: Network, batches: Batches) -> float:
    _loss_gradients(model, batches)
    return sum(w.grad.norm().item() for w in _weights(model) if w.grad is not None)


def _snip(model: Network, batches: Batches) -> float:
    _loss_gradients(model, batches)
    return sum((w * w.grad).abs().sum().item() for w in _weights(model) if w.grad is not None)


def _synflow(model: Network, batches: Batches) -> float:
    model.double().eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_()
    model.zero_grad(set_to_none=True)
    ones = torch.ones((1, *batches[0][0].shape[1:]), dtype=torch.float64, device=batches[0][0].device)
    logits, _ = model(ones.contiguous(memory_format=torch.channels_last))
    logits.sum().backward()
    return sum((w * w.grad).abs().sum().item() for w in _weights(model) if w.grad is not None)


def _jacob_cov(model: Network, batches: Batches) -> float:
    model.train()
    scores = []
    for x, _ in batches:
        x = x.detach().clone().requires_grad_(True)
        logits, _ = model(x)
        (jacobian,) = torch.autograd.grad(logits.sum(), x)
        correlation = torch.corrcoef(jacobian.flatten(1).double())
        eigenvalues = torch.linalg.eigvalsh(correlation) + JACOB_COV_K
        scores.append(-(eigenvalues.log() + eigenvalues.reciprocal()).sum().item())
    return sum(scores) / len(scores)


def naswot_kernel(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``K[i, j]``: over every ReLU of ``model``, the units where images ``i`` and ``j`` are both
    active or both inactive (fp64). ``model(x)`` may return anything; only its ReLUs are read."""
    kernel = torch.zeros(x.shape[0], x.shape[0], dtype=torch.float64, device=x.device)

    def accumulate(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        codes = (output > 0).flatten(1).double()
        kernel.add_(codes @ codes.T).add_((1 - codes) @ (1 - codes).T)

    hooks = [module.register_forward_hook(accumulate) for module in model.modules() if isinstance(module, nn.ReLU)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return kernel


def _naswot(model: Network, batches: Batches) -> float:
    model.train()
    scores = [torch.linalg.slogdet(naswot_kernel(model, x)).logabsdet.item() for x, _ in batches]
    return sum(scores) / len(scores)


Estimator = Callable[[Network, Batches], float]
"""Scores an untrained network (seeded, fp32, no auxiliary head) from a few training batches."""


register_estimator("params", _params)
register_estimator("flops", _flops)
register_estimator("grad_norm", _grad_norm)
register_estimator("snip", _snip)
register_estimator("synflow", _synflow)
register_estimator("jacob_cov", _jacob_cov)
register_estimator("naswot", _naswot)
PROXIES: tuple[str, ...] = estimators("proxy")
"""The built-in zero-cost proxies."""


def proxy_batches(budget: Budget, dataset: Dataset, *, batches: int, seed: int, device: torch.device) -> Batches:
    """The first ``batches`` training batches of the budget's images (augmented as in training,
    seeded by ``seed``)."""
    loader = training_batches(make_splits(dataset, budget).train, dataset, budget, device, seed=seed)
    if not 1 <= batches <= len(loader):
        raise ProxyError(f"batches must be in 1..{len(loader)} (the budget's training batches), got {batches}")
    iterator = iter(loader)
    return [next(iterator) for _ in range(batches)]


def score(
    genotype: Genotype,
    proxy: str,
    budget: Budget,
    dataset: Dataset,
    *,
    batches: int = 1,
    seed: int | None = None,
    device: torch.device | str | None = None,
) -> ProxyResult:
    """Score ``genotype`` with ``proxy`` (one of ``estimators("proxy")``) at ``budget``'s network size.

    ``seed`` (default: the budget's) seeds the initialisation and the batches; ``batches`` is how many
    of the budget's training batches the data-dependent proxies average over.
    """
    estimator = lookup(proxy, "proxy")
    device = torch.device(device) if device is not None else default_device()
    seed = budget.seed if seed is None else seed
    data = proxy_batches(budget, dataset, batches=batches, seed=seed, device=device)
    started = time.perf_counter()
    torch.manual_seed(seed)
    model = build_network(genotype, budget.replace(auxiliary_weight=0.0, precision="fp32"), dataset.num_classes, device)
    value = estimator(model, data)
    return ProxyResult(proxy, float(value), time.perf_counter() - started)
