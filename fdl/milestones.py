"""``python -m fdl.milestones``: run every milestone's topic and report its target.

    python -m fdl.milestones [--smoke] [--json] [--impl auto|mine|reference] [--progress FILE]

Each milestone's topic runs as ``python -m fdl.run`` would run it (its
checks, then its experiment, quietly), and the table shows the figure, the
target and whether it was met. A topic not built yet is listed as such.
``--smoke`` runs the seconds-long deterministic versions (what CI runs);
without it the real ones run (minutes; Milestone 1 downloads MNIST once).
Exit code 0 when every built milestone met its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .curriculum import MILESTONES, topic_by_number
from .run import execute
from .track import IMPL_MODES

__all__ = ["main", "run_milestones"]


def run_milestones(*, smoke: bool, impl: str = "auto", progress: str | None = None,
                   seed: int = 0) -> list[dict[str, Any]]:
    rows = []
    for milestone in MILESTONES:
        topic = topic_by_number(milestone.topic)
        row: dict[str, Any] = {"key": milestone.key, "title": milestone.title, "topic": topic.number,
                               "target": milestone.target}
        if not topic.built:
            rows.append({**row, "status": "not built"})
            continue
        argv = [str(topic.number), "--json", "--impl", impl, "--seed", str(seed)]
        argv += ["--smoke"] if smoke else []
        argv += ["--progress", progress] if progress else []
        code, report = execute(argv, quiet=True)
        targets = report.get("run", {}).get("targets", [])
        met = bool(targets) and all(t["met"] for t in targets)
        status = "met" if met and code == 0 else ("missed" if targets else "could not run")
        rows.append({**row, "status": status, "exit_code": code, "targets": targets,
                     "metrics": report.get("run", {}).get("metrics", {}), "error": report.get("error"),
                     "implementation": sorted({e.get("implementation") for e in report.get("exercises", [])
                                               if e.get("implementation")})})
    return rows


def render(rows: list[dict[str, Any]], console, smoke: bool) -> None:
    from rich.table import Table

    table = Table(title=f"fdl milestones{' (smoke)' if smoke else ''}", header_style="bold")
    for col in ("milestone", "topic", "target", "result", "figure"):
        table.add_column(col)
    colors = {"met": "green", "missed": "red", "could not run": "red", "not built": "dim"}
    for row in rows:
        figure = ", ".join(f"{t['name']} {t['value']:.4g} (need {t['target']:.4g})" for t in row.get("targets", []))
        if row.get("error") and not figure:
            figure = row["error"].splitlines()[0][:90]
        table.add_row(row["title"], f"{row['topic']:02d}", row["target"],
                      f"[{colors[row['status']]}]{row['status']}[/]", figure)
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m fdl.milestones", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the seconds-long deterministic versions")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--impl", choices=IMPL_MODES, default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--progress", metavar="FILE")
    args = parser.parse_args(argv)
    rows = run_milestones(smoke=args.smoke, impl=args.impl, progress=args.progress, seed=args.seed)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        render(rows, Console(highlight=False), args.smoke)
    built = [r for r in rows if r["status"] != "not built"]
    return 0 if built and all(r["status"] == "met" for r in built) else 1


if __name__ == "__main__":
    sys.exit(main())
