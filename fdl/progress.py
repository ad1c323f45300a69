"""progress.toml: the learner's record of the course, and ``python -m fdl.progress``.

The file is the learner's own. fdl edits it in place (tomlkit keeps every
comment, key order and hand-written note), writes it atomically (a temporary
file, then a rename), and refuses to touch a file it cannot read: a syntax
error, an unknown topic or an unknown status is reported with its line and
column, and the file is left exactly as it was.

Which file: ``--progress FILE``, else ``$FDL_PROGRESS``, else
``progress.toml`` at the root of the checkout (or the current directory when
fdl is installed from a wheel).

Per topic the runner records ``status``, ``started``, ``checked``,
``passed``/``total``, per-exercise results and, when every exercise passes
with the learner's code, ``completed`` and the SHA-256 of the learner's file.
An edit after that makes the pass *stale*: the overview says so until the
topic is checked again.

Commands::

    python -m fdl.progress                  # the overview
    python -m fdl.progress mark 1 2 3       # status done (or --status skipped|in_progress|todo)
    python -m fdl.progress unmark 2         # back to todo
    python -m fdl.progress note 3 "text"    # add a dated note
    python -m fdl.progress reset 3          # forget topic 3's record (a backup is kept)
    python -m fdl.progress reset --all --yes
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from .curriculum import MILESTONES, MODULES, TOPICS, Topic, UnknownTopic, find_topic
from .track import REPO_ROOT, default_exercise_path, file_sha256

__all__ = [
    "STATUSES",
    "ProgressError",
    "Progress",
    "progress_path",
    "main",
]

STATUSES = ("todo", "in_progress", "done", "skipped")
ENV_VAR = "FDL_PROGRESS"
_TOPIC_KEYS = {t.folder: t for t in TOPICS}
_MILESTONE_KEYS = {m.key: m for m in MILESTONES}
# keys the runner owns; `reset` removes them, a learner's own keys survive
_RUNNER_KEYS = ("started", "checked", "passed", "total", "completed", "passed_sha256", "file", "exercises")

HEADER = """\
# fdl progress: your record of the course.
#
# `python -m fdl.run TOPIC` records what its checks found here, and
# `python -m fdl.progress` draws the overview. This file is yours: edit it,
# add comments and notes; fdl keeps them. status is one of
# todo, in_progress, done, skipped.
"""


class ProgressError(Exception):
    """progress.toml cannot be read or used; the message says where and why."""


def progress_path(explicit: str | os.PathLike | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    root = REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return root / "progress.toml"


def new_document() -> tomlkit.TOMLDocument:
    """A fresh progress file: every topic listed as todo."""
    doc = tomlkit.document()
    for line in HEADER.rstrip("\n").splitlines():
        doc.add(tomlkit.comment(line.lstrip("# ").rstrip()) if line.strip() != "#" else tomlkit.comment(""))
    topics = tomlkit.table(is_super_table=True)
    for topic in TOPICS:
        table = tomlkit.table()
        table.add("status", "todo")
        table.comment(topic.title)
        topics.add(topic.folder, table)
    doc.add(tomlkit.nl())
    doc.add("topics", topics)
    return doc


def _locate(text: str, table: str, key: str | None = None) -> tuple[int, int]:
    """1-based (line, column) of ``key``'s value in table ``table``, or of the table header."""
    current = None
    header_pos = (1, 1)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$", stripped)
        if header:
            current = re.sub(r"[\"'\s]", "", header.group(1))
            if current == table:
                header_pos = (number, line.index("[") + 1)
            continue
        if current == table and key is not None:
            match = re.match(rf"^(\s*[\"']?{re.escape(key)}[\"']?\s*=\s*)", line)
            if match:
                return number, match.end() + 1
    return header_pos


class Progress:
    """progress.toml, loaded and validated; changes are written by :meth:`save`."""

    def __init__(self, path: Path, doc: tomlkit.TOMLDocument, text: str | None):
        self.path = path
        self.doc = doc
        self.text = text  # what was on disk when loaded (None: no file yet)

    # ------------------------------------------------------------------ load
    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "Progress":
        path = progress_path(path)
        if not path.exists():
            return cls(path, new_document(), None)
        if path.is_dir():
            raise ProgressError(f"{path} is a directory; expected a progress.toml file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ProgressError(f"{path} is not UTF-8 text ({exc}); fix or move it, fdl will not overwrite it")
        try:
            doc = tomlkit.parse(text)
        except ParseError as exc:
            raise ProgressError(
                f"{path}:{exc.line}:{exc.col}: not valid TOML ({_parse_reason(exc)}). "
                f"Fix that line (the file was left as it was), or point --progress at another file."
            ) from None
        progress = cls(path, doc, text)
        progress.validate()
        return progress

    def validate(self) -> None:
        text = self.text or ""
        topics = self.doc.get("topics", {})
        if not isinstance(topics, dict):
            raise ProgressError(f"{self.path}: 'topics' must be a table of topics, got {type(topics).__name__}")
        for key, entry in topics.items():
            if key not in _TOPIC_KEYS:
                line, col = _locate(text, f"topics.{key}")
                near = [k for k in _TOPIC_KEYS if k.split("_", 1)[0] == str(key).split("_", 1)[0]]
                hint = f" (did you mean {near[0]}?)" if near else ""
                raise ProgressError(
                    f"{self.path}:{line}:{col}: unknown topic [topics.{key}]{hint}. Topic tables are named "
                    f"like t01_tensor_ops; the file was left as it was."
                )
            if not isinstance(entry, dict):
                raise ProgressError(f"{self.path}: topics.{key} must be a table, got {type(entry).__name__}")
            status = entry.get("status", "todo")
            if status not in STATUSES:
                line, col = _locate(text, f"topics.{key}", "status")
                raise ProgressError(
                    f"{self.path}:{line}:{col}: unknown status {status!r} for {key}; expected one of "
                    f"{', '.join(STATUSES)}. Fix it by hand; the file was left as it was."
                )
            for number_key in ("passed", "total"):
                if number_key in entry and not isinstance(entry[number_key], int):
                    line, col = _locate(text, f"topics.{key}", number_key)
                    raise ProgressError(
                        f"{self.path}:{line}:{col}: {key}.{number_key} must be a whole number, "
                        f"got {entry[number_key]!r}"
                    )
        milestones = self.doc.get("milestones", {})
        if not isinstance(milestones, dict):
            raise ProgressError(f"{self.path}: 'milestones' must be a table")
        for key in milestones:
            if key not in _MILESTONE_KEYS:
                line, col = _locate(text, f"milestones.{key}")
                raise ProgressError(
                    f"{self.path}:{line}:{col}: unknown milestone [milestones.{key}]; known: "
                    f"{', '.join(_MILESTONE_KEYS)}"
                )

    # ------------------------------------------------------------------ access
    def topic(self, topic: Topic, create: bool = False) -> dict | None:
        topics = self.doc.get("topics")
        if topics is None:
            if not create:
                return None
            topics = tomlkit.table(is_super_table=True)
            self.doc.add("topics", topics)
        if topic.folder not in topics:
            if not create:
                return None
            table = tomlkit.table()
            table.add("status", "todo")
            table.comment(topic.title)
            topics.add(topic.folder, table)
        return topics[topic.folder]

    def status(self, topic: Topic) -> str:
        entry = self.topic(topic)
        return str(entry.get("status", "todo")) if entry else "todo"

    def stale(self, topic: Topic) -> str | None:
        """Why a recorded pass no longer holds (the file changed since), or None."""
        entry = self.topic(topic)
        if not entry or "passed_sha256" not in entry:
            return None
        path = Path(str(entry.get("file", default_exercise_path(topic))))
        if not path.is_file():
            return f"{path} is gone"
        if file_sha256(path) != str(entry["passed_sha256"]):
            when = entry.get("completed", "")
            return f"{path.name} changed since it passed{f' on {when}' if when else ''}"
        return None

    def milestone(self, key: str) -> dict | None:
        return self.doc.get("milestones", {}).get(key)

    # ------------------------------------------------------------------ updates
    def record_check(self, check, *, when: dt.datetime | None = None) -> None:
        """Record a :class:`fdl.track.TopicCheck` of the learner's file."""
        when = (when or dt.datetime.now()).replace(microsecond=0)
        topic = check.topic
        entry = self.topic(topic, create=True)
        attempted = any(r.status.value != "TODO" for r in check.results.values())
        if attempted and "started" not in entry:
            entry["started"] = when.date()
        entry["checked"] = when
        entry["passed"] = check.passed
        entry["total"] = check.total
        default = default_exercise_path(topic).resolve()
        if check.file.path.resolve() != default:
            entry["file"] = str(check.file.path)
        elif "file" in entry:
            del entry["file"]
        results = tomlkit.table()
        for name, result in check.results.items():
            results.add(name, result.status.value.lower())
        entry["exercises"] = results
        status = str(entry.get("status", "todo"))
        if check.all_passed:
            entry["status"] = "done"
            entry["completed"] = when.date()
            entry["passed_sha256"] = check.file.sha256
        elif status == "todo" and attempted:
            entry["status"] = "in_progress"
        # a topic once done stays done; the overview shows it stale or failing

    def record_milestone(self, key: str, *, value: float, metric: str, target: float, **details: Any) -> bool:
        """Record a milestone figure; returns True if it is a new best."""
        if key not in _MILESTONE_KEYS:
            raise KeyError(f"unknown milestone {key!r}")
        milestones = self.doc.get("milestones")
        if milestones is None:
            milestones = tomlkit.table(is_super_table=True)
            self.doc.add("milestones", milestones)
        entry = milestones.get(key)
        if entry is not None and "best" in entry and float(entry["best"]) >= value:
            return False
        table = entry if entry is not None else tomlkit.table()
        table["best"] = float(value)
        table["metric"] = metric
        table["target"] = float(target)
        table["reached"] = bool(value >= target)
        table["date"] = dt.date.today()
        for k, v in details.items():
            table[k] = v
        if entry is None:
            milestones.add(key, table)
        return True

    def set_status(self, topic: Topic, status: str) -> None:
        if status not in STATUSES:
            raise ProgressError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        entry = self.topic(topic, create=True)
        entry["status"] = status
        if status == "done" and "completed" not in entry:
            entry["completed"] = dt.date.today()
        if status == "todo":
            for key in ("completed", "passed_sha256"):
                if key in entry:
                    del entry[key]

    def add_note(self, topic: Topic, text: str) -> None:
        entry = self.topic(topic, create=True)
        line = f"{dt.date.today().isoformat()}: {text}"
        if "notes" not in entry:
            notes = tomlkit.array()
            notes.multiline(True)
            entry["notes"] = notes
        notes = entry["notes"]
        if not isinstance(notes, list):
            raise ProgressError(f"{self.path}: {topic.folder}.notes must be a list of strings to add a note")
        notes.append(line)

    def reset(self, topic: Topic, *, keep_notes: bool = True) -> None:
        entry = self.topic(topic)
        if entry is None:
            return
        for key in _RUNNER_KEYS:
            if key in entry:
                del entry[key]
        if not keep_notes and "notes" in entry:
            del entry["notes"]
        entry["status"] = "todo"

    def save(self, *, backup: bool = False) -> None:
        """Write atomically; refuse if the file changed on disk since it was loaded."""
        if self.path.exists() and self.text is not None:
            now = self.path.read_text(encoding="utf-8")
            if now != self.text:
                raise ProgressError(
                    f"{self.path} changed on disk while fdl was working; nothing was written. Run again."
                )
        if backup and self.path.exists():
            shutil.copy2(self.path, self.path.with_name(self.path.name + ".bak"))
        text = tomlkit.dumps(self.doc)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if self.path.exists():
                shutil.copymode(self.path, tmp)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.text = text

    # ------------------------------------------------------------------ overview
    def overview(self) -> dict[str, Any]:
        """The whole picture as plain data (what ``--json`` prints)."""
        topics = []
        for topic in TOPICS:
            entry = self.topic(topic) or {}
            topics.append({
                "number": topic.number,
                "folder": topic.folder,
                "title": topic.title,
                "module": topic.module,
                "built": topic.built,
                "status": str(entry.get("status", "todo")),
                "passed": entry.get("passed"),
                "total": entry.get("total"),
                "checked": str(entry["checked"]) if "checked" in entry else None,
                "completed": str(entry["completed"]) if "completed" in entry else None,
                "stale": self.stale(topic),
                "notes": [str(n) for n in entry.get("notes", [])],
            })
        milestones = []
        for m in MILESTONES:
            entry = self.milestone(m.key) or {}
            milestones.append({
                "key": m.key, "title": m.title, "topic": m.topic, "target": m.target,
                "best": entry.get("best"), "reached": bool(entry.get("reached", False)),
                "date": str(entry["date"]) if "date" in entry else None,
            })
        done = sum(t["status"] == "done" for t in topics)
        return {"path": str(self.path), "done": done, "total": len(topics), "topics": topics, "milestones": milestones}


def _parse_reason(exc: ParseError) -> str:
    text = str(exc)
    return re.sub(r"\s+at line \d+ col \d+$", "", text)


# ---------------------------------------------------------------------- CLI
_MARKS = {"done": "[green]✔ done[/]", "in_progress": "[yellow]◐ in progress[/]",
          "skipped": "[dim]» skipped[/]", "todo": "[dim]· todo[/]"}


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else 0
    return "[green]" + "█" * filled + "[/][dim]" + "░" * (width - filled) + "[/]"


def render_overview(progress: Progress, console) -> None:
    from rich.table import Table as RichTable

    data = progress.overview()
    console.print(f"[bold]fdl progress[/] · {data['path']}"
                  + ("" if progress.text is not None else " [dim](not created yet)[/]"))
    by_module: dict[int, list[dict]] = {}
    for t in data["topics"]:
        by_module.setdefault(t["module"], []).append(t)
    for module, topics in by_module.items():
        done = sum(t["status"] == "done" for t in topics)
        console.print()
        console.print(f"[bold]Module {module} · {MODULES[module]}[/]  {_bar(done, len(topics))}  {done}/{len(topics)} done")
        table = RichTable(show_header=False, box=None, padding=(0, 1), pad_edge=False)
        for t in topics:
            checks = f"{t['passed']}/{t['total']} checks" if t["total"] else ""
            when = t["completed"] or (f"checked {t['checked'][:10]}" if t["checked"] else "")
            extra = []
            if not t["built"]:
                extra.append("[dim]not built yet[/]")
            if t["stale"]:
                extra.append(f"[red]stale: {t['stale']}; run `python -m fdl.run {t['number']}`[/]")
            elif t["status"] == "done" and t["total"] and t["passed"] is not None and t["passed"] < t["total"]:
                extra.append(f"[red]{t['total'] - t['passed']} failing at the last check[/]")
            if t["notes"]:
                extra.append(f"[italic]{len(t['notes'])} note{'s' if len(t['notes']) > 1 else ''}[/]")
            table.add_row(f"  {t['number']:02d}", t["title"], _MARKS.get(t["status"], t["status"]),
                          checks, when, " ".join(extra))
        console.print(table)
    console.print()
    console.print("[bold]Milestones[/]")
    for m in data["milestones"]:
        star = "[yellow]★[/]" if m["reached"] else "☆"
        best = f"best {m['best']:.4g} on {m['date']}" if m["best"] is not None else "[dim]not attempted[/]"
        console.print(f"  {star} {m['title']} (topic {m['topic']:02d}): {m['target']} · {best}")
    pct = 100 * data["done"] / data["total"]
    console.print()
    console.print(f"Overall: {_bar(data['done'], data['total'], 38)} {data['done']}/{data['total']} topics done ({pct:.0f}%)")


def _topics_arg(values: list[str]) -> list[Topic]:
    return [find_topic(v) for v in values]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--progress", metavar="FILE", help=f"progress file (default: ${ENV_VAR} or ./progress.toml)")
    parser = argparse.ArgumentParser(
        prog="python -m fdl.progress", parents=[common],
        description="Show and edit your progress through the fdl curriculum.")
    parser.add_argument("--json", action="store_true", help="print the overview as JSON")
    sub = parser.add_subparsers(dest="command")
    show = sub.add_parser("show", parents=[common], help="the overview (the default)")
    show.add_argument("--json", action="store_true")
    mark = sub.add_parser("mark", parents=[common], help="set topics' status (done by default)")
    mark.add_argument("topics", nargs="+")
    mark.add_argument("--status", choices=STATUSES, default="done")
    unmark = sub.add_parser("unmark", parents=[common], help="set topics back to todo")
    unmark.add_argument("topics", nargs="+")
    note = sub.add_parser("note", parents=[common], help="add a dated note to a topic")
    note.add_argument("topic")
    note.add_argument("text", nargs="+")
    reset = sub.add_parser("reset", parents=[common], help="forget what was recorded (a .bak copy is kept)")
    reset.add_argument("topics", nargs="*")
    reset.add_argument("--all", action="store_true", help="reset every topic and milestone")
    reset.add_argument("--notes", action="store_true", help="drop notes too")
    reset.add_argument("--yes", action="store_true", help="needed with --all")
    return parser


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    console = Console()
    errors = Console(stderr=True, soft_wrap=True)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        progress = Progress.load(args.progress)
    except ProgressError as exc:
        errors.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        return 2
    try:
        command = args.command or "show"
        if command == "show":
            if args.json:
                print(json.dumps(progress.overview(), indent=2))
            else:
                render_overview(progress, console)
            return 0
        if command == "mark":
            topics = _topics_arg(args.topics)
            for t in topics:
                progress.set_status(t, args.status)
            progress.save()
            console.print(f"marked {', '.join(f'{t.number:02d}' for t in topics)} as {args.status}")
        elif command == "unmark":
            topics = _topics_arg(args.topics)
            for t in topics:
                progress.set_status(t, "todo")
            progress.save()
            console.print(f"{', '.join(f'{t.number:02d}' for t in topics)} back to todo")
        elif command == "note":
            topic = find_topic(args.topic)
            progress.add_note(topic, " ".join(args.text))
            progress.save()
            console.print(f"note added to {topic.label}")
        elif command == "reset":
            if args.all:
                if not args.yes:
                    errors.print("reset --all forgets every recorded check and milestone; add --yes to do it")
                    return 2
                topics = list(TOPICS)
            elif args.topics:
                topics = _topics_arg(args.topics)
            else:
                errors.print("name the topics to reset (reset 3 4), or use --all --yes")
                return 2
            for t in topics:
                progress.reset(t, keep_notes=not args.notes)
            if args.all and "milestones" in progress.doc:
                progress.doc["milestones"].clear()
            progress.save(backup=True)
            console.print(f"reset {len(topics)} topic(s); the previous file is at {progress.path}.bak")
        return 0
    except UnknownTopic as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        return 2
    except ProgressError as exc:
        errors.print(f"error: {exc}", markup=False, highlight=False)
        return 2


if __name__ == "__main__":
    sys.exit(main())
