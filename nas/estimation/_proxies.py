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

Six more as NASLib defines them (Krishnakumar et al. 2022, NAS-Bench-Suite-Zero; automl/NASLib's
``predictors/utils/pruners/measures``), each with NASLib's sign, so that a higher score predicts
better as NASLib ranks:

* ``fisher`` (Theis et al. 2018, as Turner et al. 2020 and Abdelfattah et al. 2021 use it): at the
  output ``a`` of every convolution (before its batch norm) and linear layer, with ``g = ∂L/∂a`` of
  the batch's mean cross-entropy, ``F_k = ½ mean_n (sum_hw a ⊙ g)²`` per output channel ``k``; the
  score is ``sum_k F_k`` times the channel's weights (its fan-in), over layers, as NASLib sums its
  per-channel value broadcast to every weight of the channel. Averaged over batches.
* ``grasp`` (Wang et al. 2020): ``-sum θ ⊙ Hg`` over weights, ``g`` the gradient and ``H`` the
  Hessian of the mean cross-entropy over the batches (NASLib's sign: its authors found accuracy
  negatively correlated with ``θ ⊙ Hg``).
* ``zen`` (Lin et al. 2021, Zen-NAS): with every convolution and linear weight redrawn from
  ``N(0, 1)`` (biases 0, batch-norm scales 1 and shifts 0), batch norm in training mode, Gaussian
  images ``x`` and ``ε`` of the batch's shape and ``α = 0.01``: ``log mean_n ||f(x) - f(x + αε)||_1``
  (``f`` the last cell's output before global pooling, the L1 norm over channels and pixels, as the
  Zen-NAS code computes the paper's norm) plus ``sum log sqrt(mean running variance)`` over batch
  norms (after those two forward passes). One draw per batch, averaged. It reads no image.
* ``epe_nas`` (Lopes et al. 2021): the input gradients of the summed logits (as ``jacob_cov``),
  grouped by label; per class ``c``, ``s_c = sum log(|Σ_c| + k)`` over the entries of the
  correlation matrix of its images' gradients, ``k = 1e-5``; the score is ``sum_c |s_c|`` (up to
  100 classes) or, with more classes, ``s_c`` divided by the class's images and the score
  ``sum_{c,c'} |s_c - s_c'|`` over the number of classes. A class with one image in the batch
  contributes ``log(1 + k)`` (its correlation matrix is ``[[1]]``, as NASLib's ``corrcoef`` of one
  vector; with more than 100 classes NASLib skips it, and so does this). Averaged over batches.
* ``l2_norm`` (Abdelfattah et al. 2021): ``sum ||θ||_2`` over weight tensors; no data.
* ``plain`` (Mozer & Smolensky 1989, in Abdelfattah et al. 2021): ``sum θ ⊙ ∂L/∂θ`` over weights
  (snip without the absolute value).

Weights are those of convolutions and linear layers (biases and batch norms do not count).
Gradients are of the cross-entropy with batch statistics in batch norm. The network has no
auxiliary head (it is dropped after training) and no drop-path; everything runs in fp32 whatever
the budget's precision, except synflow (fp64). A network that passes nothing (every edge ``none``)
gets a NaN ``epe_nas`` (correlations of zero input gradients; ``jacob_cov`` fails on them) and a
``-inf`` ``zen`` (the log of a zero difference), the worst scores NASLib gives them. The same seed on CPU gives the same score.
"""

from __future__ import annotations

import functools
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
EPE_NAS_K = 1e-5
ZEN_MIXUP_GAMMA = 1e-2


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


def _input_gradients(model: Network, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Per image, the gradient of the summed logits with respect to the image (flattened, fp64),
    and the number of classes."""
    x = x.detach().clone().requires_grad_(True)
    logits, _ = model(x)
    (jacobian,) = torch.autograd.grad(logits.sum(), x)
    return jacobian.flatten(1).double(), logits.shape[-1]


def _jacob_cov(model: Network, batches: Batches) -> float:
    model.train()
    scores = []
    for x, _ in batches:
        correlation = torch.corrcoef(_input_gradients(model, x)[0])
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


def _weighted_channels(module: nn.Module, activation: torch.Tensor, channels: dict, gradient: torch.Tensor) -> None:
    products = activation * gradient
    if products.dim() > 2:
        products = products.flatten(2).sum(2)
    value = products.pow(2).mean(0).mul(0.5)
    channels[module] = channels[module] + value if module in channels else value


def _fisher(model: Network, batches: Batches) -> float:
    model.train()
    channels: dict[nn.Module, torch.Tensor] = {}

    def keep(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        # The hook holds the detached activation, not the output: no cycle through the graph.
        if output.requires_grad:
            output.register_hook(functools.partial(_weighted_channels, module, output.detach(), channels))

    layers = [module for module in model.modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
    hooks = [layer.register_forward_hook(keep) for layer in layers]
    try:
        for x, y in batches:
            logits, _ = model(x)
            F.cross_entropy(logits, y).backward()
    finally:
        for hook in hooks:
            hook.remove()
    model.zero_grad(set_to_none=True)
    total = sum(value.sum().item() * module.weight[0].numel() for module, value in channels.items())
    return total / len(batches)


def _grasp(model: Network, batches: Batches) -> float:
    model.train()
    weights = list(_weights(model))

    def gradients(create_graph: bool) -> Iterator[tuple[torch.Tensor | None, ...]]:
        for x, y in batches:
            logits, _ = model(x)
            loss = F.cross_entropy(logits, y) / len(batches)
            yield torch.autograd.grad(loss, weights, create_graph=create_graph, allow_unused=True)

    def add(total: list, terms: tuple) -> None:
        for index, term in enumerate(terms):
            if term is not None:
                total[index] = term if total[index] is None else total[index] + term

    gradient: list[torch.Tensor | None] = [None] * len(weights)
    for terms in gradients(create_graph=False):
        add(gradient, terms)
    hessian_gradient: list[torch.Tensor | None] = [None] * len(weights)
    for terms in gradients(create_graph=True):
        pairs = [(g, term) for g, term in zip(gradient, terms) if g is not None and term is not None]
        if pairs:
            product = sum((g * term).sum() for g, term in pairs)
            add(hessian_gradient, torch.autograd.grad(product, weights, allow_unused=True))
    return 0.0 - sum((w * hg).sum().item() for w, hg in zip(weights, hessian_gradient) if hg is not None)


def _gaussian_init(model: nn.Module) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)) and module.weight is not None:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)


def _zen(model: Network, batches: Batches, *, mixup_gamma: float = ZEN_MIXUP_GAMMA) -> float:
    model.train()
    features: list[torch.Tensor] = []
    hook = model.pool.register_forward_pre_hook(lambda module, inputs: features.append(inputs[0]))
    x = batches[0][0]
    scores = []
    try:
        with torch.no_grad():
            for _ in batches:
                _gaussian_init(model)
                image = torch.randn(x.shape, dtype=x.dtype, device=x.device)
                noise = torch.randn(x.shape, dtype=x.dtype, device=x.device)
                for images in (image, image + mixup_gamma * noise):
                    model(images.contiguous(memory_format=torch.channels_last))
                difference = (features[-2] - features[-1]).abs().flatten(1).sum(1).mean()
                features.clear()
                scaling = sum(
                    module.running_var.mean().sqrt().log().item()
                    for module in model.modules()
                    if isinstance(module, nn.BatchNorm2d) and module.running_var is not None
                )
                scores.append(difference.log().item() + scaling)
    finally:
        hook.remove()
    return sum(scores) / len(scores)


def epe_nas_score(jacobians: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    """EPE-NAS's score of one batch: ``jacobians`` (one flattened input gradient a row) grouped by
    ``labels``; see the module's definition (a class with one image: ``log(1 + k)``, or skipped
    beyond 100 classes)."""
    many = num_classes > 100
    per_class = []
    for label in torch.unique(labels).tolist():  # sorted: the same order every time
        rows = jacobians[labels == label].double()
        if len(rows) == 1:
            if many:
                continue
            correlation = torch.ones(1, 1, dtype=torch.float64, device=rows.device)
        else:
            correlation = torch.corrcoef(rows)
        value = (correlation.abs() + EPE_NAS_K).log().sum().item()
        per_class.append(value / len(rows) if many else value)
    if not many:
        return sum(abs(value) for value in per_class)
    if not per_class:
        return 0.0
    return sum(abs(a - b) for a in per_class for b in per_class) / len(per_class)


def _epe_nas(model: Network, batches: Batches) -> float:
    model.train()
    scores = []
    for x, y in batches:
        jacobians, num_classes = _input_gradients(model, x)
        scores.append(epe_nas_score(jacobians, y, num_classes))
    return sum(scores) / len(scores)


def _l2_norm(model: Network, batches: Batches) -> float:
    with torch.no_grad():
        return sum(w.norm().item() for w in _weights(model))


def _plain(model: Network, batches: Batches) -> float:
    _loss_gradients(model, batches)
    return sum((w * w.grad).sum().item() for w in _weights(model) if w.grad is not None)


Estimator = Callable[[Network, Batches], float]
"""Scores an untrained network (seeded, fp32, no auxiliary head) from a few training batches."""


register_estimator("params", _params)
register_estimator("flops", _flops)
register_estimator("grad_norm", _grad_norm)
register_estimator("snip", _snip)
register_estimator("synflow", _synflow)
register_estimator("jacob_cov", _jacob_cov)
register_estimator("naswot", _naswot)
register_estimator("fisher", _fisher)
register_estimator("grasp", _grasp)
register_estimator("zen", _zen)
register_estimator("epe_nas", _epe_nas)
register_estimator("l2_norm", _l2_norm)
register_estimator("plain", _plain)
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
