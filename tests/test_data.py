"""Tests for fdl.data: formats, safe extraction, downloads, caching, loaders.

No network: every download goes to an http.server on 127.0.0.1 in a thread,
every file is made here, and FDL_DATA_DIR points into tmp_path so the real
cache and the repository are never written. The only real dataset read is
Debian's Fashion-MNIST, when it is installed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import socket
import stat
import struct
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from helpers import idx_bytes, write_idx_dataset

from fdl.data import (
    DATASETS,
    DataError,
    DatasetSpec,
    FileSpec,
    ImageDataset,
    data_dir,
    dataset_status,
    fetch,
    load_cifar10,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    load_text,
    split_text,
    read_cifar10_batch,
    read_idx,
    safe_extract,
)
from fdl.data.registry import parse_checksum

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# --------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test: its own data dir, online, no proxies (localhost must be reached directly)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("FDL_DATA_DIR", str(cache))
    monkeypatch.delenv("FDL_OFFLINE", raising=False)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    return cache


def sha256(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def write(path: Path, blob: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


def register(monkeypatch, name: str, files: dict[str, bytes], *, urls=None, local_dirs=(), kind="images") -> DatasetSpec:
    """Put a dataset of the given files into the registry (undone after the test)."""
    urls = urls or {}
    spec = DatasetSpec(
        name=name, title=f"test set {name}", kind=kind, local_dirs=tuple(str(d) for d in local_dirs),
        files=tuple(FileSpec(fname, len(blob), sha256(blob), tuple(urls.get(fname, ()))) for fname, blob in files.items()),
    )
    monkeypatch.setitem(DATASETS, name, spec)
    return spec


def cache_files(cache: Path, name: str) -> list[str]:
    d = cache / name
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# ----------------------------------------------------------------- local HTTP server
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        route = server.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        if "status" in route:
            self.send_error(route["status"])
            return
        blob = route["data"]
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if route.get("ranges") and match:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")
        else:
            self.send_response(200)
        body = blob[start:]
        self.send_header("Content-Length", str(len(body)))
        cut = route.pop("cut_after", None)  # cut only the first answer
        if cut is not None:
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.routes = {}
    httpd.requests = []
    httpd.url = lambda path: f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture
def refused_url():
    """A localhost URL where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing.bin"


PAYLOAD = bytes(range(256)) * 1200  # 307,200 bytes, not compressible to nothing


# ================================================================================ IDX
@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("compressed", [False, True])
def test_idx_round_trip(tmp_path, dtype, compressed):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(np.dtype(dtype).newbyteorder("="))
    blob = idx_bytes(array)
    # Name the files against their content: detection must use the magic bytes, not the suffix.
    path = write(tmp_path / ("data.idx" if compressed else "data.gz"), gzip.compress(blob) if compressed else blob)
    got = read_idx(path)
    assert got.shape == (3, 4, 5)
    assert got.dtype == np.dtype(dtype).newbyteorder("=")
    assert got.dtype.isnative
    np.testing.assert_array_equal(got, array)
    got[0, 0, 0] = 1  # writable


def test_idx_one_dim_labels(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "l", idx_bytes(labels))), labels)


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_truncated(tmp_path, compressed):
    blob = idx_bytes(np.zeros((10, 28, 28), np.uint8))[: 16 + 1234]
    path = write(tmp_path / "t", gzip.compress(blob) if compressed else blob)
    with pytest.raises(DataError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "truncated" in msg
    assert "10x28x28" in msg and "7840 bytes" in msg  # what the header promised
    assert "Found: 1234 bytes" in msg  # what is there
    assert str(path) in msg and "fetch it again" in msg  # what to do


def test_idx_trailing_bytes(tmp_path):
    path = write(tmp_path / "t", idx_bytes(np.zeros((2, 3), np.uint8)) + b"xyz")
    with pytest.raises(DataError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "3 unexpected bytes" in msg and "2x3 uint8 = 6 bytes" in msg and "(3 extra)" in msg
    assert "fetch it again" in msg


def test_idx_wrong_magic(tmp_path):
    path = write(tmp_path / "t", b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(DataError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "not an IDX file" in msg and "01 02 08 01" in msg and "00 00 08 03" in msg
    assert "fetch it again" in msg


def test_idx_unknown_dtype(tmp_path):
    path = write(tmp_path / "t", b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(DataError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "unknown IDX element type code 0x0A" in msg
    assert "0x08 uint8" in msg and "0x0E float64" in msg  # the valid ones


def test_idx_short_header_and_zero_dims(tmp_path):
    with pytest.raises(DataError, match="Expected: at least 4 bytes"):
        read_idx(write(tmp_path / "a", b"\x00\x00"))
    with pytest.raises(DataError, match="Expected: 3 dimensions = 12 bytes"):
        read_idx(write(tmp_path / "b", b"\x00\x00\x08\x03\x00\x00\x00\x01"))
    with pytest.raises(DataError, match="Expected: at least 1 dimension"):
        read_idx(write(tmp_path / "c", b"\x00\x00\x08\x00"))


@pytest.mark.parametrize("damage", ["crc", "cut", "garbage"])
def test_idx_corrupt_gzip(tmp_path, damage):
    good = gzip.compress(idx_bytes(np.arange(600, dtype=np.int32).reshape(20, 30)))
    if damage == "crc":  # the trailer's CRC32 no longer matches the data
        blob = good[:-8] + bytes(b ^ 0xFF for b in good[-8:-4]) + good[-4:]
    elif damage == "cut":  # download stopped half way
        blob = good[: len(good) // 2]
    else:  # gzip magic, then nonsense
        blob = b"\x1f\x8b" + b"this is not deflate data" * 4
    path = write(tmp_path / "x.gz", blob)
    with pytest.raises(DataError) as err:
        read_idx(path)
    msg = str(err.value)
    assert "gzip stream is corrupt or truncated" in msg
    assert "Expected: a complete gzip-compressed IDX file" in msg
    assert f"delete {path}" in msg


def test_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot open IDX file"):
        read_idx(tmp_path / "nope")


# ================================================================= MNIST-family loaders
def _mnist_files(n_train=6, n_test=4, *, train_labels=None, train_images=None):
    rng = np.random.default_rng(1)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        if prefix == "train" and train_images is not None:
            images = train_images
        if prefix == "train" and train_labels is not None:
            labels = train_labels
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
    return files


def _install(monkeypatch, tmp_path, name, files):
    local = tmp_path / f"local-{name}"
    for fname, blob in files.items():
        write(local / fname, blob)
    return register(monkeypatch, name, files, local_dirs=[local])


def test_load_mnist_from_registry(monkeypatch, tmp_path):
    files = _mnist_files()
    _install(monkeypatch, tmp_path, "mnist", files)
    images, labels = load_mnist("train")
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2, 3, 4, 5] and labels.dtype == np.uint8
    np.testing.assert_array_equal(images, read_idx(tmp_path / "local-mnist" / "train-images-idx3-ubyte.gz"))
    images, labels = load_mnist("test")
    assert images.shape == (4, 28, 28) and labels.shape == (4,)


def test_load_dataset_mnist_and_fashion(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path, "mnist", _mnist_files())
    _install(monkeypatch, tmp_path, "fashion_mnist", _mnist_files(8, 2))
    ds = load_dataset("mnist")
    assert isinstance(ds, ImageDataset) and ds.name == "mnist"
    assert ds.train_x.shape == (6, 28, 28) and ds.test_y.shape == (4,)
    assert ds.classes == tuple("0123456789")
    fm = load_dataset("fashion_mnist")
    assert fm.train_x.shape == (8, 28, 28) and fm.test_x.shape == (2, 28, 28)
    assert fm.classes == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    with pytest.raises(Exception):  # frozen
        fm.name = "x"


def test_label_out_of_range(monkeypatch, tmp_path):
    labels = np.array([0, 3, 12, 4, 200, 1], np.uint8)
    _install(monkeypatch, tmp_path, "mnist", _mnist_files(train_labels=labels))
    with pytest.raises(DataError) as err:
        load_mnist("train")
    msg = str(err.value)
    assert "label out of range" in msg
    assert "Expected: labels 0..9" in msg
    assert "label 12 at index 2" in msg and "1 more" in msg
    assert "fetch them again" in msg


def test_image_label_count_mismatch(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path, "mnist", _mnist_files(train_labels=np.zeros(5, np.uint8)))
    with pytest.raises(DataError) as err:
        load_mnist("train")
    msg = str(err.value)
    assert "Expected: one label per image" in msg and "Found: 6 images and 5 labels" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "fetch them again" in msg


def test_wrong_image_dims(monkeypatch, tmp_path):
    _install(monkeypatch, tmp_path, "mnist", _mnist_files(train_images=np.zeros((6, 27, 28), np.uint8)))
    with pytest.raises(DataError) as err:
        load_mnist("train")
    msg = str(err.value)
    assert "Expected: uint8 images of shape Nx28x28" in msg and "Found: uint8 of shape 6x27x28" in msg


def test_bad_split_and_unknown_dataset():
    with pytest.raises(ValueError) as err:
        load_mnist("validation")
    assert "'validation'" in str(err.value) and "'train', 'test'" in str(err.value)
    with pytest.raises(ValueError) as err:
        load_cifar10("dev")
    assert "'train', 'test'" in str(err.value)
    with pytest.raises(DataError) as err:
        load_dataset("imagenet")
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    assert "'imagenet'" in msg and "mnist, fashion_mnist, cifar10" in msg
    with pytest.raises(DataError) as err:
        fetch("mnsit", "train-images-idx3-ubyte.gz")
    assert "cifar10, fashion_mnist, mnist, tiny_shakespeare" in str(err.value)
    with pytest.raises(DataError) as err:
        fetch("mnist", "train.csv")
    assert "has no file 'train.csv'" in str(err.value) and "t10k-labels-idx1-ubyte.gz" in str(err.value)


# ============================================================================ CIFAR-10
def cifar_bytes(images: np.ndarray, labels) -> bytes:
    """Records as the binary CIFAR-10 format stores them: label, R plane, G plane, B plane."""
    return b"".join(bytes([int(lab)]) + img.transpose(2, 0, 1).tobytes() for img, lab in zip(images, labels))


def test_cifar_batch_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    path = write(tmp_path / "b.bin", cifar_bytes(images, [3, 0, 9, 5]))
    got_x, got_y = read_cifar10_batch(path)
    assert got_x.shape == (4, 32, 32, 3) and got_x.dtype == np.uint8 and got_x.flags.c_contiguous
    assert got_y.tolist() == [3, 0, 9, 5] and got_y.dtype == np.uint8
    np.testing.assert_array_equal(got_x, images)
    # Layout spelled out: byte 1 is the red value of pixel (0, 0), byte 1 + 1024 its green value.
    raw = path.read_bytes()
    assert got_x[0, 0, 0, 0] == raw[1] and got_x[0, 0, 0, 1] == raw[1 + 1024] and got_x[0, 0, 1, 2] == raw[1 + 2048 + 1]


@pytest.mark.parametrize("extra", [5, -1])
def test_cifar_wrong_size(tmp_path, extra):
    blob = cifar_bytes(np.zeros((2, 32, 32, 3), np.uint8), [1, 2])
    blob = blob + b"\0" * extra if extra > 0 else blob[:extra]
    path = write(tmp_path / "b.bin", blob)
    with pytest.raises(DataError) as err:
        read_cifar10_batch(path)
    msg = str(err.value)
    assert "Expected: a multiple of 3073 bytes" in msg
    assert f"Found: {len(blob)} bytes" in msg
    assert "binary version" in msg and "fetch the dataset again" in msg


def test_cifar_empty_file(tmp_path):
    with pytest.raises(DataError, match="Found: 0 bytes = 0 records"):
        read_cifar10_batch(write(tmp_path / "e.bin", b""))


def test_cifar_bad_label(tmp_path):
    path = write(tmp_path / "b.bin", cifar_bytes(np.zeros((3, 32, 32, 3), np.uint8), [1, 10, 2]))
    with pytest.raises(DataError) as err:
        read_cifar10_batch(path)
    msg = str(err.value)
    assert "Expected: labels 0..9" in msg and "label 10 at index 1" in msg and str(path) in msg


def _cifar_archive(tmp_path) -> bytes:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add_dir(tar, "cifar-10-batches-bin")
        for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
            n = 3 if name == "test_batch.bin" else 2
            blob = cifar_bytes(rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), [(i + j) % 10 for j in range(n)])
            _add_file(tar, f"cifar-10-batches-bin/{name}", blob)
        _add_file(tar, "cifar-10-batches-bin/batches.meta.txt", b"airplane\n")
    return buf.getvalue()


def test_load_cifar10_extracts_once(monkeypatch, tmp_path, isolated):
    archive = _cifar_archive(tmp_path)
    local = tmp_path / "local-cifar"
    write(local / "cifar-10-binary.tar.gz", archive)
    register(monkeypatch, "cifar10", {"cifar-10-binary.tar.gz": archive}, local_dirs=[local])
    x, y = load_cifar10("train")
    assert x.shape == (10, 32, 32, 3) and x.dtype == np.uint8 and y.shape == (10,)
    batches = isolated / "cifar10" / "extracted" / "cifar-10-batches-bin"
    assert (batches / "data_batch_5.bin").is_file()
    # Extracted once: with the archive gone and downloads off, the batches still load.
    (local / "cifar-10-binary.tar.gz").unlink()
    monkeypatch.setenv("FDL_OFFLINE", "1")
    x, y = load_cifar10("test")
    assert x.shape == (3, 32, 32, 3)
    ds = load_dataset("cifar10")
    assert ds.classes[0] == "airplane" and ds.classes[-1] == "truck" and ds.train_x.shape[0] == 10


# ========================================================================= safe_extract
def _add_file(tar, name, blob, **attrs):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    for k, v in attrs.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(blob))


def _add_dir(tar, name):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _add_special(tar, name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    tar.addfile(info)


def _make_tar(path: Path, build, mode="w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        build(tar)
    return path


@pytest.mark.parametrize("mode,suffix", [("w:gz", ".tar.gz"), ("w", ".tar")])
def test_safe_extract_good_archive(tmp_path, mode, suffix):
    def build(tar):
        _add_dir(tar, "top")
        _add_file(tar, "top/a.txt", b"alpha")
        _add_file(tar, "top/sub/b.bin", b"\x00\x01", mode=0o4755)  # set-uid bit must not survive
        _add_file(tar, "./c.txt", b"see")

    archive = _make_tar(tmp_path / f"good{suffix}", build, mode)
    out = tmp_path / "out"
    dest = out / "extracted"
    assert safe_extract(archive, dest) == dest.absolute()
    assert (dest / "top" / "a.txt").read_bytes() == b"alpha"
    assert (dest / "top" / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    assert (dest / "c.txt").read_bytes() == b"see"
    assert not (dest / "top" / "sub" / "b.bin").stat().st_mode & stat.S_ISUID
    assert os.listdir(out) == ["extracted"]  # no temporary directory left beside it


MALICIOUS = {
    "dotdot": (lambda t: _add_file(t, "../evil.txt", b"x"), "'..'"),
    "nested-dotdot": (lambda t: (_add_dir(t, "a"), _add_file(t, "a/../../evil.txt", b"x")), "'..'"),
    "absolute": (lambda t: _add_file(t, "/tmp/fdl-test-evil.txt", b"x"), "absolute path"),
    "symlink-escape": (lambda t: (_add_special(t, "link", tarfile.SYMTYPE, "../.."),
                                  _add_file(t, "link/evil.txt", b"x")), "symbolic link"),
    "hardlink": (lambda t: _add_special(t, "hl", tarfile.LNKTYPE, "/etc/passwd"), "hard link"),
    "fifo": (lambda t: _add_special(t, "pipe", tarfile.FIFOTYPE), "FIFO"),
    "device": (lambda t: _add_special(t, "dev", tarfile.CHRTYPE), "character device"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_safe_extract_refuses(tmp_path, case):
    build, reason = MALICIOUS[case]

    def full(tar):
        _add_file(tar, "fine.txt", b"written before the bad member")
        build(tar)

    archive = _make_tar(tmp_path / "bad.tar.gz", full)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError) as err:
        safe_extract(archive, out / "dest")
    msg = str(err.value)
    assert "not safe" in msg and reason in msg
    assert "nothing was extracted" in msg and f"Delete {archive}" in msg
    assert os.listdir(out) == []  # no dest, no temporary directory, not even fine.txt
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/fdl-test-evil.txt").exists()


def test_safe_extract_refuses_existing_dest_and_bad_archive(tmp_path):
    archive = _make_tar(tmp_path / "a.tar.gz", lambda t: _add_file(t, "f", b"1"))
    dest = tmp_path / "dest"
    write(dest / "keep.txt", b"mine")
    with pytest.raises(DataError) as err:
        safe_extract(archive, dest)
    assert "already exists" in str(err.value) and f"remove {dest}" in str(err.value)
    assert (dest / "keep.txt").read_bytes() == b"mine"

    broken = write(tmp_path / "broken.tar.gz", archive.read_bytes()[:30])
    with pytest.raises(DataError) as err:
        safe_extract(broken, tmp_path / "dest2")
    assert "cannot read the archive" in str(err.value) and "fetch it again" in str(err.value)
    assert sorted(os.listdir(tmp_path)) == ["a.tar.gz", "broken.tar.gz", "dest"]


# ============================================================================ downloads
def test_data_dir_env(tmp_path, monkeypatch, isolated):
    assert data_dir() == isolated and isolated.is_dir()
    monkeypatch.delenv("FDL_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "fdl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".cache" / "fdl"
    assert (tmp_path / "home" / ".cache" / "fdl").is_dir()


def test_fetch_404_then_good_mirror(server, monkeypatch, isolated):
    server.routes["/good/f.bin"] = {"data": PAYLOAD}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD},
             urls={"f.bin": [server.url("/missing/f.bin"), server.url("/good/f.bin")]})
    seen = []
    path = fetch("toy", "f.bin", progress=lambda done, total: seen.append((done, total)))
    assert path == isolated / "toy" / "f.bin"
    assert path.read_bytes() == PAYLOAD
    assert [p for p, _ in server.requests] == ["/missing/f.bin", "/good/f.bin"]
    assert cache_files(isolated, "toy") == ["f.bin"]  # no .part left
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    # Second call: served from the cache, no request.
    assert fetch("toy", "f.bin") == path
    assert len(server.requests) == 2


def test_fetch_skips_refused_and_timed_out_mirrors(server, refused_url, monkeypatch):
    server.routes["/f.bin"] = {"data": PAYLOAD}
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/f.bin"
        register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [refused_url, silent_url, server.url("/f.bin")]})
        assert fetch("toy", "f.bin", timeout=0.3).read_bytes() == PAYLOAD
    finally:
        silent.close()


def test_fetch_checksum_mismatch_everywhere(server, monkeypatch, isolated):
    wrong = bytes(reversed(PAYLOAD))  # same size, other bytes
    server.routes["/a/f.bin"] = {"data": wrong}
    server.routes["/b/f.bin"] = {"data": wrong, "ranges": True}
    spec = register(monkeypatch, "toy", {"f.bin": PAYLOAD},
                    urls={"f.bin": [server.url("/a/f.bin"), server.url("/b/f.bin")]})
    with pytest.raises(DataError) as err:
        fetch("toy", "f.bin")
    msg = str(err.value)
    algo, digest = parse_checksum(spec.files[0].checksum)
    assert f"Expected: f.bin, {len(PAYLOAD):,} bytes, sha256 {digest}" in msg
    assert msg.count("discarded") == 2
    assert server.url("/a/f.bin") in msg and server.url("/b/f.bin") in msg
    assert f"save it as {isolated / 'toy' / 'f.bin'}" in msg
    assert cache_files(isolated, "toy") == []  # neither the final file nor a stray .part


def test_fetch_wrong_size_mirror_keeps_nothing(server, monkeypatch, isolated):
    server.routes["/f.bin"] = {"data": b"<html>moved</html>"}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]})
    with pytest.raises(DataError) as err:
        fetch("toy", "f.bin")
    assert f"offers 18 bytes, expected {len(PAYLOAD):,}" in str(err.value)
    assert cache_files(isolated, "toy") == []


def test_fetch_resumes_after_cut_connection(server, monkeypatch, isolated):
    server.routes["/f.bin"] = {"data": PAYLOAD, "ranges": True, "cut_after": 100_000}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]})
    part = isolated / "toy" / "f.bin.part"
    with pytest.raises(DataError) as err:
        fetch("toy", "f.bin")
    msg = str(err.value)
    assert f"connection closed after 100,000 of {len(PAYLOAD):,} bytes" in msg
    assert f"kept at {part}" in msg
    assert part.stat().st_size == 100_000
    assert not (isolated / "toy" / "f.bin").exists()  # never a half file under the real name

    path = fetch("toy", "f.bin")
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1] == ("/f.bin", "bytes=100000-")
    assert cache_files(isolated, "toy") == ["f.bin"]


def test_fetch_restarts_when_server_ignores_range(server, monkeypatch, isolated):
    server.routes["/f.bin"] = {"data": PAYLOAD}  # answers 200 with the whole file
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]})
    write(isolated / "toy" / "f.bin.part", b"stale partial data")
    assert fetch("toy", "f.bin").read_bytes() == PAYLOAD
    assert server.requests == [("/f.bin", "bytes=18-")]


def test_fetch_finishes_complete_unverified_part(server, monkeypatch, isolated):
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]})
    write(isolated / "toy" / "f.bin.part", PAYLOAD)  # e.g. interrupted right before verification
    assert fetch("toy", "f.bin").read_bytes() == PAYLOAD
    assert server.requests == []


def test_fetch_replaces_damaged_cache_file(server, monkeypatch, isolated):
    server.routes["/f.bin"] = {"data": PAYLOAD}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]})
    final = write(isolated / "toy" / "f.bin", b"\0" * len(PAYLOAD))
    with pytest.raises(DataError) as err:
        fetch("toy", "f.bin", offline=True)
    assert f"{final}: failed verification (sha256 " in str(err.value)
    assert fetch("toy", "f.bin").read_bytes() == PAYLOAD


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_fetch_offline(server, monkeypatch, isolated, how):
    server.routes["/f.bin"] = {"data": PAYLOAD}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]})
    if how == "environment":
        monkeypatch.setenv("FDL_OFFLINE", "1")
        call = lambda: fetch("toy", "f.bin")  # noqa: E731
    else:
        call = lambda: fetch("toy", "f.bin", offline=True)  # noqa: E731
    with pytest.raises(DataError) as err:
        call()
    msg = str(err.value)
    assert "no verified copy of f.bin" in msg
    assert ("offline=True" if how == "argument" else "FDL_OFFLINE") in msg
    assert server.url("/f.bin") in msg
    assert f"save it as {isolated / 'toy' / 'f.bin'}" in msg
    assert f"{len(PAYLOAD):,} bytes" in msg
    assert server.requests == []
    assert not (isolated / "toy").exists()


def test_all_mirrors_fail_message_lists_each_error(server, refused_url, monkeypatch):
    server.routes["/boom"] = {"status": 503}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/boom"), refused_url]})
    with pytest.raises(DataError) as err:
        fetch("toy", "f.bin")
    msg = str(err.value)
    assert f"{server.url('/boom')}: HTTP 503" in msg
    assert f"{refused_url}: cannot connect" in msg
    assert "check your network connection" in msg


# ======================================================================= local dirs
def test_local_dir_used_without_download(server, monkeypatch, tmp_path, isolated):
    debian = tmp_path / "debian"
    write(debian / "f.bin", PAYLOAD)
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]}, local_dirs=[debian])
    assert fetch("toy", "f.bin") == debian / "f.bin"
    assert server.requests == []
    assert not (isolated / "toy").exists()  # nothing copied into the cache


def test_local_dir_override_argument(monkeypatch, tmp_path):
    other = tmp_path / "other"
    write(other / "f.bin", PAYLOAD)
    register(monkeypatch, "toy", {"f.bin": PAYLOAD})
    assert fetch("toy", "f.bin", local_dirs=[other]) == other / "f.bin"


def test_local_dir_bad_checksum_not_used(server, monkeypatch, tmp_path, isolated):
    debian = tmp_path / "debian"
    bad = write(debian / "f.bin", bytes(len(PAYLOAD)))
    server.routes["/f.bin"] = {"data": PAYLOAD}
    register(monkeypatch, "toy", {"f.bin": PAYLOAD}, urls={"f.bin": [server.url("/f.bin")]}, local_dirs=[debian])
    with pytest.raises(DataError) as err:
        fetch("toy", "f.bin", offline=True)
    msg = str(err.value)
    assert f"{bad}: failed verification" in msg and "not used" in msg
    assert f"expected {hashlib.sha256(PAYLOAD).hexdigest()}" in msg
    # Online, the mirror's verified copy goes to the cache; the bad local file is left alone.
    assert fetch("toy", "f.bin") == isolated / "toy" / "f.bin"
    assert bad.read_bytes() == bytes(len(PAYLOAD))


def test_alternate_checksum_accepted(monkeypatch, tmp_path):
    repacked = b"same data, other wrapper"
    debian = write(tmp_path / "debian" / "f.bin", repacked).parent
    spec = DatasetSpec("toy", "toy", files=(FileSpec("f.bin", len(PAYLOAD), sha256(PAYLOAD),
                                                     alternates=((len(repacked), sha256(repacked)),)),),
                       local_dirs=(str(debian),))
    monkeypatch.setitem(DATASETS, "toy", spec)
    assert fetch("toy", "f.bin") == debian / "f.bin"


def test_dataset_status_is_cheap(monkeypatch, tmp_path, isolated):
    debian = tmp_path / "debian"
    files = {"a.bin": b"a" * 10, "b.bin": b"b" * 20, "c.bin": b"c" * 30, "d.bin": b"d" * 40}
    write(debian / "a.bin", files["a.bin"])
    write(isolated / "toy" / "b.bin", b"short")
    write(isolated / "toy" / "c.bin.part", b"c" * 7)
    register(monkeypatch, "toy", files, local_dirs=[debian])
    monkeypatch.setattr("fdl.data.cache.file_digest", lambda *a: pytest.fail("dataset_status hashed a file"))
    rows = {r["file"]: r for r in dataset_status() if r["dataset"] == "toy"}
    assert rows["a.bin"]["status"] == "found (not verified)" and rows["a.bin"]["where"] == "local"
    assert rows["a.bin"]["path"] == str(debian / "a.bin")
    assert rows["b.bin"]["status"] == "wrong size" and "5 bytes, expected 20" in rows["b.bin"]["detail"]
    assert rows["c.bin"]["status"] == "partial" and "7 of 30" in rows["c.bin"]["detail"]
    assert rows["d.bin"]["status"] == "missing" and str(isolated / "toy" / "d.bin") in rows["d.bin"]["detail"]
    assert {r["dataset"] for r in dataset_status()} >= {"mnist", "fashion_mnist", "cifar10", "tiny_shakespeare"}


# ================================================================================ text
def test_load_text_from_path(tmp_path):
    path = write(tmp_path / "corpus.txt", "\ufeffFirst Citizen:\nBefore we proceed — ünïcödé\n".encode())
    assert load_text(path) == "First Citizen:\nBefore we proceed — ünïcödé\n"
    assert load_text(str(path)).startswith("First")


def test_load_text_errors(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataError) as err:
        load_text(missing)
    assert f"text file {missing} does not exist" in str(err.value) and "--data" in str(err.value)

    latin = write(tmp_path / "latin.txt", "caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError) as err:
        load_text(latin)
    msg = str(err.value)
    assert "is not UTF-8" in msg and "byte 0xe9 at offset 3 (line 1)" in msg and "iconv" in msg

    empty = write(tmp_path / "empty.txt", b"")
    with pytest.raises(DataError) as err:
        load_text(empty)
    assert f"{empty} is empty" in str(err.value) and "Found: 0 bytes" in str(err.value)

    with pytest.raises(DataError, match="not a file"):
        load_text(tmp_path)


def test_load_text_default_dataset_downloads(server, monkeypatch):
    corpus = "To be, or not to be\n".encode() * 50
    server.routes["/input.txt"] = {"data": corpus}
    register(monkeypatch, "tiny_shakespeare", {"input.txt": corpus},
             urls={"input.txt": [server.url("/input.txt")]}, kind="text")
    assert load_text() == corpus.decode()


def test_load_text_default_dataset_unavailable(monkeypatch, isolated):
    monkeypatch.setenv("FDL_OFFLINE", "1")
    with pytest.raises(DataError) as err:
        load_text()
    msg = str(err.value)
    assert "input.txt" in msg and "1,115,394 bytes" in msg
    assert "raw.githubusercontent.com/karpathy/char-rnn" in msg
    assert str(isolated / "tiny_shakespeare" / "input.txt") in msg
    assert "--data FILE" in msg
    with pytest.raises(ValueError, match="not a text dataset"):
        load_text(dataset="mnist")


def test_the_shipped_corpus_loads_offline_and_is_verified(monkeypatch):
    monkeypatch.setenv("FDL_OFFLINE", "1")
    text = load_text(dataset="shakespeare_plays")
    assert len(text) == 4_850_382 and len(set(text)) == 83
    assert text.startswith("ALL'S WELL THAT ENDS WELL")
    train, val = split_text(text)
    assert train + val == text and len(val) == round(0.1 * len(text))


def test_a_damaged_shipped_corpus_is_a_clear_error(monkeypatch):
    from dataclasses import replace

    from fdl.data.text import BUNDLED
    monkeypatch.setitem(BUNDLED, "shakespeare_plays", replace(BUNDLED["shakespeare_plays"], sha256="0" * 64))
    with pytest.raises(DataError) as err:
        load_text(dataset="shakespeare_plays")
    assert "is not the expected text" in str(err.value) and "--data FILE" in str(err.value)
    monkeypatch.setitem(BUNDLED, "shakespeare_plays", replace(BUNDLED["shakespeare_plays"], file="missing.xz"))
    with pytest.raises(DataError, match="cannot be read"):
        load_text(dataset="shakespeare_plays")


def test_split_text_holds_out_a_contiguous_tail():
    train, val = split_text("abcdefghij" * 100, val_fraction=0.25)
    assert (len(train), len(val)) == (750, 250) and val == ("abcdefghij" * 100)[750:]
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_text("abc", val_fraction=1.0)
    with pytest.raises(DataError, match="too short"):
        split_text("ab", val_fraction=0.1)


# ============================================================================ registry
def test_registry_is_complete_and_well_formed():
    assert {"mnist", "fashion_mnist", "cifar10", "tiny_shakespeare"} <= set(DATASETS)
    for spec in DATASETS.values():
        assert spec.files and len(set(spec.filenames)) == len(spec.filenames)
        for f in spec.files:
            algo, digest = parse_checksum(f.checksum)
            assert algo == "sha256"
            assert f.urls and all(u.startswith(("https://", "http://")) and u.endswith("/" + f.name) for u in f.urls)
    assert DATASETS["fashion_mnist"].local_dirs == (str(DEBIAN_FASHION),)
    assert DATASETS["tiny_shakespeare"].files[0].size == 1_115_394
    assert DATASETS["cifar10"].files[0].urls[0] == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    with pytest.raises(ValueError):
        FileSpec("x", 1, "sha1:" + "0" * 40)


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="needs Debian's dataset-fashion-mnist package")
def test_real_fashion_mnist_from_debian(monkeypatch, isolated):
    monkeypatch.setenv("FDL_OFFLINE", "1")  # must come from the local directory, never the network
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert train_x.dtype == test_x.dtype == train_y.dtype == test_y.dtype == np.uint8
    assert train_y.shape == (60000,) and test_y.shape == (10000,)
    assert train_y.max() == 9 and test_y.max() == 9
    assert np.bincount(train_y, minlength=10).tolist() == [6000] * 10
    assert np.bincount(test_y, minlength=10).tolist() == [1000] * 10
    assert 0 < train_x.mean() < 255
    assert not isolated.exists() or not any(isolated.iterdir())  # nothing copied or downloaded
    status = {r["file"]: r for r in dataset_status() if r["dataset"] == "fashion_mnist"}
    assert all(r["where"] == "local" and r["status"].startswith("found") for r in status.values())


# ================================================================= a data set in a directory of one's own
def test_load_idx_dir_reads_gz_and_raw(tmp_path):
    from fdl.data import load_idx_dir

    rng = np.random.default_rng(0)
    train = (rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), (np.arange(12) % 10).astype(np.uint8))
    test = (rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), (np.arange(5) % 10).astype(np.uint8))
    write_idx_dataset(tmp_path / "gz", train, test, gz=True)
    write_idx_dataset(tmp_path / "raw", train, test, gz=False)
    for folder in ("gz", "raw"):
        ds = load_idx_dir(tmp_path / folder, name="mine")
        assert ds.name == "mine" and ds.train_x.shape == (12, 28, 28) and ds.test_y.tolist() == [0, 1, 2, 3, 4]
        np.testing.assert_array_equal(ds.train_x, train[0])


def test_load_idx_dir_explains_what_is_wrong(tmp_path):
    from fdl.data import load_idx_dir

    with pytest.raises(DataError, match="is not a directory"):
        load_idx_dir(tmp_path / "nowhere")
    images = np.zeros((3, 28, 28), np.uint8)
    write_idx_dataset(tmp_path / "bad", (images, np.array([0, 1, 12], np.uint8)), (images, np.zeros(3, np.uint8)))
    with pytest.raises(DataError) as info:
        load_idx_dir(tmp_path / "bad")
    assert "label 12 at index 2" in str(info.value) and "Expected: labels 0..9" in str(info.value)
    write_idx_dataset(tmp_path / "partial", (images, np.zeros(3, np.uint8)), (images, np.zeros(3, np.uint8)))
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is missing"):
        load_idx_dir(tmp_path / "partial")
