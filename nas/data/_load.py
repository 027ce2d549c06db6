"""The one entry point of the data layer: a source, named or a path, to a :class:`Dataset`."""

from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path

from nas._files import cache_root
from nas.data._cache import load_cached
from nas.data._dataset import DataError, Dataset
from nas.data._sources import TORCHVISION_CIFAR, FolderSource, ZipSource, load_cifar
from nas.data._synthetic import synthetic_from_spec


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
        return load_cached(FolderSource(path), cache)
    if zipfile.is_zipfile(path):
        with contextlib.closing(ZipSource(path)) as archive:
            return load_cached(archive, cache)
    raise DataError(f"data source is neither a folder nor a zip file: {path}")


def _named_source(text: str, cache: Path, download: bool) -> Dataset | None:
    """The dataset of a named source form (synthetic, CIFAR), or None when ``text`` is a path."""
    kind, _, argument = text.partition(":")
    if kind == "synthetic":
        return synthetic_from_spec(argument)
    if kind in TORCHVISION_CIFAR:
        root = Path(argument).expanduser() if argument else cache / "torchvision"
        return load_cifar(kind, root, download)
    return None
