"""Get a verified copy of a dataset file: local directories, the cache, then mirrors.

Layout of the cache::

    data_dir()/<dataset>/<filename>        verified files only
    data_dir()/<dataset>/<filename>.part   a download in progress (resumable)

A file only ever gets its final name through ``os.replace`` after its size and
checksum matched, so a crash, a cut connection or a bad mirror can leave at
most a ``.part`` behind, never a wrong file under the real name.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

from .errors import DataError
from .registry import DatasetSpec, FileSpec, get_spec, parse_checksum

log = logging.getLogger("fdl.data")

#: ``progress(bytes_done, bytes_total)``, called as a download advances.
Progress = Callable[[int, int], None]

TIMEOUT_S = 30.0  # per socket operation, not for the whole download
CHUNK = 1 << 20
USER_AGENT = "fdl-data/0.1 (Python urllib)"
_TRUE = {"1", "true", "yes", "on"}


# ----------------------------------------------------------------- where things live
def _data_root() -> Path:
    """The data directory, without creating it (for cheap, side-effect-free lookups)."""
    env = os.environ.get("FDL_DATA_DIR", "").strip()
    if env:
        return Path(env).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "fdl").absolute()


def data_dir() -> Path:
    """Where fdl keeps downloaded data, created on demand.

    ``$FDL_DATA_DIR`` if set, else ``$XDG_CACHE_HOME/fdl``, else ``~/.cache/fdl``.
    """
    root = _data_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create the data directory {root}.\n"
            f"Expected: a writable directory. Found: {exc.strerror or exc}.\n"
            f"What to do: set FDL_DATA_DIR to a directory you can write to, e.g. "
            f"export FDL_DATA_DIR=$HOME/fdl-data"
        ) from exc
    return root


def cache_path(dataset: str, filename: str) -> Path:
    """The path a file of ``dataset`` has in the cache (it may not exist yet)."""
    return _data_root() / dataset / filename


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``$FDL_OFFLINE`` is set to 1/true/yes/on."""
    if offline is not None:
        return bool(offline)
    return os.environ.get("FDL_OFFLINE", "").strip().lower() in _TRUE


# --------------------------------------------------------------------- verification
# Hashing a 170 MB archive takes a noticeable fraction of a second, and loaders
# fetch the same files again and again in one process: remember files that
# verified, keyed by what would change if the file were touched.
_verified: set[tuple] = set()


def _stat_key(path: Path, checksum: str) -> tuple | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, checksum)


def _remember_rename(old: Path, new: Path) -> None:
    # A rename keeps inode, size and mtime: carry the verdict over instead of re-hashing.
    for key in [k for k in _verified if k[0] == str(old)]:
        _verified.discard(key)
        _verified.add((str(new), *key[1:]))


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of the file at ``path`` (``"sha256"`` or ``"md5"``), read in chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: Path, spec: FileSpec) -> str | None:
    """Check ``path`` against ``spec``: None if it matches, else what is wrong.

    The size is compared first (free), the checksum only for a size that fits.
    Any of ``spec.accepted`` (the published file or a known repackaging) passes.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    candidates = [checksum for want_size, checksum in spec.accepted if want_size == size]
    if not candidates:
        return f"size {size:,} bytes, expected {spec.size:,}"
    for checksum in candidates:
        key = _stat_key(path, checksum)
        if key in _verified:
            return None
    found = {}
    for checksum in candidates:
        algo, want = parse_checksum(checksum)
        try:
            if algo not in found:
                found[algo] = file_digest(path, algo)
        except OSError as exc:
            return f"cannot read it ({exc.strerror or exc})"
        if found[algo] == want:
            _verified.add(_stat_key(path, checksum))
            return None
    algo, want = parse_checksum(candidates[0])
    return f"{algo} {found[algo]}, expected {want} (the file is damaged or a different file)"


# ------------------------------------------------------------------------ downloads
class _MirrorFailed(Exception):
    """One mirror did not deliver; the message says how. Caught inside fetch()."""


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return f"cannot connect: {getattr(reason, 'strerror', None) or reason}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _download(url: str, part: Path, spec: FileSpec, progress: Progress | None, timeout: float) -> None:
    """Download ``url`` into ``part``, resuming what is there. Raises _MirrorFailed."""
    if not url.lower().startswith(("http://", "https://")):
        raise _MirrorFailed("not an http(s) URL")
    for attempt in range(2):  # a second go only after a 416 made us drop the .part
        have = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        request = urllib.request.Request(url, headers=headers)
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and have and attempt == 0:
                # Our .part does not fit this file (e.g. left from another version): start over.
                part.unlink(missing_ok=True)
                continue
            raise _MirrorFailed(_describe(exc)) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _MirrorFailed(_describe(exc)) from None
        with response:
            _receive(response, part, have, spec, progress)
        return


def _receive(response, part: Path, have: int, spec: FileSpec, progress: Progress | None) -> None:
    status = response.status
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if status == 206 and have:
        match = _CONTENT_RANGE.fullmatch((response.headers.get("Content-Range") or "").strip())
        if not match or int(match.group(1)) != have:
            # The server answered a different range than asked: the .part cannot be trusted.
            part.unlink(missing_ok=True)
            raise _MirrorFailed(
                f"asked to resume at byte {have:,}, got Content-Range "
                f"{response.headers.get('Content-Range')!r}; the partial download was dropped"
            )
        if match.group(3) != "*" and int(match.group(3)) != spec.size:
            raise _MirrorFailed(f"the mirror's file has {int(match.group(3)):,} bytes, expected {spec.size:,}")
        mode, done = "ab", have
    elif status == 200:
        mode, done = "wb", 0  # a full answer (no Range support): start the file over
    else:
        raise _MirrorFailed(f"unexpected HTTP status {status}")
    total = done + length if length is not None else None
    if total is not None and total != spec.size:
        # E.g. an HTML error page served with 200: don't touch the .part for that.
        raise _MirrorFailed(f"the mirror offers {total:,} bytes, expected {spec.size:,}")
    if mode == "ab":
        log.info("resuming %s at byte %d", spec.name, have)

    with open(part, mode) as out:
        while True:
            try:
                chunk = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise _MirrorFailed(
                    f"connection lost after {done:,} of {spec.size:,} bytes ({_describe(exc)}); "
                    f"the partial download is kept and resumed next time"
                ) from None
            if not chunk:
                break
            if done + len(chunk) > spec.size:
                out.close()
                part.unlink(missing_ok=True)
                raise _MirrorFailed(f"the mirror sent more than the expected {spec.size:,} bytes")
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, spec.size)
    if done < spec.size:
        # urllib returns b"" when the peer closes early, so count bytes ourselves.
        raise _MirrorFailed(
            f"connection closed after {done:,} of {spec.size:,} bytes; "
            f"the partial download is kept and resumed next time"
        )


# ---------------------------------------------------------------------------- fetch
def fetch(
    dataset: str,
    filename: str,
    *,
    offline: bool | None = None,
    local_dirs: Iterable[str | os.PathLike] | None = None,
    progress: Progress | None = None,
    timeout: float | None = None,
) -> Path:
    """Return the path of a verified copy of ``filename`` from ``dataset``.

    Looks in this order, returning the first copy whose size and checksum match:

    1. the dataset's local directories (``local_dirs`` overrides them), e.g.
       Debian's /usr/share/datasets/fashion-mnist; a copy there that fails
       verification is reported, never used, never touched;
    2. the cache, ``data_dir()/<dataset>/<filename>``;
    3. each mirror in turn (unless offline): the download goes to
       ``<cache path>.part``, resumes an existing ``.part`` with an HTTP Range
       request, is verified, and only then renamed to the cache path.

    Offline (``offline=True`` or ``$FDL_OFFLINE=1``) skips step 3. When no
    verified copy can be had, raises DataError naming the file, its size and
    checksum, every place and URL tried with what went wrong, and the exact
    path to put the file by hand.
    """
    spec = get_spec(dataset)
    fspec = spec.file(filename)
    timeout = TIMEOUT_S if timeout is None else timeout
    findings: list[str] = []

    dirs = spec.local_dirs if local_dirs is None else tuple(local_dirs)
    for directory in dirs:
        candidate = Path(directory).expanduser() / fspec.name
        if not candidate.is_file():
            findings.append(f"{candidate}: not there")
            continue
        problem = verify_file(candidate, fspec)
        if problem is None:
            log.debug("using %s", candidate)
            return candidate
        findings.append(f"{candidate}: failed verification ({problem}); not used")
        log.warning("ignoring %s: failed verification (%s)", candidate, problem)

    final = cache_path(spec.name, fspec.name)
    if final.is_file():
        problem = verify_file(final, fspec)
        if problem is None:
            return final
        findings.append(f"{final}: failed verification ({problem}); a verified download would replace it")
        log.warning("cached %s failed verification (%s)", final, problem)
    else:
        findings.append(f"{final}: not there yet")

    if is_offline(offline):
        why = "offline=True was passed" if offline else "FDL_OFFLINE is set"
        raise DataError(_missing_message(spec, fspec, final, findings, [], offline_reason=why))

    data_dir()  # creates the root, or explains why it cannot
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot create {final.parent} for {spec.title}.\n"
            f"Expected: a writable directory. Found: {exc.strerror or exc}.\n"
            f"What to do: set FDL_DATA_DIR to a directory you can write to."
        ) from exc
    part = final.with_name(final.name + ".part")

    # A .part of full length is a finished download that was never verified
    # (interrupted between the two): check it before asking any mirror.
    if part.is_file() and part.stat().st_size >= fspec.size:
        if verify_file(part, fspec) is None:
            os.replace(part, final)
            _remember_rename(part, final)
            return final
        part.unlink()

    attempts: list[tuple[str, str]] = []
    for url in fspec.urls:
        log.info("downloading %s", url)
        try:
            _download(url, part, fspec, progress, timeout)
        except _MirrorFailed as exc:
            log.info("%s: %s", url, exc)
            attempts.append((url, str(exc)))
            continue
        problem = verify_file(part, fspec)
        if problem is not None:
            part.unlink(missing_ok=True)  # complete but wrong: resuming it would never help
            attempts.append((url, f"downloaded, but {problem}; discarded"))
            log.info("%s: checksum mismatch, discarded", url)
            continue
        os.replace(part, final)
        _remember_rename(part, final)
        return final

    raise DataError(_missing_message(spec, fspec, final, findings, attempts, offline_reason=None))


def _missing_message(
    spec: DatasetSpec,
    fspec: FileSpec,
    final: Path,
    findings: list[str],
    attempts: list[tuple[str, str]],
    *,
    offline_reason: str | None,
) -> str:
    algo, digest = parse_checksum(fspec.checksum)
    lines = [
        f"{spec.title}: no verified copy of {fspec.name}.",
        f"Expected: {fspec.name}, {fspec.size:,} bytes, {algo} {digest}.",
        "Found:",
    ]
    lines += [f"  - {f}" for f in findings]
    if offline_reason:
        lines.append(f"  - no download tried: {offline_reason}. It would come from:")
        lines += [f"      {url}" for url in fspec.urls]
    elif attempts:
        lines += [f"  - {url}: {err}" for url, err in attempts]
    else:
        lines.append("  - no mirror is known for this file")
    part = final.with_name(final.name + ".part")
    if part.is_file():
        lines.append(f"  - a partial download, {part.stat().st_size:,} bytes, is kept at {part} (resumed next time)")
    lines.append("What to do:")
    if offline_reason:
        how = "call without offline=True" if "offline=True" in offline_reason else "unset FDL_OFFLINE"
        lines.append(f"  - go online and {how}, then run again; or")
    elif attempts:
        lines.append("  - check your network connection and run again (downloads resume); or")
    if fspec.urls:
        lines.append(f"  - download {fspec.urls[0]}")
        lines += [f"    (or {url})" for url in fspec.urls[1:]]
        lines.append(f"    and save it as {final}")
    else:
        lines.append(f"  - put the file at {final}")
    lines.append(f"    fdl checks its size ({fspec.size:,} bytes) and {algo} before using it.")
    if spec.hint:
        lines.append(f"  - {spec.hint}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- status
def dataset_status() -> list[dict]:
    """Where each registered file is, without downloading or hashing anything.

    One dict per (dataset, file) with keys ``dataset``, ``file``, ``status``,
    ``path`` (str or None), ``where`` ("local", "cache" or None), ``size``
    (expected bytes) and ``detail``. ``status`` is one of:

    - ``"found (verified)"`` — verified earlier in this process;
    - ``"found (not verified)"`` — a file of the right size (the checksum is
      checked when a loader fetches it);
    - ``"wrong size"`` — a file is there but has the wrong size;
    - ``"partial"`` — only a ``.part`` download, resumable;
    - ``"missing"``.
    """
    from .registry import DATASETS  # looked up now, so patched registries show

    rows = []
    for spec in DATASETS.values():
        for fspec in spec.files:
            rows.append(_file_status(spec, fspec))
    return rows


def _file_status(spec: DatasetSpec, fspec: FileSpec) -> dict:
    row = {"dataset": spec.name, "file": fspec.name, "status": "missing",
           "where": None, "path": None, "size": fspec.size, "detail": ""}
    sizes = {size for size, _ in fspec.accepted}
    wrong = None
    places = [(Path(d).expanduser() / fspec.name, "local") for d in spec.local_dirs]
    places.append((cache_path(spec.name, fspec.name), "cache"))
    for path, where in places:
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if not path.is_file():
            continue
        if size in sizes:
            verified = any(_stat_key(path, c) in _verified for _, c in fspec.accepted)
            row.update(status="found (verified)" if verified else "found (not verified)",
                       path=str(path), where=where)
            return row
        if wrong is None:
            wrong = (path, where, size)
    if wrong is not None:
        path, where, size = wrong
        row.update(status="wrong size", path=str(path), where=where,
                   detail=f"{size:,} bytes, expected {fspec.size:,}")
        return row
    part = cache_path(spec.name, fspec.name + ".part")
    if part.is_file():
        row.update(status="partial", path=str(part), where="cache",
                   detail=f"{part.stat().st_size:,} of {fspec.size:,} bytes downloaded")
    else:
        row["detail"] = f"would be saved as {cache_path(spec.name, fspec.name)}"
    return row
