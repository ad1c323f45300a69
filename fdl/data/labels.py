"""What every image data set shares: split names, class names, and the checks of images and labels.

Both the IDX loaders (``images.py``) and the CIFAR-10 loader (``cifar.py``)
use these, so they live apart from either.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError

SPLITS = ("train", "test")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)


def check_split(split: str) -> str:
    """Return ``split`` if it is ``"train"`` or ``"test"``; ValueError otherwise."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of: {', '.join(repr(s) for s in SPLITS)}")
    return split


def check_images_labels(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    image_shape: tuple[int, ...],
    num_classes: int,
    source: str,
    fix: str,
) -> None:
    """Raise DataError unless images/labels are a consistent uint8 classification set.

    images must be uint8 ``(N, *image_shape)``, labels uint8 ``(N,)`` with
    every value below ``num_classes``. ``source`` names the files (for the
    message), ``fix`` says what to do.
    """
    want = "x".join(str(d) for d in ("N", *image_shape))
    if images.dtype != np.uint8 or images.ndim != 1 + len(image_shape) or images.shape[1:] != tuple(image_shape):
        raise DataError(
            f"{source}: images have the wrong shape or type.\n"
            f"Expected: uint8 images of shape {want}. "
            f"Found: {images.dtype} of shape {'x'.join(map(str, images.shape))}.\n"
            f"What to do: {fix}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{source}: labels have the wrong shape or type.\n"
            f"Expected: a uint8 vector of labels. "
            f"Found: {labels.dtype} of shape {'x'.join(map(str, labels.shape))}.\n"
            f"What to do: {fix}"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{source}: the number of images and labels differ.\n"
            f"Expected: one label per image. Found: {len(images)} images and {len(labels)} labels.\n"
            f"What to do: {fix}"
        )
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{source}: label out of range.\n"
            f"Expected: labels 0..{num_classes - 1}. Found: label {int(labels[i])} at index {i}"
            f"{f' (and {bad.size - 1} more out of range)' if bad.size > 1 else ''}.\n"
            f"What to do: {fix}"
        )
