"""What a topic's run works with: its implementation, settings, plots and figures.

A topic's ``run(ctx)`` receives a :class:`RunContext`. It uses
``ctx.impl.<function>`` for its own exercises, ``ctx.use(n)`` for another
topic's (checked and resolved the same way, learner's code where it passes,
the reference where not, and announced), saves plots with
``ctx.save_figure`` and declares pass/fail targets with ``ctx.target``.
"""

from __future__ import annotations

import argparse
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .curriculum import Topic, find_topic
from .track import Implementation, TopicCheck, check_topic, missing_file_check, resolve

__all__ = ["Session", "RunContext", "Target"]


@dataclass
class Target:
    name: str
    value: float
    target: float
    higher_is_better: bool = True
    milestone: bool = False  # the figure the topic's milestone is judged by

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "target": self.target,
                "higher_is_better": self.higher_is_better, "met": self.met, "milestone": self.milestone}


@dataclass
class Session:
    """Settings shared by every topic a command touches, and the checks already run."""

    impl_mode: str = "auto"
    seed: int = 0
    console: Any = None
    checks: dict[int, TopicCheck] = field(default_factory=dict)
    implementations: dict[int, Implementation] = field(default_factory=dict)

    def implementation(self, topic: Topic, check: TopicCheck | None = None, *, announce: bool = True) -> Implementation:
        """Check (once) and resolve ``topic``; say which code will run."""
        if topic.number in self.implementations:
            return self.implementations[topic.number]
        if check is None:
            check = self.checks.get(topic.number)
        if check is None:
            try:
                check = check_topic(topic, seed=self.seed)
            except FileNotFoundError as exc:  # the learner moved or deleted that topic's file
                check = missing_file_check(topic, str(exc))
        self.checks[topic.number] = check
        impl = resolve(check, self.impl_mode, strict=False)
        self.implementations[topic.number] = impl
        if announce and self.console is not None:
            self.console.print(
                f"[dim]using {topic.label} ({topic.title}): {impl.summary()} "
                f"({check.passed}/{check.total} of your exercises pass)[/]"
            )
        return impl


@dataclass
class RunContext:
    """Passed to a topic's ``run(ctx)``."""

    topic: Topic
    impl: Implementation
    session: Session
    options: argparse.Namespace
    out_dir: Path
    smoke: bool = False
    seed: int = 0
    console: Any = None
    plots: list[Path] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    interrupted: bool = False  # set by a run that caught Ctrl-C and returned partial figures
    milestone_blocked: str | None = None  # why this run cannot count for the milestone (ctx.no_milestone)
    milestone_details: dict[str, Any] = field(default_factory=dict)  # recorded beside the milestone figure

    def rng_for(self, name: str) -> np.random.Generator:
        """The random stream called ``name`` of this run: seeded by ``--seed``, the topic and the name.

        Every use of randomness in a run takes its own named stream (``"data"``, ``"init"``,
        ``"shuffle"``), so adding one draw never changes another, and the same seed gives the
        same run whatever order the streams are used in.
        """
        return np.random.default_rng([self.seed, self.topic.number, zlib.crc32(name.encode())])

    def use(self, topic: int | str) -> Implementation:
        """Another topic's functions: the learner's where they pass, else the reference."""
        other = find_topic(topic)
        if other.number == self.topic.number:
            return self.impl
        return self.session.implementation(other)

    def print(self, *args, **kwargs) -> None:
        if self.console is not None:
            self.console.print(*args, **kwargs)

    def save_figure(self, fig, filename: str) -> Path:
        """Save a matplotlib figure as PNG under the run's output folder and close it."""
        from .plot import save_figure

        path = save_figure(fig, self.out_dir / filename)
        self.plots.append(path)
        self.print(f"plot saved: {path}")
        return path

    def target(self, name: str, value: float, target: float, *, higher_is_better: bool = True,
               milestone: bool = False) -> Target:
        """Declare a figure the run must reach; a missed target makes the run exit 1.

        ``milestone=True`` marks the figure the topic's milestone is judged by: the engine records
        the milestone when it is met on a full run with ``--impl mine`` (never the topic itself).
        """
        t = Target(name, float(value), float(target), higher_is_better, milestone)
        self.targets.append(t)
        verdict = "[green]met[/]" if t.met else "[red]missed[/]"
        sign = ">=" if higher_is_better else "<="
        self.print(f"target {name}: {t.value:.4g} (need {sign} {t.target:.4g}) {verdict}")
        return t

    def no_milestone(self, reason: str) -> None:
        """This run cannot count for the milestone (a part of the data, other data); ``reason`` says why."""
        self.milestone_blocked = reason
