"""Topic 06 lesson figures, drawn from the reference: ``python -m fdl.lessons 06``.

- ``backward_flow.png``: the worked example's forward values (top row) and,
  under each, its gradient (bottom row): the same shapes, computed right to left.
- ``step_size.png``: the error of central and forward differences against the
  step h, in float64 and in float32, with eps^(1/3), eps^(1/2) and eps^(2/3) marked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure, value_grid
from tracks.t06_backprop import reference as R

# the worked example of the lesson (topic 05's, continued)
X = np.array([[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]])
PARAMS = [
    {"W": np.array([[0.5, -1.0], [1.0, 0.5], [-0.5, 1.0]]), "b": np.array([0.1, -0.2])},
    {"W": np.array([[1.0, -1.0], [0.5, 2.0]]), "b": np.array([0.0, 0.5])},
]
DOUT = np.array([[1.0, -1.0], [0.5, 1.0]])


def backward_flow(out_dir: Path) -> Path:
    logits, cache = R.mlp_forward(X, PARAMS)
    z1, _ = R.linear_forward(X, PARAMS[0])
    h1 = cache[1][0]
    dh1, g2 = R.linear_backward(DOUT, cache[1])
    dz1 = np.where(h1 > 0, dh1, 0.0)
    dx, g1 = R.linear_backward(dz1, cache[0])
    top = [(X, "x (2, 3)"), (PARAMS[0]["W"], "W1 (3, 2)"), (PARAMS[0]["b"], "b1 (2,)"), (z1, "z1 = x W1 + b1"),
           (h1, "h1 = relu(z1)"), (PARAMS[1]["W"], "W2 (2, 2)"), (PARAMS[1]["b"], "b2 (2,)"),
           (logits, "logits = h1 W2 + b2")]
    bottom = [(dx, "dx = dz1 W1^T"), (g1["W"], "dW1 = x^T dz1"), (g1["b"], "db1 = sum of dz1's rows"),
              (dz1, "dz1 = dh1 * (h1 > 0)"), (dh1, "dh1 = dlogits W2^T"), (g2["W"], "dW2 = h1^T dlogits"),
              (g2["b"], "db2 = sum of dlogits' rows"), (DOUT, "dlogits (given)")]
    widths = [np.atleast_2d(v).shape[1] for v, _ in top]
    fig, axes = figure(2, len(top), size=(17, 5.2), gridspec_kw={"width_ratios": widths})
    for row, panels, scale in ((0, top, 8.0), (1, bottom, 8.0)):
        for ax, (values, title) in zip(axes[row], panels):
            value_grid(ax, values, title, top=scale)
    axes[0, 0].set_ylabel("forward: left to right", fontsize=10)
    axes[1, 0].set_ylabel("backward: right to left", fontsize=10)
    return save_figure(fig, out_dir / "backward_flow.png")


def _errors(dtype, steps, points):
    """Median |error| over ``points`` of d/dx exp(x) by central (the reference) and forward differences."""
    central, forward = [], []
    for h in steps:
        c, f = [], []
        for x0 in points:
            x = np.array(x0, dtype=dtype)
            exact = float(np.exp(np.float64(x)))

            def fn(v):
                return np.exp(v)  # computed in x's dtype

            c.append(abs(float(R.numerical_gradient(fn, x, h=float(h))) - exact) / exact)
            up = np.array(x + dtype(h), dtype=dtype)  # the forward difference, divided by the step as stored
            f.append(abs((float(fn(up)) - float(fn(x))) / (float(up) - float(x)) - exact) / exact)
        central.append(np.median(c))
        forward.append(np.median(f))
    return np.array(central), np.array(forward)


def step_size(out_dir: Path) -> Path:
    points = np.linspace(0.5, 1.5, 25)
    fig, axes = figure(1, 2, size=(12, 4.4))
    for ax, dtype in zip(axes, (np.float64, np.float32)):
        eps = float(np.finfo(dtype).eps)
        steps = np.logspace(np.log10(eps) + 1.0, 0, 60)
        central, forward = _errors(dtype, steps, points)
        ax.loglog(steps, central, "o-", ms=3, label="central: (f(x+h) - f(x-h)) / 2h")
        ax.loglog(steps, forward, "s-", ms=3, label="forward: (f(x+h) - f(x)) / h")
        ax.axvline(eps ** (1 / 3), color="tab:blue", ls=":", lw=1.5)
        ax.axvline(eps ** 0.5, color="tab:orange", ls=":", lw=1.5)
        ax.axhline(eps ** (2 / 3), color="grey", ls="--", lw=1)
        ax.text(eps ** (1 / 3) * 1.3, eps ** (2 / 3) / 15, "h = eps^(1/3)", color="tab:blue", fontsize=9)
        ax.text(eps ** 0.5 / 1.3, eps ** (2 / 3) / 15, "h = eps^(1/2)", color="tab:orange", fontsize=9, ha="right")
        ax.text(0.5, eps ** (2 / 3) * 0.3, "eps^(2/3)", color="grey", fontsize=9, ha="right")
        name = np.dtype(dtype).name
        ax.set_title(f"{name} (eps = {eps:.1e}): relative error of d/dx exp(x)", fontsize=10)
        ax.set_xlabel("step h")
        ax.set_ylabel("relative error (median over 25 points x)")
        ax.set_ylim(eps ** (2 / 3) / 30, 3)
        ax.legend(fontsize="small", loc="upper center")
        ax.grid(alpha=0.3, which="major")
    return save_figure(fig, out_dir / "step_size.png")


def make_figures(out_dir) -> list[Path]:
    out_dir = Path(out_dir)
    return [backward_flow(out_dir), step_size(out_dir)]
