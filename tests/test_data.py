"""Tests of the data layer: loading and caching, splits, resizing and the batch loader's augmentation."""

from __future__ import annotations

import io
import os
import resource
import signal
import re
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import nas.data as data
import nas.data._sources as sources
from nas.data import (
    BatchLoader,
    DataError,
    ImageSet,
    load_dataset,
    resize,
    subsample,
    train_valid_split,
)

CIFAR10_ZIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg.zip"
RED, GREEN, BLUE, GREY = (200, 30, 30), (30, 200, 30), (30, 30, 200), (128, 128, 128)


# --------------------------------------------------------------------------------------------------
# Helpers


def indexed_set(class_sizes: list[int], side: int = 4) -> ImageSet:
    """Images whose first two pixels encode their index (to check identity after selections)."""
    labels = torch.cat([torch.full((size,), label) for label, size in enumerate(class_sizes)])
    ids = torch.arange(labels.numel())
    images = torch.zeros(labels.numel(), 3, side, side, dtype=torch.uint8)
    images[:, 0, 0, 0] = (ids // 256).to(torch.uint8)
    images[:, 0, 0, 1] = (ids % 256).to(torch.uint8)
    return ImageSet(images, labels)


def ids_of(images: ImageSet) -> list[int]:
    return (images.images[:, 0, 0, 0].long() * 256 + images.images[:, 0, 0, 1].long()).tolist()


def image_bytes(colour: tuple[int, int, int], fmt: str = "PNG", size: tuple[int, int] = (8, 8), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    picture = Image.new("RGB", size, colour)
    picture.convert(mode).save(buffer, format=fmt, quality=95)
    return buffer.getvalue()


def tiny_members(fmt: str = "PNG", ext: str = "png") -> dict[str, bytes]:
    """An ImageFolder layout: classes 'blue' and 'red', 3 training and 1 test image each."""
    members = {}
    for name, colour in (("red", RED), ("blue", BLUE)):
        for i in range(3):
            members[f"train/{name}/{i}.{ext}"] = image_bytes(colour, fmt)
        members[f"test/{name}/0.{ext}"] = image_bytes(colour, fmt)
    return members


def write_folder(root: Path, members: dict[str, bytes]) -> Path:
    for name, blob in members.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)
    return root


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    return path


def loader(images: ImageSet, **options) -> BatchLoader:
    settings = dict(batch_size=len(images), train=True, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    settings.update(options)
    return BatchLoader(images, **settings)


def first_batch(batches: BatchLoader) -> torch.Tensor:
    return next(iter(batches))[0]


def to_pixels(x: torch.Tensor, mean: float = 0.5, std: float = 0.25) -> torch.Tensor:
    """Undo the normalisation of :func:`loader`'s default statistics, back to 0..255."""
    return x * std * 255 + mean * 255


@pytest.fixture
def counted_decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of the real decoder, to tell a cache hit from a decode."""
    calls: list[int] = []
    real = sources._decode_images

    def counting(source, members):
        calls.append(len(members))
        return real(source, members)

    monkeypatch.setattr(sources, "_decode_images", counting)
    return calls


# --------------------------------------------------------------------------------------------------
# Synthetic data and containers


def test_synthetic_is_deterministic_and_shaped() -> None:
    first, again = load_dataset("synthetic:200"), load_dataset("synthetic:200")
    assert first.name == "synthetic-200-0" and first.num_classes == 10
    assert first.train.images.shape == (200, 3, 32, 32) and first.train.images.dtype == torch.uint8
    assert len(first.test) == 50 and first.train.labels.dtype == torch.int64
    assert torch.equal(first.train.images, again.train.images) and torch.equal(first.test.labels, again.test.labels)
    assert torch.bincount(first.train.labels).tolist() == [20] * 10
    other = load_dataset("synthetic:200:1")
    assert other.name == "synthetic-200-1" and not torch.equal(first.train.images, other.train.images)
    assert len(load_dataset("synthetic").train) == data.SYNTHETIC_DEFAULT_N


def test_synthetic_is_learnable() -> None:
    """Class mean colours differ, and a nearest-mean classifier on mean colour beats chance by far."""
    dataset = load_dataset("synthetic:1000")
    colour = lambda part: part.images.float().mean(dim=(2, 3))  # noqa: E731
    centres = torch.stack([colour(dataset.train)[dataset.train.labels == k].mean(0) for k in range(10)])
    gaps = torch.cdist(centres, centres) + torch.eye(10) * 1e9
    assert gaps.min() > 5  # in 0..255 units
    predicted = torch.cdist(colour(dataset.test), centres).argmin(dim=1)
    assert (predicted == dataset.test.labels).float().mean() > 0.6


def test_synthetic_statistics_match_the_images() -> None:
    dataset = load_dataset("synthetic:100")
    values = dataset.train.images.double() / 255
    assert dataset.mean == pytest.approx(values.mean(dim=(0, 2, 3)).tolist(), abs=1e-9)
    assert dataset.std == pytest.approx(values.std(dim=(0, 2, 3), correction=0).tolist(), abs=1e-9)


@pytest.mark.parametrize("source", ["synthetic:x", "synthetic:5", "synthetic:10:y"])
def test_bad_synthetic_source(source: str) -> None:
    with pytest.raises(DataError, match="synthetic"):
        load_dataset(source)


def test_image_set_checks_and_subsets() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels"):
        ImageSet(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64))
    images = indexed_set([3, 3])
    picked = images.subset(torch.tensor([4, 1]))
    assert ids_of(picked) == [4, 1] and picked.labels.tolist() == [1, 0] and len(picked) == 2


# --------------------------------------------------------------------------------------------------
# Splits, sampling, resizing


def test_split_sizes_disjoint_stratified_and_ordered() -> None:
    images = indexed_set([100] * 10)
    train, valid = train_valid_split(images, valid_size=0.1, seed=0)
    assert (len(train), len(valid)) == (900, 100)
    assert sorted(ids_of(train) + ids_of(valid)) == list(range(1000))
    assert torch.bincount(valid.labels).tolist() == [10] * 10
    assert ids_of(valid) == sorted(ids_of(valid)) and ids_of(train) == sorted(ids_of(train))
    _, counted = train_valid_split(images, valid_size=250, seed=0)
    assert len(counted) == 250 and torch.bincount(counted.labels).tolist() == [25] * 10


def test_split_is_deterministic_per_seed() -> None:
    images = indexed_set([50] * 4)
    same = [ids_of(train_valid_split(images, seed=3)[1]) for _ in range(2)]
    assert same[0] == same[1]
    assert ids_of(train_valid_split(images, seed=4)[1]) != same[0]


def test_split_exact_total_with_unequal_classes() -> None:
    """Largest-remainder quotas: the requested count exactly, each class within one of its share."""
    images = indexed_set([7, 13, 29, 51])
    _, valid = train_valid_split(images, valid_size=0.15, seed=0)
    assert len(valid) == 15
    counts = torch.bincount(valid.labels, minlength=4).double()
    assert torch.all((counts - torch.tensor([7, 13, 29, 51]) * 0.15).abs() < 1)


@pytest.mark.parametrize("valid_size", [1.0, -0.1, 100, -1, True])
def test_split_rejects_bad_sizes(valid_size) -> None:
    with pytest.raises(ValueError, match="valid_size"):
        train_valid_split(indexed_set([50, 50]), valid_size=valid_size)


def test_subsample_is_stratified_and_seeded() -> None:
    images = indexed_set([100, 50, 30])
    sample = subsample(images, 0.2, seed=1)
    assert torch.bincount(sample.labels).tolist() == [20, 10, 6]
    assert ids_of(subsample(images, 0.2, seed=1)) == ids_of(sample)
    assert ids_of(subsample(images, 0.2, seed=2)) != ids_of(sample)
    assert subsample(images, 1.0, seed=0) is images
    assert len(subsample(images, 0.001, seed=0)) == 1
    for fraction in (0.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            subsample(images, fraction, seed=0)


def test_resize_shapes_and_values() -> None:
    pixels = torch.zeros(5, 3, 32, 32, dtype=torch.uint8)
    pixels[..., 16:] = 200  # left half black, right half 200
    images = ImageSet(pixels, torch.arange(5))
    small = resize(images, 16)
    assert small.images.shape == (5, 3, 16, 16) and small.images.dtype == torch.uint8
    assert torch.all(small.images[..., :7] == 0) and torch.all(small.images[..., 9:] == 200)
    assert small.labels is images.labels
    assert resize(images, 32) is images
    assert resize(images, 48).images.shape[-1] == 48
    with pytest.raises(ValueError, match="size"):
        resize(images, 0)


# --------------------------------------------------------------------------------------------------
# Batch loader


def test_loader_shapes_lengths_and_drop_last() -> None:
    images = load_dataset("synthetic:300").train
    train = loader(images, batch_size=128)
    batches = list(train)
    assert len(train) == len(batches) == 2  # 300 = 2 * 128 + 44: the short batch is dropped
    x, y = batches[0]
    assert x.shape == (128, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    evaluation = loader(images, batch_size=128, train=False)
    sizes = [len(y) for _, y in evaluation]
    assert len(evaluation) == 3 and sizes == [128, 128, 44]
    assert list(loader(images, batch_size=301)) == [] and len(loader(images, batch_size=301)) == 0
    with pytest.raises(ValueError, match="batch_size"):
        loader(images, batch_size=0)


def test_eval_batches_are_normalised_and_in_order() -> None:
    dataset = load_dataset("synthetic:100")
    evaluation = BatchLoader(
        dataset.train, batch_size=64, train=False, mean=dataset.mean, std=dataset.std
    )
    x = torch.cat([x for x, _ in evaluation])
    y = torch.cat([y for _, y in evaluation])
    mean, std = torch.tensor(dataset.mean).view(1, 3, 1, 1), torch.tensor(dataset.std).view(1, 3, 1, 1)
    assert torch.allclose(x * std + mean, dataset.train.images.float() / 255, atol=1e-5)
    assert torch.equal(y, dataset.train.labels)
    assert x.mean(dim=(0, 2, 3)).abs().max() < 1e-4 and (x.std(dim=(0, 2, 3)) - 1).abs().max() < 1e-3


def test_loader_seeds_make_batches_reproducible() -> None:
    images = load_dataset("synthetic:256").train

    def epochs(seed: int, count: int = 2) -> list[torch.Tensor]:
        batches = loader(images, batch_size=64, seed=seed, cutout=8)
        return [torch.cat([x for x, _ in batches]) for _ in range(count)]

    first, again, other = epochs(0), epochs(0), epochs(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    assert not torch.equal(first[0], first[1])  # epochs differ
    resumed = loader(images, batch_size=64, seed=0, cutout=8)
    resumed.epoch = 1
    assert torch.equal(torch.cat([x for x, _ in resumed]), first[1])


def test_training_labels_follow_their_images() -> None:
    images = indexed_set([30, 30, 40], side=8)
    x, y = next(iter(loader(images, batch_size=100, pad=0)))
    ids = to_pixels(x).round().long()[:, 0, 0].sum(dim=1)  # the one non-zero pixel of row 0, flipped or not
    assert sorted(ids.tolist()) == list(range(100))
    assert torch.equal(y, images.labels[ids])


def test_crop_and_flip_match_hand_computed_crops() -> None:
    """Every output is exactly one crop of the zero-padded image, flipped or not; all offsets occur."""
    side, pad, copies = 8, 2, 256
    picture = np.random.default_rng(0).integers(1, 256, (3, side, side)).astype(np.uint8)
    images = ImageSet(torch.from_numpy(picture).expand(copies, -1, -1, -1).contiguous(), torch.zeros(copies, dtype=torch.int64))
    pixels = to_pixels(first_batch(loader(images, pad=pad))).round().to(torch.uint8).numpy()
    padded = np.pad(picture, ((0, 0), (pad, pad), (pad, pad)))  # zero padding, before normalisation
    candidates = {
        (top, left, flip): (crop[:, :, ::-1] if flip else crop)
        for top in range(2 * pad + 1)
        for left in range(2 * pad + 1)
        for flip in (False, True)
        for crop in [padded[:, top : top + side, left : left + side]]
    }
    found = []
    for output in pixels:
        matches = [key for key, crop in candidates.items() if np.array_equal(output, crop)]
        assert len(matches) == 1
        found.append(matches[0])
    assert {(top, left) for top, left, _ in found} == {(t, s) for t in range(5) for s in range(5)}
    assert 0.3 < np.mean([flip for *_, flip in found]) < 0.7
    assert (2, 2, False) in found  # the centre: the image itself


def test_flip_without_crop_mirrors_whole_images() -> None:
    picture = torch.arange(3 * 4 * 4, dtype=torch.uint8).view(1, 3, 4, 4).expand(64, -1, -1, -1).contiguous()
    images = ImageSet(picture, torch.zeros(64, dtype=torch.int64))
    outputs = to_pixels(first_batch(loader(images, pad=0))).round().to(torch.uint8)
    flipped = torch.tensor([torch.equal(o, picture[0].flip(-1)) for o in outputs])
    same = torch.tensor([torch.equal(o, picture[0]) for o in outputs])
    assert torch.all(flipped ^ same) and 10 < int(flipped.sum()) < 54


def test_cutout_zeroes_squares_after_normalisation() -> None:
    side, length, copies = 16, 6, 512
    white = torch.full((copies, 3, side, side), 255, dtype=torch.uint8)
    images = ImageSet(white, torch.zeros(copies, dtype=torch.int64))
    x = first_batch(loader(images, pad=0, cutout=length))
    holes = x == 0
    assert torch.allclose(x[~holes], torch.tensor(2.0))  # (1 - 0.5) / 0.25 outside the holes
    assert torch.equal(holes[:, :1].expand_as(holes), holes)  # the same square on every channel
    full_squares = 0
    for hole in holes[:, 0]:
        rows = torch.nonzero(hole.any(dim=1)).flatten()
        cols = torch.nonzero(hole.any(dim=0)).flatten()
        assert rows.numel() and cols.numel()  # the centre is always inside: never an empty hole
        assert int(hole.sum()) == rows.numel() * cols.numel()  # a rectangle
        for span in (rows, cols):
            assert span[-1] - span[0] + 1 == span.numel() <= length
            inside = span[0] > 0 and span[-1] < side - 1
            assert span.numel() == length or not inside  # shorter only where clipped by the border
        full_squares += rows.numel() == cols.numel() == length
    assert full_squares > copies // 10
    assert not torch.any(first_batch(loader(images, pad=0, cutout=0)) == 0)


def test_crop_at_full_size_then_resize_as_the_authors() -> None:
    """At 16 px each output is resize(crop(flip(x_32))) for one crop of the 4-px padded 32-px image
    (their RandomCrop(32, padding=4), flip, Resize(16)), with odd offsets too, i.e. half-pixel
    shifts at 16 px; the same seed draws the same batch."""
    side, size, pad, copies = 32, 16, 4, 512
    picture = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (3, side, side)).astype(np.uint8))
    images = ImageSet(picture.expand(copies, -1, -1, -1).contiguous(), torch.zeros(copies, dtype=torch.int64))
    batches = loader(images, size=size, seed=3)
    assert batches.pad == pad
    x = first_batch(batches)
    assert x.shape == (copies, 3, size, size)
    assert torch.equal(x, first_batch(loader(images, size=size, seed=3)))
    outputs = to_pixels(x).round().to(torch.uint8)
    padded = torch.nn.functional.pad(picture, (pad,) * 4)
    crops = {
        (top, left, flip): padded[:, top : top + side, left : left + side]
        for top in range(2 * pad + 1)
        for left in range(2 * pad + 1)
        for flip in (False, True)
    }
    keys = list(crops)
    flipped = [crop.flip(-1) if flip else crop for (_, _, flip), crop in crops.items()]
    candidates = resize(ImageSet(torch.stack(flipped), torch.zeros(len(keys), dtype=torch.int64)), size).images
    found = []
    for output in outputs:
        matches = [key for key, candidate in zip(keys, candidates) if torch.equal(output, candidate)]
        assert len(matches) == 1
        found.append(matches[0])
    assert {(top, left) for top, left, _ in found} == {(t, s) for t in range(9) for s in range(9)}


def test_resize_matches_pil_bilinear() -> None:
    """Our batched resize against PIL's (what the authors' torchvision Resize runs), 32 -> 16 and 8 px:
    within one grey level everywhere (PIL computes in fixed point), most values equal."""
    pictures = load_dataset("synthetic:64").train.images
    for size in (16, 8):
        ours = resize(ImageSet(pictures, torch.zeros(64, dtype=torch.int64)), size).images
        theirs = torch.stack([
            torch.from_numpy(np.array(Image.fromarray(p.permute(1, 2, 0).numpy()).resize((size, size), Image.BILINEAR))).permute(2, 0, 1)
            for p in pictures
        ])
        difference = (ours.int() - theirs.int()).abs()
        assert difference.max() <= 1 and difference.float().mean() < 0.25


def test_default_pad_is_an_eighth_of_the_side() -> None:
    assert loader(load_dataset("synthetic:20").train).pad == 4
    assert loader(resize(load_dataset("synthetic:20").train, 16)).pad == 2


# --------------------------------------------------------------------------------------------------
# Loading from folders and zips


def test_folder_round_trip_and_cache(tmp_path: Path, counted_decodes: list[int]) -> None:
    root = write_folder(tmp_path / "images", tiny_members())
    cache = tmp_path / "cache"
    dataset = load_dataset(root, cache_dir=cache)
    assert re.fullmatch(r"images-[0-9a-f]{12}", dataset.name) and dataset.classes == ("blue", "red")
    assert (len(dataset.train), len(dataset.test)) == (6, 2)
    assert dataset.train.images.shape == (6, 3, 8, 8)
    assert dataset.train.labels.tolist() == [0, 0, 0, 1, 1, 1] and dataset.test.labels.tolist() == [0, 1]
    assert dataset.train.images[0, :, 0, 0].tolist() == list(BLUE)  # PNG: exact
    assert dataset.mean == pytest.approx([(c1 + c2) / 2 / 255 for c1, c2 in zip(RED, BLUE)])
    files = list(cache.glob("*.pt"))
    again = load_dataset(root, cache_dir=cache)
    assert counted_decodes == [8] and list(cache.glob("*.pt")) == files
    assert torch.equal(again.train.images, dataset.train.images) and again.classes == dataset.classes
    assert again.mean == dataset.mean and again.name == dataset.name


def test_zip_round_trip_cache_hit_and_invalidation(tmp_path: Path, counted_decodes: list[int]) -> None:
    archive = write_zip(tmp_path / "tiny.zip", tiny_members("JPEG", "jpg"))
    cache = tmp_path / "cache"
    dataset = load_dataset(archive, cache_dir=cache)
    assert dataset.name.startswith("tiny-") and dataset.classes == ("blue", "red")
    assert (dataset.train.images[3:].float() - torch.tensor(RED).view(1, 3, 1, 1)).abs().max() <= 6  # JPEG
    [cached] = cache.glob("*.pt")
    stamp = cached.stat().st_mtime_ns
    load_dataset(str(archive), cache_dir=cache)
    assert counted_decodes == [8] and cached.stat().st_mtime_ns == stamp  # a hit: neither decoded nor written
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))  # a changed source: decoded again
    load_dataset(archive, cache_dir=cache)
    assert counted_decodes == [8, 8] and len(list(cache.glob("*.pt"))) == 1 and not cached.exists()


def test_cache_is_keyed_by_resolved_path(tmp_path: Path, counted_decodes: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    archive = write_zip(tmp_path / "data" / "tiny.zip", tiny_members())
    (tmp_path / "link").symlink_to(tmp_path / "data")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    cache = tmp_path / "cache"
    names = {load_dataset(source, cache_dir=cache).name for source in (archive, "../data/tiny.zip", tmp_path / "link" / "tiny.zip")}
    assert counted_decodes == [8] and len(list(cache.glob("*.pt"))) == 1  # relative, absolute and linked: one decode
    assert len(names) == 1 and names.pop().startswith("tiny-")


def test_cache_dir_defaults_to_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "env-cache"))
    load_dataset(write_zip(tmp_path / "tiny.zip", tiny_members()))
    assert len(list((tmp_path / "env-cache").glob("tiny.zip-*.pt"))) == 1
    assert not list((tmp_path / "env-cache").glob(".*.tmp"))  # the temp file was renamed away


def test_temp_files_of_a_killed_cache_write_are_removed(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "tiny.zip", tiny_members())
    cache = tmp_path / "cache"
    load_dataset(archive, cache_dir=cache)
    [cached] = cache.glob("*.pt")
    stale, fresh = cache / f".{cached.name}.dead.tmp", cache / f".{cached.name}.live.tmp"
    for path in (stale, fresh):
        path.write_bytes(b"half a tensor")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    load_dataset(archive, cache_dir=cache)  # a cache hit cleans up too
    assert not stale.exists()
    assert fresh.exists()  # young: may be another process's write in progress


def test_corrupt_cache_is_rebuilt(tmp_path: Path, counted_decodes: list[int]) -> None:
    archive = write_zip(tmp_path / "tiny.zip", tiny_members())
    cache = tmp_path / "cache"
    expected = load_dataset(archive, cache_dir=cache).train.images
    [cached] = cache.glob("*.pt")
    cached.write_bytes(cached.read_bytes()[:100])  # as if cut short
    with pytest.warns(UserWarning, match="rebuilding unreadable data cache"):
        rebuilt = load_dataset(archive, cache_dir=cache)
    assert counted_decodes == [8, 8] and torch.equal(rebuilt.train.images, expected)
    assert load_dataset(archive, cache_dir=cache).train.images.shape == expected.shape  # now valid


def test_a_cache_corrupted_in_place_is_caught_by_its_digest_and_rebuilt(tmp_path: Path, counted_decodes: list[int]) -> None:
    archive = write_zip(tmp_path / "tiny.zip", tiny_members())
    cache = tmp_path / "cache"
    expected = load_dataset(archive, cache_dir=cache)
    [cached] = cache.glob("*.pt")
    data = bytearray(cached.read_bytes())
    start = data.find(expected.train.images.numpy().tobytes()[:64])  # inside the stored images
    assert start > 0
    data[start : start + 64] = bytes(255 - b for b in data[start : start + 64])  # same size, other pixels
    cached.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="does not match the digest"):
        rebuilt = load_dataset(archive, cache_dir=cache)
    assert counted_decodes == [8, 8] and rebuilt.name == expected.name
    assert torch.equal(rebuilt.train.images, expected.train.images)


def test_a_cache_write_that_fails_in_torch_warns_and_goes_on(tmp_path: Path) -> None:
    # A file size limit makes the write fail as a full disk does (torch raises RuntimeError, not OSError).
    archive = write_zip(tmp_path / "tiny.zip", tiny_members())
    cache = tmp_path / "cache"
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, limit[1]))
    try:
        with pytest.warns(UserWarning, match="could not write data cache"):
            dataset = load_dataset(archive, cache_dir=cache)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, previous)
    assert len(dataset.train) == 6 and list(cache.glob("*")) == [] and list(cache.glob(".*")) == []


def test_classes_at_top_level_are_all_training(tmp_path: Path) -> None:
    members = {name.removeprefix("train/"): blob for name, blob in tiny_members().items() if name.startswith("train/")}
    dataset = load_dataset(write_folder(tmp_path / "flat", members), cache_dir=tmp_path / "cache")
    assert len(dataset.train) == 6 and len(dataset.test) == 0 and dataset.test.images.shape == (0, 3, 8, 8)


def test_zip_with_enclosing_folder_and_ignored_members(tmp_path: Path) -> None:
    members = {f"cifar/{name}": blob for name, blob in tiny_members().items()}
    members["cifar/README.txt"] = b"not an image"
    members["__MACOSX/cifar/train/red/._0.png"] = b"resource fork"
    members["cifar/train/red/.hidden.png"] = b"hidden"
    dataset = load_dataset(write_zip(tmp_path / "nested.zip", members), cache_dir=tmp_path / "cache")
    assert dataset.classes == ("blue", "red") and (len(dataset.train), len(dataset.test)) == (6, 2)


def test_mixed_sizes_and_modes_are_made_uniform(tmp_path: Path) -> None:
    members = {
        "train/a/0.png": image_bytes(RED, size=(8, 8)),
        "train/a/1.jpg": image_bytes(GREY, "JPEG", size=(16, 16), mode="L"),
        "train/b/0.bmp": image_bytes(GREEN, "BMP", size=(4, 4)),
    }
    dataset = load_dataset(write_zip(tmp_path / "mixed.zip", members), cache_dir=tmp_path / "cache")
    assert dataset.train.images.shape == (3, 3, 8, 8)
    assert (dataset.train.images[1].float() - 128).abs().max() <= 2  # grey to RGB, 16 px down to 8
    assert torch.all(dataset.train.images[2] == torch.tensor(GREEN, dtype=torch.uint8).view(3, 1, 1))


# --------------------------------------------------------------------------------------------------
# Errors


def assert_one_line(error: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(error.value)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data source not found: .*nowhere") as error:
        load_dataset(tmp_path / "nowhere")
    assert_one_line(error)


def test_empty_folder_and_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found in .*empty"):
        load_dataset(tmp_path / "empty", cache_dir=tmp_path / "cache")
    write_folder(tmp_path / "text", {"train/a/notes.txt": b"hello"})
    with pytest.raises(DataError, match="no images found"):
        load_dataset(tmp_path / "text", cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match="no images found in .*empty.zip"):
        load_dataset(write_zip(tmp_path / "empty.zip", {"train/": b""}), cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"train/lonely.jpg": image_bytes(RED, "JPEG")}, "train/lonely.jpg is not inside a class folder"),
        ({"train/a/0.png": image_bytes(RED), "test/b/0.png": image_bytes(RED)}, "test class 'b' has no training"),
        ({"test/a/0.png": image_bytes(RED)}, "test/ folder but no train/"),
        ({"train/a/0.png": image_bytes(RED), "train/a/bad.jpg": b"\xff\xd8 not a jpeg"}, "unreadable image train/a/bad.jpg"),
        ({"train/a/0.png": image_bytes(RED), "train/a/empty.png": b""}, "unreadable image train/a/empty.png"),
        ({"train/a/cut.jpg": image_bytes(RED, "JPEG")[:200]}, "unreadable image train/a/cut.jpg .*(?i:truncated)"),
    ],
)
def test_bad_zip_members_are_named(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        load_dataset(write_zip(tmp_path / "bad.zip", members), cache_dir=tmp_path / "cache")
    assert_one_line(error)
    assert not list((tmp_path / "cache").glob("*.pt"))  # nothing cached from a failed decode


def test_file_that_is_not_a_zip(tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_bytes(b"plain text")
    with pytest.raises(DataError, match="neither a folder nor a zip file"):
        load_dataset(tmp_path / "fake.zip")


def test_cifar_without_files_asks_for_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="CIFAR-10 not found under .*pass download=True") as error:
        load_dataset(f"cifar10:{tmp_path}")
    assert_one_line(error)
    with pytest.raises(DataError, match="CIFAR-100 not found"):
        load_dataset(f"cifar100:{tmp_path}")


# --------------------------------------------------------------------------------------------------
# The real CIFAR-10 JPEGs


@pytest.mark.integration
def test_cifar10_jpeg_zip(tmp_path_factory: pytest.TempPathFactory) -> None:
    if not CIFAR10_ZIP.exists():
        pytest.skip(f"{CIFAR10_ZIP} is absent")
    cache = tmp_path_factory.mktemp("cifar-cache")
    started = time.perf_counter()
    dataset = load_dataset(CIFAR10_ZIP, cache_dir=cache)
    decoded = time.perf_counter() - started
    started = time.perf_counter()
    cached = load_dataset(CIFAR10_ZIP, cache_dir=cache)
    reloaded = time.perf_counter() - started
    print(f"\ncifar10-jpeg.zip: decoded in {decoded:.1f} s, loaded from cache in {reloaded:.2f} s")
    assert dataset.name.startswith("cifar10-jpeg-") and dataset.num_classes == 10
    assert dataset.classes[0] == "airplane" and dataset.classes[-1] == "truck"
    assert dataset.train.images.shape == (50_000, 3, 32, 32) and dataset.test.images.shape == (10_000, 3, 32, 32)
    assert torch.bincount(dataset.train.labels).tolist() == [5000] * 10
    assert torch.bincount(dataset.test.labels).tolist() == [1000] * 10
    assert dataset.mean == pytest.approx((0.4914, 0.4822, 0.4465), abs=0.005)  # CIFAR-10's known means
    assert torch.equal(cached.train.images, dataset.train.images) and reloaded < decoded
    train, valid = train_valid_split(dataset.train, valid_size=0.1, seed=0)
    assert (len(train), len(valid)) == (45_000, 5_000)


def test_identity_follows_content_not_path(tmp_path: Path) -> None:
    for folder in ("a", "b", "c2"):
        (tmp_path / folder).mkdir()
    first = load_dataset(write_zip(tmp_path / "a" / "data.zip", tiny_members("PNG", "png")), cache_dir=tmp_path / "c")
    moved = load_dataset(write_zip(tmp_path / "b" / "data.zip", tiny_members("PNG", "png")), cache_dir=tmp_path / "c")
    other = load_dataset(write_zip(tmp_path / "c2" / "data.zip", tiny_members("JPEG", "jpg")), cache_dir=tmp_path / "c")
    assert first.name == moved.name  # same images elsewhere: results are shared
    assert first.name != other.name  # same file name, other pixels: results are not
