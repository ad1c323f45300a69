"""Datasets for fdl: checked downloads into a cache, strict parsers, clear errors.

Quick tour::

    from fdl.data import load_dataset, load_text, dataset_status
    ds = load_dataset("fashion_mnist")     # ImageDataset: train_x uint8 (60000, 28, 28), ...
    text = load_text(dataset="shakespeare_plays")  # shipped with the package, no network
    train, val = split_text(text)          # the last 10% held out
    text = load_text()                     # tiny shakespeare (downloaded) as one str
    text = load_text("my_corpus.txt")      # any UTF-8 file

Where files come from, in order: local directories a distribution installs
(e.g. Debian's /usr/share/datasets/fashion-mnist), the cache
(``$FDL_DATA_DIR``, else ``$XDG_CACHE_HOME/fdl``, else ``~/.cache/fdl``),
then the mirrors. Every file is checked against its published size and
checksum before use. ``FDL_OFFLINE=1`` turns downloads off.

Everything the user can fix raises :class:`DataError`, whose message says what
was expected, what was found, and what to do. Nothing is printed; downloads
report through an optional ``progress`` callback and the ``fdl.data`` logger.

Modules: ``registry`` (the known datasets and their checksums), ``cache``
(fetch, data_dir, dataset_status), ``archive`` (safe_extract), ``idx``
(read_idx), ``images`` (MNIST family, ImageDataset), ``cifar``, ``text``.
"""

import logging as _logging

from .archive import safe_extract
from .cache import data_dir, dataset_status, fetch, is_offline, verify_file
from .cifar import load_cifar10, read_cifar10_batch
from .errors import DataError, UnknownDatasetError
from .idx import read_idx
from .images import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    ImageDataset,
    load_dataset,
    load_idx_dir,
    load_fashion_mnist,
    load_mnist,
)
from .registry import DATASETS, DatasetSpec, FileSpec
from .text import BUNDLED, load_text, split_text

# A library stays quiet unless the application configures logging.
_logging.getLogger("fdl.data").addHandler(_logging.NullHandler())

__all__ = [
    "load_idx_dir",
    "DataError",
    "UnknownDatasetError",
    "DATASETS",
    "DatasetSpec",
    "FileSpec",
    "ImageDataset",
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "data_dir",
    "dataset_status",
    "fetch",
    "is_offline",
    "verify_file",
    "safe_extract",
    "read_idx",
    "read_cifar10_batch",
    "load_cifar10",
    "load_mnist",
    "load_fashion_mnist",
    "load_dataset",
    "load_text",
    "split_text",
    "BUNDLED",
]
