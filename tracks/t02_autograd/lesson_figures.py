"""Topic 02 lesson figures, drawn from the reference engine: ``python -m fdl.lessons 02``.

1. ``graph.png``: the worked example's graph, ``u = x * y``, ``v = u + x``,
   ``L = v * v``, built with the reference ``Tensor``. Each node shows its
   value (forward) and its gradient after ``L.backward()``; each edge shows
   the share of gradient the backward sends along it; the numbers in the
   corners are the node's place in the topological order.
2. ``reverse_walk.png``: the backward walk over that graph, one visit per
   column: the gradient each node has received so far, pending until all of
   its uses have sent their share, then finished.

No randomness is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t02_autograd.reference import Tensor

__all__ = ["make_figures"]


def _example():
    """The worked example on the reference engine: the tensors, after backward."""
    x, y = Tensor(2.0), Tensor(3.0)
    u = x * y
    v = u + x
    L = v * v
    L.backward()
    return {"x": x, "y": y, "u": u, "v": v, "L": L}


POSITIONS = {"x": (0.0, 1.3), "y": (0.0, -1.3), "u": (2.6, -0.7), "v": (5.2, 0.3), "L": (7.8, 0.3)}
LABELS = {"x": "x  (leaf)", "y": "y  (leaf)", "u": "u = x * y", "v": "v = u + x", "L": "L = v * v"}
RADIUS = 0.62
ORDER = ["x", "y", "u", "v", "L"]  # a topological order: every node after the nodes it is made from


def _node(ax, name: str, tensor: Tensor) -> None:
    from matplotlib.patches import Circle

    cx, cy = POSITIONS[name]
    ax.add_patch(Circle((cx, cy), RADIUS, facecolor="#cfe2f3" if tensor._parents == () else "#d9ead3",
                        edgecolor="black", linewidth=1.0, zorder=3))
    ax.text(cx, cy + 0.18, LABELS[name], ha="center", va="center", fontsize=9, zorder=4)
    ax.text(cx, cy - 0.14, f"value {float(tensor.data):g}", ha="center", va="center", fontsize=8.5, zorder=4)
    ax.text(cx, cy - 0.38, f"grad {float(tensor.grad):g}", ha="center", va="center", fontsize=8.5,
            color="tab:red", zorder=4)
    ax.text(cx - RADIUS, cy + 0.55, f"{ORDER.index(name) + 1}", fontsize=8, color="grey", ha="center")


def _edge(ax, parent: str, child: str, text: str, bend: float = 0.0, shift=(0.0, 0.0)) -> None:
    (x0, y0), (x1, y1) = POSITIONS[parent], POSITIONS[child]
    dx, dy = x1 - x0, y1 - y0
    r = RADIUS / float(np.hypot(dx, dy))  # start and end on the circles' edges
    start, end = (x0 + r * dx, y0 + r * dy), (x1 - r * dx, y1 - r * dy)
    # the forward arrow, parent -> child
    ax.annotate("", xy=end, xytext=start, zorder=2,
                arrowprops=dict(arrowstyle="-|>", color="grey", lw=1.1, shrinkA=0, shrinkB=0,
                                mutation_scale=14, connectionstyle=f"arc3,rad={bend}"))
    mx, my = (x0 + x1) / 2 + shift[0], (y0 + y1) / 2 + shift[1]
    ax.text(mx, my, text, ha="center", va="center", fontsize=8, color="tab:red", zorder=5,
            bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none"))


def _graph(path: Path) -> Path:
    t = _example()
    x, y, v, L = (float(t[k].data) for k in ("x", "y", "v", "L"))
    g_v, g_u = float(t["v"].grad), float(t["u"].grad)

    fig, ax = figure(size=(10.0, 4.4))
    for name in ORDER:
        _node(ax, name, t[name])
    # what each backward function sends back along each edge (red): dL/dchild times the local slope
    _edge(ax, "x", "u", f"{g_u:g} × y = {g_u * y:g}", shift=(-0.35, 0.45))
    _edge(ax, "y", "u", f"{g_u:g} × x = {g_u * x:g}", shift=(-0.3, -0.35))
    _edge(ax, "u", "v", f"{g_v:g} × 1 = {g_v:g}", shift=(0.1, -0.35))
    _edge(ax, "x", "v", f"{g_v:g} × 1 = {g_v:g}", bend=-0.15, shift=(0.0, 0.75))
    _edge(ax, "v", "L", f"1 × v = {v:g}", bend=0.45, shift=(0.0, 0.42))
    _edge(ax, "v", "L", f"1 × v = {v:g}", bend=-0.45, shift=(0.0, -0.42))
    ax.text(-0.7, -2.55, f"forward (grey arrows) computes the values, left to right; L = {L:g}.   "
                         "backward walks right to left and sends the red amounts;\n"
                         "a node's grad is the sum of what arrives from all its uses: "
                         f"x gets {g_v:g} + {g_u * y:g} = {float(t['x'].grad):g}, v gets {v:g} + {v:g} = {g_v:g}. "
                         "Grey numbers: a topological order.", fontsize=8.5, va="top")
    ax.set_xlim(-0.9, 8.7)
    ax.set_ylim(-3.1, 2.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("the worked example as a graph: values, gradients, and what each edge carries back", fontsize=11)
    return save_figure(fig, path)


def _reverse_walk(path: Path) -> Path:
    """Replay the reference's backward on the example, recording the pending gradients after each visit."""
    t = _example()
    names = {id(tensor): name for name, tensor in t.items()}
    order = list(reversed(t["L"]._topological_order()))  # every node after all of its consumers
    pending = {id(t["L"]): np.ones(())}
    done: dict[str, float] = {}
    columns = []  # after each visit: {name: (value, finished)}
    for node in order:
        g = pending.pop(id(node))
        done[names[id(node)]] = float(g)
        if node._backward is not None:
            for parent, share in zip(node._parents, node._backward(g)):
                key = id(parent)
                pending[key] = pending[key] + share if key in pending else share
        column = {name: (value, True) for name, value in done.items()}
        column.update({names[k]: (float(v), False) for k, v in pending.items()})
        columns.append((names[id(node)], column))

    from matplotlib.patches import Rectangle

    rows = ["L", "v", "u", "x", "y"]
    fig, ax = figure(size=(9.0, 3.9))
    for j, (visited, column) in enumerate(columns):
        ax.text(j + 0.5, 0.35, f"step {j + 1}\nvisit {visited}", ha="center", va="bottom", fontsize=9)
        for i, name in enumerate(rows):
            value, finished = column.get(name, (None, False))
            color = "white" if value is None else ("#b6d7a8" if finished else "#fff2cc")
            ax.add_patch(Rectangle((j, -i - 1), 1, 1, facecolor=color, edgecolor="black", linewidth=0.7))
            if value is not None:
                ax.text(j + 0.5, -i - 0.5, f"{value:g}", ha="center", va="center", fontsize=10,
                        fontweight="bold" if finished and name == visited else "normal")
    for i, name in enumerate(rows):
        ax.text(-0.15, -i - 0.5, f"dL/d{name}", ha="right", va="center", fontsize=10)
    ax.add_patch(Rectangle((len(columns) + 0.4, -2.2), 0.4, 0.4, facecolor="#fff2cc", edgecolor="black"))
    ax.text(len(columns) + 0.95, -2.0, "pending: shares still arriving", va="center", fontsize=9)
    ax.add_patch(Rectangle((len(columns) + 0.4, -3.2), 0.4, 0.4, facecolor="#b6d7a8", edgecolor="black"))
    ax.text(len(columns) + 0.95, -3.0, "finished: all uses are in", va="center", fontsize=9)
    ax.set_xlim(-1.3, len(columns) + 3.6)
    ax.set_ylim(-len(rows) - 0.2, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("the reverse walk: dL/dx is 16 after v's visit and 64 once u has sent its 48", fontsize=11)
    return save_figure(fig, path)


def make_figures(out_dir) -> list[Path]:
    out = Path(out_dir)
    return [_graph(out / "graph.png"), _reverse_walk(out / "reverse_walk.png")]
