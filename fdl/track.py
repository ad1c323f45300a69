"""A topic's track: its checks, its reference, the learner's file, and which code runs.

``tracks/<folder>/`` holds, for every built topic::

    README.md       the lesson
    exercise.py     the learner's file (starts as stubs raising NotImplementedError)
    reference.py    the NumPy reference with hand-written backward passes
    jax_version.py  the same ideas as pure JAX functions
    checks.py       CHECKS: {exercise name: check(ctx)} against JAX oracles
    run.py          run(ctx) -> metrics, and optionally add_arguments(parser)

:func:`check_topic` loads the learner's file *by path* (never a copy of the
reference) and runs every check on it. :func:`resolve` then picks, per
exercise, the learner's functions when they pass and the reference's
otherwise: the escape hatch that lets topic 10 run while topic 06 is
unfinished, and says so.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Callable

from .check import ExerciseResult, Status, run_check
from .curriculum import Topic
from .errors import FdlError

__all__ = [
    "REPO_ROOT",
    "TRACKS_DIR",
    "LearnerFile",
    "TopicCheck",
    "Implementation",
    "ImplementationUnavailable",
    "NotBuilt",
    "load_learner_file",
    "track_module",
    "check_topic",
    "missing_file_check",
    "resolve",
    "IMPL_MODES",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
TRACKS_DIR = REPO_ROOT / "tracks"
IMPL_MODES = ("auto", "mine", "reference")


class NotBuilt(LookupError):
    """The topic is in the curriculum but its track is not written yet."""


class ImplementationUnavailable(FdlError, RuntimeError):
    """``--impl mine`` was asked for, but some of the learner's exercises do not pass."""


def track_module(topic: Topic, part: str) -> ModuleType:
    """Import ``tracks.<folder>.<part>`` (checks, reference, run, jax_version)."""
    if not topic.built:
        planned = ", ".join(topic.exercise_names)
        raise NotBuilt(
            f"{topic.label} ({topic.title}) is not built yet; its exercises will be: {planned}. "
            f"Run `python -m fdl.progress` to see which topics are ready."
        )
    return importlib.import_module(f"{topic.package}.{part}")


def default_exercise_path(topic: Topic) -> Path:
    return TRACKS_DIR / topic.folder / "exercise.py"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class LearnerFile:
    """The learner's file, loaded; ``error`` says why it could not be, if it could not."""

    path: Path
    module: ModuleType | None
    error: str | None
    sha256: str | None


def load_learner_file(path: Path | str, topic: Topic) -> LearnerFile:
    """Execute the learner's file as a fresh module, whatever it contains.

    A missing file raises ``FileNotFoundError`` (a usage error). A syntax
    error or an exception at import time is returned in ``error``: every
    exercise then FAILs with that message, and the run uses the reference.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"no exercise file at {path}. Expected {topic.label}'s file "
            f"(tracks/{topic.folder}/exercise.py, or the path given with --exercise)."
        )
    digest = file_sha256(path)
    name = f"fdl_learner_{topic.folder}_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the learner may import helpers kept beside their file
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        pointer = ""
        if exc.text:
            col = max((exc.offset or 1) - 1, 0)
            pointer = f"\n    {exc.text.rstrip()}\n    {' ' * col}^"
        error = f"{path.name} has a syntax error at line {exc.lineno}, column {exc.offset}: {exc.msg}{pointer}"
        return LearnerFile(path, None, error, digest)
    except Exception as exc:  # anything raised while the file runs top to bottom
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
        where = f" at line {frames[-1].lineno}: {frames[-1].line}" if frames else ""
        error = f"{path.name} raised {type(exc).__name__} while loading{where}: {exc}"
        return LearnerFile(path, None, error, digest)
    finally:
        try:
            sys.path.remove(str(path.parent))
        except ValueError:
            pass
    return LearnerFile(path, module, None, digest)


@dataclass
class TopicCheck:
    """Every exercise of a topic checked against one file."""

    topic: Topic
    file: LearnerFile
    results: dict[str, ExerciseResult]

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results.values())

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def all_passed(self) -> bool:
        return self.passed == self.total

    def status_of(self, exercise: str) -> Status:
        return self.results[exercise].status


def check_topic(
    topic: Topic,
    exercise_file: Path | str | None = None,
    *,
    seed: int = 0,
    only: list[str] | None = None,
    on_result: Callable[[ExerciseResult], None] | None = None,
) -> TopicCheck:
    """Check every exercise of ``topic`` against the learner's file."""
    checks = track_module(topic, "checks").CHECKS
    missing = [name for name in topic.exercise_names if name not in checks]
    if missing:  # a registry/track mismatch is a bug of the project, not of the learner
        raise RuntimeError(f"{topic.label}: no check for exercises {missing} in tracks/{topic.folder}/checks.py")
    learner = load_learner_file(exercise_file or default_exercise_path(topic), topic)
    results: dict[str, ExerciseResult] = {}
    for exercise in topic.exercises:
        if only and exercise.name not in only:
            continue
        if learner.module is None:
            result = ExerciseResult(exercise.name, Status.FAIL, learner.error or "the file could not be loaded")
        else:
            result = run_check(
                checks[exercise.name], learner.module, exercise=exercise.name, seed=seed, source=str(learner.path)
            )
        results[exercise.name] = result
        if on_result:
            on_result(result)
    return TopicCheck(topic, learner, results)


def missing_file_check(topic: Topic, reason: str) -> TopicCheck:
    """Every exercise TODO because the learner's file is not there (the reference runs instead)."""
    path = default_exercise_path(topic)
    results = {e.name: ExerciseResult(e.name, Status.TODO, reason) for e in topic.exercises}
    return TopicCheck(topic, LearnerFile(path, None, reason, None), results)


@dataclass
class Implementation:
    """The functions a run uses, and for each exercise whose they are.

    Attribute access gives the function: ``impl.add_forward``.
    ``chosen[exercise]`` is ``"mine"`` or ``"reference"``.
    """

    topic: Topic
    functions: dict[str, Callable]
    chosen: dict[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str):
        try:
            value = self.__dict__["functions"][name]
        except KeyError:
            raise AttributeError(f"{self.topic.label} has no exercise function {name!r}") from None
        if isinstance(value, ImplementationUnavailable):
            raise value
        return value

    @property
    def namespace(self) -> SimpleNamespace:
        return SimpleNamespace(**self.functions)

    def summary(self) -> str:
        mine = [e for e, who in self.chosen.items() if who == "mine"]
        missing = [e for e, who in self.chosen.items() if who == "unavailable"]
        if len(mine) == len(self.chosen):
            return "all yours"
        if missing:
            return f"yours: {', '.join(mine) or 'none'}; not passing yet (needed by --impl mine): {', '.join(missing)}"
        if not mine:
            return "all reference"
        return f"yours: {', '.join(mine)}; reference for the rest"


def resolve(check: TopicCheck, mode: str = "auto", *, strict: bool = True) -> Implementation:
    """Pick the learner's function where its exercises pass, the reference elsewhere.

    A function shared by several exercises (topic 02's ``Tensor``) is the
    learner's only when all of them pass. ``mode="reference"`` uses the
    reference throughout. ``mode="mine"`` never uses the reference: with
    ``strict`` (the topic being run) it raises
    :class:`ImplementationUnavailable` unless every exercise passes; without
    (a topic another run depends on) only the functions whose exercises do not
    pass are unavailable, and raise when the run reaches for them.
    """
    if mode not in IMPL_MODES:
        raise ValueError(f"impl mode must be one of {IMPL_MODES}, got {mode!r}")
    topic = check.topic
    if mode == "mine" and strict and not check.all_passed:
        pending = [f"{name} ({r.status.value})" for name, r in check.results.items() if not r.passed]
        raise ImplementationUnavailable(
            f"--impl mine needs every exercise of {topic.label} to pass with your code; "
            f"not yet: {', '.join(pending)}. Run `python -m fdl.run {topic.number}` to see why, "
            f"or use --impl auto."
        )
    reference = track_module(topic, "reference")
    functions: dict[str, Callable] = {}
    chosen: dict[str, str] = {}
    for exercise in topic.exercises:
        chosen[exercise.name] = "mine" if mode != "reference" and check.results.get(exercise.name) is not None \
            and check.results[exercise.name].passed else "reference"
    for name in topic.functions:
        owners = [e.name for e in topic.exercises if name in e.functions]
        use_mine = mode != "reference" and all(chosen[o] == "mine" for o in owners)
        if use_mine:
            functions[name] = getattr(check.file.module, name)
        elif mode == "mine":
            pending = [f"{o} ({check.results[o].status.value})" for o in owners if o in check.results
                       and not check.results[o].passed] or owners
            functions[name] = ImplementationUnavailable(
                f"--impl mine: this run needs your {name} from {topic.label}, but its exercise "
                f"{', '.join(pending)} does not pass yet. Run `python -m fdl.run {topic.number}` to see why."
            )
        else:
            functions[name] = getattr(reference, name)
        if not use_mine:  # a shared function falls back for every exercise that owns it
            for o in owners:
                chosen[o] = "unavailable" if mode == "mine" else "reference"
    return Implementation(topic, functions, chosen)
