"""One-shot supernet by sampled paths: fair counts, genotypes as paths, the analysis command."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

from nas.data import load_dataset
from nas.estimation import preset, read_architectures
from nas.oneshot._paths import PathTraining, step_genotypes
from nas.oneshot._supernet import genotype_path
from nas.space import SAMPLED_OPERATIONS, sample_genotype

from _cli import REFERENCE, run_nas

TINY = preset("bpe1").replace(epochs=2, layers=3, channels=4, image_size=8, batch_size=16)


def _operation_counts(sampling: str) -> dict[tuple[int, int], Counter]:
    """How often each operation module of each edge of each cell ran forward during one real epoch."""
    training = PathTraining(TINY, load_dataset("synthetic:80"), sampling=sampling, device="cpu", valid_images=20)
    counts: dict[tuple[int, int], Counter] = {}
    for cell_index, cell in enumerate(training.model.cells):
        for edge_index, edge in enumerate(cell.edges):
            counter = counts.setdefault((cell_index, edge_index), Counter())
            for op_index, op in enumerate(edge.ops):
                op.register_forward_hook(lambda *_, c=counter, k=op_index: c.update([k]))
    training.run_epoch()
    return counts


def test_fair_sampling_trains_every_operation_of_an_edge_equally_often() -> None:
    counts = _operation_counts("fair")
    used = [counter for counter in counts.values() if counter]
    assert used, "no edge ran"
    for counter in used:
        assert set(counter) == set(range(len(SAMPLED_OPERATIONS)))
        assert len(set(counter.values())) == 1, counter


def test_random_sampling_is_not_fair() -> None:
    counts = _operation_counts("random")
    assert any(len(set(counter[k] for k in range(len(SAMPLED_OPERATIONS)))) > 1 for counter in counts.values())


def test_every_reference_architecture_is_a_path_of_the_supernet() -> None:
    for arch in read_architectures(REFERENCE / "ground_truth.csv", with_accuracy=True):
        paths = genotype_path(arch.genotype, SAMPLED_OPERATIONS)
        assert all(sum(len(edge) for edge in paths[cell]) == 8 for cell in paths)


def test_cell_level_uses_one_operation_per_cell_type() -> None:
    import random

    (genotype,) = step_genotypes("random", "cell", random.Random(3))
    for cell in genotype.cells().values():
        assert len({op for node in cell.nodes for op, _ in node}) == 1


def test_inherited_accuracy_leaves_the_supernet_unchanged() -> None:
    training = PathTraining(TINY, load_dataset("synthetic:80"), sampling="random", device="cpu", valid_images=20)
    training.run_epoch()
    before = {name: value.clone() for name, value in training.model.state_dict().items()}
    momenta = [module.momentum for module in training.model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    accuracy = training.accuracy(sample_genotype(0))
    assert 0 <= accuracy <= 1
    assert all(torch.equal(before[name], value) for name, value in training.model.state_dict().items())
    assert momenta == [module.momentum for module in training.model.modules() if isinstance(module, torch.nn.BatchNorm2d)]
    assert training.model.training
    assert training.accuracy(sample_genotype(0)) == accuracy  # measured on the statistics of its own path alone


_TINY_SETTINGS = ["epochs=2", "layers=3", "channels=4", "image_size=8", "batch_size=16"]


def test_oneshot_command_writes_the_table_and_resumes(tmp_path) -> None:
    args = [
        "oneshot", "--sampling", "fair", "--budget", "bpe1", "--set", *_TINY_SETTINGS, "--data", "synthetic:200",
        "--storage", f"sqlite:///{tmp_path / 'results.db'}", "--archs", "4", "--valid-images", "20", "--local-archs", "3",
        "--local-set", "epochs=1", "layers=3", "channels=4", "image_size=8", "batch_size=16",
        "--epochs-to-evaluate", "1,2", "--out", str(tmp_path / "out"), "--json",
    ]  # fmt: skip; 200 images hold out 20: on 8, every architecture scored 1/8 and r_s was undefined
    first = run_nas(*args)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert [row["epoch"] for row in result["epochs"]] == [1, 2]
    assert all(row["global"]["n"] == 4 for row in result["epochs"])
    for name in ("table.txt", "rank_correlation.html", "evaluations.json"):
        assert (tmp_path / "out" / name).is_file()
    again = run_nas(*args)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == result
    assert "supernet epoch" not in again.stderr and "architectures" not in again.stderr  # nothing trained or measured again


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["oneshot", "--sampling", "greedy", "--budget", "bpe1", "--data", "synthetic:80"], "unknown sampling 'greedy'"),
        (["oneshot", "--sampling", "fair", "--budget", "bpe1", "--set", "image_size=4", "--data", "synthetic:80"], "image_size"),
        (["oneshot", "--sampling", "fair", "--budget", "bpe1", "--set", "layers=2", "--data", "synthetic:80"], "layers"),
        (["oneshot", "--sampling", "fair", "--budget", "bpe1", "--set", "evaluation=test-last", "--data", "synthetic:80"], "evaluation"),
        (["search", "--strategy", "darts", "--trials", "1", "--budget", "bpe1", "--set", "evaluation=test-best", "--data", "synthetic:80"], "evaluation"),
        (["search", "--strategy", "darts", "--order", "3", "--trials", "1", "--budget", "bpe1", "--data", "synthetic:80"], "order must be 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message) -> None:
    done = run_nas(*args, "--storage", f"sqlite:///{tmp_path / 'x.db'}", "--out" if args[0] == "oneshot" else "--checkpoint-dir", str(tmp_path / "o"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error:") and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
