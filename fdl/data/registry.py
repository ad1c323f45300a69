"""The datasets fdl knows: their files, sizes, checksums and where to get them.

A checksum is a string ``"<algorithm>:<hex digest>"`` with algorithm
``sha256`` (preferred) or ``md5`` (only where nothing stronger is published).
Every checksum below was taken from a public list, named in the comment next
to it; none was computed from a download of unknown origin.

Tests (and users with odd setups) can swap entries of :data:`DATASETS`, e.g.
``monkeypatch.setitem(DATASETS, "mnist", replace(DATASETS["mnist"], ...))``:
everything in fdl.data looks the registry up at call time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import DataError, UnknownDatasetError

ALGORITHMS = {"sha256": 64, "md5": 32}  # algorithm -> length of its hex digest
_HEX = re.compile(r"[0-9a-f]+")


def parse_checksum(checksum: str) -> tuple[str, str]:
    """Split ``"sha256:<hex>"`` into ``("sha256", "<hex>")``, checking its form."""
    algo, sep, digest = checksum.partition(":")
    digest = digest.lower()
    if not sep or algo not in ALGORITHMS or len(digest) != ALGORITHMS[algo] or not _HEX.fullmatch(digest):
        raise ValueError(
            f"checksum {checksum!r} is not of the form 'sha256:<64 hex digits>' or 'md5:<32 hex digits>'"
        )
    return algo, digest


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset, exactly as it is published.

    name:       file name, the same on every mirror and in the cache.
    size:       size in bytes.
    checksum:   ``"sha256:<hex>"`` or ``"md5:<hex>"`` of the published file.
    urls:       mirrors, tried in this order.
    alternates: other ``(size, checksum)`` pairs that are the *same data*
                packaged differently, e.g. Debian's re-stamped gzip files.
                A file matching any of them is accepted.
    """

    name: str
    size: int
    checksum: str
    urls: tuple[str, ...] = ()
    alternates: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        # Accept lists from callers but store tuples, so specs stay hashable and frozen.
        object.__setattr__(self, "urls", tuple(self.urls))
        object.__setattr__(self, "alternates", tuple((int(s), c) for s, c in self.alternates))
        if "/" in self.name or "\\" in self.name or self.name in ("", ".", ".."):
            raise ValueError(f"file name {self.name!r} must be a plain file name")
        if self.size <= 0:
            raise ValueError(f"{self.name}: size must be positive, got {self.size}")
        for checksum in (self.checksum, *(c for _, c in self.alternates)):
            parse_checksum(checksum)

    @property
    def accepted(self) -> tuple[tuple[int, str], ...]:
        """Every ``(size, checksum)`` pair that counts as this file."""
        return ((self.size, self.checksum), *self.alternates)


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: a name, its files, and local directories to look in first.

    local_dirs are searched before the cache, e.g. a directory a distribution
    package installs (Debian's ``dataset-fashion-mnist``). hint is one extra
    line for error messages (how else to get the files).
    """

    name: str
    title: str
    files: tuple[FileSpec, ...]
    local_dirs: tuple[str, ...] = ()
    homepage: str = ""
    hint: str = ""
    kind: str = "images"  # "images" or "text": which loaders accept it

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "local_dirs", tuple(str(d) for d in self.local_dirs))

    @property
    def filenames(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)

    def file(self, filename: str) -> FileSpec:
        for f in self.files:
            if f.name == filename:
                return f
        raise DataError(
            f"dataset {self.name!r} has no file {filename!r}.\n"
            f"Expected one of: {', '.join(self.filenames)}.\n"
            f"What to do: use one of those names."
        )


def get_spec(name: str) -> DatasetSpec:
    """The registry entry for ``name``; an unknown name lists the known ones."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise UnknownDatasetError(
            f"unknown dataset {name!r}.\n"
            f"Expected one of: {', '.join(sorted(DATASETS))}.\n"
            f"What to do: pick one of those names (spelled exactly so)."
        ) from None


# --------------------------------------------------------------------------- MNIST
# sha256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/mnist.txt
# (which lists the storage.googleapis.com/cvdf-datasets copies). The same files are
# served by the other two mirrors: torchvision's MNIST.resources gives one md5 per
# file for both yann.lecun.com and ossci-datasets (train-images f68b3c2d..., train-
# labels d53e105e..., t10k-images 9fb629c4..., t10k-labels ec29112d...).
# Mirror order: ossci-datasets first (torchvision's working mirror, https), then
# Google's cvdf copy (TFDS), then the original host, which often refuses downloads.
_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _mnist_file(name: str, size: int, sha256: str) -> FileSpec:
    return FileSpec(name, size, f"sha256:{sha256}", tuple(m + name for m in _MNIST_MIRRORS))


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    homepage="http://yann.lecun.com/exdb/mnist/",
    files=(
        _mnist_file("train-images-idx3-ubyte.gz", 9912422,
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        _mnist_file("train-labels-idx1-ubyte.gz", 28881,
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        _mnist_file("t10k-images-idx3-ubyte.gz", 1648877,
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        _mnist_file("t10k-labels-idx1-ubyte.gz", 4542,
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ),
)

# ------------------------------------------------------------------- Fashion-MNIST
# Published files: sha256 and size from tensorflow/datasets,
# tensorflow_datasets/url_checksums/fashion_mnist.txt; their md5s are the ones
# torchvision's FashionMNIST.resources lists (8d4fb7e6..., 25c81989..., bef4ecab...,
# bb300cfd...).
#
# Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) ships the same
# compressed data with a normalised gzip header: the embedded file name is dropped
# and the timestamp set to the package date (2020-06-05), so each file is 23-24
# bytes shorter and its checksums differ from the published ones. Putting the
# upstream header back (name + mtime 2017-08-31) onto Debian's bytes reproduces
# exactly the torchvision md5 and the TFDS sha256 of all four files, so the
# Debian sha256s and sizes below (of the files in that package, version
# 0.0~git20200523.55506a9-1) are recorded as alternates of the same data.
_FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    # The dataset's own repository keeps the same .gz files under data/fashion/.
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

FASHION_MNIST_LOCAL_DIRS = ("/usr/share/datasets/fashion-mnist",)


def _fashion_file(name: str, size: int, sha256: str, debian_size: int, debian_sha256: str) -> FileSpec:
    return FileSpec(
        name, size, f"sha256:{sha256}", tuple(m + name for m in _FASHION_MIRRORS),
        alternates=((debian_size, f"sha256:{debian_sha256}"),),
    )


FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    title="Fashion-MNIST",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    local_dirs=FASHION_MNIST_LOCAL_DIRS,
    hint="On Debian or Ubuntu: sudo apt install dataset-fashion-mnist (fdl finds it in "
         "/usr/share/datasets/fashion-mnist).",
    files=(
        _fashion_file("train-images-idx3-ubyte.gz",
                      26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                      26421856, "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
        _fashion_file("train-labels-idx1-ubyte.gz",
                      29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                      29491, "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
        _fashion_file("t10k-images-idx3-ubyte.gz",
                      4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                      4422079, "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
        _fashion_file("t10k-labels-idx1-ubyte.gz",
                      5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                      5125, "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
    ),
)

# ------------------------------------------------------------------------ CIFAR-10
# The binary version (never the pickled "python version": unpickling runs code).
# sha256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt.
# (The CIFAR page itself publishes md5 c32a1d4ab5d03f1284b67883e8d87530.)
CIFAR10 = DatasetSpec(
    name="cifar10",
    title="CIFAR-10 (binary version)",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    files=(
        FileSpec(
            "cifar-10-binary.tar.gz", 170052171,
            "sha256:c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        ),
    ),
)

# ---------------------------------------------------------------- tiny shakespeare
# sha256 and size: tensorflow/datasets, tensorflow_datasets/url_checksums/tiny_shakespeare.txt.
TINY_SHAKESPEARE = DatasetSpec(
    name="tiny_shakespeare",
    title="tiny shakespeare (karpathy/char-rnn)",
    homepage="https://github.com/karpathy/char-rnn/tree/master/data/tinyshakespeare",
    kind="text",
    hint="Any UTF-8 text file works instead: pass it with --data FILE (load_text(path) in Python).",
    files=(
        FileSpec(
            "input.txt", 1115394,
            "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            (
                "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
                "https://github.com/karpathy/char-rnn/raw/master/data/tinyshakespeare/input.txt",
            ),
        ),
    ),
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec for spec in (MNIST, FASHION_MNIST, CIFAR10, TINY_SHAKESPEARE)
}
