"""The pictures of topic 08's lesson, drawn from the reference losses.

``python -m fdl.lessons 08`` calls :func:`make_figures`, which writes

- ``loss_shapes.png``: every loss against one prediction or logit, with its
  gradient underneath (regression, binary, multi-class);
- ``stability.png``: the loss of one example as its logit grows, computed as
  the formula reads and in the stable form, in float32 and float64.

Everything is computed here, in a second or so, with no data and no randomness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t08_losses import reference as R

__all__ = ["make_figures"]


def _curve(forward, backward, inputs, make_args, pick=lambda g: float(g.reshape(-1)[0])):
    """Loss and gradient (of the first argument's first entry) at every input value."""
    values, slopes = [], []
    for u in inputs:
        loss, cache = forward(*make_args(u))
        values.append(float(loss))
        slopes.append(pick(backward(1.0, cache)))
    return np.array(values), np.array(slopes)


def _row(m: float, classes: int) -> np.ndarray:
    """Logits (m, 0, ..., 0): the true class (label 0) leads the others by the margin m."""
    z = np.zeros((1, classes))
    z[0, 0] = m
    return z


def loss_shapes(path: Path) -> Path:
    errors = np.linspace(-4.0, 4.0, 321)
    logits = np.linspace(-6.0, 6.0, 321)
    classes, alpha = 10, 0.1
    margins = np.linspace(-4.0, 9.0, 521)
    zero, label0 = np.zeros(1), np.array([0])

    regression = {
        "MSE": _curve(R.mse_forward, R.mse_backward, errors, lambda e: (np.array([e]), zero)),
        "Huber, delta = 1": _curve(R.huber_forward, R.huber_backward, errors,
                                   lambda e: (np.array([e]), zero, 1.0)),
    }
    binary = {
        f"BCE, label {y:g}": _curve(R.bce_with_logits_forward, R.bce_with_logits_backward, logits,
                                    lambda x, y=y: (np.array([x]), np.array([y])))
        for y in (1.0, 0.0)
    }
    multi = {
        "cross-entropy": _curve(R.softmax_cross_entropy_forward, R.softmax_cross_entropy_backward, margins,
                                lambda m: (_row(m, classes), label0)),
        f"label smoothing, alpha = {alpha:g}": _curve(R.label_smoothing_forward, R.label_smoothing_backward,
                                                      margins, lambda m: (_row(m, classes), label0, alpha)),
    }
    q_true, q_other = 1 - alpha + alpha / classes, alpha / classes
    best = float(np.log(q_true / q_other))  # where softmax(z) equals the smoothed target

    fig, axes = figure(2, 3, size=(10.5, 5.4), sharex="col")
    panels = [
        (regression, errors, "regression, target 0", "error e = prediction - target"),
        (binary, logits, "binary cross-entropy", "logit x"),
        (multi, margins, f"{classes} classes, logits (m, 0, ..., 0)", "margin m of the true class"),
    ]
    for col, (series, x, title, xlabel) in enumerate(panels):
        top, bottom = axes[0, col], axes[1, col]
        for name, (values, slopes) in series.items():
            top.plot(x, values, label=name)
            bottom.plot(x, slopes, label=name)
        top.set_title(title)
        top.set_ylabel("loss")
        bottom.set_ylabel("gradient (per input)")
        bottom.set_xlabel(xlabel)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
            ax.axhline(0, color="black", linewidth=0.6)
        top.legend(fontsize="small")
    axes[0, 0].set_ylim(-0.3, 8)
    axes[1, 0].annotate("Huber's pull\nstops at delta", xy=(3.0, 1.0), xytext=(1.2, -5.5), fontsize=8,
                        arrowprops={"arrowstyle": "->", "color": "dimgrey"})
    for ax in axes[:, 2]:
        ax.axvline(best, color="grey", linestyle=":", linewidth=1)
    axes[0, 2].text(best + 0.2, 2.2, f"best margin with\nsmoothing: {best:.2f}\n= log(q_y / q_other)", fontsize=8,
                    color="dimgrey")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- stability
def _naive_bce(x: np.ndarray, y: float) -> np.ndarray:
    """-[y log p + (1 - y) log(1 - p)] with p = sigmoid(x), one element at a time, as written."""
    with np.errstate(all="ignore"):
        p = 1 / (1 + np.exp(-x))
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _naive_ce(m: np.ndarray, label: int) -> np.ndarray:
    """-log(exp(z_y) / sum exp(z)) for the rows (m, 0, 0), as written."""
    z = np.stack([m, np.zeros_like(m), np.zeros_like(m)], axis=1)
    with np.errstate(all="ignore"):
        e = np.exp(z)
        return -np.log(e[:, label] / e.sum(axis=1))


def _stable_bce(x: np.ndarray) -> np.ndarray:
    """The reference's BCE of each logit alone, label 0."""
    return np.array([float(R.bce_with_logits_forward(np.array([t]), np.zeros(1, x.dtype))[0]) for t in x])


def _stable_ce(m: np.ndarray) -> np.ndarray:
    """The reference's cross-entropy of each row (m, 0, 0), label 1."""
    return np.array([float(R.softmax_cross_entropy_forward(np.array([[t, 0, 0]], m.dtype), np.array([1]))[0])
                     for t in m])


def stability(path: Path) -> Path:
    fig, axes = figure(1, 2, size=(11, 4.2))
    panels = [
        (np.linspace(0.0, 60.0, 601), lambda v: _naive_bce(v, 0.0), _stable_bce,
         "binary cross-entropy, label 0", "logit x (sigmoid(x) rounds to 1 for large x)"),
        (np.linspace(0.0, 1000.0, 1001), lambda v: _naive_ce(v, 1), _stable_ce,
         "cross-entropy of logits (m, 0, 0), label 1", "logit m (exp(m) overflows for large m)"),
    ]
    for ax, (grid, naive, stable, title, xlabel) in zip(axes, panels):
        exact32, exact64 = stable(grid.astype(np.float32)), stable(grid)
        assert np.allclose(exact32, exact64, rtol=1e-5), "the stable form agrees in both dtypes"
        ax.plot(grid, exact64, color="grey", linewidth=5, alpha=0.4, label="stable form (float32 and float64)")
        for dtype, colour, top in ((np.float32, "tab:orange", 0.95), (np.float64, "tab:blue", 0.8)):
            v = grid.astype(dtype)
            values = naive(v)
            bad = ~np.isfinite(values)
            ax.plot(grid, np.where(bad, np.nan, values), "--", color=colour, label=f"as written, {dtype.__name__}")
            if bad.any():
                first = float(v[np.argmax(bad)])
                ax.axvline(first, color=colour, linestyle=":", linewidth=1.2)
                ax.text(first, top * grid[-1], f" {dtype.__name__} as written:\n inf or nan from {first:g}",
                        fontsize=8, color=colour, va="top")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    return save_figure(fig, path)


def make_figures(out_dir) -> list[Path]:
    out = Path(out_dir)
    return [loss_shapes(out / "loss_shapes.png"), stability(out / "stability.png")]
