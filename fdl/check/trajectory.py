"""Two runs of a step function, compared step by step: the first step where they part is the one to read.

An optimizer over sixty steps, a recurrent network over a sequence, a
training loop: when the learner's run drifts from the oracle's, every later
step differs too, and the useful message names the *first* step that
differs, with its values. :func:`compare_trajectories` finds it.

The rounding of step ``t`` is relative to the largest value seen in steps
``0..t`` (state is summed from earlier values, and a value that has shrunk
keeps the rounding of the larger ones it came from), so each step's absolute
tolerance is measured against that running maximum, leaf by leaf.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .compare import CheckFailure, describe
from .pytree import keyed_leaves, path_text, same_structure, to_numpy
from .tolerance import Tolerance

__all__ = ["compare_trajectories", "first_divergence"]


def _leaf(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _running_scales(expected: Sequence) -> dict[tuple, np.ndarray]:
    """Per leaf path, the running maximum of max|expected| over the steps."""
    scales = {}
    for path, _ in keyed_leaves(expected[0]):
        per_step = [float(np.max(np.abs(np.asarray(_leaf(tree, path), dtype=np.float64)), initial=0.0))
                    for tree in expected]
        scales[path] = np.maximum.accumulate(np.asarray(per_step))
    return scales


def _step_ratio(got, exp, scale: float, tol: Tolerance) -> float:
    """The worst |diff| / allowed of one leaf at one step (inf when got is not a usable array)."""
    exp = np.asarray(exp)
    if exp.dtype.kind not in "fc":
        try:
            return 0.0 if np.array_equal(np.asarray(got), exp) else np.inf
        except Exception:
            return np.inf
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return np.inf
    if g.shape != exp.shape or np.asarray(got).dtype != exp.dtype:
        return np.inf
    e = exp.astype(np.float64)
    rtol, atol = tol.bounds(exp.dtype)
    bound = rtol * np.abs(e) + atol * max(scale, float(np.max(np.abs(e), initial=0.0)))
    diff = np.abs(g - e)
    same_inf = np.isinf(g) & (g == e)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where((diff == 0) | same_inf, 0.0, diff / np.where(bound > 0, bound, np.finfo(np.float64).tiny))
    ratio = np.where(np.isnan(g) & ~np.isnan(e), np.inf, ratio)
    return float(np.max(ratio, initial=0.0))


def first_divergence(got: Sequence, expected: Sequence, tol: Tolerance) -> tuple[int | None, float]:
    """``(first step outside the tolerance or None, worst ratio over all steps)``."""
    expected = [to_numpy(e) for e in expected]
    scales = _running_scales(expected)
    worst = 0.0
    for t, (g, e) in enumerate(zip(got, expected)):
        if not same_structure(e, g):
            return t, np.inf
        ratio = max((_step_ratio(_leaf(g, p), leaf, float(scales[p][t]), tol) for p, leaf in keyed_leaves(e)),
                    default=0.0)
        worst = max(worst, ratio)
        if not ratio <= 1.0:
            return t, worst
    return None, worst


def compare_trajectories(ctx, got: Sequence, expected: Sequence, tol: Tolerance, *, what: str,
                         against: str, step: str = "step") -> None:
    """Compare two runs step by step; on a difference, FAIL at the first step that differs.

    ``got`` and ``expected`` are sequences of pytrees, one per step (the state
    after each step, the output at each time step). The message names the
    step, the leaf, its values and the tolerance, and says that every earlier
    step agreed. On agreement the closest call is recorded in ``ctx``.
    """
    if len(got) != len(expected):
        ctx.fail(f"{what}: expected {len(expected)} {step}s (from {against}), got {len(got)}")
    expected = [to_numpy(e) for e in expected]
    scales = _running_scales(expected) if expected else {}
    first, _ = first_divergence(got, expected, tol)
    order = [first] if first is not None else range(len(expected))
    for t in order:
        e, g = expected[t], got[t]
        if not same_structure(e, g):
            ctx.fail(f"{what} at {step} {t}: expected {describe(e)} (from {against}), got {describe(g)}")
        for path, leaf in keyed_leaves(e):
            try:
                ctx.compare(_leaf(g, path), leaf, tol, what=f"{what}{path_text(path)} at {step} {t}",
                            against=against, scale=float(scales[path][t]))
            except CheckFailure as failure:
                earlier = f"{step}s 0 to {t - 1} agree" if t > 0 else f"it differs from the first {step}"
                raise CheckFailure(f"{failure}\n  the first {step} where the runs part: {t} of {len(expected)} "
                                   f"({earlier}); look at what changes between {step}s", failure.comparison) from None
