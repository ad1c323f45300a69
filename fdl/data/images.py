"""Image classification datasets: MNIST, Fashion-MNIST, and the common wrapper.

Shapes and types returned by the loaders:

- ``load_mnist(split)``, ``load_fashion_mnist(split)``: images uint8
  ``(N, 28, 28)`` with 0 = background, labels uint8 ``(N,)`` in 0..9;
  N = 60000 for ``"train"``, 10000 for ``"test"``.
- ``load_dataset(name)``: an :class:`ImageDataset` with both splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .cache import fetch
from .cifar import load_cifar10
from .errors import DataError, UnknownDatasetError
from .idx import read_idx
from .labels import (  # noqa: F401  (re-exported: fdl.data's public names)
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    SPLITS,
    check_images_labels,
    check_split,
)

def _load_idx_split(dataset: str, split: str, offline: bool | None) -> tuple[np.ndarray, np.ndarray]:
    check_split(split)
    prefix = "train" if split == "train" else "t10k"
    image_path = fetch(dataset, f"{prefix}-images-idx3-ubyte.gz", offline=offline)
    label_path = fetch(dataset, f"{prefix}-labels-idx1-ubyte.gz", offline=offline)
    images, labels = read_idx(image_path), read_idx(label_path)
    check_images_labels(
        images, labels, image_shape=(28, 28), num_classes=10,
        source=f"{dataset} {split} ({image_path.name} + {label_path.name})",
        fix=(f"the files do not belong together or are damaged; delete {image_path} and "
             f"{label_path} (if they are in fdl's cache) and fetch them again."),
    )
    return images, labels


IDX_FILES = {  # split -> (images, labels), the names MNIST and Fashion-MNIST use
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_idx_dir(directory, *, name: str | None = None, classes: tuple[str, ...] = MNIST_CLASSES) -> "ImageDataset":
    """An MNIST-format data set from ``directory``: the four IDX files, gzipped or not.

    For files of your own (a mirror you trust, a subset, a test set you made):
    nothing is downloaded and no checksum is compared, but the format, the
    shapes and the label range are checked as strictly as for downloads.
    """
    from pathlib import Path

    directory = Path(directory).expanduser()
    expected = ", ".join(f"{stem}[.gz]" for pair in IDX_FILES.values() for stem in pair)
    if not directory.is_dir():
        raise DataError(
            f"{directory} is not a directory.\n"
            f"Expected: a directory holding {expected}.\n"
            f"Found: {'a file' if directory.exists() else 'nothing'} at that path.\n"
            f"What to do: pass the directory that holds the four IDX files."
        )
    arrays = {}
    for split, stems in IDX_FILES.items():
        found = []
        for stem in stems:
            path = next((c for c in (directory / stem, directory / f"{stem}.gz") if c.is_file()), None)
            if path is None:
                present = ", ".join(sorted(p.name for p in directory.iterdir())) or "an empty directory"
                raise DataError(
                    f"{directory}: {stem} is missing.\n"
                    f"Expected: {stem} or {stem}.gz in that directory.\n"
                    f"Found: {present}.\n"
                    f"What to do: put the {split} split's IDX files there (MNIST's file names)."
                )
            found.append(path)
        images, labels = read_idx(found[0]), read_idx(found[1])
        shape = images.shape[1:] if images.ndim >= 2 else (28, 28)
        check_images_labels(images, labels, image_shape=shape, num_classes=len(classes),
                            source=f"{directory} {split} ({found[0].name} + {found[1].name})",
                            fix="check that the image and label files belong together and are complete.")
        arrays[split] = (images, labels)
    if arrays["train"][0].shape[1:] != arrays["test"][0].shape[1:]:
        raise DataError(
            f"{directory}: train and test images differ in size.\n"
            f"Expected: the same image shape in both splits. "
            f"Found: {arrays['train'][0].shape[1:]} and {arrays['test'][0].shape[1:]}.\n"
            f"What to do: use files from one data set."
        )
    return ImageDataset(name=name or directory.name, train_x=arrays["train"][0], train_y=arrays["train"][1],
                        test_x=arrays["test"][0], test_y=arrays["test"][1], classes=tuple(classes))


def load_mnist(split: str = "train", *, offline: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits: images uint8 (N, 28, 28), labels uint8 (N,); N = 60000 train, 10000 test."""
    return _load_idx_split("mnist", split, offline)


def load_fashion_mnist(split: str = "train", *, offline: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: images uint8 (N, 28, 28), labels uint8 (N,); classes in FASHION_MNIST_CLASSES."""
    return _load_idx_split("fashion_mnist", split, offline)


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Both splits of an image classification dataset.

    train_x: uint8 (N_train, H, W) for grey images or (N_train, H, W, 3) for colour
    train_y: uint8 (N_train,), values in 0..len(classes)-1
    test_x, test_y: the same for the test split
    classes: class names, index = label
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, train_x={self.train_x.shape}, "
                f"test_x={self.test_x.shape}, classes={len(self.classes)})")


def _loaders():
    return {
        "mnist": (load_mnist, MNIST_CLASSES),
        "fashion_mnist": (load_fashion_mnist, FASHION_MNIST_CLASSES),
        "cifar10": (load_cifar10, CIFAR10_CLASSES),
    }


IMAGE_DATASETS = ("mnist", "fashion_mnist", "cifar10")


def load_dataset(name: str, *, offline: bool | None = None) -> ImageDataset:
    """Load both splits of ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``."""
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    loaders = _loaders()
    if key not in loaders:
        raise UnknownDatasetError(
            f"unknown image dataset {name!r}.\n"
            f"Expected one of: {', '.join(IMAGE_DATASETS)}.\n"
            f"What to do: pick one of those names."
        )
    load, classes = loaders[key]
    train_x, train_y = load("train", offline=offline)
    test_x, test_y = load("test", offline=offline)
    return ImageDataset(key, train_x, train_y, test_x, test_y, classes)
