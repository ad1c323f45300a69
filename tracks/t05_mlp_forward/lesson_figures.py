"""Topic 05 lesson figures, drawn from the reference: ``python -m fdl.lessons 05``.

- ``worked_example.png``: the worked example's arrays, x -> z1 -> h1 -> logits,
  each drawn as a grid of its numbers, with its shape.
- ``relu_bends.png``: what the ReLUs buy: a [1, 6, 6, 1] MLP as a function of
  its one input, its first layer's six hinges, and the same weights with the
  ReLUs taken out (one straight line).
- ``depth_scale.png``: the std of z layer by layer through 20 ReLU layers, for
  He's variance 2 / fan_in and for half and twice that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure, value_grid
from tracks.t05_mlp_forward import reference as R

# the worked example of the lesson
X = np.array([[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]])
LAYERS = [
    {"W": np.array([[0.5, -1.0], [1.0, 0.5], [-0.5, 1.0]]), "b": np.array([0.1, -0.2])},
    {"W": np.array([[1.0, -1.0], [0.5, 2.0]]), "b": np.array([0.0, 0.5])},
]


def worked_example(out_dir: Path) -> Path:
    z1, _ = R.linear_forward(X, LAYERS[0])
    h1 = np.maximum(z1, 0)
    logits, _ = R.mlp_forward(X, LAYERS)
    panels = [
        (X, "x  (2, 3)\n2 examples, 3 features"),
        (LAYERS[0]["W"], "W1  (3, 2)"),
        (LAYERS[0]["b"], "b1  (2,)"),
        (z1, "z1 = x W1 + b1  (2, 2)"),
        (h1, "h1 = relu(z1)  (2, 2)"),
        (LAYERS[1]["W"], "W2  (2, 2)"),
        (LAYERS[1]["b"], "b2  (2,)"),
        (logits, "logits = h1 W2 + b2  (2, 2)"),
    ]
    fig, axes = figure(1, len(panels), size=(17, 3.4),
                       gridspec_kw={"width_ratios": [np.atleast_2d(v).shape[1] for v, _ in panels]})
    for ax, (values, title) in zip(axes, panels):
        value_grid(ax, values, title, fontsize=11)
    return save_figure(fig, out_dir / "worked_example.png")


def relu_bends(out_dir: Path) -> Path:
    rng = np.random.default_rng(3)
    sizes = [1, 6, 6, 1]
    params = R.init_mlp(sizes, rng, dtype=np.float64)
    for layer in params:  # random biases, as after training: He starts them at 0, which puts every kink at x = 0
        layer["b"] = rng.uniform(-1.5, 1.5, layer["b"].shape)
    x = np.linspace(-3, 3, 601)[:, None]  # (601, 1): 601 examples of one feature
    y, _ = R.mlp_forward(x, params)
    z1, _ = R.linear_forward(x, params[0])
    h = x
    for layer in params:  # the same weights, no ReLU anywhere
        h, _ = R.linear_forward(h, layer)
    fig, axes = figure(1, 3, size=(14, 3.9))
    ax = axes[0]
    ax.plot(x[:, 0], np.maximum(z1, 0), lw=1.5)
    ax.set_title("layer 1: six units, each relu(w x + b), a hinge", fontsize=10)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ax.plot(x[:, 0], y[:, 0], lw=2, color="tab:red")
    ax.set_title("the whole MLP [1, 6, 6, 1]: bends at the hinges", fontsize=10)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    ax = axes[2]
    ax.plot(x[:, 0], h[:, 0], lw=2, color="tab:gray")
    ax.set_title("the same weights without ReLU: one straight line", fontsize=10)
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    return save_figure(fig, out_dir / "relu_bends.png")


def depth_scale(out_dir: Path) -> Path:
    rng = np.random.default_rng(0)
    depth, width, batch = 20, 256, 512
    x = rng.standard_normal((batch, width))
    fig, ax = figure(1, 1, size=(7.5, 4.2))
    for factor, style in ((0.5, "o-"), (1.0, "s-"), (2.0, "^-")):
        params = R.init_mlp([width] * (depth + 1), rng, dtype=np.float64)  # He: Var(W) = 2 / fan_in
        stds = []
        h = x
        for layer in params:
            z, _ = R.linear_forward(h, {"W": np.sqrt(factor) * layer["W"], "b": layer["b"]})
            stds.append(z.std())
            h = np.maximum(z, 0)
        label = {0.5: "Var(W) = 1 / fan_in: halves E[z^2] per layer", 1.0: "Var(W) = 2 / fan_in (He): steady",
                 2.0: "Var(W) = 4 / fan_in: doubles E[z^2] per layer"}[factor]
        ax.plot(range(1, depth + 1), stds, style, ms=4, label=label)
    ax.set_yscale("log")
    ax.set_xticks(range(1, depth + 1, 2))
    ax.set_xlabel("layer")
    ax.set_ylabel("std of z (log scale)")
    ax.set_title(f"{depth} ReLU layers of {width} units, inputs with std 1", fontsize=10)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, out_dir / "depth_scale.png")


def make_figures(out_dir) -> list[Path]:
    out_dir = Path(out_dir)
    return [worked_example(out_dir), relu_bends(out_dir), depth_scale(out_dir)]
