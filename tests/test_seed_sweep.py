"""The reference passes its own checks on every seed (marker ``sweep``).

CI runs a few seeds per exercise (``FDL_SWEEP_SEEDS``, default 3, from seed
1000 so they are not the seeds the other tests use); before a release run
all 300: ``FDL_SWEEP_SEEDS=300 python -m pytest -m sweep`` or
``python -m fdl.sweep``, which prints the worst ratio per exercise.
"""

from __future__ import annotations

import os

import pytest

from fdl.curriculum import TOPICS
from fdl.sweep import sweep_exercise

PAIRS = [(t, e) for t in TOPICS if t.built for e in t.exercise_names]


@pytest.mark.sweep
@pytest.mark.parametrize("topic,exercise", PAIRS, ids=lambda v: getattr(v, "folder", v))
def test_reference_passes_every_seed(topic, exercise):
    count = int(os.environ.get("FDL_SWEEP_SEEDS", "3"))
    start = int(os.environ.get("FDL_SWEEP_START", "1000"))
    row = sweep_exercise(topic, exercise, range(start, start + count))
    failures = "\n".join(f"seed {f['seed']}: {f['message']}" for f in row["failures"][:3])
    assert row["passed"] == row["seeds"], f"{topic.label} {exercise}: the reference failed on seeds:\n{failures}"
