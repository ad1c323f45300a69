"""Topic 07 lesson figures, drawn from the reference: ``python -m fdl.lessons 07``.

- ``activations.png``: every elementwise activation and its derivative (the
  backward with ``dout = 1``).
- ``depth_signal.png``: the std of the activations and of the gradients,
  layer by layer, through 30 layers of 256 units, for five initializers,
  with ReLU and with tanh.
- ``init_histograms.png``: the weights each initializer draws for a 512 x 384
  layer, against the density it is meant to sample.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t07_activations_init import reference as R


def _curve(name: str, x: np.ndarray, **kwargs):
    """(f(x), f'(x)) from the reference pair: f'(x) is the backward of dout = 1."""
    out, cache = getattr(R, f"{name}_forward")(x, **kwargs)
    return out, getattr(R, f"{name}_backward")(np.ones_like(x), cache)


def activations(out_dir: Path) -> Path:
    x = np.linspace(-4, 4, 801)
    groups = [
        ("piecewise linear and smooth gates", [("relu", {}, "relu"), ("leaky_relu", {"alpha": 0.1}, "leaky relu, alpha 0.1"),
                                               ("gelu", {}, "gelu"), ("gelu", {"approximate": True}, "gelu, tanh form"),
                                               ("silu", {}, "silu")]),
        ("squashing functions", [("sigmoid", {}, "sigmoid"), ("tanh", {}, "tanh")]),
    ]
    fig, axes = figure(2, 2, size=(10.5, 7.0))
    for col, (title, members) in enumerate(groups):
        for name, kwargs, label in members:
            out, slope = _curve(name, x, **kwargs)
            style = "--" if kwargs.get("approximate") else "-"
            axes[0, col].plot(x, out, style, lw=2, label=label)
            axes[1, col].plot(x, slope, style, lw=2, label=label)
        axes[0, col].set_title(f"{title}: f(x)", fontsize=10)
        axes[1, col].set_title(f"{title}: f'(x), the backward of dout = 1", fontsize=10)
        for row in (0, 1):
            ax = axes[row, col]
            ax.axhline(0, color="grey", lw=0.8)
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_xlabel("x")
            ax.legend(fontsize="small")
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylim(-1, 4)
    axes[1, 0].set_ylim(-0.3, 1.3)
    return save_figure(fig, out_dir / "activations.png")


INITS = {
    "N(0, 1)": lambda shape, rng: rng.standard_normal(shape),
    "N(0, 0.01^2)": lambda shape, rng: 0.01 * rng.standard_normal(shape),
    "glorot_uniform": lambda shape, rng: R.glorot_uniform(shape, rng, np.float64),
    "lecun_normal": lambda shape, rng: R.lecun_normal(shape, rng, np.float64),
    "he_normal": lambda shape, rng: R.he_normal(shape, rng, np.float64),
}


def _signal(activation: str, init: str, depth: int, width: int, x, g, rng):
    """std of h_l and of dL/dh_{l-1} for l = 1..depth, with h_l = act(h_{l-1} W_l), L = sum(h_depth * g)."""
    forward, backward = getattr(R, f"{activation}_forward"), getattr(R, f"{activation}_backward")
    weights = [INITS[init]((width, width), rng) for _ in range(depth)]
    h, caches, act = x, [], []
    for W in weights:
        h, cache = forward(h @ W)
        caches.append(cache)
        act.append(h.std())
    d, grad = g, []
    for W, cache in zip(reversed(weights), reversed(caches)):
        d = backward(d, cache) @ W.T
        grad.append(d.std())
    return np.array(act), np.array(grad[::-1])


STYLES = {"N(0, 1)": "-", "N(0, 0.01^2)": "-", "glorot_uniform": "-", "lecun_normal": "--", "he_normal": "-"}


def depth_signal(out_dir: Path) -> Path:
    depth, width, batch = 30, 256, 128
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width))
    g = rng.standard_normal((batch, width))
    layers = np.arange(1, depth + 1)
    fig, axes = figure(2, 2, size=(11, 7.2))
    for row, (activation, span) in enumerate((("relu", 1e8), ("tanh", 1e4))):
        for init in INITS:
            act, grad = _signal(activation, init, depth, width, x, g, rng)
            axes[row, 0].semilogy(layers, act, STYLES[init], lw=2, label=init)
            axes[row, 1].semilogy(layers, grad, STYLES[init], lw=2, label=init)
        axes[row, 0].set_title(f"{activation}: std of the activations h_l (forward)", fontsize=10)
        axes[row, 1].set_title(f"{activation}: std of the gradient dL/dh_(l-1) (backward)", fontsize=10)
        for ax in axes[row]:
            ax.set_ylim(1 / span, span)  # the two fixed scales leave the picture: 1e-29 and 1e31 at layer 30
            ax.set_xlabel("layer l")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="x-small", ncol=2, loc="lower left")
    return save_figure(fig, out_dir / "depth_signal.png")


def init_histograms(out_dir: Path) -> Path:
    shape = (512, 384)
    fan_in, fan_out = R.fans(shape)
    rng = np.random.default_rng(0)
    fig, axes = figure(1, 3, size=(14, 3.9), sharex=True)
    for ax, name in zip(axes, ("glorot_uniform", "lecun_normal", "he_normal")):
        w = getattr(R, name)(shape, rng).astype(np.float64).reshape(-1)
        ax.hist(w, bins=120, range=(-0.25, 0.25), density=True, color="tab:blue", alpha=0.6, label="drawn")
        t = np.linspace(-0.25, 0.25, 501)
        if name == "glorot_uniform":
            a = math.sqrt(6 / (fan_in + fan_out))
            density = np.where(np.abs(t) <= a, 1 / (2 * a), 0.0)
            target = f"U(-a, a), a = sqrt(6 / {fan_in + fan_out}) = {a:.4f}"
        else:
            var = (2.0 if name == "he_normal" else 1.0) / fan_in
            density = np.exp(-t * t / (2 * var)) / math.sqrt(2 * math.pi * var)
            target = f"N(0, {'2' if name == 'he_normal' else '1'} / {fan_in}), std {math.sqrt(var):.4f}"
        ax.plot(t, density, "k-", lw=1.5, label=target)
        ax.set_ylim(0, 1.35 * density.max())
        ax.set_title(f"{name}{shape}: variance {w.var():.5f}", fontsize=10)
        ax.set_xlabel("weight")
        ax.legend(fontsize="x-small", loc="upper right")
        ax.grid(alpha=0.3)
    return save_figure(fig, out_dir / "init_histograms.png")


def make_figures(out_dir) -> list[Path]:
    out_dir = Path(out_dir)
    return [activations(out_dir), depth_signal(out_dir), init_histograms(out_dir)]
