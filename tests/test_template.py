"""tracks/_template/ is what every new topic starts from: complete, and itself correct.

It holds every file a topic needs (the same list tests/test_tracks.py requires of built topics), a lesson
skeleton with the standard's headings, a check its reference passes, and planted bugs that check fails.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from fdl.check import Status, run_check

from test_lessons import SECTIONS, sections
from test_tracks import TOPIC_FILES

TEMPLATE = Path(__file__).resolve().parent.parent / "tracks" / "_template"


def test_the_template_has_every_file_of_a_topic():
    for name in TOPIC_FILES + ("test_tNN_slug.py",):
        assert (TEMPLATE / name).is_file(), f"tracks/_template/{name} is missing"


def test_the_template_lesson_has_the_standard_headings():
    text = (TEMPLATE / "README.md").read_text()
    assert [h for h in sections(text) if h in SECTIONS] == SECTIONS
    assert re.search(r"<details><summary>Hint 3</summary>", text)
    assert (TEMPLATE / "figures" / "example.png").is_file()


def _template_module(name: str):
    spec = importlib.util.spec_from_file_location(f"template_{name}", TEMPLATE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_template_check_passes_its_reference_and_its_stub_is_todo():
    from tracks._template import checks, reference

    assert run_check(checks.CHECKS["square"], reference, exercise="square").status is Status.PASS
    stub = _template_module("exercise")
    assert run_check(checks.CHECKS["square"], stub, exercise="square").status is Status.TODO


@pytest.mark.parametrize("which", ["BUGS", "MORE_BUGS"])
def test_the_template_planted_bugs_fail_for_their_reason(which):
    from tracks._template import checks, reference

    # the file imports a registered topic; take its bug definitions alone
    source = (TEMPLATE / "test_tNN_slug.py").read_text()
    namespace: dict = {}
    body = source.split("TOPIC = find_topic(99)  # NN", 1)[1].split("@pytest.mark.parametrize", 1)[0]
    exec(compile("import numpy as np\nfrom helpers import Bug\n" + body, "template bugs", "exec"), namespace)
    bugs = namespace[which].items() if which == "BUGS" else namespace[which]
    for exercise, bug in bugs:
        impl = SimpleNamespace(square_forward=reference.square_forward, square_backward=reference.square_backward)
        for name, fn in bug.replace.items():
            setattr(impl, name, fn)
        result = run_check(checks.CHECKS[exercise], impl, exercise=exercise)
        assert result.status is Status.FAIL and bug.expect in result.message, result


def test_the_template_run_meets_its_target(tmp_path):
    from fdl.curriculum import find_topic
    from fdl.session import RunContext, Session
    from tracks._template import reference, run

    ctx = RunContext(topic=find_topic(1), impl=reference, session=Session(), out_dir=tmp_path,
                     options=SimpleNamespace(size=None), smoke=True)
    figures = run.run(ctx)
    assert figures["points"] == 100 and all(t.met for t in ctx.targets)
