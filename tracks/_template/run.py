"""Topic NN run: the experiment that shows the idea working.

``run(ctx)`` uses ``ctx.impl`` (this topic's functions: the learner's where they pass), ``ctx.use(n)``
(another topic's), ``ctx.rng_for(name)`` (one named random stream per use), ``ctx.save_figure`` and
``ctx.target``; it returns its figures. It never writes progress.toml: the engine records progress and
milestones (``ctx.target(..., milestone=True)``).
"""

from __future__ import annotations

import numpy as np

from fdl.plot import figure


def add_arguments(group) -> None:
    group.add_argument("--size", type=int, default=None, help="points (default 1000, smoke 100)")


def run(ctx) -> dict:
    n = ctx.options.size or (100 if ctx.smoke else 1000)
    x = ctx.rng_for("inputs").standard_normal(n)
    out, cache = ctx.impl.square_forward(x)
    dx = ctx.impl.square_backward(np.ones_like(out), cache)
    fig, ax = figure()
    ax.plot(x, out, ".", label="x^2")
    ax.plot(x, dx, ".", label="d/dx")
    ax.legend()
    ctx.save_figure(fig, "square.png")
    error = float(np.max(np.abs(dx - 2 * x)))
    ctx.target("max |dx - 2x|", error, 1e-12, higher_is_better=False)
    return {"points": n, "max_error": error}
