"""``python -m fdl.run TOPIC``: check a topic's exercises, then run its experiment.

    python -m fdl.run topic03 [--impl auto|mine|reference] [--exercise FILE]
                              [--smoke] [--seed N] [--json] [--progress FILE]
                              [--out DIR] [topic options]

1. Checks every exercise in the learner's file (``tracks/<topic>/exercise.py``
   or ``--exercise FILE``) against the JAX oracles and prints the table.
2. Records the results in progress.toml (never when the file is malformed).
3. Resolves each exercise to the learner's code when it passes, else the
   reference (``--impl``), and says which.
4. Runs the topic's experiment: figures, plots (PNG under ``runs/``), targets.

Exit codes: 0 success; 1 a check failed, a target was missed, or the run
could not finish; 2 a usage error (unknown topic, missing file, bad option).
With ``--json`` stdout holds one JSON report and everything else goes to
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from .check import ExerciseResult, Status
from .curriculum import MODULES, UnknownTopic, find_topic
from .errors import FdlError
from .session import RunContext, Session
from .track import (IMPL_MODES, ImplementationUnavailable, NotBuilt, check_topic, default_exercise_path, resolve,
                    track_module)

__all__ = ["main", "execute", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m fdl.run",
        description="Check a topic's exercises against JAX oracles, then run its experiment.",
        epilog="Name a topic by number (3, 03, t03, topic03) or slug (optimizers).",
    )
    parser.add_argument("topic", help="the topic to run, e.g. topic03, 3 or optimizers")
    parser.add_argument("--impl", choices=IMPL_MODES, default="auto",
                        help="whose code the run uses: yours where it passes (auto), yours only (mine), "
                             "or the reference")
    parser.add_argument("--exercise", metavar="FILE", help="check this file instead of tracks/<topic>/exercise.py")
    parser.add_argument("--smoke", action="store_true", help="a seconds-long deterministic run")
    parser.add_argument("--seed", type=_seed, default=0, help="seed for checks and the run (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    parser.add_argument("--progress", metavar="FILE", help="progress file (default $FDL_PROGRESS or ./progress.toml)")
    parser.add_argument("--no-progress", action="store_true", help="do not record anything in progress.toml")
    parser.add_argument("--out", metavar="DIR", help="where plots go (default $FDL_RUNS_DIR or ./runs)")
    return parser


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _topic_parser(argv: list[str]):
    """Parse in two steps: the topic first, then the options that topic adds."""
    base = build_parser()
    known, _ = base.parse_known_args(argv)
    topic = find_topic(known.topic)
    run_module = track_module(topic, "run")
    parser = build_parser()
    if hasattr(run_module, "add_arguments"):
        group = parser.add_argument_group(f"{topic.label} options")
        run_module.add_arguments(group)
    return topic, run_module, parser


def _fmt_err(x: float | None) -> str:
    if x is None:
        return ""
    if math.isinf(x) or math.isnan(x):
        return str(x)
    return f"{x:.1e}"


OUTPUT_LINES = 12  # lines of a learner's printed output shown per exercise (all of it is in --json)


def render_checks(console, check, chosen: dict[str, str] | None) -> None:
    """The table of verdicts; then each FAIL's message, what the learner's code printed, and the TODOs."""
    from rich.table import Table
    from rich.text import Text

    results: dict[str, ExerciseResult] = check.results
    table = Table(title=None, show_lines=False, header_style="bold")
    table.add_column("exercise")
    table.add_column("status")
    table.add_column("worst |err|", justify="right")
    table.add_column("rel", justify="right")
    table.add_column("cases", justify="right")
    table.add_column("run uses")
    colors = {Status.PASS: "green", Status.FAIL: "red", Status.TODO: "yellow"}
    for name, r in results.items():
        w = r.worst
        table.add_row(
            name, Text(r.status.value, style=colors[r.status]),
            _fmt_err(w.max_abs) if w else "", _fmt_err(w.rel) if w else "",
            str(r.cases) if r.cases and r.status is not Status.TODO else "",
            (chosen or {}).get(name, ""),
        )
    console.print(table)
    loaded = check.file.error is None
    if check.file.output and check.file.output.get("text"):
        _print_output(console, f"{check.file.path.name} printed while loading", check.file.output)
    if not loaded:  # one message for the file, not one per exercise
        console.print(Text.assemble(("FAIL ", "bold red"), (check.file.path.name, "bold red"), ": ",
                                    check.file.error), highlight=False)
    for name, r in results.items():
        if r.status is Status.FAIL and loaded:
            console.print(Text.assemble((f"FAIL {name}", "bold red"), ": ", r.message), highlight=False)
        if r.output and r.output.get("text"):
            _print_output(console, f"{name} printed", r.output)
    todo = [name for name, r in results.items() if r.status is Status.TODO]
    if todo:
        first = results[todo[0]].message
        console.print(Text.assemble(("TODO", "yellow"), f" {', '.join(todo)}  ", (f"({first})", "dim")),
                      highlight=False)


def _print_output(console, title: str, output: dict) -> None:
    from rich.text import Text

    lines = output["text"].splitlines()
    shown = lines[:OUTPUT_LINES]
    more = len(lines) - len(shown)
    size = output.get("bytes", 0)
    extent = f"{len(lines)} line{'s' if len(lines) != 1 else ''}" if not output.get("truncated") else f"{size:,} bytes"
    console.print(Text(f"  {title} ({extent}):", style="dim"), highlight=False)
    for line in shown:
        console.print(Text(f"    | {line[:200]}", style="dim"), highlight=False)
    if more > 0 or output.get("truncated"):
        console.print(Text("    | ... (the rest is in --json's output field; prints slow a check down)", style="dim"),
                      highlight=False)


def _json_safe(value):
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        return _json_safe(value.item())
    return value


def _out_dir(args, topic) -> Path:
    base = args.out or os.environ.get("FDL_RUNS_DIR") or "runs"
    return Path(base).expanduser() / topic.folder


@contextlib.contextmanager
def _stdout_is_stderr():
    """Everything written to stdout meanwhile goes to stderr (Python's and C's writes alike).

    With ``--json`` stdout holds one JSON report, whatever a learner's code prints during the run.
    """
    real_stdout = sys.stdout
    try:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # a captured or replaced stdout: Python level only
        fd = None
    saved = os.dup(fd) if fd is not None else None
    if fd is not None:
        os.dup2(sys.stderr.fileno(), fd)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield lambda text: _write_to(real_stdout, saved, text)
    finally:
        if saved is not None:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)


def _write_to(stream, fd: int | None, text: str) -> None:
    if fd is not None:
        os.write(fd, text.encode())
    else:
        stream.write(text)
        stream.flush()


def main(argv: list[str] | None = None) -> int:
    """The command line: human output, or with ``--json`` one JSON report on stdout."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--json" not in argv:
        code, _ = execute(argv)
        return code
    with _stdout_is_stderr() as write_json:
        code, report = execute(argv)
        write_json(json.dumps(report, indent=2) + "\n")
    return code


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``--json`` can carry the message."""

    def error(self, message):
        raise _UsageError(f"{self.prog}: error: {message}")


def execute(argv: list[str], *, quiet: bool = False) -> tuple[int, dict[str, Any]]:
    """Run a topic as the command line would; returns ``(exit code, report)``.

    Human output goes to stdout, or to stderr with ``--json`` (so stdout holds
    only the report); ``quiet`` silences it (the milestone harness).
    """
    from rich.console import Console

    want_json = "--json" in argv
    console = Console(stderr=want_json, highlight=False, quiet=quiet)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    report: dict[str, Any] = {}

    def finish(code: int) -> tuple[int, dict[str, Any]]:
        report["exit_code"] = code
        return code, _json_safe(report)

    def usage(message: str) -> tuple[int, dict[str, Any]]:
        errors.print(message, markup=False)
        report["error"] = message
        return finish(EXIT_USAGE)

    # ---- 1. which topic, which options
    if not argv or argv[0] in ("-h", "--help") and len(argv) == 1:
        if not quiet:
            build_parser().print_help(sys.stderr if want_json else sys.stdout)
        return finish(EXIT_OK if argv else EXIT_USAGE)
    try:
        topic, run_module, parser = _topic_parser(argv)
        args = parser.parse_args(argv)
    except UnknownTopic as exc:
        return usage(f"error: {exc}")
    except NotBuilt as exc:
        return usage(str(exc))
    except _UsageError as exc:
        errors.print(_usage_line(argv), markup=False)
        return usage(str(exc))
    except SystemExit as exc:  # --help printed its text
        return finish(int(exc.code or 0))

    from .jaxcache import enable_compilation_cache

    enable_compilation_cache()
    report["topic"] = {"number": topic.number, "slug": topic.slug, "title": topic.title, "module": topic.module}
    console.rule(f"[bold]{topic.label} · {topic.title}[/]  [dim]Module {topic.module} · {MODULES[topic.module]}[/]")
    try:
        return _execute(topic, run_module, args, console, errors, report, finish)
    except KeyboardInterrupt:
        errors.print("interrupted")
        report["error"] = "interrupted"
        return finish(EXIT_INTERRUPTED)


def _usage_line(argv: list[str]) -> str:
    try:
        return build_parser().format_usage().rstrip()
    except Exception:  # noqa: BLE001  (only a courtesy line)
        return ""


def _execute(topic, run_module, args, console, errors, report, finish) -> tuple[int, dict[str, Any]]:
    # ---- 2. check the learner's file (in a worker process: fdl.worker)
    started = time.perf_counter()
    try:
        with console.status(f"checking {topic.label}...", spinner="dots") as status:
            def running(exercise, seconds):
                if exercise:
                    status.update(f"checking {topic.label} · {exercise} ({seconds:.0f} s)")

            check = check_topic(topic, args.exercise, seed=args.seed, on_running=running)
    except FileNotFoundError as exc:
        errors.print(f"error: {exc}", markup=False)
        report["error"] = str(exc)
        return finish(EXIT_USAGE)
    report["exercise_file"] = str(check.file.path)
    report["impl_mode"] = args.impl
    if check.file.error:
        report["file_error"] = check.file.error
    console.print(f"[dim]checked {check.file.path} in {time.perf_counter() - started:.1f} s[/]")

    # ---- 3. record progress (a malformed file is reported, never overwritten)
    if not args.no_progress:
        _record_check(topic, check, args, console, errors, report)

    # ---- 4. whose code runs
    session = Session(impl_mode=args.impl, seed=args.seed, console=console)
    failed_checks = any(r.status is Status.FAIL for r in check.results.values())
    try:
        impl = resolve(check, args.impl)
    except ImplementationUnavailable as exc:
        render_checks(console, check, None)
        report["exercises"] = [r.to_dict() for r in check.results.values()]
        errors.print(f"error: {exc}", markup=False)
        report["error"] = str(exc)
        return finish(EXIT_FAILED)
    session.checks[topic.number] = check
    session.implementations[topic.number] = impl
    render_checks(console, check, impl.chosen)
    report["exercises"] = [
        {**r.to_dict(), "implementation": impl.chosen.get(name)} for name, r in check.results.items()
    ]
    console.print(f"this run uses: {impl.summary()}")

    # ---- 5. the experiment
    ctx = RunContext(topic=topic, impl=impl, session=session, options=args, out_dir=_out_dir(args, topic),
                     smoke=args.smoke, seed=args.seed, console=console)
    console.rule(f"run: {topic.run}" + (" (smoke)" if args.smoke else ""))
    run_started = time.perf_counter()
    code = EXIT_FAILED if failed_checks else EXIT_OK

    def stopped(message: str, exit_code: int) -> tuple[int, dict[str, Any]]:
        report["error"] = message
        report["run"] = {"plots": ctx.plots, "seconds": time.perf_counter() - run_started}
        return finish(exit_code)

    try:
        metrics = run_module.run(ctx) or {}
    except FdlError as exc:  # missing data, a NaN loss, an unfinished dependency: the message says what to do
        errors.print(f"error: {exc}", markup=False)
        return stopped(str(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        errors.print("interrupted")
        return stopped("interrupted", EXIT_INTERRUPTED)
    except SystemExit as exc:  # code called by the run tried to end the program
        message = (f"the run stopped: something it called raised SystemExit({exc.code!r}) (sys.exit); "
                   f"exercise functions return their results, they never end the program")
        errors.print(f"error: {message}", markup=False)
        return stopped(message, EXIT_FAILED)
    except Exception as exc:  # a bug in a run: show where, keep the report
        errors.print("the run failed:\n" + traceback.format_exc(), markup=False)
        return stopped(f"{type(exc).__name__}: {exc}", EXIT_FAILED)
    seconds = time.perf_counter() - run_started
    report["run"] = {
        "metrics": metrics,
        "plots": ctx.plots,
        "targets": [t.to_dict() for t in ctx.targets],
        "seconds": round(seconds, 3),
        "smoke": args.smoke,
        "dependencies": {
            f"t{n:02d}": session.implementations[n].chosen for n in session.implementations if n != topic.number
        },
    }
    if metrics:
        console.print("[bold]figures[/]: " + ", ".join(f"{k} = {_fmt_metric(v)}" for k, v in metrics.items()))
    if any(not t.met for t in ctx.targets):
        code = EXIT_FAILED
    if ctx.interrupted:
        report["run"]["interrupted"] = True
        console.print("[yellow]interrupted: the figures above are partial[/]")
        code = EXIT_INTERRUPTED
    milestone = record_milestone(ctx, args, console, errors)
    if milestone:
        report["run"]["milestone"] = milestone
    if failed_checks:
        console.print("[red]some checks FAIL: fix them, then run again[/]")
    console.print(f"[dim]run took {seconds:.1f} s[/]")
    return finish(code)


def _record_check(topic, check, args, console, errors, report) -> None:
    from .progress import Progress, ProgressError

    try:
        progress = Progress.load(args.progress)
        if progress.record_check(check):
            for folder in progress.save():
                console.print(f"created folder {folder} for {progress.path.name}")
            report["progress_file"] = str(progress.path)
        else:
            own = default_exercise_path(topic)
            console.print(f"[dim]progress not recorded: {check.file.path} is not {topic.label}'s own file "
                          f"({own}); only that file's checks count[/]")
            report["progress_not_recorded"] = f"{check.file.path} is not {own}"
    except (ProgressError, OSError) as exc:
        errors.print(f"[yellow]warning:[/] progress not recorded: {exc}", highlight=False)
        report["progress_error"] = str(exc)


def record_milestone(ctx: RunContext, args, console, errors) -> dict[str, Any] | None:
    """The engine, not the topic, records a milestone: the run's milestone target met with the learner's code.

    It counts only on a full run (not ``--smoke``, not a run that called ``ctx.no_milestone``), with
    ``--impl mine`` so every function came from the learner's files, and only when the figure is met.
    """
    topic = ctx.topic
    target = next((t for t in ctx.targets if t.milestone), None)
    if topic.milestone is None or target is None or ctx.smoke or ctx.interrupted:
        return None
    info: dict[str, Any] = {"key": topic.milestone, "met": target.met, "recorded": False}
    whose = {who for impl in ctx.session.implementations.values() for who in impl.chosen.values()}
    if ctx.milestone_blocked:
        info["why_not"] = ctx.milestone_blocked
    elif not target.met:
        info["why_not"] = f"{target.name} {target.value:.4g} did not reach {target.target:.4g}"
    elif ctx.session.impl_mode != "mine" or whose != {"mine"}:
        info["why_not"] = "the milestone counts when your own code reaches the target: run again with --impl mine"
        console.print(f"[dim]{info['why_not']}[/]")
    elif args.no_progress:
        info["why_not"] = "--no-progress"
    if "why_not" in info:
        return info
    from .curriculum import MILESTONES
    from .progress import Progress, ProgressError

    milestone = next(m for m in MILESTONES if m.key == topic.milestone)
    try:
        progress = Progress.load(args.progress)
        if progress.record_milestone(milestone.key, value=target.value, metric=target.name, target=target.target,
                                     **ctx.milestone_details):
            progress.save()
            info["recorded"] = True
            console.print(f"[green]{milestone.title} recorded: {target.name} {target.value:.4g}[/]")
        else:
            info["why_not"] = "not better than the best already recorded"
    except ProgressError as exc:
        errors.print(f"[yellow]warning:[/] milestone not recorded: {exc}", highlight=False)
        info["why_not"] = str(exc)
    return info


def _fmt_metric(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
