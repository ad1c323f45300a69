"""Topic 03 lesson figures, drawn from the reference optimizers: ``python -m fdl.lessons 03``.

1. ``paths.png``: SGD, momentum, Nesterov and Adam for 60 steps on the run's
   ill-conditioned quadratic (curvatures 1 and 25, axes turned by 30°), from
   the run's starting point, with the run's learning rates.
2. ``adam_bias.png``: Adam on a gradient that is 1 at every step: the raw
   moments m and sqrt(v) start near 0, the bias-corrected ones do not; and
   the step length with and without the correction.
3. ``schedules.png``: a step schedule and a warmup-cosine schedule, step by step.

The quadratic's gradient is written out by hand here (no autograd needed);
no randomness is involved.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fdl.plot import figure, line_plot, save_figure
from tracks.t03_optimizers import reference as R

__all__ = ["make_figures"]

ANGLE = math.radians(30.0)
ROTATE = np.array([[math.cos(ANGLE), math.sin(ANGLE)], [-math.sin(ANGLE), math.cos(ANGLE)]])  # (x, y) -> (u, v)
CURVATURE = np.array([1.0, 25.0])
HESSIAN = ROTATE.T @ np.diag(CURVATURE) @ ROTATE  # L(p) = 0.5 p^T H p, so dL/dp = H p
START = np.array([-4.0, 2.0])


def quadratic(p: np.ndarray) -> np.ndarray:
    """0.5 (u^2 + 25 v^2) with (u, v) = ROTATE (x, y); p: (..., 2) -> (...)."""
    uv = p @ ROTATE.T
    return 0.5 * (uv ** 2 * CURVATURE).sum(axis=-1)


def descend(opt, steps: int) -> np.ndarray:
    """``steps`` updates of ``opt`` from START: the path, (steps + 1, 2)."""
    p = START.copy()
    state = opt.init(p)
    path = [p]
    for _ in range(steps):
        updates, state = opt.update(HESSIAN @ p, state, p)
        p = R.apply_updates(p, updates)
        path.append(p)
    return np.array(path)


def _paths(path: Path) -> Path:
    contenders = [("SGD", R.sgd(0.05)), ("momentum, beta 0.9", R.momentum(0.02)),
                  ("Nesterov, beta 0.9", R.nesterov(0.02)), ("Adam", R.adam(0.2))]
    lrs = ["0.05", "0.02", "0.02", "0.2"]
    steps = 60
    xs, ys = np.meshgrid(np.linspace(-5, 5, 121), np.linspace(-3.5, 3.5, 101))
    z = quadratic(np.stack([xs, ys], axis=-1))
    fig, axes = figure(2, 2, size=(9.0, 7.0))
    for i, (ax, (label, opt), lr) in enumerate(zip(axes.ravel(), contenders, lrs)):
        trail = descend(opt, steps)
        ax.contour(xs, ys, np.log10(z + 1e-3), levels=10, colors="grey", linewidths=0.5, linestyles="solid")
        ax.plot(trail[:, 0], trail[:, 1], color=f"C{i}", marker=".", markersize=2.5, linewidth=0.9)
        ax.plot(*START, marker="o", color="black", markersize=5)
        ax.plot(0, 0, marker="*", color="black", markersize=11)
        ax.set_title(f"{label}, lr {lr}: loss {quadratic(trail[-1]):.2g} after {steps} steps", fontsize=10)
        ax.set_xlim(-5, 5)
        ax.set_ylim(-4, 3.5)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.suptitle("the same start (dot), the same valley, four optimizers; minimum: star", fontsize=11)
    return save_figure(fig, path)


def _adam_bias(path: Path) -> Path:
    b1, b2, lr = 0.9, 0.999, 1.0
    steps = 300
    opt = R.adam(lr, b1=b1, b2=b2)
    p = np.zeros(1)
    state = opt.init(p)
    m, root_v, step = [], [], []
    for _ in range(steps):
        updates, state = opt.update(np.ones(1), state, p)  # g = 1 at every step
        m.append(float(state.mu[0]))
        root_v.append(math.sqrt(float(state.nu[0])))
        step.append(-float(updates[0]) / lr)
    t = np.arange(1, steps + 1)
    m, root_v, step = np.array(m), np.array(root_v), np.array(step)
    m_hat, root_v_hat = m / (1 - b1 ** t), root_v / np.sqrt(1 - b2 ** t)

    fig, (left, right) = figure(1, 2, size=(11.0, 3.9))
    first = 40
    line_plot(left, {"m (raw)": (t[:first], m[:first]), "m̂ = m / (1 - b1^t)": (t[:first], m_hat[:first]),
                     "sqrt(v) (raw)": (t[:first], root_v[:first]),
                     "sqrt(v̂) = sqrt(v / (1 - b2^t))": (t[:first], root_v_hat[:first])},
              title="Adam's moments for a gradient of 1 at every step", xlabel="update t")
    left.get_lines()[1].set_linestyle("--")  # m-hat lies exactly on sqrt(v-hat): dash one of them
    left.legend(fontsize="small")
    left.set_ylim(0, 1.15)
    line_plot(right, {"with bias correction (Adam)": (t, step), "without it: m / sqrt(v)": (t, m / root_v)},
              title="step length / lr", xlabel="update t")
    right.set_xscale("log")
    right.set_ylim(0, 7.5)
    return save_figure(fig, path)


def _schedules(path: Path) -> Path:
    steps = np.arange(121)
    stepwise = R.step_schedule(1.0, {40: 0.5, 80: 0.2})
    cosine = R.warmup_cosine_schedule(0.0, 1.0, 10, 100, 0.05)
    fig, ax = figure(size=(8.0, 3.6))
    line_plot(ax, {"step_schedule(1.0, {40: 0.5, 80: 0.2})": (steps, [stepwise(int(s)) for s in steps]),
                   "warmup_cosine_schedule(0.0, 1.0, 10, 100, 0.05)": (steps, [cosine(int(s)) for s in steps])},
              title="learning-rate schedules: the value used by the update after `step` earlier ones",
              xlabel="step (= state.count)", ylabel="learning rate")
    ax.get_lines()[0].set_drawstyle("steps-post")  # constant between boundaries, jumping at them
    ax.legend(fontsize="small")
    for boundary in (10, 40, 80, 100):
        ax.axvline(boundary, color="grey", linewidth=0.5, linestyle=":")
    return save_figure(fig, path)


def make_figures(out_dir) -> list[Path]:
    out = Path(out_dir)
    return [_paths(out / "paths.png"), _adam_bias(out / "adam_bias.png"), _schedules(out / "schedules.png")]
