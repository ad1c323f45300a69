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
import os
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Callable

from .check import DEFAULT_TIME_LIMIT, ExerciseResult, Status, run_check
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


class LearnerFile:
    """The learner's file: where it is, its SHA-256, and why it could not be loaded (``error``), if it could not.

    ``module`` is the file executed as a module. A file checked in the worker process
    (:mod:`fdl.worker`) is executed here only when a run first needs one of its functions, and only
    if it is still the file that was checked (same SHA-256): the code that runs is the code that passed.
    """

    def __init__(self, path: Path, module: ModuleType | None, error: str | None, sha256: str | None,
                 *, output: dict | None = None, lazy: bool = False):
        self.path = Path(path)
        self._module = module
        self.error = error
        self.sha256 = sha256
        self.output = output  # what the file printed while it was loaded
        self._lazy = lazy and module is None and error is None

    @property
    def module(self) -> ModuleType | None:
        if self._lazy:
            self._lazy = False
            self._module = _load_for_run(self)
        return self._module

    def __repr__(self) -> str:
        return f"LearnerFile({str(self.path)!r}, error={self.error!r})"


class LearnerFileChanged(FdlError, RuntimeError):
    """The learner's file is not the one that was checked any more."""


def _load_for_run(learner: LearnerFile) -> ModuleType:
    """Execute a file the worker checked, in this process, for the run to use."""
    import tempfile

    from .check.harness import HardExit, _exits_are_exceptions
    from .worker import _captured

    if not learner.path.is_file() or file_sha256(learner.path) != learner.sha256:
        raise LearnerFileChanged(
            f"{learner.path} changed while fdl was checking it; a run uses only code that was checked. "
            f"Run the command again."
        )
    with tempfile.TemporaryDirectory() as folder:
        try:  # its output was shown when it was checked
            with _captured(Path(folder) / "load.out"), _exits_are_exceptions():
                return _exec_learner_file(learner.path, learner.sha256)
        except (Exception, SystemExit, HardExit) as exc:
            raise LearnerFileChanged(
                f"{learner.path} could not be loaded for the run ({type(exc).__name__}: {exc}), although it "
                f"loaded when it was checked. Run the command again."
            ) from None


def _exec_learner_file(path: Path, digest: str) -> ModuleType:
    name = f"fdl_learner_{path.parent.name}_{digest[:12]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the learner may import helpers kept beside their file
    try:
        spec.loader.exec_module(module)
    finally:
        try:
            sys.path.remove(str(path.parent))
        except ValueError:
            pass
    return module


def load_learner_file(path: Path | str, topic: Topic) -> LearnerFile:
    """Execute the learner's file as a fresh module, whatever it contains.

    A missing file raises ``FileNotFoundError`` (a usage error). A syntax
    error, an exception or an exit at import time is returned in ``error``:
    every exercise then FAILs with that message, and the run uses the reference.
    """
    from .check.harness import HardExit, _exits_are_exceptions

    path = _existing(path, topic)
    digest = file_sha256(path)
    try:
        with _exits_are_exceptions():
            module = _exec_learner_file(path, digest)
    except SyntaxError as exc:
        pointer = ""
        if exc.text:
            col = max((exc.offset or 1) - 1, 0)
            pointer = f"\n    {exc.text.rstrip()}\n    {' ' * col}^"
        error = f"{path.name} has a syntax error at line {exc.lineno}, column {exc.offset}: {exc.msg}{pointer}"
        return LearnerFile(path, None, error, digest)
    except KeyboardInterrupt:
        raise
    except (Exception, SystemExit, HardExit) as exc:  # anything raised while the file runs top to bottom
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
        where = f" at line {frames[-1].lineno}: {frames[-1].line}" if frames else ""
        what = {SystemExit: "called sys.exit", HardExit: "called os._exit"}.get(type(exc),
                                                                               f"raised {type(exc).__name__}")
        error = f"{path.name} {what} while loading{where}: {exc}"
        return LearnerFile(path, None, error, digest)
    return LearnerFile(path, module, None, digest)


def _existing(path: Path | str, topic: Topic) -> Path:
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(
            f"no exercise file at {path}. Expected {topic.label}'s file "
            f"(tracks/{topic.folder}/exercise.py, or the path given with --exercise)."
        )
    return path


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


def check_topic(
    topic: Topic,
    exercise_file: Path | str | None = None,
    *,
    seed: int = 0,
    only: list[str] | None = None,
    on_result: Callable[[ExerciseResult], None] | None = None,
    on_running: Callable[[str | None, float], None] | None = None,
    time_limit: float | None = None,
) -> TopicCheck:
    """Check every exercise of ``topic`` against the learner's file.

    The checks run in a worker process (:mod:`fdl.worker`), so the learner's code cannot end,
    flood or hang fdl; ``on_running(exercise, seconds)`` is called every quarter second meanwhile.
    With ``FDL_ISOLATE=0`` they run in this process. ``time_limit`` is per exercise (default
    ``$FDL_TIME_LIMIT`` or 120 s).
    """
    time_limit = time_limit or _time_limit_setting()
    checks = track_module(topic, "checks").CHECKS
    missing = [name for name in topic.exercise_names if name not in checks]
    if missing:  # a registry/track mismatch is a bug of the project, not of the learner
        raise RuntimeError(f"{topic.label}: no check for exercises {missing} in tracks/{topic.folder}/checks.py")
    path = _existing(exercise_file or default_exercise_path(topic), topic)
    names = [e.name for e in topic.exercises if not only or e.name in only]
    from .worker import isolation_enabled

    if not isolation_enabled():
        return _check_here(topic, checks, path, names, seed, on_result, time_limit)
    return _check_in_worker(topic, path, names, seed, on_result, on_running, time_limit)


def _time_limit_setting() -> float:
    text = os.environ.get("FDL_TIME_LIMIT", "").strip()
    try:
        return float(text) if text and float(text) > 0 else DEFAULT_TIME_LIMIT
    except ValueError:
        return DEFAULT_TIME_LIMIT


def _check_here(topic, checks, path, names, seed, on_result, time_limit) -> TopicCheck:
    learner = load_learner_file(path, topic)
    results: dict[str, ExerciseResult] = {}
    for name in names:
        if learner.module is None:
            result = ExerciseResult(name, Status.FAIL, _did_not_load(learner))
        else:
            result = run_check(checks[name], learner.module, exercise=name, seed=seed, source=str(learner.path),
                               time_limit=time_limit)
        results[name] = result
        if on_result:
            on_result(result)
    return TopicCheck(topic, learner, results)


def _did_not_load(learner: LearnerFile) -> str:
    first = (learner.error or "the file could not be loaded").splitlines()[0]
    return f"{learner.path.name} did not load, so nothing in it could be checked: {first}"


def _check_in_worker(topic, path, names, seed, on_result, on_running, time_limit) -> TopicCheck:
    import tempfile

    from .jaxcache import enabled_cache_dir
    from .worker import check_in_worker

    results: dict[str, ExerciseResult] = {}
    state: dict = {"error": None, "sha256": file_sha256(path), "output": None, "loaded": False}

    def finish(result: ExerciseResult) -> None:
        results[result.exercise] = result
        if on_result:
            on_result(result)

    def on_event(event: dict) -> None:
        kind = event["event"]
        if kind == "loaded" and not state["loaded"]:
            state.update(loaded=True, error=event["error"], sha256=event["sha256"] or state["sha256"],
                         output=event.get("output"))
        elif kind == "running" and on_running:
            on_running(event["exercise"], event["seconds"])
        elif kind == "result":
            finish(ExerciseResult.from_wire(event["result"]))
        elif kind == "died":
            output = event.get("output") or {}
            if event.get("while_loading"):
                state.update(error=f"loading {path.name} ended the checking process ({event['how']}): a hard exit "
                                   f"or a crash at the top level of your file", output=output)
            elif event.get("exercise"):
                finish(ExerciseResult(event["exercise"], Status.FAIL, _died_message(event, time_limit),
                                      seconds=event["seconds"], output=output or None))

    with tempfile.TemporaryDirectory(prefix="fdl-check-") as capture_dir:
        request = {"cmd": "check", "topic": topic.number, "path": str(path), "seed": seed,
                   "time_limit": time_limit, "capture_dir": capture_dir, "sys_path": list(sys.path),
                   "jax_cache": str(enabled_cache_dir() or "")}
        check_in_worker(request, names, time_limit=time_limit, on_event=on_event)
    learner = LearnerFile(path, None, state["error"], state["sha256"], output=state["output"], lazy=True)
    for name in names:  # a file that did not load: every exercise FAILs with that reason
        if name not in results:
            results[name] = ExerciseResult(name, Status.FAIL, _did_not_load(learner))
            if on_result:
                on_result(results[name])
    return TopicCheck(topic, learner, {name: results[name] for name in names})


def _died_message(event: dict, time_limit: float) -> str:
    output = event.get("output") or {}
    printed = output.get("bytes", 0)
    note = f"; it had printed {printed / 1e6:.1f} MB by then" if printed > 1_000_000 else ""
    if event.get("timeout"):
        return (f"the check did not finish within {time_limit:.0f} s and was stopped{note} (a loop that never "
                f"ends, or far too much work for these small inputs?)")
    return (f"{event['how']} while this exercise was being checked{note}: your code ended the process (os.abort, "
            f"a crash in C code, a signal). fdl carried on with the other exercises.")


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
