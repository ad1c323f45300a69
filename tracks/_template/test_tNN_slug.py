"""Topic NN: each exercise's check catches a planted bug, for the planted reason; the run and the JAX version.

Copy to tests/test_tNN_slug.py. tests/test_tracks.py then requires: one BUGS entry per exercise, the
reference passing, the shipped stub TODO everywhere, float32 cases, a square case of every matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

from fdl.curriculum import find_topic

from helpers import Bug, assert_bug_caught

TOPIC = find_topic(99)  # NN


def _square_backward_drops_the_two(dout, x):
    return x * dout


def _square_backward_float64(dout, x):
    return (2 * x * dout).astype(np.float64)


BUGS = {
    "square": Bug({"square_backward": _square_backward_drops_the_two}, "0.5 x the expected",
                  why="d/dx x^2 is 2x"),
}

MORE_BUGS = [
    ("square", Bug({"square_backward": _square_backward_float64}, "expected dtype float32",
                   why="float32 in, float32 out")),
]


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=lambda v: getattr(v, "why", v))
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)
