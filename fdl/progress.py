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
from tomlkit.items import AoT, Comment, InlineTable, Table, Whitespace

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
# a new progress.toml is an ordinary file: readable by others, as the umask allows (mkstemp alone gives 0600)
_NEW_FILE_MODE = 0o666

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


# ---------------------------------------------------------------------- editing in place
# tomlkit keeps a comment that stands above a table header in the *previous* table's body, and
# appends new keys and sub-tables at the end of a body: plain assignment would slide such a comment
# (and the blank line before it) under the new keys. These helpers put new keys right after a
# table's last key and new sub-tables before the comment block that introduces the next table, so
# every comment and blank line stays where the learner wrote it.
def _is_trivia(item) -> bool:
    return isinstance(item, (Comment, Whitespace))


def set_key(table, key: str, value) -> None:
    """``table[key] = value``, keeping every comment and blank line where it was."""
    if key in table or isinstance(table, InlineTable) or not isinstance(table, Table):
        table[key] = value  # an existing key keeps its place and its inline comment
        return
    body = table.value.body
    last = -1
    for i, (k, item) in enumerate(body):
        if k is not None and not isinstance(item, (Table, AoT)):
            last = i
    if last == -1:  # no key yet: after the comments that open the table
        while last + 1 < len(body) and isinstance(body[last + 1][1], Comment):
            last += 1
    if last + 1 >= len(body):
        table.append(key, value)
    else:
        table.value._insert_at(last + 1, key, value)


def add_subtable(table: Table, key: str, sub: Table) -> None:
    """Add ``[table.key]`` after ``table``'s own lines and before the comments that open the next table.

    The comments directly above the next header (and the blank line above them) belong to that
    header, though tomlkit stores them at the end of this table.
    """
    body = table.value.body
    last = max((i for i, (k, _) in enumerate(body) if k is not None), default=-1)
    at = len(body)
    while at - 1 > last and isinstance(body[at - 1][1], Comment):
        at -= 1
    if at < len(body) and at - 1 > last and isinstance(body[at - 1][1], Whitespace):
        at -= 1
    if 0 < at < len(body) and not isinstance(body[at - 1][1], Whitespace):  # (append adds this one itself)
        previous = body[at - 1][1]
        previous.trivia.trail = previous.trivia.trail.rstrip("\n") + "\n\n"  # a blank line above the new header
    if at >= len(body) or not isinstance(body[at][1], Whitespace):
        sub.add(tomlkit.nl())  # and one below it
    if at >= len(body):
        table.append(key, sub)
    else:
        table.value._insert_at(at, key, sub)


def delete_key(table, key: str) -> None:
    if key in table:
        del table[key]


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
        except OSError as exc:
            raise ProgressError(f"cannot read {path}: {exc.strerror or exc}. Check its permissions, or point "
                                f"--progress (or ${ENV_VAR}) at another file.") from None
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
            if "exercises" in entry and not isinstance(entry["exercises"], dict):
                line, col = _locate(text, f"topics.{key}", "exercises")
                raise ProgressError(
                    f"{self.path}:{line}:{col}: {key}.exercises must be a table of exercise = result, got "
                    f"{entry['exercises']!r}; fix or delete it (the file was left as it was)"
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
            table.add(tomlkit.nl())
            topics.append(topic.folder, table)
        return topics[topic.folder]

    def status(self, topic: Topic) -> str:
        entry = self.topic(topic)
        return str(entry.get("status", "todo")) if entry else "todo"

    def stale(self, topic: Topic) -> str | None:
        """Why a recorded pass no longer holds (the file changed since), or None."""
        entry = self.topic(topic)
        if not entry or "passed_sha256" not in entry:
            return None
        path = default_exercise_path(topic)
        if not path.is_file():
            return f"{path} is gone"
        if file_sha256(path) != str(entry["passed_sha256"]):
            when = entry.get("completed", "")
            return f"{path.name} changed since it passed{f' on {when}' if when else ''}"
        return None

    def milestone(self, key: str) -> dict | None:
        return self.doc.get("milestones", {}).get(key)

    # ------------------------------------------------------------------ updates
    @staticmethod
    def records(check) -> bool:
        """Whether a check counts for progress: only the topic's own ``exercise.py`` does.

        A scratch file (``--exercise scratch/x.py``) is checked and shown, never recorded: it must not
        overwrite the record of the learner's real file.
        """
        return Path(check.file.path).resolve() == default_exercise_path(check.topic).resolve()

    def record_check(self, check, *, when: dt.datetime | None = None) -> bool:
        """Record a :class:`fdl.track.TopicCheck` of the learner's file; False (nothing written) for another file.

        Keys are updated in place, one by one: comments, blank lines and the learner's own keys stay.
        """
        if not self.records(check):
            return False
        when = (when or dt.datetime.now()).replace(microsecond=0)
        topic = check.topic
        entry = self.topic(topic, create=True)
        attempted = any(r.status.value != "TODO" for r in check.results.values())
        if attempted and "started" not in entry:
            set_key(entry, "started", when.date())
        set_key(entry, "checked", when)
        set_key(entry, "passed", check.passed)
        set_key(entry, "total", check.total)
        delete_key(entry, "file")  # written by older versions for --exercise files; the record is of exercise.py
        if "exercises" not in entry:
            add_subtable(entry, "exercises", tomlkit.table())
        results = entry["exercises"]
        for name, result in check.results.items():
            set_key(results, name, result.status.value.lower())
        status = str(entry.get("status", "todo"))
        if check.all_passed:
            if status != "done":
                set_key(entry, "status", "done")
            set_key(entry, "completed", when.date())
            set_key(entry, "passed_sha256", check.file.sha256)
        elif status == "todo" and attempted:
            set_key(entry, "status", "in_progress")
        # a topic once done stays done; the overview shows it stale or failing
        return True

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
        set_key(table, "best", float(value))
        set_key(table, "metric", metric)
        set_key(table, "target", float(target))
        set_key(table, "reached", bool(value >= target))
        set_key(table, "date", dt.date.today())
        for k, v in details.items():
            set_key(table, k, v)
        if entry is None:
            milestones.append(key, table)
        return True

    def set_status(self, topic: Topic, status: str) -> None:
        if status not in STATUSES:
            raise ProgressError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
        entry = self.topic(topic, create=True)
        set_key(entry, "status", status)
        if status == "done" and "completed" not in entry:
            set_key(entry, "completed", dt.date.today())
        if status == "todo":
            for key in ("completed", "passed_sha256"):
                delete_key(entry, key)

    def add_note(self, topic: Topic, text: str) -> None:
        entry = self.topic(topic, create=True)
        line = f"{dt.date.today().isoformat()}: {text}"
        if "notes" not in entry:
            notes = tomlkit.array()
            notes.multiline(True)
            set_key(entry, "notes", notes)
        notes = entry["notes"]
        if not isinstance(notes, list):
            raise ProgressError(f"{self.path}: {topic.folder}.notes must be a list of strings to add a note")
        notes.append(line)

    def reset(self, topic: Topic, *, keep_notes: bool = True) -> None:
        entry = self.topic(topic)
        if entry is None:
            return
        for key in _RUNNER_KEYS:
            delete_key(entry, key)
        if not keep_notes:
            delete_key(entry, "notes")
        set_key(entry, "status", "todo")

    def save(self, *, backup: bool = False) -> list[Path]:
        """Write atomically; refuse if the file changed on disk since it was loaded.

        Returns the directories it had to create for a new file (``$FDL_PROGRESS`` in a new folder),
        so the caller can say so. A file that cannot be written raises :class:`ProgressError`.
        """
        try:
            return self._save(backup)
        except OSError as exc:
            raise ProgressError(
                f"cannot write {self.path}: {exc.strerror or exc}; nothing was changed. Check the permissions "
                f"of the file and its folder, or point --progress (or ${ENV_VAR}) at another file."
            ) from None

    def _save(self, backup: bool) -> list[Path]:
        if self.path.exists() and self.text is not None:
            now = self.path.read_text(encoding="utf-8")
            if now != self.text:
                raise ProgressError(
                    f"{self.path} changed on disk while fdl was working; nothing was written. Run again."
                )
        if backup and self.path.exists():
            shutil.copy2(self.path, self.path.with_name(self.path.name + ".bak"))
        text = tomlkit.dumps(self.doc)
        created = []
        folder = self.path.parent
        while not folder.exists():
            created.append(folder)
            folder = folder.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if self.path.exists():
                shutil.copymode(self.path, tmp)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, _NEW_FILE_MODE & ~umask)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self.text = text
        return created[::-1]

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
    common.add_argument("--progress", metavar="FILE", default=argparse.SUPPRESS,
                        help=f"progress file (default: ${ENV_VAR} or ./progress.toml)")
    # SUPPRESS: given before or after the command, a flag is not reset by the command's own default
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON (the overview, or what was done, or the error)")
    parser = argparse.ArgumentParser(
        prog="python -m fdl.progress", parents=[common],
        description="Show and edit your progress through the fdl curriculum.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("show", parents=[common], help="the overview (the default)")
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

    parser = build_parser()
    args = parser.parse_args(argv)
    want_json = bool(getattr(args, "json", False))
    console = Console(stderr=want_json)  # with --json, stdout holds only the JSON
    errors = Console(stderr=True, soft_wrap=True)

    def fail(message: str) -> int:
        if want_json:
            print(json.dumps({"error": message, "exit_code": 2}, indent=2))
        else:
            errors.print(f"error: {message}", markup=False, highlight=False)
        return 2

    def save(progress: Progress, **kwargs) -> None:
        for folder in progress.save(**kwargs):
            console.print(f"created folder {folder} for {progress.path.name}", highlight=False)

    try:
        progress = Progress.load(getattr(args, "progress", None))
    except ProgressError as exc:
        return fail(str(exc))
    try:
        command = args.command or "show"
        if command == "show":
            if want_json:
                print(json.dumps(progress.overview(), indent=2))
            else:
                render_overview(progress, console)
            return 0
        if command == "mark":
            topics = _topics_arg(args.topics)
            for t in topics:
                progress.set_status(t, args.status)
            save(progress)
            console.print(f"marked {', '.join(f'{t.number:02d}' for t in topics)} as {args.status}")
        elif command == "unmark":
            topics = _topics_arg(args.topics)
            for t in topics:
                progress.set_status(t, "todo")
            save(progress)
            console.print(f"{', '.join(f'{t.number:02d}' for t in topics)} back to todo")
        elif command == "note":
            topic = find_topic(args.topic)
            progress.add_note(topic, " ".join(args.text))
            save(progress)
            console.print(f"note added to {topic.label}")
        elif command == "reset":
            if args.all:
                if not args.yes:
                    return fail("reset --all forgets every recorded check and milestone; add --yes to do it")
                topics = list(TOPICS)
            elif args.topics:
                topics = _topics_arg(args.topics)
            else:
                return fail("name the topics to reset (reset 3 4), or use --all --yes")
            for t in topics:
                progress.reset(t, keep_notes=not args.notes)
            if args.all and "milestones" in progress.doc:
                progress.doc["milestones"].clear()
            save(progress, backup=True)
            console.print(f"reset {len(topics)} topic(s); the previous file is at {progress.path}.bak")
        if want_json:
            print(json.dumps({"ok": True, "command": command, "path": str(progress.path), "exit_code": 0}))
        return 0
    except (UnknownTopic, ProgressError) as exc:
        return fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
