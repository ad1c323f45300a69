"""Every built topic, the same guarantees: the registry, the files, the checks.

- the registry's exercises, the checks, the reference and the stub agree;
- every reference passes its own checks;
- every shipped stub reports TODO for every exercise, never a crash or a PASS;
- every topic has a test file that plants a bug per exercise.
"""

from __future__ import annotations

import ast
import json
import importlib
import re
from pathlib import Path

import pytest

from fdl.check import Status
from fdl.curriculum import TOPICS
from fdl.track import TRACKS_DIR, check_topic, track_module

from helpers import check_exercise, shipped_stub

BUILT = [t for t in TOPICS if t.built]
TOPIC_FILES = ("README.md", "exercise.py", "reference.py", "jax_version.py", "checks.py", "run.py", "lesson_figures.py")
PAIRS = [(t, e.name) for t in BUILT for e in t.exercises]
TESTS = Path(__file__).resolve().parent


def _id(value):
    return value.folder if hasattr(value, "folder") else str(value)


def test_topics_01_to_03_are_built():
    assert [t.number for t in BUILT][:3] == [1, 2, 3]


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_track_has_every_part(topic):
    folder = TRACKS_DIR / topic.folder
    for name in TOPIC_FILES:
        assert (folder / name).is_file(), f"{folder}/{name} is missing"
    assert callable(track_module(topic, "run").run)


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_registry_checks_reference_and_stub_agree(topic):
    checks = track_module(topic, "checks").CHECKS
    assert list(checks) == list(topic.exercise_names), "CHECKS must list the registry's exercises, in order"
    reference = track_module(topic, "reference")
    stub_tree = ast.parse((TRACKS_DIR / topic.folder / "exercise.py").read_text())
    stub_names = {n.name for n in stub_tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    # a stub may import functions the learner wrote in an earlier topic (topic 06 imports topic 05's forwards)
    stub_names |= {a.asname or a.name for n in stub_tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    for name in topic.functions:
        assert hasattr(reference, name), f"reference.py lacks {name}"
        assert name in stub_names, f"exercise.py lacks a stub for {name}"


@pytest.mark.parametrize("topic,exercise", PAIRS, ids=lambda v: _id(v))
def test_reference_passes_its_check(topic, exercise):
    result = check_exercise(topic, exercise, track_module(topic, "reference"))
    assert result.status is Status.PASS, str(result)
    assert result.cases > 0


def _value_name(what: str) -> str:
    """A compared value without its list indices and step numbers: all layers' W are one value."""
    return re.sub(r"\[\d+\]|\b(at |after )?(time )?step \d+:?", "", what).strip()


@pytest.mark.parametrize("topic,exercise", PAIRS, ids=lambda v: _id(v))
def test_every_exercise_has_float32_cases(topic, exercise):
    """An update that silently becomes float64 must fail: every check compares float32 values."""
    seen = check_exercise(topic, exercise, track_module(topic, "reference")).seen
    floating = {dtype for _, dtype, _ in seen if dtype.startswith("float")}
    if floating:
        assert "float32" in floating, f"{topic.label} {exercise}: no float32 case (compared {sorted(floating)})"


@pytest.mark.parametrize("topic,exercise", PAIRS, ids=lambda v: _id(v))
def test_every_matrix_has_a_square_case(topic, exercise):
    """A transposed gradient has the right shape only when square: every matrix-shaped value needs one."""
    seen = check_exercise(topic, exercise, track_module(topic, "reference")).seen
    matrices: dict[str, list[tuple]] = {}
    for what, dtype, shape in seen:
        if len(shape) >= 2 and shape[-1] > 1 and shape[-2] > 1:
            matrices.setdefault(_value_name(what), []).append(shape)
    lacking = {name: sorted(set(shapes))[:4] for name, shapes in matrices.items()
               if not any(s[-1] == s[-2] for s in shapes)}
    assert not lacking, f"{topic.label} {exercise}: matrices never square: {lacking}"


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_shipped_stub_is_todo_everywhere(topic, tmp_path):
    check = check_topic(topic, shipped_stub(topic, tmp_path))
    for name, result in check.results.items():
        assert result.status is Status.TODO, f"{topic.label} stub, {name}: {result}"
        assert result.message, "a TODO says what to write"


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_every_exercise_has_a_planted_bug(topic):
    files = list(TESTS.glob(f"test_{topic.folder}.py"))
    assert files, f"tests/test_{topic.folder}.py must plant a bug in every exercise"
    module = importlib.import_module(files[0].stem)
    assert set(module.BUGS) == set(topic.exercise_names), "one planted bug per exercise"


_TIMING = re.compile(r"second|speedup|time|_ms|per_s|ratio_vs|throughput")


def _smoke(topic, tmp_path, capsys) -> tuple[int, dict]:
    from fdl.run import main

    code = main([str(topic.number), "--smoke", "--json", "--no-progress", "--out", str(tmp_path / "runs")])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_smoke_run_meets_its_targets_and_is_deterministic(topic, tmp_path, capsys):
    """Every topic's --smoke run: seconds long, its targets met, its plots saved, the same figures twice."""
    code, report = _smoke(topic, tmp_path, capsys)
    assert code == 0, report.get("error")
    run = report["run"]
    assert run["smoke"] and run["targets"] and all(t["met"] for t in run["targets"]), run["targets"]
    assert run["plots"] and all(Path(p).is_file() for p in run["plots"])
    _, again = _smoke(topic, tmp_path, capsys)

    def figures(r):
        return {k: v for k, v in r["run"]["metrics"].items() if not _TIMING.search(k)}

    assert figures(again) == figures(report)
