"""Run one exercise's check and turn whatever happens into PASS, FAIL or TODO.

A check is a function ``check(ctx)``. It reaches the code under test through
``ctx.fn(name)`` and compares through ``ctx.compare(...)``. :func:`run_check`
runs it with the oracle settings (float64, highest matmul precision), a time
limit, and every exception caught:

- ``NotImplementedError`` or a missing function: TODO;
- a wrong value, shape, dtype or NaN: FAIL, with the message from
  :func:`fdl.check.compare.compare`;
- any other exception: FAIL, naming the line of the learner's file that
  raised it and what the check was doing at the time.

The harness itself never crashes on what the checked code does.
"""

from __future__ import annotations

import contextlib
import enum
import linecache
import os
import signal
import threading
import time
import traceback
import warnings
import zlib
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any, Callable

import numpy as np

from .compare import CheckFailure, Comparison, Todo, compare, describe
from .pytree import keyed_leaves, path_text, snapshot, tree_equal
from .tolerance import Tolerance

__all__ = [
    "Status",
    "ExerciseResult",
    "CheckContext",
    "run_check",
    "oracle_mode",
    "DEFAULT_TIME_LIMIT",
]

DEFAULT_TIME_LIMIT = 120.0  # seconds per exercise: generous, but an infinite loop ends


class Status(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    TODO = "TODO"


def _finite_or_none(x: float | None):
    if x is None or not np.isfinite(x):
        return None if x is None else str(x)
    return float(x)


@dataclass
class ExerciseResult:
    """The outcome of checking one exercise.

    ``worst`` is the comparison that decided the verdict: on a FAIL the failing one (its figures
    are the error that was too large), on a PASS the closest call. ``output`` is what the checked
    code printed, when it was captured (see :mod:`fdl.worker`).
    """

    exercise: str
    status: Status
    message: str = ""
    worst: Comparison | None = None
    cases: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    output: dict | None = None  # {"text", "bytes", "truncated"}
    seen: list = field(default_factory=list, repr=False)  # (value, dtype, shape) of every comparison made

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    @property
    def printed(self) -> str:
        return (self.output or {}).get("text", "")

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "exercise": self.exercise,
            "status": self.status.value,
            "message": self.message,
            "worst_abs_error": _finite_or_none(worst.max_abs) if worst else None,
            "worst_rel_error": _finite_or_none(worst.rel) if worst else None,
            "worst_where": worst.where if worst else None,
            "cases": self.cases,
            "seconds": round(self.seconds, 4),
            "warnings": list(self.warnings),
            "output": self.printed or None,
            "output_bytes": (self.output or {}).get("bytes", 0),
        }

    def to_wire(self) -> dict[str, Any]:
        """Everything, losslessly, as JSON-able data (from the checking process to fdl)."""
        worst = self.worst
        return {"exercise": self.exercise, "status": self.status.value, "message": self.message,
                "worst": None if worst is None else [worst.max_abs, worst.rel, worst.ratio, worst.where],
                "cases": self.cases, "seconds": self.seconds, "warnings": list(self.warnings),
                "output": self.output}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> "ExerciseResult":
        worst = data.get("worst")
        return cls(data["exercise"], Status(data["status"]), data.get("message", ""),
                   Comparison(*worst) if worst else None, data.get("cases", 0), data.get("seconds", 0.0),
                   list(data.get("warnings", [])), data.get("output"))

    def __str__(self) -> str:
        head = f"{self.exercise}: {self.status.value}"
        if self.worst is not None and self.status is Status.PASS:
            head += f" ({self.cases} cases, worst error {self.worst.max_abs:.2e} at {self.worst.where})"
        elif self.status is not Status.PASS:
            head += "\n  " + self.message.replace("\n", "\n  ")
        return head

    __repr__ = __str__


class HardExit(BaseException):
    """The checked code called ``os._exit``; during a check that raises this instead."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


@contextlib.contextmanager
def _exits_are_exceptions():
    """``os._exit(n)`` raises :class:`HardExit` while a check runs (``sys.exit`` raises SystemExit anyway)."""
    real = os._exit

    def _exit(code=0):
        raise HardExit(code)

    os._exit = _exit
    try:
        yield
    finally:
        os._exit = real


@contextlib.contextmanager
def oracle_mode():
    """float64 in JAX and the highest matmul precision, for the duration of a check.

    Accelerators otherwise run float32 matmuls in reduced precision (TF32 or
    bf16 passes), which would make the oracle less accurate than the code
    it judges.
    """
    import jax

    enable_x64 = getattr(jax, "enable_x64", None)
    if enable_x64 is None:  # older JAX releases
        from jax.experimental import enable_x64 as enable_x64_ctx

        x64 = enable_x64_ctx()
    else:
        x64 = enable_x64(True)
    with x64, jax.default_matmul_precision("highest"):
        yield


class _TimeLimit(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Interrupt the check after ``seconds`` (main thread on POSIX only)."""
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class CheckContext:
    """What a check works with: the code under test, a seeded RNG, comparisons.

    ``impl`` is the learner's module (or the reference, or any namespace
    with the exercise's functions). ``source`` is the file it came from, used
    to point at the learner's line when their code raises.
    """

    def __init__(self, impl, *, exercise: str, seed: int = 0, source: str | None = None):
        self.impl = impl
        self.exercise = exercise
        self.source = source
        # one stream per exercise, independent of the order exercises run in
        self.rng = np.random.default_rng([seed, zlib.crc32(exercise.encode())])
        self.cases = 0
        self.worst: Comparison | None = None
        self.current_case = ""  # the input case being checked, for error messages
        self.doing = ""  # what the check is doing in that case
        self.seen: list[tuple[str, str, tuple]] = []  # (value, dtype, shape) of every comparison

    # -- the code under test -------------------------------------------------
    def fn(self, name: str) -> Callable:
        """The function ``name`` of the code under test; TODO if it is missing."""
        value = getattr(self.impl, name, None)
        if value is None:
            where = f" in {self.source}" if self.source else ""
            raise Todo(f"{name} is not defined{where}")
        if not callable(value):
            raise CheckFailure(f"{name} should be a function or class, got {describe(value)}")
        return value

    def call(self, name_or_fn, *args, **kwargs):
        """Call a function of the code under test, remembering what was called."""
        fn = self.fn(name_or_fn) if isinstance(name_or_fn, str) else name_or_fn
        label = getattr(fn, "__name__", str(name_or_fn))
        self.doing = f"calling {label}"
        value = fn(*args, **kwargs)
        self.doing = f"checking what {label} returned"
        return value

    def case(self, description: str) -> None:
        """Start a new input case; ``description`` appears in failure messages."""
        self.cases += 1
        self.current_case = f"case {self.cases}: {description}"
        self.doing = ""

    # -- verdicts ---------------------------------------------------------
    def compare(self, got, expected, tol: Tolerance, *, what: str, against: str = "the oracle",
                scale: float | None = None, floor=None) -> Comparison:
        self._record(expected, what)
        try:
            result = compare(got, expected, tol, what=what, against=against, scale=scale, floor=floor)
        except CheckFailure as failure:
            raise CheckFailure(self._located(str(failure)), failure.comparison) from None
        if self.worst is None or result.ratio > self.worst.ratio:
            self.worst = result
        return result

    def _record(self, expected, what: str) -> None:
        """Remember the dtype and shape of every value compared (the tests read ``seen``)."""
        for path, leaf in keyed_leaves(expected):
            if hasattr(leaf, "dtype") and hasattr(leaf, "shape"):
                self.seen.append((what + path_text(path), np.dtype(leaf.dtype).name, tuple(leaf.shape)))
            elif isinstance(leaf, float):
                self.seen.append((what + path_text(path), "float", ()))

    def fail(self, message: str):
        raise CheckFailure(self._located(message))

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    def unchanged(self, before, after, message: str) -> None:
        """Fail if the code under test modified an input in place."""
        if not tree_equal(before, after):
            self.fail(message)

    def _located(self, message: str) -> str:
        return message + self.context()

    def context(self) -> str:
        """Where the check was: the case, and what it was doing in it."""
        text = f"\n  in {self.current_case}" if self.current_case else ""
        return text + (f"\n  while {self.doing}" if self.doing else "")


def deep_copy(tree):
    """A copy of a pytree of arrays, to hand to code that might modify its inputs."""
    return snapshot(tree)


def _learner_frame(exc: BaseException, source: str | None):
    """The innermost traceback frame in the learner's file, or None."""
    if not source:
        return None
    target = os.path.realpath(source)
    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.realpath(frame.filename) == target:
            found = frame
    return found


def _format_exception(exc: BaseException, ctx: CheckContext) -> str:
    name = type(exc).__name__
    text = str(exc).strip()
    frame = _learner_frame(exc, ctx.source)
    if frame is not None:
        line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
        where = f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}: {line}"
        message = f"your code raised {name}: {text}\n  at {where}"
    else:
        last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        where = f" at {os.path.basename(last.filename)}:{last.lineno}" if last else ""
        message = f"{name}: {text}{where}"
    return message + ctx.context()


def run_check(
    check: Callable[[CheckContext], None],
    impl: ModuleType | SimpleNamespace | Any,
    *,
    exercise: str,
    seed: int = 0,
    source: str | None = None,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> ExerciseResult:
    """Run ``check`` on ``impl`` and return PASS, FAIL or TODO with the details."""
    ctx = CheckContext(impl, exercise=exercise, seed=seed, source=source)
    start = time.perf_counter()
    caught: list[warnings.WarningMessage] = []

    def result(status: Status, message: str = "") -> ExerciseResult:
        notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})[:5]
        if status is Status.FAIL and notes:
            message += "\n  NumPy warned: " + "; ".join(notes)
        return ExerciseResult(
            exercise, status, message, ctx.worst, ctx.cases, time.perf_counter() - start, notes, seen=ctx.seen
        )

    try:
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
            warnings.simplefilter("always")
            with oracle_mode(), _time_limit(time_limit), _exits_are_exceptions():
                check(ctx)
    except Todo as todo:
        return result(Status.TODO, str(todo))
    except NotImplementedError as exc:
        frame = _learner_frame(exc, ctx.source)
        where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
        text = str(exc).strip() or "NotImplementedError"
        return result(Status.TODO, f"not implemented yet{where}: {text}")
    except CheckFailure as failure:
        if failure.comparison is not None:
            ctx.worst = failure.comparison  # the figures of the comparison that failed, not of those that passed
        else:
            ctx.worst = None
        return result(Status.FAIL, str(failure))
    except _TimeLimit:
        return result(
            Status.FAIL,
            f"the check did not finish within {time_limit:.0f} s (a loop that never ends, or far too much work "
            f"for these small inputs?)" + ctx.context(),
        )
    except RecursionError as exc:
        ctx.worst = None
        return result(
            Status.FAIL,
            _format_exception(exc, ctx)
            + "\n  hint: deep graphs need an iterative traversal, not recursion",
        )
    except (SystemExit, HardExit) as exc:  # the checked code tried to end the process
        ctx.worst = None
        how = "os._exit" if isinstance(exc, HardExit) else "sys.exit (SystemExit)"
        return result(Status.FAIL, _format_exit(exc, how, ctx))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the checked code raised: a FAIL, never a crash
        ctx.worst = None
        return result(Status.FAIL, _format_exception(exc, ctx))
    if ctx.cases == 0:
        return result(Status.FAIL, "the check ran no case (a check that tests nothing cannot pass)")
    return result(Status.PASS)


def _format_exit(exc: BaseException, how: str, ctx: CheckContext) -> str:
    code = exc.code
    frame = _learner_frame(exc, ctx.source)
    where = ""
    if frame is not None:
        line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
        where = f"\n  at {os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}: {line}"
    return (f"your code called {how} with {code!r} while being checked; a function returns its result, it "
            f"never ends the program (remove the exit, or raise an exception instead){where}" + ctx.context())
