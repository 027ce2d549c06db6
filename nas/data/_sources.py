"""The data layer: images decoded once, kept as uint8 tensors, augmented a whole batch at a time.

Training a DARTS network for a few epochs on small images is data-bound when every sample goes
through PIL: decoding, cropping and flipping one image at a time in Python costs more than the
forward pass of a small network. So:

* a source (a zip or a folder of JPEGs) is decoded **once** into a ``(N, 3, H, W)`` uint8 tensor
  that is cached on disk (:func:`load_dataset`): CIFAR-10's 60,000 JPEGs take a few seconds, and
  later runs load them in about 0.1 s;
* splitting, sampling and resizing work on whole tensors (:func:`train_valid_split`,
  :func:`subsample`, :func:`resize`);
* :class:`BatchLoader` keeps the uint8 images on the training device and builds each batch with a
  handful of tensor operations: random crop with zero padding, horizontal flip, normalisation and
  DARTS's cutout, each image with its own random offsets, flip and hole.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import re
import sys
import warnings
import zipfile
from collections.abc import Iterator, Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from nas._errors import NasError
from nas.estimation._files import remove_stale_temps, save_atomically

__all__ = [
    "BatchLoader",
    "DataError",
    "Dataset",
    "ImageSet",
    "load_dataset",
    "resize",
    "subsample",
    "train_valid_split",
]

CACHE_ENV = "OPTUNA_MIP_CACHE"
"""Environment variable naming the decode cache folder (default ``~/.cache/optuna-mip``)."""

_CACHE_FORMAT = 2  # bump when the layout of the cache files changes, so old files are rebuilt (2: digest)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp", ".gif")
_SPLITS = ("train", "test")
_RESIZE_CHUNK = 4096  # images per interpolate call: bounds the float32 copy to ~50 MB at 32 px
SYNTHETIC_CLASSES = 10
SYNTHETIC_SIZE = 32
SYNTHETIC_DEFAULT_N = 512


class DataError(NasError, ValueError):
    """Bad data source; the message is one line naming the problem (path, reason)."""


# --------------------------------------------------------------------------------------------------
# Containers


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images and their labels, kept together so that every selection keeps them aligned.

    ``images`` is ``(N, 3, H, W)`` uint8 on the CPU (1 byte a value: CIFAR-10 is 150 MB, not 600);
    ``labels`` is ``(N,)`` int64. Compared by identity (``eq=False``): tensors have no truth value.
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (N, 3, H, W) uint8, got {tuple(images.shape)} {images.dtype}")
        if labels.dtype != torch.int64 or labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels must be ({images.shape[0]},) int64, got {tuple(labels.shape)} {labels.dtype}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: torch.Tensor) -> ImageSet:
        """The images at ``index`` (integer indices or a boolean mask), in that order."""
        return ImageSet(self.images[index], self.labels[index])


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification dataset: the official training images, the test images and their statistics.

    ``name`` identifies the source for result caching; ``mean`` and ``std`` are per channel, over the
    training images, in [0, 1] units, ready for normalisation.
    """

    name: str
    classes: tuple[str, ...]
    train: ImageSet
    test: ImageSet
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Per-channel mean and (population) std of uint8 images, in [0, 1] units.

    From exact per-channel histograms of the 256 values: no float copy of the images, no rounding.
    """
    if images.shape[0] == 0:
        raise DataError("cannot compute channel statistics of an empty training set")
    values = torch.arange(256, dtype=torch.float64) / 255
    counts = torch.stack([torch.bincount(images[:, c].flatten(), minlength=256) for c in range(3)]).double()
    total = counts.sum(dim=1)
    mean = (counts * values).sum(dim=1) / total
    variance = (counts * values.square()).sum(dim=1) / total - mean.square()
    return _triple(mean), _triple(variance.clamp_min(0).sqrt())


def _triple(values: torch.Tensor) -> tuple[float, float, float]:
    first, second, third = (float(v) for v in values)
    return first, second, third


def _make_dataset(name: str, classes: Sequence[str], train: ImageSet, test: ImageSet) -> Dataset:
    mean, std = channel_stats(train.images)
    return Dataset(name, tuple(classes), train, test, mean, std)


# --------------------------------------------------------------------------------------------------
# Loading


def load_dataset(
    source: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    download: bool = False,
) -> Dataset:
    """Load a dataset from ``source``; decode it once and cache the decoded tensors.

    Source forms:

    * a ``.zip`` in ImageFolder layout (``train/<class>/*``, ``test/<class>/*``), read straight from
      the archive (no extraction); a single enclosing folder (``cifar10/train/...``) is allowed;
    * a folder in the same layout. A folder (or zip) **without** ``train/`` holds the classes at its
      top level: all its images are training images and the test set is empty, so it can still be
      searched on (the validation split is carved from ``train``);
    * ``"cifar10:ROOT"`` / ``"cifar100:ROOT"``: torchvision's CIFAR files under ``ROOT`` (``"cifar10"``
      alone uses ``<cache_dir>/torchvision``); missing files need ``download=True``;
    * ``"synthetic"``, ``"synthetic:N"`` or ``"synthetic:N:SEED"``: a deterministic, learnable set of
      ``N`` (default 512) 32-pixel training images in 10 classes and ``N // 4`` test images, made in
      memory, for tests.

    The named forms are recognised in strings only: pass a :class:`~pathlib.Path` for a folder
    that happens to be called ``synthetic`` or ``cifar10``.

    Images in a zip or folder are converted to RGB; any whose size differs from the first image's is
    resized (bilinear, antialiased) to it, as a batch needs one size. Member names in other top-level
    folders (``val/``, ``__MACOSX/``), hidden files and non-image files are ignored.

    The decoded tensors go to ``cache_dir`` (default ``$OPTUNA_MIP_CACHE`` or ``~/.cache/optuna-mip``)
    in a file keyed by the source's absolute path, size and modification time (each image's, for a
    folder), written atomically; an unreadable cache file is rebuilt, and files of older versions of
    the same source are removed.

    Raises :class:`DataError` (one line) for a missing source, a source without images or classes, a
    member outside a class folder, or an image that cannot be decoded.
    """
    cache = cache_root(cache_dir)
    if isinstance(source, str):
        named = _named_source(source, cache, download)
        if named is not None:
            return named
    path = Path(source).expanduser().absolute()
    if not path.exists():
        raise DataError(f"data source not found: {path}")
    if path.is_dir():
        return _load_cached(_FolderSource(path), cache)
    if zipfile.is_zipfile(path):
        with contextlib.closing(_ZipSource(path)) as archive:
            return _load_cached(archive, cache)
    raise DataError(f"data source is neither a folder nor a zip file: {path}")


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$OPTUNA_MIP_CACHE``, else ``~/.cache/optuna-mip``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "optuna-mip").expanduser()


def _named_source(text: str, cache: Path, download: bool) -> Dataset | None:
    """The dataset of a named source form (synthetic, CIFAR), or None when ``text`` is a path."""
    kind, _, argument = text.partition(":")
    if kind == "synthetic":
        return _synthetic_from_spec(argument)
    if kind in _TORCHVISION_CIFAR:
        root = Path(argument).expanduser() if argument else cache / "torchvision"
        return _load_cifar(kind, root, download)
    return None


# -- synthetic ---------------------------------------------------------------------------------------


def _synthetic_from_spec(argument: str) -> Dataset:
    match = re.fullmatch(r"(\d+)?(?::(\d+))?", argument)
    if match is None:
        raise DataError(f"bad synthetic source {'synthetic:' + argument!r}: write synthetic[:N[:SEED]]")
    size = int(match.group(1)) if match.group(1) else SYNTHETIC_DEFAULT_N
    seed = int(match.group(2)) if match.group(2) else 0
    if size < SYNTHETIC_CLASSES:
        raise DataError(f"synthetic source needs at least {SYNTHETIC_CLASSES} images, got {size}")
    return synthetic_dataset(size, seed=seed)


def synthetic_dataset(size: int = SYNTHETIC_DEFAULT_N, *, seed: int = 0) -> Dataset:
    """A deterministic, learnable 10-class set of 32-pixel images, made in memory.

    Each class has its own colour and its own stripe orientation and frequency; every image has a
    random stripe phase and Gaussian noise. Single pixels are too noisy to tell the classes apart,
    but averages over the image are not, so a small CNN is well above chance within a few epochs.
    """
    generator = torch.Generator().manual_seed(seed)
    train = _synthetic_images(size, generator)
    test = _synthetic_images(size // 4, generator)
    classes = tuple(f"class{k}" for k in range(SYNTHETIC_CLASSES))
    return _make_dataset(f"synthetic-{size}-{seed}", classes, train, test)


def _synthetic_images(count: int, generator: torch.Generator) -> ImageSet:
    labels = torch.arange(count) % SYNTHETIC_CLASSES
    labels = labels[torch.randperm(count, generator=generator)]
    k = labels.to(torch.float32)
    colour = torch.stack([0.5 + 0.3 * torch.cos(k * 0.63 + shift) for shift in (0.0, 2.1, 4.2)], dim=1)
    angle = k * (torch.pi / SYNTHETIC_CLASSES)
    frequency = 2 * torch.pi / (4.0 + 2.0 * (k % 3))
    phase = torch.rand(count, generator=generator) * 2 * torch.pi
    grid = torch.arange(SYNTHETIC_SIZE, dtype=torch.float32)
    along = grid[None, None, :] * torch.cos(angle)[:, None, None] + grid[None, :, None] * torch.sin(angle)[:, None, None]
    stripes = torch.sin(frequency[:, None, None] * along + phase[:, None, None])
    noise = torch.randn(count, 3, SYNTHETIC_SIZE, SYNTHETIC_SIZE, generator=generator)
    values = colour[:, :, None, None] + 0.25 * stripes[:, None] + 0.12 * noise
    images = (values.clamp(0, 1) * 255).round().to(torch.uint8)
    return ImageSet(images, labels)


# -- torchvision CIFAR -------------------------------------------------------------------------------

_TORCHVISION_CIFAR = {"cifar10": ("CIFAR10", "CIFAR-10"), "cifar100": ("CIFAR100", "CIFAR-100")}


def _load_cifar(kind: str, root: Path, download: bool) -> Dataset:
    """CIFAR-10/100 from torchvision's pickled batches (already uint8 arrays: nothing to cache)."""
    import torchvision.datasets

    class_name, title = _TORCHVISION_CIFAR[kind]
    factory = getattr(torchvision.datasets, class_name)
    try:
        parts = [factory(str(root), train=is_train, download=download) for is_train in (True, False)]
    except RuntimeError as error:
        if download:
            raise DataError(f"{title} under {root} is unusable: {_one_line(error)}") from error
        raise DataError(f"{title} not found under {root}; pass download=True to fetch it") from error
    except OSError as error:  # network failures (URLError is an OSError) and unwritable roots
        raise DataError(f"could not download {title} into {root}: {_one_line(error)}") from error
    train, test = (_from_hwc(part.data, part.targets) for part in parts)
    return _make_dataset(kind, parts[0].classes, train, test)


def _from_hwc(data: np.ndarray, targets: Sequence[int]) -> ImageSet:
    images = torch.from_numpy(np.ascontiguousarray(data)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, torch.as_tensor(targets, dtype=torch.int64))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


# -- zip and folder sources ----------------------------------------------------------------------------


class _ZipSource:
    """Members of an ImageFolder-layout zip, read without extraction.

    The archive is opened on first use (a cache hit needs only its size and time) and stays open
    until :meth:`close`: opening parses the whole directory, 0.4 s for 60,000 entries.
    """

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()  # the cache key: one cache file for every way of naming the file
        self.name = path.stem

    def fingerprint(self) -> str:
        stat = self.path.stat()
        return f"zip|{self.path}|{stat.st_size}|{stat.st_mtime_ns}"

    @functools.cached_property
    def _archive(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as error:
            raise DataError(f"unreadable zip {self.path}: {_one_line(error)}") from error

    @property
    def members(self) -> list[str]:
        return [info.filename for info in self._archive.infolist() if not info.is_dir()]

    def read(self, member: str) -> bytes:
        return self._archive.read(member)

    def close(self) -> None:
        if "_archive" in self.__dict__:
            self._archive.close()


class _FolderSource:
    """Image files below an ImageFolder-layout folder."""

    def __init__(self, path: Path) -> None:
        self.path = path.resolve()  # the cache key: one cache file for every way of naming the folder
        self.name = path.name
        self._stats: dict[str, tuple[int, int]] = {}
        for entry in _walk(self.path):
            stat = entry.stat()
            self._stats[Path(entry.path).relative_to(self.path).as_posix()] = (stat.st_size, stat.st_mtime_ns)
        self.members = list(self._stats)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for member in sorted(self._stats):
            if _is_image(member):
                size, mtime = self._stats[member]
                digest.update(f"{member}|{size}|{mtime}\n".encode())
        return f"folder|{self.path}|{digest.hexdigest()}"

    def read(self, member: str) -> bytes:
        return (self.path / member).read_bytes()


def _walk(folder: Path) -> Iterator[os.DirEntry]:
    """Regular files below ``folder``, skipping hidden entries (``.git``, ``.DS_Store``)."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                yield from _walk(Path(entry.path))
            elif entry.is_file():
                yield entry


def _is_image(member: str) -> bool:
    return member.lower().endswith(IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class _Plan:
    """Which member is which image: the classes and the (member, label) lists of both splits."""

    classes: tuple[str, ...]
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]


def _plan(members: Sequence[str], origin: Path) -> _Plan:
    """Read the ImageFolder layout off the member names (sorted, so labels follow class names)."""
    entries = _image_members(members)
    if not entries:
        raise DataError(f"no images found in {origin}")
    tops = {parts[0] for parts in entries}
    if "train" in tops:
        groups = {split: [(p[1:], m) for p, m in sorted(entries.items()) if p[0] == split] for split in _SPLITS}
    elif "test" in tops:
        raise DataError(f"{origin} has a test/ folder but no train/ folder")
    else:
        groups = {"train": sorted(entries.items()), "test": []}
    for parts, member in groups["train"] + groups["test"]:
        if len(parts) < 2:
            raise DataError(f"{origin}: {member} is not inside a class folder")
    classes = sorted({parts[0] for parts, _ in groups["train"]})
    label = {name: index for index, name in enumerate(classes)}
    stray = sorted({parts[0] for parts, _ in groups["test"]} - set(label))
    if stray:
        raise DataError(f"{origin}: test class {stray[0]!r} has no training images")
    train, test = ([(member, label[parts[0]]) for parts, member in groups[split]] for split in _SPLITS)
    return _Plan(tuple(classes), train, test)


def _image_members(members: Sequence[str]) -> dict[tuple[str, ...], str]:
    """Image members by their path components, hidden and ``__MACOSX`` entries left out.

    One enclosing folder is dropped from the components (a zip of ``cifar10/`` holds
    ``cifar10/train/...``); the values keep the member names as stored, for reading.
    """
    entries = {}
    for member in members:
        parts = tuple(member.replace("\\", "/").strip("/").split("/"))
        if _is_image(member) and not any(p.startswith(".") or p == "__MACOSX" for p in parts):
            entries[parts] = member
    tops = {parts[0] for parts in entries}
    if len(tops) == 1 and "train" not in tops and any(p[1:2] == ("train",) for p in entries):
        entries = {parts[1:]: member for parts, member in entries.items() if len(parts) > 1}
    return entries


def _load_cached(source: _ZipSource | _FolderSource, cache: Path) -> Dataset:
    """The decoded dataset of ``source``: from the cache when it is current, else decoded and cached."""
    key = hashlib.sha256(f"{_CACHE_FORMAT}|{source.fingerprint()}".encode()).hexdigest()[:16]
    stem = _cache_stem(source.path)
    target = cache / f"{stem}-{key}.pt"
    found = _read_cache(target, source.name)
    if found is not None:
        (dataset, digest), cached = found, True
    else:
        dataset = _decode_dataset(source, _plan(source.members, source.path))
        digest = _content_digest(dataset)
        cached = _write_cache(target, dataset, digest)
    if cached:
        _remove_stale(cache, stem, keep=target)
    return dataclasses.replace(dataset, name=f"{source.name}-{digest[:12]}")


def _content_digest(dataset: Dataset) -> str:
    """A hash of the decoded images and labels: the dataset's identity in result stores (its
    first 12 digits), and what a cache file is checked against when read.

    A file's name or path would let two different zips called ``cifar10.zip`` share results, and
    moving a folder lose them; the decoded content does neither (0.2 s for CIFAR-10).
    """
    digest = hashlib.sha256()
    for part in (dataset.train, dataset.test):
        digest.update(part.images.numpy().tobytes())
        digest.update(part.labels.numpy().tobytes())
    return digest.hexdigest()


def _cache_stem(path: Path) -> str:
    """A file name prefix for one source: readable, and unique per resolved path."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)
    return f"{readable}-{hashlib.sha256(str(path).encode()).hexdigest()[:10]}"


def _read_cache(target: Path, name: str) -> tuple[Dataset, str] | None:
    """The dataset stored at ``target`` and its content digest; None when it is missing, or (with
    a warning) unreadable or not what was written (its content does not match the stored digest)."""
    if not target.exists():
        return None
    try:
        payload = torch.load(target, weights_only=True)
        if payload.get("format") != _CACHE_FORMAT:
            raise ValueError(f"format {payload.get('format')!r}, expected {_CACHE_FORMAT}")
        classes = tuple(str(c) for c in payload["classes"])
        train, test = (ImageSet(payload[f"{split}_images"], payload[f"{split}_labels"]) for split in _SPLITS)
        labels = torch.cat([train.labels, test.labels])
        if not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
            raise ValueError("labels out of range of the classes")
        dataset = Dataset(name, classes, train, test, _triple(payload["mean"]), _triple(payload["std"]))
        digest = _content_digest(dataset)
        if digest != payload["digest"]:
            raise ValueError("its content does not match the digest stored with it (corrupted in place?)")
        return dataset, digest
    except Exception as error:  # a truncated, corrupted or foreign file of any kind: decode again
        warnings.warn(f"rebuilding unreadable data cache {target}: {_one_line(error)}", stacklevel=3)
        return None


def _write_cache(target: Path, dataset: Dataset, digest: str) -> bool:
    """Store ``dataset`` and its content ``digest`` at ``target`` atomically (temp file +
    ``os.replace``); False on failure.

    A failure to cache only costs the next run a decode, so it warns instead of raising, however
    the write fails (a full disk shows as torch's ``RuntimeError``, not as ``OSError``).
    """
    payload = {  # train and test are views of one tensor: torch.save writes its storage once
        "format": _CACHE_FORMAT,
        "digest": digest,
        "classes": list(dataset.classes),
        "train_images": dataset.train.images,
        "train_labels": dataset.train.labels,
        "test_images": dataset.test.images,
        "test_labels": dataset.test.labels,
        "mean": torch.tensor(dataset.mean, dtype=torch.float64),
        "std": torch.tensor(dataset.std, dtype=torch.float64),
    }
    try:
        save_atomically(payload, target)
        return True
    except Exception as error:  # noqa: BLE001 - any failure: the run goes on without the cache
        warnings.warn(f"could not write data cache {target}: {_one_line(error)}", stacklevel=3)
        return False


def _remove_stale(cache: Path, stem: str, *, keep: Path) -> None:
    """Delete cache files of earlier versions of the same source (same path, other size or mtime),
    and stale temp files of this source's writes."""
    for path in cache.glob(f"{stem}-*.pt"):
        if path != keep:
            with contextlib.suppress(OSError):  # another process removed it, or it is not ours to remove
                path.unlink()
    remove_stale_temps(cache, f"{stem}-*.pt")


def _decode_dataset(source: _ZipSource | _FolderSource, plan: _Plan) -> Dataset:
    members = [member for member, _ in plan.train + plan.test]
    images = _decode_images(source, members)
    labels = torch.tensor([label for _, label in plan.train + plan.test], dtype=torch.int64)
    n_train = len(plan.train)
    train = ImageSet(images[:n_train], labels[:n_train])
    test = ImageSet(images[n_train:], labels[n_train:])
    return _make_dataset(source.name, plan.classes, train, test)


def _decode_images(source: _ZipSource | _FolderSource, members: Sequence[str]) -> torch.Tensor:
    """Decode ``members`` into one ``(N, 3, H, W)`` uint8 tensor, H and W those of the first image.

    With PIL, on one core, on purpose: a 32-pixel JPEG costs ~45 us to decode and ~10 us to read,
    almost all of it Python overhead that holds the GIL, so threads were slower on 2 cores and
    processes barely faster (each re-parses the zip directory; results are pickled back). CIFAR-10
    takes about 3.5 s, once. (torchvision's decoder is faster but deprecated since 0.29.)
    """
    first = _decode(_read_member(source, members[0]), members[0], source.path)
    height, width = first.shape[:2]
    out = np.empty((len(members), height, width, 3), dtype=np.uint8)
    progress = tqdm(members, desc=f"decoding {source.path.name}", unit="img", file=sys.stderr)
    for i, member in enumerate(progress):
        out[i] = _decode(_read_member(source, member), member, source.path, (width, height))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _read_member(source: _ZipSource | _FolderSource, member: str) -> bytes:
    try:
        return source.read(member)
    except Exception as error:  # zipfile raises BadZipFile, zlib.error, OSError, ... for a bad member
        raise DataError(f"cannot read {member} in {source.path}: {_one_line(error)}") from error


def _decode(blob: bytes, member: str, origin: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One image as ``(H, W, 3)`` uint8 RGB, resized to ``size`` (width, height) when given and different.

    PIL's bilinear resize widens its filter when shrinking, i.e. it is antialiased, as :func:`resize`.
    """
    try:
        with Image.open(io.BytesIO(blob)) as picture:
            rgb = picture if picture.mode == "RGB" else picture.convert("RGB")
            if size is not None and rgb.size != size:
                rgb = rgb.resize(size, Image.Resampling.BILINEAR)
            return np.asarray(rgb)
    except Exception as error:  # PIL raises many kinds (UnidentifiedImageError, OSError, SyntaxError)
        raise DataError(f"unreadable image {member} in {origin}: {_one_line(error)}") from error


# --------------------------------------------------------------------------------------------------
# Splitting, sampling, resizing


def train_valid_split(
    train: ImageSet, *, valid_size: int | float = 0.1, seed: int = 0
) -> tuple[ImageSet, ImageSet]:
    """Split the training images into (train, valid): a seeded, stratified draw.

    ``valid_size`` is a fraction in [0, 1) or a count. Stratified so every class gets its share of
    the validation images (CIFAR-10 with 0.1: 4,500 / 500 per class, 45,000 / 5,000 in all), which
    keeps accuracies of small validation sets comparable. Both parts keep the original order; the
    draw depends only on the labels and ``seed`` (a CPU ``torch.Generator``), so it is the same on
    every machine and before or after :func:`resize`.
    """
    count = _valid_count(valid_size, len(train))
    valid_index = _stratified_pick(train.labels, count, seed)
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[valid_index] = False
    return train.subset(keep), train.subset(valid_index)


def _valid_count(valid_size: int | float, total: int) -> int:
    if isinstance(valid_size, float) and 0 <= valid_size < 1:
        return round(valid_size * total)
    if isinstance(valid_size, int) and not isinstance(valid_size, bool) and 0 <= valid_size < max(total, 1):
        return valid_size
    raise ValueError(f"valid_size must be a fraction in [0, 1) or a count below {total}, got {valid_size!r}")


def subsample(images: ImageSet, fraction: float, *, seed: int) -> ImageSet:
    """A seeded, class-stratified sample of ``round(fraction * N)`` images (at least one).

    For budgets that train on part of the data: stratified so a 10 % sample still has every class in
    its proportion. ``fraction == 1`` returns ``images`` itself.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    if fraction == 1 or len(images) == 0:
        return images
    count = max(1, round(fraction * len(images)))
    return images.subset(_stratified_pick(images.labels, count, seed))


def _stratified_pick(labels: torch.Tensor, count: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``count`` items, drawn at random within each class, in proportion to its size.

    Quotas are apportioned by largest remainder (ties to the lower class), so they sum to ``count``
    exactly. Vectorised: one permutation, grouped by a stable sort on the labels.
    """
    generator = torch.Generator().manual_seed(seed)
    total = labels.numel()
    order = torch.randperm(total, generator=generator)
    order = order[torch.argsort(labels[order], stable=True)]
    _, sizes = torch.unique(labels, return_counts=True)
    quota = sizes.to(torch.float64) * count / max(total, 1)
    take = quota.floor().to(torch.int64)
    short = count - int(take.sum())
    if short > 0:
        take[torch.argsort(take - quota, stable=True)[:short]] += 1
    starts = torch.cumsum(sizes, 0) - sizes
    rank = torch.arange(total) - starts.repeat_interleave(sizes)
    return order[rank < take.repeat_interleave(sizes)].sort().values


def resize(images: ImageSet, size: int) -> ImageSet:
    """The images resized to ``size`` x ``size`` (bilinear, antialiased, rounded back to uint8).

    Returns ``images`` itself when already that size. Not memoised: the trainer caches the resized
    splits of a budget (``make_splits``), and the subsets it resizes are new tensors every time.
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if tuple(images.images.shape[-2:]) == (size, size):
        return images
    chunks = [_interpolate(chunk, (size, size)) for chunk in images.images.split(_RESIZE_CHUNK)]
    pixels = torch.cat(chunks) if chunks else torch.empty(0, 3, size, size, dtype=torch.uint8)
    return ImageSet(pixels, images.labels)


def _interpolate(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` to uint8 ``(N, 3, *size)``: antialiased bilinear, rounded, clamped."""
    values = F.interpolate(images.to(torch.float32), size=size, mode="bilinear", antialias=True, align_corners=False)
    return values.round_().clamp_(0, 255).to(torch.uint8)


# --------------------------------------------------------------------------------------------------
# Batches


class BatchLoader:
    """Batches ``(x, y)`` already on ``device``: x float32 normalised ``(B, 3, H, W)``, y int64.

    The uint8 images are moved to ``device`` once (zero-padded by ``pad`` when training, so a crop is
    a gather). Evaluation yields the images in order, the last batch short. Training draws, per
    epoch, a seeded permutation and drops the short last batch (batch norm never sees a batch of
    one); each image gets, as whole-batch tensor operations, the augmentation of DARTS:

    * a random crop back to ``H x W`` of the image zero-padded by ``pad`` (default ``H // 8``: 4 px at
      32, DARTS's ``RandomCrop(32, padding=4)``),
    * a horizontal flip with probability 1/2,
    * a resize to ``size`` x ``size`` when given (bilinear, antialiased, rounded as :func:`resize`),
      after the crop and flip as the authors' ``preproc.py`` (``RandomCrop(32, padding=4)``, flip,
      then PIL's ``Resize``): at 16 px a crop shifts the image by half-pixels, not by 2-px steps;
    * after normalisation, as DARTS, ``cutout``: a ``cutout x cutout`` square set to 0 around a
      uniform random centre, clipped at the border (0 = off; the side is exactly ``cutout``, the
      same as DARTS's ``Cutout`` for its even lengths).

    Evaluation images are only resized to ``size``. Randomness comes from a ``torch.Generator`` on ``device``, re-seeded at each epoch from
    ``(seed, epoch)``: the same seed gives the same batches (on CPU, bit for bit), whether or not an
    earlier epoch was read to the end. ``epoch`` counts the training epochs begun; set it to resume.
    """

    def __init__(
        self,
        images: ImageSet,
        *,
        batch_size: int,
        train: bool,
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device | str = "cpu",
        seed: int = 0,
        cutout: int = 0,
        pad: int | None = None,
        size: int | None = None,
    ) -> None:
        if not train and size is not None:
            images = resize(images, size)
        height, width = images.images.shape[-2:]
        pad = min(height, width) // 8 if pad is None else pad
        if batch_size < 1 or cutout < 0 or pad < 0:
            raise ValueError(f"need batch_size >= 1, cutout >= 0, pad >= 0; got {batch_size}, {cutout}, {pad}")
        self.batch_size, self.train, self.seed, self.cutout, self.pad = batch_size, train, seed, cutout, pad
        self.size = size if train and size is not None and (size, size) != (height, width) else None
        self.epoch = 0
        self.device = torch.device(device)
        pixels = images.images.to(self.device)
        self._images = F.pad(pixels, (pad,) * 4) if train and pad else pixels
        self._labels = images.labels.to(self.device)
        mean_ = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        std_ = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._scale, self._shift = 1 / (255 * std_), mean_ / std_
        self._rows = torch.arange(height, device=self.device)
        self._cols = torch.arange(width, device=self.device)
        # Cutout cuts the output images, which a resize makes ``size`` square.
        self._out_rows = self._rows if self.size is None else torch.arange(self.size, device=self.device)
        self._out_cols = self._cols if self.size is None else self._out_rows
        self._generator = torch.Generator(device=self.device)

    def __len__(self) -> int:
        count = self._labels.shape[0]
        return count // self.batch_size if self.train else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self._train_batches() if self.train else self._eval_batches()

    def _eval_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(0, self._labels.shape[0], self.batch_size):
            stop = start + self.batch_size
            yield self._normalise(self._images[start:stop]), self._labels[start:stop]

    def _train_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self._generator.manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        self.epoch += 1
        order = torch.randperm(self._labels.shape[0], generator=self._generator, device=self.device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size : (batch + 1) * self.batch_size]
            yield self._augment(index), self._labels[index]

    def _normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.to(torch.float32).mul_(self._scale).sub_(self._shift)

    def _augment(self, index: torch.Tensor) -> torch.Tensor:
        """Crop, flip (one gather from the padded images), resize, normalise, then cut out."""
        count, height, width = index.shape[0], self._rows.shape[0], self._cols.shape[0]
        top = self._draw(2 * self.pad + 1, count)
        left = self._draw(2 * self.pad + 1, count)
        flip = self._draw(2, count).bool()
        rows = top[:, None] + self._rows
        cols = left[:, None] + torch.where(flip[:, None], self._cols.flip(0), self._cols)
        channels = torch.arange(3, device=self.device).view(1, 3, 1, 1)
        pixels = self._images[index.view(-1, 1, 1, 1), channels, rows.view(-1, 1, height, 1), cols.view(-1, 1, 1, width)]
        if self.size is not None:
            pixels = _interpolate(pixels, (self.size, self.size))
        x = self._normalise(pixels)
        if self.cutout:
            x.masked_fill_(self._holes(count), 0.0)
        return x

    def _holes(self, count: int) -> torch.Tensor:
        """``(B, 1, H, W)`` masks of the cutout squares, each at its own random centre."""
        half = self.cutout // 2
        rows, cols = self._out_rows, self._out_cols
        top = self._draw(rows.shape[0], count) - half
        left = self._draw(cols.shape[0], count) - half
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + self.cutout)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + self.cutout)
        return (in_rows[:, :, None] & in_cols[:, None, :])[:, None]

    def _draw(self, high: int, count: int) -> torch.Tensor:
        return torch.randint(high, (count,), generator=self._generator, device=self.device)
