"""Helpers for topic tests: plant a bug in the reference and show its check FAILs."""

from __future__ import annotations

import gzip
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

from fdl.check import ExerciseResult, Status, run_check
from fdl.curriculum import Topic
from fdl.track import TRACKS_DIR, track_module

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Bug:
    """Replace some reference functions with buggy ones; the check must FAIL.

    ``expect`` is a piece of text the failure message must contain, so the
    check fails for the planted reason, not for another.
    """

    replace: dict[str, Callable]
    expect: str = ""
    why: str = ""


def reference_with(topic: Topic, **replacements) -> SimpleNamespace:
    """The reference module's functions, some of them replaced."""
    ref = track_module(topic, "reference")
    names = {name: getattr(ref, name) for name in topic.functions}
    names.update(replacements)
    return SimpleNamespace(**names)


def check_exercise(topic: Topic, exercise: str, impl, seed: int = 0) -> ExerciseResult:
    checks = track_module(topic, "checks").CHECKS
    return run_check(checks[exercise], impl, exercise=exercise, seed=seed, source=None)


def assert_bug_caught(topic: Topic, exercise: str, bug: Bug) -> ExerciseResult:
    result = check_exercise(topic, exercise, reference_with(topic, **bug.replace))
    assert result.status is Status.FAIL, (
        f"{topic.label} {exercise}: planted bug ({bug.why or 'see the test'}) was not caught: {result}"
    )
    assert bug.expect in result.message, (
        f"{topic.label} {exercise}: failed, but not for the planted reason; expected {bug.expect!r} in:\n"
        f"{result.message}"
    )
    return result


def use_as_own_file(monkeypatch, topic: Topic, path: Path) -> Path:
    """Make ``path`` the topic's own ``exercise.py`` for this test (the repository's file stays untouched)."""
    import fdl.progress
    import fdl.run
    import fdl.track

    real = fdl.track.default_exercise_path

    def own(t):
        return Path(path) if t.number == topic.number else real(t)

    for module in (fdl.track, fdl.progress, fdl.run):
        monkeypatch.setattr(module, "default_exercise_path", own)
    return Path(path)


def shipped_stub(topic: Topic, tmp_path: Path) -> Path:
    """The learner stub as committed (a learner's edits in the working tree do not count)."""
    path = TRACKS_DIR / topic.folder / "exercise.py"
    rel = path.relative_to(REPO).as_posix()
    try:
        text = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return path  # not a git checkout, or not committed yet: the file as it is
    out = tmp_path / f"{topic.folder}_stub.py"
    out.write_text(text)
    return out


def reference_source_with(topic: Topic, *edits: tuple[str, str]) -> SimpleNamespace:
    """The reference, executed from its source text with ``(old, new)`` edits applied.

    For bugs inside a class (topic 02's ``Tensor``), where replacing one
    function from outside does not reach. Each ``old`` must occur exactly
    once, so a refactor of the reference cannot silently disarm a bug.
    """
    ref = track_module(topic, "reference")
    source = Path(ref.__file__).read_text()
    for old, new in edits:
        count = source.count(old)
        assert count == 1, f"planted-bug edit expects {old!r} exactly once in reference.py, found {count}"
        source = source.replace(old, new)
    namespace: dict = {"__name__": f"planted_{topic.folder}", "__file__": ref.__file__}
    exec(compile(source, f"<planted {topic.folder}>", "exec"), namespace)
    return SimpleNamespace(**{name: namespace[name] for name in topic.functions})


def assert_source_bug_caught(topic: Topic, exercise: str, *edits: tuple[str, str], expect: str = "") -> ExerciseResult:
    result = check_exercise(topic, exercise, reference_source_with(topic, *edits))
    assert result.status is Status.FAIL, f"{topic.label} {exercise}: planted bug {edits} was not caught: {result}"
    assert expect in result.message, f"failed, but not for the planted reason; expected {expect!r} in:\n{result.message}"
    return result


_IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` as IDX (big-endian), the inverse of ``fdl.data.read_idx``."""
    code = _IDX_CODES[array.dtype.kind + str(array.dtype.itemsize)]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx_dataset(directory: Path, train: tuple, test: tuple, *, gz: bool = True) -> Path:
    """Write ``(images, labels)`` pairs as MNIST's four IDX files in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            blob = idx_bytes(np.asarray(array))
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (directory / f"{name}.gz").write_bytes(gzip.compress(blob, mtime=0))
            else:
                (directory / name).write_bytes(blob)
    return directory
