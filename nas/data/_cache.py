"""The decode cache: a source's decoded tensors in one file, keyed by the source, checked by a digest.

The digest of the decoded content is also the dataset's identity in result stores, so a moved
folder keeps its results and two different zips of one name do not share them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import warnings
from pathlib import Path

import torch

from nas._files import remove_stale_temps, save_atomically
from nas.data._dataset import Dataset, ImageSet, one_line, triple
from nas.data._sources import SPLITS, Source, decode_dataset, plan

_CACHE_FORMAT = 2  # bump when the layout of the cache files changes, so old files are rebuilt (2: digest)


def load_cached(source: Source, cache: Path) -> Dataset:
    """The decoded dataset of ``source``: from the cache when it is current, else decoded and cached."""
    key = hashlib.sha256(f"{_CACHE_FORMAT}|{source.fingerprint()}".encode()).hexdigest()[:16]
    stem = _cache_stem(source.path)
    target = cache / f"{stem}-{key}.pt"
    found = _read_cache(target, source.name)
    if found is not None:
        (dataset, digest), cached = found, True
    else:
        dataset = decode_dataset(source, plan(source.members, source.path))
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
        train, test = (ImageSet(payload[f"{split}_images"], payload[f"{split}_labels"]) for split in SPLITS)
        labels = torch.cat([train.labels, test.labels])
        if not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
            raise ValueError("labels out of range of the classes")
        dataset = Dataset(name, classes, train, test, triple(payload["mean"]), triple(payload["std"]))
        digest = _content_digest(dataset)
        if digest != payload["digest"]:
            raise ValueError("its content does not match the digest stored with it (corrupted in place?)")
        return dataset, digest
    except Exception as error:  # a truncated, corrupted or foreign file of any kind: decode again
        warnings.warn(f"rebuilding unreadable data cache {target}: {one_line(error)}", stacklevel=3)
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
        warnings.warn(f"could not write data cache {target}: {one_line(error)}", stacklevel=3)
        return False


def _remove_stale(cache: Path, stem: str, *, keep: Path) -> None:
    """Delete cache files of earlier versions of the same source (same path, other size or mtime),
    and stale temp files of this source's writes."""
    for path in cache.glob(f"{stem}-*.pt"):
        if path != keep:
            with contextlib.suppress(OSError):  # another process removed it, or it is not ours to remove
                path.unlink()
    remove_stale_temps(cache, f"{stem}-*.pt")
