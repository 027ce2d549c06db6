import pytest
import torch

from nas import DARTS_V2, cifar_network, count_flops, count_parameters, imagenet_network, sample_genotype


def test_darts_v2_has_the_authors_parameter_count():
    # Every pooling is followed by an affine batch norm, as in the authors' (pt.darts) networks.
    model = cifar_network(DARTS_V2, channels=36, layers=20, num_classes=10, auxiliary=True)
    assert count_parameters(model) == 3_351_502
    assert any(name.startswith("auxiliary_head") for name, _ in model.named_parameters())


@pytest.mark.parametrize("layers", [2, 3])
def test_auxiliary_head_after_the_last_cell_leaves_the_classifier_input_alone(layers):
    torch.manual_seed(0)
    model = cifar_network(DARTS_V2, channels=4, layers=layers, num_classes=10, auxiliary=True)
    assert model.auxiliary_after == layers - 1  # the head reads the last cell's output
    x = torch.randn(4, 3, 16, 16)
    model.train()
    with_head, _ = model(x)
    model.auxiliary_head = None
    without_head, _ = model(x)
    torch.testing.assert_close(with_head, without_head)


@pytest.mark.parametrize("image_size", [8, 9, 12, 16, 32])
@pytest.mark.parametrize("num_classes", [10, 100])
def test_cifar_network_runs_at_any_size(image_size, num_classes):
    torch.manual_seed(0)
    model = cifar_network(sample_genotype(image_size), channels=4, layers=5, num_classes=num_classes, auxiliary=True)
    model.train()
    model.drop_path_prob = 0.2
    logits, auxiliary = model(torch.randn(2, 3, image_size, image_size))
    assert logits.shape == auxiliary.shape == (2, num_classes)
    model.eval()
    logits, auxiliary = model(torch.randn(2, 3, image_size, image_size))
    assert auxiliary is None


def test_flops_grow_with_image_size_and_width():
    small = cifar_network(DARTS_V2, channels=8, layers=6)
    wide = cifar_network(DARTS_V2, channels=16, layers=6)
    assert count_flops(small, 32) > 3 * count_flops(small, 16)
    assert count_flops(wide, 16) > 3 * count_flops(small, 16)


def test_imagenet_mobile_network():
    model = imagenet_network(DARTS_V2, channels=48, layers=14, num_classes=1000)
    # DARTS reports 4.7 M parameters for this network in the mobile setting.
    assert count_parameters(model) == pytest.approx(4.7e6, rel=0.02)
    assert 4e8 < count_flops(model, 224) < 6e8
    model.eval()
    assert model(torch.randn(1, 3, 64, 64))[0].shape == (1, 1000)


def test_auxiliary_head_pools_as_the_authors() -> None:
    """An 8x8 map (32 px) is pooled by AvgPool2d(5, stride=3), a 7x7 one by stride 2; a 4x4 map
    (16 px), where their code pools adaptively, to 2x2 in quarters."""
    head = cifar_network(DARTS_V2, channels=4, layers=6, num_classes=10, auxiliary=True).auxiliary_head
    pool = head.features[1]
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(pool(x), torch.nn.functional.avg_pool2d(x, 5, stride=3))
    assert not torch.allclose(pool(x), torch.nn.functional.adaptive_avg_pool2d(x, 2))
    x = torch.randn(2, 16, 7, 7)
    assert torch.equal(pool(x), torch.nn.functional.avg_pool2d(x, 5, stride=2))
    x = torch.randn(2, 16, 4, 4)
    assert torch.equal(pool(x), torch.nn.functional.adaptive_avg_pool2d(x, 2))
