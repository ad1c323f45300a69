"""CIFAR-10, binary version (the pickled "python version" is never read: unpickling runs code).

Each batch file is a sequence of 3073-byte records::

    1 byte     label, 0..9
    1024 bytes red plane, 32x32 row-major
    1024 bytes green plane
    1024 bytes blue plane

``cifar-10-binary.tar.gz`` holds ``cifar-10-batches-bin/data_batch_1.bin`` ..
``data_batch_5.bin`` (10000 records each) and ``test_batch.bin``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from .archive import safe_extract
from .cache import _data_root, fetch
from .errors import DataError
from .labels import CIFAR10_CLASSES, check_images_labels, check_split

RECORD = 1 + 3 * 32 * 32
ARCHIVE = "cifar-10-binary.tar.gz"
BATCH_DIR = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)


def read_cifar10_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch.

    Returns images uint8 ``(N, 32, 32, 3)`` (channels last, RGB) and labels
    uint8 ``(N,)``. A size that is not a whole number of 3073-byte records,
    or a label above 9, raises DataError.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"cannot read CIFAR-10 batch {path}: {exc.strerror or exc}.\n"
            f"Expected: a readable file. Found: none.\n"
            f"What to do: check the path, or delete the extracted cache and load again."
        ) from None
    if not data or len(data) % RECORD:
        n, rest = divmod(len(data), RECORD)
        raise DataError(
            f"{path}: not a CIFAR-10 binary batch.\n"
            f"Expected: a multiple of {RECORD} bytes (1 label byte + 3072 pixel bytes per image). "
            f"Found: {len(data)} bytes = {n} records + {rest} bytes.\n"
            f"What to do: the file is truncated or of another format (only the binary version "
            f"of CIFAR-10, {ARCHIVE}, is read); delete it and fetch the dataset again."
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].copy()
    # Planes are stored R, G, B, each row-major: (N, 3, 32, 32) -> channels last.
    images = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    check_images_labels(
        images, labels, image_shape=(32, 32, 3), num_classes=10, source=str(path),
        fix=f"the batch is damaged; delete {path} and load again (it is re-extracted from the verified archive).",
    )
    return images, labels


def _batch_dir(offline: bool | None) -> Path:
    """The extracted batch directory, extracting the verified archive once if needed."""
    extracted = _data_root() / "cifar10" / "extracted"
    batches = extracted / BATCH_DIR
    needed = TRAIN_FILES + TEST_FILES
    if all((batches / name).is_file() for name in needed):
        # Only a verified archive is ever extracted (atomically), so no need to fetch it again.
        return batches
    archive = fetch("cifar10", ARCHIVE, offline=offline)
    if extracted.exists():
        # Something in our own cache was removed by hand: extract afresh.
        shutil.rmtree(extracted)
    safe_extract(archive, extracted)
    missing = [name for name in needed if not (batches / name).is_file()]
    if missing:
        raise DataError(
            f"{archive} does not contain the CIFAR-10 binary batches.\n"
            f"Expected: {BATCH_DIR}/ with {', '.join(needed)}. Found: {', '.join(missing)} missing.\n"
            f"What to do: delete {archive} and {extracted} and fetch the archive again."
        )
    return batches


def load_cifar10(split: str = "train", *, offline: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10: images uint8 (N, 32, 32, 3) channels last, labels uint8 (N,).

    N = 50000 for ``"train"`` (data_batch_1..5), 10000 for ``"test"``. The
    archive is fetched and extracted into the cache once; later calls read the
    extracted batches directly. Class names: ``CIFAR10_CLASSES``.
    """
    check_split(split)
    batches = _batch_dir(offline)
    parts = [read_cifar10_batch(batches / name) for name in (TRAIN_FILES if split == "train" else TEST_FILES)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return images, labels


__all__ = ["read_cifar10_batch", "load_cifar10", "CIFAR10_CLASSES"]
