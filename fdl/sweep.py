"""``python -m fdl.sweep``: every topic's reference against its own checks, over many seeds.

A check must never fail correct code. Its cases are random, so a tolerance
that holds on seed 0 can fail on seed 183; the reference passing every
exercise on every one of 300 seeds is what a release needs (the figure is in
docs/architecture.md). For each exercise the sweep reports how many seeds
passed and the worst ratio of error to tolerance seen (a check whose worst
ratio nears 1 has a tolerance too tight for its cases).

    python -m fdl.sweep                       # every built topic, 300 seeds
    python -m fdl.sweep 1 2 --seeds 50 --start 1000 --json

Seeds run in chunks, each in a fresh process, so memory a long sweep would
gather (compiled programs of randomly generated graphs) is given back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from .curriculum import TOPICS, UnknownTopic, find_topic

__all__ = ["sweep_topic", "sweep_exercise", "main"]

CHUNK = 50  # seeds per process


def sweep_exercise(topic, exercise: str, seeds) -> dict[str, Any]:
    """Run the reference on ``exercise``'s check for each seed; pass count, worst ratio, failures."""
    from .check import Status, run_check
    from .track import track_module

    check = track_module(topic, "checks").CHECKS[exercise]
    reference = track_module(topic, "reference")
    passed, worst, failures = 0, 0.0, []
    for seed in seeds:
        result = run_check(check, reference, exercise=exercise, seed=seed)
        if result.status is Status.PASS:
            passed += 1
            worst = max(worst, result.worst.ratio if result.worst else 0.0)
        else:
            failures.append({"seed": seed, "message": result.message[:800]})
    return {"topic": topic.number, "exercise": exercise, "seeds": len(list(seeds)), "passed": passed,
            "worst_ratio": worst, "failures": failures}


def sweep_topic(topic, seeds) -> list[dict[str, Any]]:
    return [sweep_exercise(topic, name, seeds) for name in topic.exercise_names]


def _chunk(topic_number: int, start: int, count: int) -> list[dict[str, Any]]:
    """One chunk of seeds in a fresh process."""
    proc = subprocess.run([sys.executable, "-m", "fdl.sweep", str(topic_number), "--start", str(start),
                           "--seeds", str(count), "--json", "--here"],
                          capture_output=True, text=True, env={**os.environ, "FDL_ISOLATE": "0"})
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"topic {topic_number}, seeds {start}..{start + count - 1}: the sweep process "
                           f"ended with {proc.returncode}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def _merge(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = (row["topic"], row["exercise"])
        if key not in merged:
            merged[key] = dict(row, failures=list(row["failures"]))
        else:
            m = merged[key]
            m["seeds"] += row["seeds"]
            m["passed"] += row["passed"]
            m["worst_ratio"] = max(m["worst_ratio"], row["worst_ratio"])
            m["failures"] += row["failures"]
    return list(merged.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fdl.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="*", help="topics (default: every built one)")
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--start", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # run in this process
    args = parser.parse_args(argv)
    try:
        topics = [find_topic(t) for t in args.topics] if args.topics else [t for t in TOPICS if t.built]
    except UnknownTopic as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for topic in topics:
        if args.here:
            rows += sweep_topic(topic, range(args.start, args.start + args.seeds))
            continue
        for start in range(args.start, args.start + args.seeds, CHUNK):
            rows += _chunk(topic.number, start, min(CHUNK, args.start + args.seeds - start))
            if not args.json:
                print(f"topic {topic.number:02d}: seeds up to {start + CHUNK - 1} done "
                      f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    rows = _merge(rows)
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            verdict = "ok" if row["passed"] == row["seeds"] else f"FAILED on seeds {[f['seed'] for f in row['failures']]}"
            print(f"t{row['topic']:02d} {row['exercise']:<24} {row['passed']:>4}/{row['seeds']} seeds, "
                  f"worst ratio {row['worst_ratio']:.3f}  {verdict}")
        total = sum(r["seeds"] for r in rows)
        bad = sum(r["seeds"] - r["passed"] for r in rows)
        print(f"{total - bad} of {total} exercise-seeds passed; worst ratio "
              f"{max((r['worst_ratio'] for r in rows), default=0):.3f}; {time.perf_counter() - started:.0f} s")
    return 0 if all(r["passed"] == r["seeds"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
