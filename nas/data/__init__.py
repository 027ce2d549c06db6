"""The data layer: images decoded once, kept as uint8 tensors, augmented a whole batch at a time.

Training a DARTS network for a few epochs on small images is data-bound when every sample goes
through PIL: decoding, cropping and flipping one image at a time in Python costs more than the
forward pass of a small network. So:

* a source (a zip or a folder of JPEGs, :mod:`nas.data._sources`) is decoded **once** into a
  ``(N, 3, H, W)`` uint8 tensor that is cached on disk (:mod:`nas.data._cache`, through
  :func:`load_dataset`): CIFAR-10's 60,000 JPEGs take a few seconds, and later runs load them in
  about 0.1 s;
* splitting, sampling and resizing work on whole tensors (:func:`train_valid_split`,
  :func:`subsample`, :func:`resize`);
* :class:`BatchLoader` keeps the uint8 images on the training device and builds each batch with a
  handful of tensor operations: random crop with zero padding, horizontal flip, normalisation and
  DARTS's cutout, each image with its own random offsets, flip and hole;
* ``synthetic[:N[:SEED]]`` is a small learnable set made in memory (:func:`synthetic_dataset`).
"""

from nas._files import CACHE_ENV, cache_root
from nas.data._dataset import DataError, Dataset, ImageSet, channel_stats
from nas.data._load import load_dataset
from nas.data._loader import BatchLoader
from nas.data._splits import resize, subsample, train_valid_split
from nas.data._synthetic import SYNTHETIC_DEFAULT_N, synthetic_dataset

__all__ = [
    "CACHE_ENV",
    "SYNTHETIC_DEFAULT_N",
    "BatchLoader",
    "DataError",
    "Dataset",
    "ImageSet",
    "cache_root",
    "channel_stats",
    "load_dataset",
    "resize",
    "subsample",
    "synthetic_dataset",
    "train_valid_split",
]
