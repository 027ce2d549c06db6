"""The six proxies as NASLib defines them: fisher, grasp, zen, epe_nas, l2_norm, plain."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas import DARTS_V2, Budget, load_dataset
from nas.estimation import PROXIES, estimators, score
from nas.estimation._proxies import EPE_NAS_K, _zen, epe_nas_score, proxy_batches
from nas.estimation._registry import lookup
from nas.estimation._trainer import build_network

TINY = Budget(epochs=1, batch_size=16, lr=0.05, layers=3, channels=4, image_size=16)
NEW = ("fisher", "grasp", "zen", "epe_nas", "l2_norm", "plain")


class _ConvNet(nn.Module):
    """Conv, ReLU, global pooling, linear: small enough for closed forms and a full Hessian."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.classifier(self.pool(F.relu(self.conv(x))).flatten(1)), None


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic:64")


@pytest.fixture
def tiny_batches():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(6, 2, 5, 5, generator=generator)
    return [(x, torch.tensor([0, 1, 2, 3, 0, 1]))]


def _tiny_network(synthetic, seed=0):
    torch.manual_seed(seed)
    return build_network(DARTS_V2, TINY, synthetic.num_classes, torch.device("cpu"))


def test_new_proxies_are_built_in():
    assert PROXIES[-len(NEW) :] == NEW and estimators("proxy")[: len(PROXIES)] == PROXIES


@pytest.mark.parametrize("proxy", NEW)
def test_two_batches_give_a_finite_repeatable_score(synthetic, proxy):
    first = score(DARTS_V2, proxy, TINY, synthetic, batches=2, seed=3, device="cpu").score
    assert math.isfinite(first)
    assert score(DARTS_V2, proxy, TINY, synthetic, batches=2, seed=3, device="cpu").score == first


def test_l2_norm_doubles_with_the_weights_and_ignores_batch_norm(synthetic):
    model = _tiny_network(synthetic)
    before = lookup("l2_norm", "proxy")(model, [])
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.mul_(2)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.mul_(3)
    assert lookup("l2_norm", "proxy")(model, []) == pytest.approx(2 * before, rel=1e-12)


def test_plain_is_the_weights_dot_their_gradient(tiny_batches):
    torch.manual_seed(0)
    model = _ConvNet()
    (x, y), weights = tiny_batches[0], [model.conv.weight, model.classifier.weight]
    gradients = torch.autograd.grad(F.cross_entropy(model(x)[0], y), weights)
    expected = sum((w * g).sum().item() for w, g in zip(weights, gradients))
    assert lookup("plain", "proxy")(model, tiny_batches) == pytest.approx(expected, rel=1e-6)
    # The classifier's gradient in closed form: (softmax - one-hot)ᵀ features / n.
    features = model.pool(F.relu(model.conv(x))).flatten(1)
    residual = torch.softmax(model.classifier(features), 1) - F.one_hot(y, 4)
    assert torch.allclose(gradients[1], residual.T @ features / len(y), atol=1e-6)


def test_fisher_sums_half_the_mean_squared_activation_gradient_per_channel_times_fan_in(tiny_batches):
    torch.manual_seed(0)
    model = _ConvNet()
    x, y = tiny_batches[0]
    hidden = model.conv(x)
    logits = model.classifier(model.pool(F.relu(hidden)).flatten(1))
    hidden_gradient, logits_gradient = torch.autograd.grad(F.cross_entropy(logits, y), [hidden, logits])
    conv = 0.5 * (hidden * hidden_gradient).sum((2, 3)).pow(2).mean(0).sum() * 2 * 3 * 3
    linear = 0.5 * (logits * logits_gradient).pow(2).mean(0).sum() * 3
    assert lookup("fisher", "proxy")(model, tiny_batches) == pytest.approx((conv + linear).item(), rel=1e-5)


def test_grasp_is_minus_the_weights_dot_hessian_gradient(tiny_batches):
    torch.manual_seed(0)
    model = _ConvNet()
    (x, y), conv, linear = tiny_batches[0], model.conv, model.classifier
    flat = torch.cat([conv.weight.detach().flatten(), linear.weight.detach().flatten()]).double()

    def loss(vector):  # the network's loss as a function of its weights alone (biases fixed), in fp64
        conv_weight, linear_weight = vector[: conv.weight.numel()], vector[conv.weight.numel() :]
        hidden = F.relu(F.conv2d(x.double(), conv_weight.view(conv.weight.shape), conv.bias.double(), padding=1))
        logits = F.linear(hidden.mean((2, 3)), linear_weight.view(linear.weight.shape), linear.bias.double())
        return F.cross_entropy(logits, y)

    (gradient,) = torch.autograd.grad(loss(flat.requires_grad_(True)), flat)
    hessian = torch.autograd.functional.hessian(loss, flat.detach())
    expected = -(flat.detach() @ hessian @ gradient).item()
    assert abs(expected) > 1e-6
    assert lookup("grasp", "proxy")(model, tiny_batches) == pytest.approx(expected, rel=1e-4)


def test_zen_reads_neither_the_images_nor_the_initialisation(synthetic):
    batches = proxy_batches(TINY, synthetic, batches=1, seed=0, device=torch.device("cpu"))
    zeros = [(torch.zeros_like(x), y) for x, y in batches]
    first, second = _tiny_network(synthetic, seed=0), _tiny_network(synthetic, seed=7)
    torch.manual_seed(1)
    expected = _zen(first, batches)
    torch.manual_seed(1)
    assert _zen(second, zeros) == expected


def test_zen_grows_by_log_2_when_the_perturbation_doubles_in_a_linear_network(tiny_batches):
    # No ReLU and no batch norm: f(x) - f(x + αε) = -α conv(ε), so the score is log α + a constant.
    model = nn.Module()
    model.conv, model.pool = nn.Conv2d(2, 3, 3), nn.AdaptiveAvgPool2d(1)
    model.forward = lambda x: (model.pool(model.conv(x)), None)
    scores = []
    for gamma in (0.01, 0.02):
        torch.manual_seed(0)
        scores.append(_zen(model, tiny_batches, mixup_gamma=gamma))
    assert scores[1] - scores[0] == pytest.approx(math.log(2), abs=1e-4)


def test_epe_nas_sums_per_class_log_correlations():
    k = EPE_NAS_K
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 3.0, 2.0])  # correlation 0.5
    jacobians = torch.stack([a, -b, a, torch.tensor([4.0, 0.0, 1.0])])
    labels = torch.tensor([2, 2, 5, 7])
    # Class 2: [[1, -0.5], [-0.5, 1]]; classes 5 and 7 hold one image each: [[1]].
    class_2 = 2 * math.log(1 + k) + 2 * math.log(0.5 + k)
    expected = abs(class_2) + 2 * abs(math.log(1 + k))
    assert epe_nas_score(jacobians, labels, 10) == pytest.approx(expected, rel=1e-9)
    assert epe_nas_score(jacobians[[1, 0, 3, 2]], labels[[1, 0, 3, 2]], 10) == pytest.approx(expected, rel=1e-12)
    # Beyond 100 classes: per-class means and their pairwise distances; one-image classes are left out.
    more = torch.stack([a, -b, a, a])
    assert epe_nas_score(more, torch.tensor([2, 2, 5, 7]), 1000) == 0.0
    two_classes = epe_nas_score(more, torch.tensor([2, 2, 5, 5]), 1000)
    assert two_classes == pytest.approx(2 * abs(class_2 / 2 - 4 * math.log(1 + k) / 2) / 2, rel=1e-9)


def test_zen_of_a_network_that_passes_its_input_is_the_log_l1_norm_of_the_perturbation(tiny_batches):
    # f(x) = x: ||f(x) - f(x + αε)||_1 = α ||ε||_1 ≈ α d sqrt(2 / π) for d Gaussian values (the L2
    # norm would give α sqrt(d), 5.6x less here).
    model = nn.Module()
    model.pool = nn.AdaptiveAvgPool2d(1)
    model.forward = lambda x: (model.pool(x), None)
    torch.manual_seed(0)
    d = tiny_batches[0][0][0].numel()
    assert _zen(model, tiny_batches) == pytest.approx(math.log(0.01 * d * math.sqrt(2 / math.pi)), abs=0.15)
