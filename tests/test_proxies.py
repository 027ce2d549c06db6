import math

import pytest
import torch
from torch import nn

from nas import DARTS_V2, Budget, Genotype, NasError, load_dataset, parse_genotype, sample_genotype
from nas.estimation import PROXIES, ProxyError, score
from nas.estimation._proxies import naswot_kernel

TINY = Budget(epochs=1, batch_size=16, lr=0.05, layers=3, channels=4, image_size=16)
DATA_FREE = ("params", "flops", "synflow")  # the same for any batch
INIT_FREE = ("params", "flops")  # the same for any initialisation


def _uniform_genotype(operation: str) -> Genotype:
    cell = repr([[(operation, 0), (operation, 1)]] * 4)
    return parse_genotype(f"Genotype(normal={cell}, normal_concat=range(2, 6), reduce={cell}, reduce_concat=range(2, 6))")


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic:64")


@pytest.mark.parametrize("proxy", PROXIES)
def test_same_seed_same_finite_score(synthetic, proxy):
    genotype = sample_genotype(3)
    first = score(genotype, proxy, TINY, synthetic, seed=5, device="cpu")
    second = score(genotype, proxy, TINY, synthetic, seed=5, device="cpu")
    assert first.proxy == proxy and math.isfinite(first.score) and first.seconds > 0
    assert first.score == second.score
    other = score(genotype, proxy, TINY, synthetic, seed=6, device="cpu")
    assert (other.score == first.score) == (proxy in INIT_FREE)


@pytest.mark.parametrize("proxy", ["grad_norm", "snip", "jacob_cov", "naswot"])
def test_data_dependent_proxies_read_more_batches(synthetic, proxy):
    one = score(DARTS_V2, proxy, TINY, synthetic, batches=1, device="cpu").score
    two = score(DARTS_V2, proxy, TINY, synthetic, batches=2, device="cpu").score
    assert one != two


@pytest.mark.parametrize("proxy", ["params", "flops", "synflow"])
def test_wider_networks_score_higher(synthetic, proxy):
    narrow = score(DARTS_V2, proxy, TINY, synthetic, device="cpu").score
    wide = score(DARTS_V2, proxy, TINY.replace(channels=8), synthetic, device="cpu").score
    assert wide > narrow


def test_flops_grow_with_image_size_and_params_do_not(synthetic):
    large = TINY.replace(image_size=32)
    assert score(DARTS_V2, "flops", large, synthetic, device="cpu").score > score(DARTS_V2, "flops", TINY, synthetic, device="cpu").score
    assert score(DARTS_V2, "params", large, synthetic, device="cpu").score == score(DARTS_V2, "params", TINY, synthetic, device="cpu").score


@pytest.mark.parametrize("proxy", ["grad_norm", "snip", "synflow"])
def test_network_that_passes_nothing_scores_zero(synthetic, proxy):
    # Every edge is the zero operation: the classifier sees zeros, so no weight gets a gradient.
    assert score(_uniform_genotype("none"), proxy, TINY, synthetic, device="cpu").score == 0.0
    assert score(DARTS_V2, proxy, TINY, synthetic, device="cpu").score > 0.0


def test_naswot_tells_pooling_from_convolution_cells(synthetic):
    pooling = score(_uniform_genotype("avg_pool_3x3"), "naswot", TINY, synthetic, device="cpu").score
    convolution = score(_uniform_genotype("sep_conv_3x3"), "naswot", TINY, synthetic, device="cpu").score
    assert pooling != convolution


def test_naswot_kernel_counts_agreeing_units():
    x = torch.tensor([[1.0, -1.0, 2.0], [1.0, 1.0, -2.0], [-1.0, -1.0, 2.0]])
    kernel = naswot_kernel(nn.Sequential(nn.ReLU(), nn.Identity(), nn.ReLU()), x)
    # Codes 101, 110, 001 (the same for both ReLUs): agreements 3-Hamming, twice.
    expected = 2 * torch.tensor([[3, 1, 2], [1, 3, 0], [2, 0, 3]], dtype=torch.float64)
    assert torch.equal(kernel, expected)


def test_jacob_cov_peaks_when_input_gradients_are_uncorrelated(synthetic):
    # Each term -(log(λ + k) + 1/(λ + k)) is at most -1 (λ + k = 1), so a batch of n scores at most -n.
    value = score(DARTS_V2, "jacob_cov", TINY, synthetic, device="cpu").score
    assert -10 * TINY.batch_size < value <= -TINY.batch_size


def test_bad_arguments_are_one_line_errors(synthetic):
    with pytest.raises(ProxyError, match="unknown proxy 'zen_v2'.*known: params"):
        score(DARTS_V2, "zen_v2", TINY, synthetic, device="cpu")
    with pytest.raises(NasError, match=r"batches must be in 1\.\.3"):
        score(DARTS_V2, "snip", TINY, synthetic, batches=4, device="cpu")
