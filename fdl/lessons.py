"""``python -m fdl.lessons [TOPIC ...|all]``: draw the lessons' figures.

Each built topic's ``lesson_figures.py`` defines ``make_figures(out_dir) ->
[paths]``, which draws the pictures its README links to (from the topic's
reference code) into ``tracks/<topic>/figures/``. The PNGs are committed, so
a learner sees them without running anything; this command redraws them
after a lesson or its reference changes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .curriculum import TOPICS, UnknownTopic, find_topic

__all__ = ["figure_paths", "main"]

TRACKS = Path(__file__).resolve().parent.parent / "tracks"


def figure_paths(topic, out_dir: Path | None = None) -> list[Path]:
    """Draw ``topic``'s lesson figures into ``out_dir`` (default: the topic's ``figures/``)."""
    module = importlib.import_module(f"{topic.package}.lesson_figures")
    out = Path(out_dir) if out_dir is not None else TRACKS / topic.folder / "figures"
    out.mkdir(parents=True, exist_ok=True)
    return [Path(p) for p in module.make_figures(out)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fdl.lessons", description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="*", default=["all"], help="topics to draw (default all built ones)")
    args = parser.parse_args(argv)
    try:
        topics = [t for t in TOPICS if t.built] if args.topics == ["all"] else [find_topic(t) for t in args.topics]
    except UnknownTopic as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for topic in topics:
        for path in figure_paths(topic):
            print(f"{topic.label}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
