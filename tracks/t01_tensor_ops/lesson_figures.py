"""Topic 01 lesson figures, drawn from the reference: ``python -m fdl.lessons 01``.

1. ``broadcast_backward.png``: the worked example. ``b`` (3,) is copied onto
   both rows of ``a`` (2, 3) in the forward; in the backward the two copies'
   gradients are added back into one row.
2. ``reductions.png``: where ``sum``, ``mean`` and ``max`` send an upstream
   gradient, on one small matrix with a tied maximum.
3. ``local_slopes.png``: exp, log and tanh next to the factor their backward
   multiplies ``dout`` by (the backward called with ``dout = 1``).

Everything is computed by ``reference.py``; no randomness is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t01_tensor_ops import reference as R

__all__ = ["make_figures"]


def _cells(ax, values, x0: float, y0: float, title: str, color: str, *, faded_rows=()) -> None:
    """Draw a 1-D or 2-D array as a grid of numbered cells with its top-left corner at (x0, y0)."""
    grid = np.atleast_2d(values)
    rows, cols = grid.shape
    for i in range(rows):
        for j in range(cols):
            alpha = 0.25 if i in faded_rows else 0.8
            ax.add_patch(_box(x0 + j, y0 - i - 1, color, alpha))
            ax.text(x0 + j + 0.5, y0 - i - 0.5, f"{grid[i, j]:g}", ha="center", va="center", fontsize=10,
                    color="black" if i not in faded_rows else "grey")
    ax.text(x0 + cols / 2, y0 + 0.3, title, ha="center", va="bottom", fontsize=10)


def _box(x: float, y: float, color: str, alpha: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=color, edgecolor="black", alpha=alpha, linewidth=0.8)


def _arrow(ax, start, end, text: str = "") -> None:
    """An arrow from ``start`` to ``end``, with ``text`` to its right."""
    ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="black", lw=1.2))
    if text:
        ax.text(max(start[0], end[0]) + 0.2, (start[1] + end[1]) / 2, text, ha="left", va="center", fontsize=9)


def _broadcast_backward(path: Path) -> Path:
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = np.array([10.0, 20.0, 30.0])
    dout = np.array([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    out, cache = R.mul_forward(a, b)
    da, db = R.mul_backward(dout, cache)
    stretched = np.broadcast_to(b, out.shape)

    fig, (top, bottom) = figure(2, 1, size=(9.0, 6.4))
    # forward: a * b, with b stretched to (2, 3); the copied row is drawn faded
    _cells(top, a, 0, 0, "a  (2, 3)", "#cfe2f3")
    top.text(3.5, -1, "×", fontsize=16, ha="center", va="center")
    _cells(top, stretched, 4, 0, "b  (3,), copied onto 2 rows", "#f9d9c4", faded_rows=(1,))
    top.text(7.5, -1, "=", fontsize=16, ha="center", va="center")
    _cells(top, out, 8, 0, "out = a * b  (2, 3)", "#d9ead3")
    top.set_title("forward: broadcasting copies b along the rows", fontsize=11)

    # backward: dout * a has one row per copy of b; unbroadcast adds the rows
    _cells(bottom, dout, 0, 0, "dout  (2, 3)", "#eeeeee")
    top_of_sum = -2.6
    _cells(bottom, dout * a, 4, 0, "dout * a: one row per copy", "#f9d9c4")
    _arrow(bottom, (5.5, -2.1), (5.5, top_of_sum + 0.05), "sum over the rows")
    _cells(bottom, db, 4, top_of_sum, "", "#f9d9c4")
    bottom.text(7.3, top_of_sum - 0.5, f"= db  {db.shape}", fontsize=10, va="center")
    _cells(bottom, da, 9, 0, "da = dout * b  (2, 3)", "#cfe2f3")
    bottom.set_title("backward: what was copied is summed (unbroadcast)", fontsize=11)

    for ax in (top, bottom):
        ax.set_xlim(-0.3, 12.3)
        ax.set_aspect("equal")
        ax.axis("off")
    top.set_ylim(-2.3, 1.0)
    bottom.set_ylim(-3.9, 1.0)
    return save_figure(fig, path)


def _reductions(path: Path) -> Path:
    x = np.array([[1.0, 3.0, 0.0, 3.0], [2.0, -1.0, 5.0, 4.0]])
    dout = np.array([6.0, 2.0])  # one upstream value per row: the reductions are over axis 1
    panels = [("x  (2, 4)", x, "#eeeeee"), (f"dout  {dout.shape}", dout[:, None], "#eeeeee")]
    for name in ("sum", "mean", "max"):
        forward, backward = getattr(R, f"{name}_forward"), getattr(R, f"{name}_backward")
        out, cache = forward(x, axis=1)
        panels.append((f"d{name} = {name}_backward", backward(dout, cache), "#d9ead3"))

    fig, ax = figure(size=(12.0, 2.7))
    x0 = 0.0
    for title, values, color in panels:
        _cells(ax, np.round(values, 3), x0, 0, title, color)
        x0 += np.atleast_2d(values).shape[1] + 1.2
    ax.text(0, -2.6, "sum: every element gets its row's dout.   mean: dout / 4.   "
                      "max: only the maxima get it; the tied 3s in row 0 share 6 as 3 + 3.", fontsize=9)
    ax.set_xlim(-0.3, x0)
    ax.set_ylim(-2.9, 0.9)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("reductions over axis 1: where each row's upstream gradient goes", fontsize=11)
    return save_figure(fig, path)


def _local_slopes(path: Path) -> Path:
    fig, axes = figure(1, 3, size=(12.0, 3.6))
    domains = {"exp": np.linspace(-2.0, 2.0, 201), "log": np.linspace(0.1, 3.0, 201),
               "tanh": np.linspace(-3.0, 3.0, 201)}
    slopes = {"exp": "exp(x)", "log": "1 / x", "tanh": "1 - tanh(x)²"}
    for ax, (name, x) in zip(axes, domains.items()):
        forward, backward = getattr(R, f"{name}_forward"), getattr(R, f"{name}_backward")
        out, cache = forward(x)
        slope = backward(np.ones_like(x), cache)  # dout = 1: the local derivative itself
        ax.plot(x, out, label=f"{name}(x)")
        ax.plot(x, slope, linestyle="--", label=f"backward with dout = 1: {slopes[name]}")
        ax.axhline(0, color="grey", linewidth=0.5)
        ax.set_title(name)
        ax.set_xlabel("x")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-2.5, 5.0)
    return save_figure(fig, path)


def make_figures(out_dir) -> list[Path]:
    out = Path(out_dir)
    return [_broadcast_backward(out / "broadcast_backward.png"), _reductions(out / "reductions.png"),
            _local_slopes(out / "local_slopes.png")]
