"""Plain-text corpora for the language-model topics."""

from __future__ import annotations

from pathlib import Path

from .cache import fetch
from .errors import DataError
from .registry import DATASETS, get_spec


def load_text(
    path: str | Path | None = None,
    *,
    dataset: str = "tiny_shakespeare",
    offline: bool | None = None,
) -> str:
    """Return a whole UTF-8 text corpus as one string.

    With ``path``: that file (a leading byte-order mark is dropped). Without:
    the registered text ``dataset`` (tiny shakespeare, 1,115,394 bytes),
    fetched and verified like every other dataset. A missing, non-UTF-8 or
    empty file raises DataError.
    """
    if path is not None:
        return _read_utf8(Path(path).expanduser())
    spec = get_spec(dataset)
    if spec.kind != "text":
        texts = ", ".join(name for name, s in DATASETS.items() if s.kind == "text")
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
