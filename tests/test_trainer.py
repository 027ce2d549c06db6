import dataclasses

import pytest
import torch

from nas import DARTS_V2, PRESETS, Budget, BudgetError, cifar_network, count_flops, load_dataset, sample_genotype, train

TINY = Budget(epochs=3, batch_size=32, lr=0.05, layers=3, channels=4, image_size=16)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic:640")


def test_training_learns_the_synthetic_set(synthetic):
    result = train(DARTS_V2, TINY, synthetic, device="cpu", progress=False)
    assert result.status == "ok" and result.reason is None
    assert result.accuracy > 0.3  # chance is 0.1
    assert result.params > 0 and result.seconds > 0 and result.epochs == 3
    network = cifar_network(DARTS_V2, channels=TINY.channels, layers=TINY.layers, num_classes=10)
    assert result.flops == count_flops(network, TINY.image_size) > 0  # counted without a pass of real arithmetic


def test_same_seed_same_accuracy_on_cpu(synthetic):
    budget = TINY.replace(epochs=1, cutout=8, train_fraction=0.5, precision="mixed")
    first = train(sample_genotype(1), budget, synthetic, device="cpu", progress=False)
    second = train(sample_genotype(1), budget, synthetic, device="cpu", progress=False)
    other = train(sample_genotype(1), budget.replace(seed=1), synthetic, device="cpu", progress=False)
    assert (first.accuracy, first.loss) == (second.accuracy, second.loss)
    assert first.loss != other.loss


def test_divergence_is_a_failed_result_not_a_crash(synthetic):
    result = train(DARTS_V2, TINY.replace(lr=1e12, grad_clip=1e30), synthetic, device="cpu", progress=False)
    assert result.status == "failed" and result.accuracy is None
    assert "non-finite" in result.reason and "epoch 1" in result.reason
    assert len(result.curve) == 1 and result.curve[0][1] is None  # the failed epoch's loss, no accuracy


def test_auxiliary_head_and_drop_path_train(synthetic):
    budget = TINY.replace(epochs=1, auxiliary_weight=0.4, drop_path=0.2, layers=4)
    assert train(DARTS_V2, budget, synthetic, device="cpu", progress=False).status == "ok"


def test_budgets_the_data_cannot_serve_are_rejected_before_training():
    from nas import BudgetError, DataError
    from nas.estimation._trainer import make_splits

    with pytest.raises(BudgetError, match="batch_size"):
        make_splits(load_dataset("synthetic:64"), TINY.replace(batch_size=128))
    tiny = load_dataset("synthetic:10")
    four_images = dataclasses.replace(tiny, train=tiny.train.subset(torch.arange(4)))
    with pytest.raises(DataError, match="too few"):
        make_splits(four_images, TINY)


def test_epoch_hook_sees_each_epoch_and_test_evaluations_pick_last_or_best(synthetic):
    budget = TINY.replace(epochs=3, evaluation="test-last")
    seen = []
    last = train(DARTS_V2, budget, synthetic, device="cpu", progress=False, on_epoch=lambda e, a: seen.append((e, a)))
    best = train(DARTS_V2, budget.replace(evaluation="test-best"), synthetic, device="cpu", progress=False)
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    accuracies = [accuracy for _, accuracy in seen]
    assert last.accuracy == accuracies[-1] and best.accuracy == max(accuracies)
    # The learning curve is what the epochs saw: the hook's accuracies, and the last loss at its end.
    assert [accuracy for _, accuracy in last.curve] == accuracies and last.curve[-1][0] == last.loss
    assert best.curve == last.curve
    # Measuring every epoch changes nothing: the same run without a hook ends the same.
    again = train(DARTS_V2, budget, synthetic, device="cpu", progress=False)
    assert dataclasses.replace(again, seconds=0) == dataclasses.replace(last, seconds=0)


class _Stop(Exception):
    pass


def test_checkpointed_training_resumes_to_the_uninterrupted_result(synthetic, tmp_path):
    from nas.store import Checkpoint

    budget = TINY.replace(epochs=4, cutout=8, drop_path=0.2, auxiliary_weight=0.4, layers=4, train_fraction=0.5)
    genotype = sample_genotype(3)
    uninterrupted = train(genotype, budget, synthetic, device="cpu", progress=False)

    def stop_after_two(epoch, accuracy):
        if epoch == 2:
            raise _Stop

    checkpoint = Checkpoint(tmp_path)
    with pytest.raises(_Stop):
        train(genotype, budget, synthetic, device="cpu", progress=False, checkpoint=checkpoint, on_epoch=stop_after_two)
    assert checkpoint.epochs_done() == 2
    resumed = train(genotype, budget, synthetic, device="cpu", progress=False, checkpoint=checkpoint)
    assert checkpoint.epochs_done() == 4
    assert (resumed.accuracy, resumed.loss, resumed.curve) == (uninterrupted.accuracy, uninterrupted.loss, uninterrupted.curve)
    assert len(resumed.curve) == 4  # the epochs before the interruption come from the checkpoint
    # A checkpoint of the version before curves: the result has no curve, not one missing epochs 1-2.
    older = Checkpoint(tmp_path / "older")
    with pytest.raises(_Stop):
        train(genotype, budget, synthetic, device="cpu", progress=False, checkpoint=older, on_epoch=stop_after_two)
    done, state = older.load()
    del state["run"]["curve"]
    older.save(done, state)
    from_older = train(genotype, budget, synthetic, device="cpu", progress=False, checkpoint=older)
    assert from_older.curve == () and from_older.accuracy == uninterrupted.accuracy
    restarted = train(genotype, budget.replace(seed=1), synthetic, device="cpu", progress=False)
    assert restarted.loss != uninterrupted.loss  # the comparison above can tell runs apart


def test_imagenet_network_trains_on_the_test_split(synthetic):
    budget = TINY.replace(epochs=1, image_size=64, layers=3, channels=8, network="imagenet", evaluation="test-last")
    result = train(DARTS_V2, budget, synthetic, device="cpu", progress=False)
    cifar = cifar_network(DARTS_V2, channels=8, layers=3)
    assert result.status == "ok" and result.flops < count_flops(cifar, 64) / 32  # two stride-2 stems: 8x smaller maps


def test_autocast_follows_the_given_device_and_dtype():
    from nas.estimation._trainer import autocast

    mixed, x = TINY.replace(precision="mixed"), torch.ones(2, 2)
    with autocast(TINY, "cpu"):
        assert (x @ x).dtype == torch.float32
    with autocast(mixed, "cpu"):
        assert (x @ x).dtype == torch.bfloat16
    with autocast(mixed, torch.device("cpu"), torch.float16):
        assert (x @ x).dtype == torch.float16
    if torch.cuda.is_available():  # a model on the CPU of a CUDA machine is autocast on the CPU
        with autocast(mixed, "cpu"):
            assert (x @ x).dtype == torch.bfloat16
        with autocast(mixed, "cuda"):
            assert (x.cuda() @ x.cuda()).dtype == torch.float16


def test_half_precision_refuses_the_cpu_in_one_line(synthetic):
    from nas.estimation._trainer import numerics

    half = TINY.replace(precision="half")
    with pytest.raises(BudgetError, match=r"needs a CUDA device, not cpu: use precision=mixed .* or precision=fp32"):
        train(DARTS_V2, half, synthetic, device="cpu", progress=False)
    with pytest.raises(BudgetError, match="needs a CUDA device"):
        numerics(half, "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="precision=half runs on CUDA only")
def test_half_precision_trains_an_fp16_network_on_cuda(synthetic):
    from nas.estimation._trainer import build_network, numerics

    half = TINY.replace(precision="half", epochs=2)
    assert numerics(half, "cuda") == "cuda-half"
    assert all(p.dtype == torch.float16 for p in build_network(DARTS_V2, half, 10, torch.device("cuda")).parameters())
    result = train(DARTS_V2, half, synthetic, device="cuda", progress=False)
    assert result.status == "ok" and result.accuracy > 0.2


def test_bpe1_crops_at_32_px_then_resizes_to_16(synthetic):
    """bpe1's batches come from the 32-px images padded by 4 (the authors' RandomCrop(32, padding=4)),
    resized to 16 px after the crop; its held-out images are only resized."""
    from nas.estimation._trainer import make_splits, training_batches
    from nas.estimation._budget import preset

    bpe1 = preset("bpe1")
    splits = make_splits(synthetic, bpe1)
    assert splits.train.images.shape[-1] == 32 and splits.held_out.images.shape[-1] == 16
    loader = training_batches(splits.train, synthetic, bpe1, torch.device("cpu"), seed=0)
    assert (loader.pad, loader.size) == (4, 16)
    x, _ = next(iter(loader))
    assert x.shape == (bpe1.batch_size, 3, 16, 16)


def test_batch_norm_weights_start_at_one_or_uniform_as_pytorch_up_to_1_1():
    from nas.estimation._trainer import build_network

    def batch_norm_weights(budget: Budget) -> torch.Tensor:
        torch.manual_seed(budget.seed)
        model = build_network(DARTS_V2, budget, 10, torch.device("cpu"))
        return torch.cat([m.weight.detach() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)])

    bpe1 = PRESETS["bpe1"]
    assert torch.equal(batch_norm_weights(bpe1), torch.ones_like(batch_norm_weights(bpe1)))
    uniform = batch_norm_weights(bpe1.replace(batchnorm_init="uniform"))
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean().item() - 0.5) < 0.05
    assert torch.equal(uniform, batch_norm_weights(bpe1.replace(batchnorm_init="uniform")))  # the seed decides
