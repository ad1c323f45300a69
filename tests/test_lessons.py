"""Every built topic's lesson meets the lesson standard of docs/adding_a_topic.md.

The headings in order, a worked example whose code runs, figures drawn by the
topic's ``lesson_figures.py`` and linked from the lesson, a three-step hint
ladder for every exercise, the common mistakes, and how the learner knows
they are done.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from fdl.curriculum import TOPICS
from fdl.lessons import figure_paths
from fdl.track import TRACKS_DIR

BUILT = [t for t in TOPICS if t.built]
SECTIONS = ["Objectives", "The idea", "Worked example", "Picture", "Shapes", "Path through the exercises",
            "Hints", "Common mistakes", "Done when"]


def lesson(topic) -> str:
    return (TRACKS_DIR / topic.folder / "README.md").read_text()


def sections(text: str) -> dict[str, str]:
    """``## heading`` -> its text, up to the next ``## `` heading."""
    parts = re.split(r"^## (.+?)\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _id(topic):
    return topic.folder


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_lesson_has_the_standard_sections_in_order(topic):
    headings = [h for h in sections(lesson(topic)) if h in SECTIONS]
    assert headings == SECTIONS, f"{topic.folder}/README.md: sections {headings}, expected {SECTIONS} in this order"
    for name, body in sections(lesson(topic)).items():
        if name in SECTIONS:
            assert len(body.strip()) > 80, f"{topic.folder}: section {name!r} is nearly empty"


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_every_exercise_has_a_three_step_hint_ladder(topic):
    hints = sections(lesson(topic))["Hints"]
    ladders = dict(re.findall(r"^### (\S+)\s*\n(.*?)(?=^### |\Z)", hints, flags=re.M | re.S))
    for exercise in topic.exercise_names:
        assert exercise in ladders, f"{topic.folder}: no '### {exercise}' under ## Hints"
        steps = re.findall(r"<details><summary>Hint (\d)</summary>", ladders[exercise])
        assert steps == ["1", "2", "3"], f"{topic.folder} {exercise}: hints {steps}, expected 1, 2, 3"


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_worked_example_code_runs_and_prints(topic):
    body = sections(lesson(topic))["Worked example"]
    blocks = re.findall(r"```python\n(.*?)```", body, flags=re.S)
    assert blocks, f"{topic.folder}: the worked example needs a ```python block the learner can run"
    for code in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"<{topic.folder} worked example>", "exec"), {"__name__": "__lesson__"})
        assert out.getvalue().strip(), f"{topic.folder}: the worked example's code prints nothing"


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_figures_are_drawn_by_the_topic_and_linked(topic, tmp_path):
    text = lesson(topic)
    links = re.findall(r"!\[[^\]]+\]\((figures/[^)]+\.png)\)", sections(text)["Picture"])
    assert links, f"{topic.folder}: ## Picture links no figure (![what it shows](figures/name.png))"
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (TRACKS_DIR / topic.folder / link).is_file(), f"{topic.folder}: {link} is linked but missing"
    drawn = {p.name for p in figure_paths(topic, tmp_path)}
    for link in links:
        assert Path(link).name in drawn, f"{topic.folder}: {link} is not drawn by lesson_figures.make_figures"


@pytest.mark.parametrize("topic", BUILT, ids=_id)
def test_done_when_names_the_command(topic):
    assert f"python -m fdl.run {topic.number:02d}" in sections(lesson(topic))["Done when"] or \
        f"python -m fdl.run topic{topic.number:02d}" in sections(lesson(topic))["Done when"]
