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
    parser = argparse.ArgumentParser(
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
    parser.add_argument("--seed", type=int, default=0, help="seed for checks and the run (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON report on stdout")
    parser.add_argument("--progress", metavar="FILE", help="progress file (default $FDL_PROGRESS or ./progress.toml)")
    parser.add_argument("--no-progress", action="store_true", help="do not record anything in progress.toml")
    parser.add_argument("--out", metavar="DIR", help="where plots go (default $FDL_RUNS_DIR or ./runs)")
    return parser


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


def render_checks(console, results: dict[str, ExerciseResult], chosen: dict[str, str] | None) -> None:
    from rich.table import Table

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
            name, f"[{colors[r.status]}]{r.status.value}[/]",
            _fmt_err(w.max_abs) if w else "", _fmt_err(w.rel) if w else "",
            str(r.cases) if r.cases and r.status is not Status.TODO else "",
            (chosen or {}).get(name, ""),
        )
    console.print(table)
    for name, r in results.items():
        if r.status is Status.FAIL:
            console.print(f"[red bold]FAIL {name}[/]: {r.message}", highlight=False, markup=False)
    todo = [name for name, r in results.items() if r.status is Status.TODO]
    if todo:
        first = results[todo[0]].message
        console.print(f"[yellow]TODO[/] {', '.join(todo)}  [dim]({first})[/]", highlight=False)


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


def main(argv: list[str] | None = None) -> int:
    """The command line: human output, or with ``--json`` one JSON report on stdout."""
    argv = list(sys.argv[1:] if argv is None else argv)
    code, report = execute(argv)
    if "--json" in argv:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return code


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

    # ---- 1. which topic, which options
    if not argv or argv[0] in ("-h", "--help") and len(argv) == 1:
        build_parser().print_help()
        return finish(EXIT_OK if argv else EXIT_USAGE)
    try:
        topic, run_module, parser = _topic_parser(argv)
    except UnknownTopic as exc:
        errors.print(f"error: {exc}", markup=False)
        report["error"] = str(exc)
        return finish(EXIT_USAGE)
    except NotBuilt as exc:
        errors.print(f"{exc}", markup=False)
        report["error"] = str(exc)
        return finish(EXIT_USAGE)
    except SystemExit as exc:  # argparse already printed the usage error
        return finish(int(exc.code or 0))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return finish(int(exc.code or 0))

    from .jaxcache import enable_compilation_cache

    enable_compilation_cache()
    report["topic"] = {"number": topic.number, "slug": topic.slug, "title": topic.title, "module": topic.module}
    console.rule(f"[bold]{topic.label} · {topic.title}[/]  [dim]Module {topic.module} · {MODULES[topic.module]}[/]")

    # ---- 2. check the learner's file
    started = time.perf_counter()
    try:
        with console.status(f"checking {topic.label}...", spinner="dots"):
            check = check_topic(topic, args.exercise, seed=args.seed)
    except FileNotFoundError as exc:
        errors.print(f"error: {exc}", markup=False)
        report["error"] = str(exc)
        return finish(EXIT_USAGE)
    report["exercise_file"] = str(check.file.path)
    report["impl_mode"] = args.impl
    console.print(f"[dim]checked {check.file.path} in {time.perf_counter() - started:.1f} s[/]")

    # ---- 3. record progress (a malformed file is reported, never overwritten)
    if not args.no_progress:
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

    # ---- 4. whose code runs
    session = Session(impl_mode=args.impl, seed=args.seed, console=console)
    failed_checks = any(r.status is Status.FAIL for r in check.results.values())
    try:
        impl = resolve(check, args.impl)
    except ImplementationUnavailable as exc:
        render_checks(console, check.results, None)
        report["exercises"] = [r.to_dict() for r in check.results.values()]
        errors.print(f"error: {exc}", markup=False)
        report["error"] = str(exc)
        return finish(EXIT_FAILED)
    session.checks[topic.number] = check
    session.implementations[topic.number] = impl
    render_checks(console, check.results, impl.chosen)
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
    try:
        metrics = run_module.run(ctx) or {}
    except FdlError as exc:  # missing data, a NaN loss, an unfinished dependency: the message says what to do
        errors.print(f"error: {exc}", markup=False)
        report["error"] = str(exc)
        report["run"] = {"plots": ctx.plots, "seconds": time.perf_counter() - run_started}
        return finish(EXIT_FAILED)
    except KeyboardInterrupt:
        errors.print("interrupted")
        report["error"] = "interrupted"
        report["run"] = {"plots": ctx.plots, "seconds": time.perf_counter() - run_started}
        return finish(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug in a run: show where, keep the report
        errors.print("the run failed:\n" + traceback.format_exc(), markup=False)
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["run"] = {"plots": ctx.plots, "seconds": time.perf_counter() - run_started}
        return finish(EXIT_FAILED)
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
    if failed_checks:
        console.print("[red]some checks FAIL: fix them, then run again[/]")
    console.print(f"[dim]run took {seconds:.1f} s[/]")
    return finish(code)


def _fmt_metric(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
