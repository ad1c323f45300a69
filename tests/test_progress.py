"""progress.toml: round-trip edits, clear errors with line and column, never a lost file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tomlkit

from fdl.check import ExerciseResult, Status
from fdl.curriculum import TOPICS, find_topic
from fdl.progress import Progress, ProgressError, main, new_document, progress_path
from fdl.track import LearnerFile, TopicCheck

REPO = Path(__file__).resolve().parent.parent
T01 = find_topic(1)

HAND_WRITTEN = """\
# my own header comment
[topics.t01_tensor_ops]
status = "in_progress"  # started on the train
notes = ["unbroadcast finally clicked"]
my_own_key = 42

[topics.t02_autograd]
# nothing yet
status = "todo"
"""


@pytest.fixture(autouse=True)
def own_files(tmp_path, monkeypatch):
    """The topics' own exercise files live under tmp_path (the repository's stay untouched)."""
    import fdl.progress
    import fdl.track

    def own(topic):
        return tmp_path / "tracks" / topic.folder / "exercise.py"

    monkeypatch.setattr(fdl.track, "default_exercise_path", own)
    monkeypatch.setattr(fdl.progress, "default_exercise_path", own)
    return own


def fake_check(tmp_path, passed: int, total: int = 15, path: Path | None = None, topic=T01) -> TopicCheck:
    path = path or tmp_path / "tracks" / topic.folder / "exercise.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("# solution\n")
    names = topic.exercise_names
    results = {n: ExerciseResult(n, Status.PASS if i < passed else Status.TODO) for i, n in enumerate(names[:total])}
    import hashlib

    return TopicCheck(topic, LearnerFile(path, None, None, hashlib.sha256(path.read_bytes()).hexdigest()), results)


def test_repository_progress_file_is_valid_and_lists_every_topic():
    progress = Progress.load(REPO / "progress.toml")
    for topic in TOPICS:
        assert progress.topic(topic) is not None, topic.folder
        assert progress.status(topic) == "todo"


def test_new_document_matches_the_registry():
    doc = new_document()
    assert list(doc["topics"]) == [t.folder for t in TOPICS]
    assert tomlkit.parse(tomlkit.dumps(doc)).unwrap() == doc.unwrap()


def test_recording_keeps_comments_notes_and_own_keys(tmp_path, progress_file):
    progress_file.write_text(HAND_WRITTEN)
    progress = Progress.load()
    progress.record_check(fake_check(tmp_path, passed=15))
    progress.save()
    text = progress_file.read_text()
    for piece in ("# my own header comment", "# started on the train", "unbroadcast finally clicked",
                  "my_own_key = 42", "# nothing yet"):
        assert piece in text, piece
    entry = Progress.load().topic(T01)
    assert entry["status"] == "done" and entry["passed"] == 15
    assert entry["exercises"]["unbroadcast"] == "pass"
    assert len(entry["passed_sha256"]) == 64


def test_partial_pass_is_in_progress_and_done_is_never_downgraded(tmp_path, progress_file):
    progress = Progress.load()
    progress.record_check(fake_check(tmp_path, passed=3))
    assert progress.status(T01) == "in_progress"
    progress.record_check(fake_check(tmp_path, passed=15))
    assert progress.status(T01) == "done"
    progress.record_check(fake_check(tmp_path, passed=14))
    assert progress.status(T01) == "done"  # the overview shows the failing check instead
    assert progress.topic(T01)["passed"] == 14


def test_all_todo_leaves_status_todo(tmp_path, progress_file):
    progress = Progress.load()
    progress.record_check(fake_check(tmp_path, passed=0))
    assert progress.status(T01) == "todo" and "started" not in progress.topic(T01)


@pytest.mark.parametrize(
    "text,where,needle",
    [
        ("[topics.t01_tensor_ops\nstatus = 'todo'\n", ":1:", "not valid TOML"),
        ("[topics.t01_tensor_ops]\nstatus = 'finished'\n", ":2:10", "unknown status 'finished'"),
        ("[topics.t01_tensor_ops]\n\n  status   =   'almost'\n", ":3:16", "unknown status"),
        ("[topics.t01_tensor_opz]\nstatus = 'todo'\n", ":1:1", "did you mean t01_tensor_ops"),
        ("[topics.t01_tensor_ops]\npassed = 'many'\n", ":2:10", "must be a whole number"),
        ("[milestones.first_nn]\nbest = 0.9\n", ":1:1", "unknown milestone"),
        ("topics = 3\n", "", "must be a table"),
    ],
)
def test_malformed_files_are_reported_with_line_and_column(progress_file, text, where, needle):
    progress_file.write_text(text)
    with pytest.raises(ProgressError) as info:
        Progress.load()
    assert needle in str(info.value)
    assert where in str(info.value)
    assert progress_file.read_text() == text


def test_cli_refuses_a_malformed_file_and_leaves_it(progress_file, capsys):
    progress_file.write_text("status = = 'x'\n")
    for argv in ([], ["mark", "1"], ["note", "1", "hello"], ["reset", "--all", "--yes"]):
        assert main(argv) == 2
        assert progress_file.read_text() == "status = = 'x'\n"
    assert "not valid TOML" in capsys.readouterr().err


def test_non_utf8_file_is_refused(progress_file):
    progress_file.write_bytes(b"\xff\xfe status")
    with pytest.raises(ProgressError, match="not UTF-8"):
        Progress.load()


def test_mark_unmark_note_reset(progress_file, capsys):
    assert main(["mark", "1", "topic02", "optimizers"]) == 0
    progress = Progress.load()
    assert [progress.status(find_topic(n)) for n in (1, 2, 3)] == ["done"] * 3
    assert main(["mark", "4", "--status", "skipped"]) == 0
    assert main(["unmark", "2"]) == 0
    assert main(["note", "1", "max", "ties", "share"]) == 0
    assert main(["note", "1", "second note"]) == 0
    progress = Progress.load()
    assert progress.status(find_topic(2)) == "todo"
    assert progress.status(find_topic(4)) == "skipped"
    notes = list(progress.topic(T01)["notes"])
    assert len(notes) == 2 and notes[0].endswith("max ties share")
    assert main(["reset", "1"]) == 0
    progress = Progress.load()
    assert progress.status(T01) == "todo" and len(progress.topic(T01)["notes"]) == 2  # notes kept
    assert Path(str(progress_file) + ".bak").is_file()
    assert main(["reset", "--all"]) == 2  # needs --yes
    assert main(["reset"]) == 2
    assert main(["reset", "--all", "--yes", "--notes"]) == 0
    assert "notes" not in Progress.load().topic(T01)


def test_unknown_topic_in_a_command_is_a_usage_error(progress_file, capsys):
    assert main(["mark", "42"]) == 2
    assert "there is no topic 42" in capsys.readouterr().err
    assert not progress_file.exists()


def test_overview_renders_and_json(progress_file, tmp_path, capsys):
    progress = Progress.load()
    progress.record_check(fake_check(tmp_path, passed=15))
    progress.save()
    assert main([]) == 0
    out = capsys.readouterr().out
    for piece in ("Module 0 · Foundations", "Tensor operations", "done", "Milestones", "First Neural Network",
                  "not built yet", "Overall"):
        assert piece in out, piece
    assert main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["done"] == 1 and data["total"] == 38
    assert data["topics"][0]["passed"] == 15


def test_overview_says_when_a_pass_is_stale(progress_file, tmp_path, capsys):
    progress = Progress.load()
    check = fake_check(tmp_path, passed=15)
    progress.record_check(check)
    progress.save()
    check.file.path.write_text("# edited after passing\n")
    assert main([]) == 0
    assert "stale" in capsys.readouterr().out


def test_saves_are_atomic_and_keep_permissions(progress_file):
    progress_file.write_text(HAND_WRITTEN)
    os.chmod(progress_file, 0o640)
    progress = Progress.load()
    progress.add_note(T01, "x")
    progress.save()
    assert oct(progress_file.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in progress_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_file_changed_on_disk_meanwhile_is_not_overwritten(progress_file):
    progress_file.write_text(HAND_WRITTEN)
    progress = Progress.load()
    progress.set_status(T01, "done")
    progress_file.write_text(HAND_WRITTEN + "\n# the learner typed this meanwhile\n")
    with pytest.raises(ProgressError, match="changed on disk"):
        progress.save()
    assert "typed this meanwhile" in progress_file.read_text()


def test_milestone_keeps_the_best(progress_file):
    progress = Progress.load()
    assert progress.record_milestone("first_neural_network", value=0.96, metric="test_accuracy", target=0.95)
    assert not progress.record_milestone("first_neural_network", value=0.90, metric="test_accuracy", target=0.95)
    progress.save()
    entry = Progress.load().milestone("first_neural_network")
    assert entry["best"] == 0.96 and entry["reached"] is True


def test_path_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("FDL_PROGRESS", str(tmp_path / "env.toml"))
    assert progress_path() == tmp_path / "env.toml"
    assert progress_path(tmp_path / "flag.toml") == tmp_path / "flag.toml"
    monkeypatch.delenv("FDL_PROGRESS")
    assert progress_path() == REPO / "progress.toml"


# --------------------------------------------------------------------------- the learner's file stays theirs
def test_a_scratch_file_is_never_recorded_over_the_real_record(tmp_path, progress_file):
    progress = Progress.load()
    assert progress.record_check(fake_check(tmp_path, passed=15))
    progress.save()
    before = progress_file.read_text()
    scratch = fake_check(tmp_path, passed=0, path=tmp_path / "scratch" / "x.py")
    progress = Progress.load()
    assert progress.record_check(scratch) is False
    assert tomlkit.dumps(progress.doc) == before
    entry = progress.topic(T01)
    assert entry["status"] == "done" and entry["passed"] == 15 and "file" not in entry
    assert Progress.load().stale(T01) is None


EVERY_POSITION = """\
# my header comment, line 1
#   indented remark in the header

# a comment above the first table
[topics.t01_tensor_ops] # Tensor operations & broadcasting
# first line inside t01
status = "in_progress" # inline after status
# between keys
my_key = "mine"   # my own key, with spacing kept
# last line inside t01, right after the keys

# a comment above t02, separated by a blank line
[topics.t02_autograd]   # autograd, in my words
status = "todo"
# a comment glued to the next header
[topics.t03_optimizers]
status = "todo"
passed = 0 # I had not started
total = 11

[topics.t03_optimizers.exercises]
# inside the exercises table, before the first result
sgd = "todo"   # inline on sgd
# between results
adam = "todo"
# just after the exercises table


# two blank lines above this one, and it sits above the milestones
[milestones.first_neural_network]
best = 0.5 # from an old run
metric = "test_accuracy"
target = 0.98
reached = false
date = 2026-01-01
# the last line of the file
"""


def _assert_only_values_changed(before: str, after: str, allowed_new=("started", "checked", "passed", "total",
                                                                       "completed", "passed_sha256", "status")):
    """Every line of ``before`` is in ``after``, in order; changed lines keep their key and inline comment."""
    import difflib
    import re

    old, new = before.splitlines(), after.splitlines()
    key = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*")

    def shape(line):  # a key line without its value: the key and the inline comment
        m = key.match(line)
        comment = line[line.index("#"):] if "#" in line and not line.lstrip().startswith("#") else ""
        return (m.group(1), comment) if m else None

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        assert tag in ("replace", "insert"), f"lines lost: {old[i1:i2]}"
        removed, added = old[i1:i2], new[j1:j2]
        for line in removed:
            assert shape(line) is not None, f"a comment or blank line changed: {line!r} -> {added}"
            assert shape(line) in [shape(a) for a in added], f"{line!r} lost its key or comment: {added}"
        for line in added:
            if shape(line) in [shape(r) for r in removed]:
                continue
            ok = (line == "" or re.match(r"^\[topics\.t\d\d_\w+\.exercises\]$", line)
                  or (shape(line) and (shape(line)[0] in allowed_new
                                       or any(shape(line)[0] in t.exercise_names for t in TOPICS))))
            assert ok, f"an unexpected line was added: {line!r}"


def test_comments_and_blank_lines_survive_ten_runs(tmp_path, progress_file):
    import datetime as dt

    progress_file.write_text(EVERY_POSITION)
    t03 = find_topic(3)
    texts = []
    for run in range(10):
        passed = [3, 15, 14, 0, 15, 15, 7, 15, 2, 15][run]
        progress = Progress.load()
        when = dt.datetime(2026, 3, 1 + run, 9, 30)
        progress.record_check(fake_check(tmp_path, passed=passed), when=when)
        progress.record_check(fake_check(tmp_path, passed=run % 3, topic=t03), when=when)
        progress.record_check(fake_check(tmp_path, passed=0, topic=find_topic(2)), when=when)
        progress.save()
        text = progress_file.read_text()
        _assert_only_values_changed(EVERY_POSITION, text)
        if texts:
            _assert_only_values_changed(texts[-1], text)
        texts.append(text)
    assert len(texts[-1].splitlines()) == len(texts[1].splitlines())  # nothing accumulates run after run
    # the same results on the same day write the same bytes
    again = Progress.load()
    again.record_check(fake_check(tmp_path, passed=15), when=dt.datetime(2026, 3, 10, 9, 30))
    again.record_check(fake_check(tmp_path, passed=0, topic=t03), when=dt.datetime(2026, 3, 10, 9, 30))
    again.record_check(fake_check(tmp_path, passed=0, topic=find_topic(2)), when=dt.datetime(2026, 3, 10, 9, 30))
    assert tomlkit.dumps(again.doc) == texts[-1]
    final = texts[-1]
    # the comment above t02 still stands directly above t02's header, after a blank line
    assert "\n\n# a comment above t02, separated by a blank line\n[topics.t02_autograd]   # autograd" in final
    assert "# a comment glued to the next header\n[topics.t03_optimizers]\n" in final
    assert "\n\n\n# two blank lines above this one" in final
    assert final.endswith("# the last line of the file\n")
    assert Progress.load().topic(T01)["my_key"] == "mine"


def test_a_new_progress_file_is_an_ordinary_file(tmp_path, progress_file):
    old = os.umask(0o022)
    try:
        progress = Progress.load()
        progress.add_note(T01, "first")
        assert progress.save() == []
    finally:
        os.umask(old)
    assert oct(progress_file.stat().st_mode & 0o777) == "0o644"


def test_a_progress_file_in_a_new_folder_says_what_it_created(tmp_path, monkeypatch, capsys):
    target = tmp_path / "new" / "deeper" / "progress.toml"
    monkeypatch.setenv("FDL_PROGRESS", str(target))
    assert main(["note", "1", "hello"]) == 0
    out = capsys.readouterr().out
    assert "created folder" in out and str(tmp_path / "new") in out
    assert target.is_file()


def test_a_file_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be\n")
    monkeypatch.setenv("FDL_PROGRESS", str(blocker / "progress.toml"))
    for argv in (["mark", "1"], ["reset", "1"], ["note", "2", "x"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "cannot write" in err and "Traceback" not in err, err
    assert blocker.read_text() == "a file where a folder should be\n"


def test_a_permission_error_is_a_clear_error(progress_file, monkeypatch, capsys):
    progress_file.write_text(HAND_WRITTEN)
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    assert main(["mark", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "Permission denied" in err and "Traceback" not in err
    assert progress_file.read_text() == HAND_WRITTEN


def test_json_errors_are_json(progress_file, capsys):
    progress_file.write_text("status = = 'x'\n")
    assert main(["--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert "not valid TOML" in data["error"]
    progress_file.write_text(HAND_WRITTEN)
    assert main(["mark", "42", "--json"]) == 2
    assert "there is no topic 42" in json.loads(capsys.readouterr().out)["error"]
    assert main(["--json", "note", "1", "hi"]) == 0 and json.loads(capsys.readouterr().out)["ok"] is True
