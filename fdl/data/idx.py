"""The IDX format of the MNIST family, read strictly.

Layout (all integers big-endian)::

    offset 0   2 bytes   0x00 0x00
    offset 2   1 byte    element type: 0x08 uint8, 0x09 int8, 0x0B int16,
                                       0x0C int32, 0x0D float32, 0x0E float64
    offset 3   1 byte    number of dimensions, ndim (>= 1)
    offset 4   ndim x 4  each dimension as uint32
    then       prod(dims) x itemsize bytes of data, row-major, nothing after

Files may be gzip-compressed; that is recognised by the gzip magic bytes
1f 8b, not by the file name (MNIST mirrors and users rename files freely).
"""

from __future__ import annotations

import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

#: type code -> big-endian NumPy dtype of the elements
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def _refetch(path: Path) -> str:
    return (f"What to do: the file is damaged, truncated or not an IDX file; delete {path} "
            f"and fetch it again (fdl re-downloads and verifies it).")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzip) into an array of its shape.

    The result has the header's shape and the element type in native byte
    order (uint8, int8, int16, int32, float32 or float64) and is writable.
    Every inconsistency raises DataError: wrong magic, unknown type code,
    truncated header or data, bytes after the data, a corrupt gzip stream.
    """
    path = Path(path)
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise DataError(
            f"cannot open IDX file {path}: {exc.strerror or exc}.\n"
            f"Expected: a readable file. Found: none.\n"
            f"What to do: check the path, or fetch the dataset again."
        ) from None
    with raw:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        try:
            return _parse(stream, path, compressed)
        except (OSError, EOFError, zlib.error) as exc:
            if not compressed:
                raise DataError(
                    f"cannot read {path}: {exc}.\nExpected: a readable IDX file. Found: a read error.\n"
                    + _refetch(path)
                ) from None
            # gzip.BadGzipFile is an OSError; a cut stream is EOFError; bad deflate data is zlib.error.
            raise DataError(
                f"{path}: the gzip stream is corrupt or truncated ({type(exc).__name__}: {exc}).\n"
                f"Expected: a complete gzip-compressed IDX file. Found: a damaged one.\n"
                + _refetch(path)
            ) from None


def _read_exactly(stream: io.RawIOBase, n: int) -> bytes:
    # GzipFile.read(n) may return less than n before the end; loop until n or EOF.
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _count_rest(stream) -> int:
    count = 0
    while chunk := stream.read(1 << 20):
        count += len(chunk)
    return count


def _parse(stream, path: Path, compressed: bool) -> np.ndarray:
    what = "decompressed data" if compressed else "file"
    head = _read_exactly(stream, 4)
    if len(head) < 4:
        raise DataError(
            f"{path}: too short for an IDX header.\n"
            f"Expected: at least 4 bytes (00 00 <type> <ndim>). Found: {len(head)} bytes in the {what}.\n"
            + _refetch(path)
        )
    if head[:2] != b"\x00\x00":
        raise DataError(
            f"{path}: not an IDX file.\n"
            f"Expected: the IDX magic, two zero bytes then type and ndim (00 00 08 03 for MNIST "
            f"images). Found: {head.hex(' ')}.\n" + _refetch(path)
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {IDX_DTYPES[c].name}" for c in IDX_DTYPES)
        raise DataError(
            f"{path}: unknown IDX element type code 0x{code:02X}.\n"
            f"Expected one of: {known}. Found: 0x{code:02X}.\n" + _refetch(path)
        )
    if ndim == 0:
        raise DataError(
            f"{path}: the IDX header says 0 dimensions.\n"
            f"Expected: at least 1 dimension. Found: 0.\n" + _refetch(path)
        )
    dims_raw = _read_exactly(stream, 4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise DataError(
            f"{path}: truncated IDX header.\n"
            f"Expected: {ndim} dimensions = {4 * ndim} bytes after the magic. "
            f"Found: {len(dims_raw)} bytes.\n" + _refetch(path)
        )
    dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(dims) * dtype.itemsize
    shape = "x".join(str(d) for d in dims)
    # Read one byte more than the header promises, to notice trailing data
    # without reading (or decompressing) an arbitrarily long tail.
    data = _read_exactly(stream, nbytes + 1)
    if len(data) < nbytes:
        raise DataError(
            f"{path}: truncated IDX data.\n"
            f"Expected: the header says {shape} {dtype.name} = {nbytes} bytes of data. "
            f"Found: {len(data)} bytes in the {what}.\n" + _refetch(path)
        )
    if len(data) > nbytes:
        extra = 1 + _count_rest(stream)
        raise DataError(
            f"{path}: {extra} unexpected bytes after the IDX data.\n"
            f"Expected: the header says {shape} {dtype.name} = {nbytes} bytes of data and nothing after. "
            f"Found: {nbytes + extra} bytes of data ({extra} extra).\n" + _refetch(path)
        )
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    # Native byte order and a writable copy: callers normalise and shuffle in place.
    return array.astype(dtype.newbyteorder("="), copy=True)
