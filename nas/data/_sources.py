"""Reading images: an ImageFolder-layout zip or folder decoded once with PIL, or torchvision's CIFAR.

A zip is read without extraction; the layout (``train/<class>/*``, ``test/<class>/*``) is read off
the member names. What is decoded is cached by :mod:`nas.data._cache`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from nas.data._dataset import DataError, Dataset, ImageSet, make_dataset, one_line

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp", ".gif")
SPLITS = ("train", "test")

TORCHVISION_CIFAR = {"cifar10": ("CIFAR10", "CIFAR-10"), "cifar100": ("CIFAR100", "CIFAR-100")}


def load_cifar(kind: str, root: Path, download: bool) -> Dataset:
    """CIFAR-10/100 from torchvision's pickled batches (already uint8 arrays: nothing to cache)."""
    import torchvision.datasets

    class_name, title = TORCHVISION_CIFAR[kind]
    factory = getattr(torchvision.datasets, class_name)
    try:
        parts = [factory(str(root), train=is_train, download=download) for is_train in (True, False)]
    except RuntimeError as error:
        if download:
            raise DataError(f"{title} under {root} is unusable: {one_line(error)}") from error
        raise DataError(f"{title} not found under {root}; pass download=True to fetch it") from error
    except OSError as error:  # network failures (URLError is an OSError) and unwritable roots
        raise DataError(f"could not download {title} into {root}: {one_line(error)}") from error
    train, test = (_from_hwc(part.data, part.targets) for part in parts)
    return make_dataset(kind, parts[0].classes, train, test)


def _from_hwc(data: np.ndarray, targets: Sequence[int]) -> ImageSet:
    images = torch.from_numpy(np.ascontiguousarray(data)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, torch.as_tensor(targets, dtype=torch.int64))



class ZipSource:
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
            raise DataError(f"unreadable zip {self.path}: {one_line(error)}") from error

    @property
    def members(self) -> list[str]:
        return [info.filename for info in self._archive.infolist() if not info.is_dir()]

    def read(self, member: str) -> bytes:
        return self._archive.read(member)

    def close(self) -> None:
        if "_archive" in self.__dict__:
            self._archive.close()


class FolderSource:
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
class Plan:
    """Which member is which image: the classes and the (member, label) lists of both splits."""

    classes: tuple[str, ...]
    train: list[tuple[str, int]]
    test: list[tuple[str, int]]


def plan(members: Sequence[str], origin: Path) -> Plan:
    """Read the ImageFolder layout off the member names (sorted, so labels follow class names)."""
    entries = _image_members(members)
    if not entries:
        raise DataError(f"no images found in {origin}")
    tops = {parts[0] for parts in entries}
    if "train" in tops:
        groups = {split: [(p[1:], m) for p, m in sorted(entries.items()) if p[0] == split] for split in SPLITS}
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
    train, test = ([(member, label[parts[0]]) for parts, member in groups[split]] for split in SPLITS)
    return Plan(tuple(classes), train, test)


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



Source = Union[ZipSource, FolderSource]


def decode_dataset(source: Source, plan: Plan) -> Dataset:
    members = [member for member, _ in plan.train + plan.test]
    images = _decode_images(source, members)
    labels = torch.tensor([label for _, label in plan.train + plan.test], dtype=torch.int64)
    n_train = len(plan.train)
    train = ImageSet(images[:n_train], labels[:n_train])
    test = ImageSet(images[n_train:], labels[n_train:])
    return make_dataset(source.name, plan.classes, train, test)


def _decode_images(source: Source, members: Sequence[str]) -> torch.Tensor:
    """Decode ``members`` into one ``(N, 3, H, W)`` uint8 tensor, H and W those of the first image.

    With PIL, on one core, on purpose: a 32-pixel JPEG costs ~45 us to decode and ~10 us to read,
    almost all of it Python overhead that holds the GIL, so threads were slower on 2 cores and
    processes barely faster (each re-parses the zip directory; results are pickled back). CIFAR-10
    takes about 3.5 s, once. (torchvision's decoder is faster but deprecated since 0.29.)
    """
    first = _decode(_read_member(source, members[0]), members[0], source.path)
    height, width = first.shape[:2]
    out = np.empty((len(members), height, width, 3), dtype=np.uint8)
    # A bar on a terminal; in a log (its carriage returns pile up there) one line says what takes a while.
    terminal = sys.stderr.isatty()
    if not terminal:
        print(f"decoding {source.path.name}: {len(members)} images, once (then cached)", file=sys.stderr, flush=True)
    progress = tqdm(members, desc=f"decoding {source.path.name}", unit="img", file=sys.stderr, disable=not terminal)
    for i, member in enumerate(progress):
        out[i] = _decode(_read_member(source, member), member, source.path, (width, height))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _read_member(source: Source, member: str) -> bytes:
    try:
        return source.read(member)
    except Exception as error:  # zipfile raises BadZipFile, zlib.error, OSError, ... for a bad member
        raise DataError(f"cannot read {member} in {source.path}: {one_line(error)}") from error


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
        raise DataError(f"unreadable image {member} in {origin}: {one_line(error)}") from error


# --------------------------------------------------------------------------------------------------
# Splitting, sampling, resizing
