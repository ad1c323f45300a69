"""Plain-text corpora for the language-model topics."""

from __future__ import annotations

import hashlib
import lzma
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .cache import fetch
from .errors import DataError
from .registry import DATASETS, get_spec


@dataclass(frozen=True)
class BundledText:
    """A corpus that ships inside the package (``fdl/data/corpora``), xz-compressed.

    size and sha256 are those of the decompressed text; the README beside the
    file gives its source and licence.
    """

    name: str
    file: str
    size: int
    sha256: str
    title: str


BUNDLED: dict[str, BundledText] = {
    b.name: b
    for b in (
        BundledText(
            "shakespeare_plays", "shakespeare_plays.txt.xz", 4_850_382,
            "ada4b977d7022cfc6b825c706d721fb8b307a8abb291440a05611b3908c5e623",
            "the 37 plays of Shakespeare (Project Gutenberg texts, via the OKFN package 'shakespeare' 0.6)",
        ),
    )
}


def load_text(
    path: str | Path | None = None,
    *,
    dataset: str = "tiny_shakespeare",
    offline: bool | None = None,
) -> str:
    """Return a whole UTF-8 text corpus as one string.

    With ``path``: that file (a leading byte-order mark is dropped). Without:
    the text ``dataset``, either one shipped with the package (``BUNDLED``:
    ``"shakespeare_plays"``, no network needed) or a registered download
    (``"tiny_shakespeare"``, 1,115,394 bytes), fetched and verified like every
    other dataset. A missing, non-UTF-8 or empty file raises DataError.
    """
    if path is not None:
        return _read_utf8(Path(path).expanduser())
    if dataset in BUNDLED:
        return _read_bundled(BUNDLED[dataset])
    spec = get_spec(dataset)
    if spec.kind != "text":
        texts = ", ".join([*BUNDLED, *(name for name, s in DATASETS.items() if s.kind == "text")])
        raise ValueError(f"{dataset!r} is not a text dataset; expected one of: {texts}")
    try:
        local = fetch(spec.name, spec.files[0].name, offline=offline)
    except DataError as exc:
        if "--data" in str(exc):  # the registry's hint already says it
            raise
        raise DataError(
            f"{exc}\n"
            f"  - or train on any UTF-8 text file you have: pass it with --data FILE "
            f"(load_text(path) in Python)."
        ) from None
    return _read_utf8(local)


def _read_utf8(path: Path) -> str:
    shown = path.absolute()
    if not path.exists():
        raise DataError(
            f"text file {shown} does not exist.\n"
            f"Expected: a UTF-8 text file at that path. Found: nothing there.\n"
            f"What to do: check the path given with --data (relative paths are taken from "
            f"the current directory, {Path.cwd()})."
        )
    if not path.is_file():
        raise DataError(
            f"{shown} is not a file.\n"
            f"Expected: a UTF-8 text file. Found: a directory or special file.\n"
            f"What to do: pass the path of a text file with --data FILE."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"cannot read {shown}: {exc.strerror or exc}.\n"
            f"Expected: a readable text file. Found: a read error.\n"
            f"What to do: check the file's permissions."
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{shown} is not UTF-8 text.\n"
            f"Expected: UTF-8. Found: byte 0x{raw[exc.start]:02x} at offset {exc.start} (line {line}) "
            f"that is not valid UTF-8.\n"
            f"What to do: convert it, e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8.txt, "
            f"and pass the converted file."
        ) from None
    if not text.strip():
        raise DataError(
            f"{shown} is empty{' (only whitespace)' if text else ''}.\n"
            f"Expected: some text to train on. Found: {len(raw)} bytes.\n"
            f"What to do: pass a text file with content (a few hundred KB or more trains well)."
        )
    return text


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """(train, validation): the last ``val_fraction`` of the characters held out, never shuffled.

    A contiguous tail, not random lines: a model must not have read the scene
    it is validated on.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1 (exclusive), got {val_fraction!r}")
    cut = int(round(len(text) * (1.0 - val_fraction)))
    if cut <= 0 or cut >= len(text):
        raise DataError(
            f"a text of {len(text)} characters is too short to hold out {val_fraction:.0%} of it.\n"
            f"Expected: at least a few thousand characters. Found: {len(text)}.\n"
            f"What to do: pass a longer text file with --data FILE."
        )
    return text[:cut], text[cut:]


def _read_bundled(corpus: BundledText) -> str:
    source = resources.files("fdl.data") / "corpora" / corpus.file
    try:
        raw = lzma.decompress(source.read_bytes())
    except (OSError, lzma.LZMAError) as exc:
        raise DataError(
            f"the shipped corpus {corpus.file} cannot be read: {exc}.\n"
            f"Expected: {corpus.title}, xz-compressed, inside the installed package (fdl/data/corpora).\n"
            f"Found: a missing or damaged file.\n"
            f"What to do: reinstall fdl (pip install -e . in the repository), or pass any text with --data FILE."
        ) from None
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) != corpus.size or digest != corpus.sha256:
        raise DataError(
            f"the shipped corpus {corpus.file} is not the expected text.\n"
            f"Expected: {corpus.size:,} bytes with sha256 {corpus.sha256}.\n"
            f"Found: {len(raw):,} bytes with sha256 {digest}.\n"
            f"What to do: restore the file from the repository (git checkout -- fdl/data/corpora), "
            f"or pass any text with --data FILE."
        )
    return raw.decode("ascii")
