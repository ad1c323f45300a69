"""The pictures of topic 09's lesson, drawn from the reference.

``python -m fdl.lessons 09`` calls :func:`make_figures`, which writes

- ``penalties.png``: the L1 and L2 penalties of one weight and their
  gradients, and where each moves the best weight of a simple fit;
- ``dropout.png``: one dropout mask at work, and the average over many
  masks coming back to the input;
- ``early_stopping.png``: a made-up pair of loss curves with the epochs
  ``early_stopping`` picks and stops at.

No training and no data: a second or two, the same picture every time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t09_regularization import reference as R

__all__ = ["make_figures"]


def _penalty(forward, backward, w: float, lam: float) -> tuple[float, float]:
    """The penalty of one weight, and its derivative, from the reference."""
    value, cache = forward({"w": np.array(w)}, lam)
    return float(value), float(backward(1.0, cache)["w"])


def penalties(path: Path) -> Path:
    lam = 1.0
    ws = np.linspace(-3.0, 3.0, 1201)  # step 0.005: contains 0 exactly
    curves = {}
    for name, (fwd, bwd) in {"L1: lam |w|": (R.l1_forward, R.l1_backward),
                             "L2: lam w^2 / 2": (R.l2_forward, R.l2_backward)}.items():
        values, slopes = zip(*(_penalty(fwd, bwd, w, lam) for w in ws))
        curves[name] = (np.array(values), np.array(slopes))

    # the best weight when the data alone would choose a: minimise (w - a)^2 / 2 + R(w) over the grid
    targets = np.linspace(-3.0, 3.0, 241)
    fit = 0.5 * (ws[None, :] - targets[:, None]) ** 2  # (targets, grid)
    best = {name: ws[np.argmin(fit + values[None, :], axis=1)] for name, (values, _) in curves.items()}

    fig, (ax_r, ax_g, ax_w) = figure(1, 3, size=(13, 4))
    for name, (values, slopes) in curves.items():
        ax_r.plot(ws, values, label=name)
        ax_g.plot(ws, slopes, label=name)
        ax_w.plot(targets, best[name], label=f"with {name.split(':')[0]}")
    ax_w.plot(targets, targets, ":", color="grey", label="no penalty (w = a)")
    ax_r.set_title(f"penalty of one weight (lam = {lam:g})")
    ax_g.set_title("its gradient: L1 a constant push, L2 a spring")
    ax_w.set_title("best w for (w - a)^2 / 2 + penalty")
    ax_r.set_xlabel("w")
    ax_g.set_xlabel("w")
    ax_w.set_xlabel("a, the weight the data alone would choose")
    ax_w.set_ylabel("best w")
    ax_w.axvspan(-lam, lam, color="tab:blue", alpha=0.08)
    ax_w.text(0, -2.7, "L1: exactly 0\nfor |a| <= lam", ha="center", fontsize=8, color="tab:blue")
    for ax in (ax_r, ax_g, ax_w):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="upper left" if ax is not ax_g else "lower right")
    return save_figure(fig, path)


def dropout(path: Path) -> Path:
    rng = np.random.default_rng(0)
    p = 0.5
    x = np.round(rng.uniform(0.2, 1.0, (4, 10)), 1)  # a batch of 4 rows of 10 activations
    out, (mask, _) = R.dropout_forward(x, p, rng=np.random.default_rng(1))

    draws = np.arange(1, 1001)
    total = np.zeros_like(x)
    error = []
    draw_rng = np.random.default_rng(2)
    for _ in draws:
        total += R.dropout_forward(x, p, rng=draw_rng)[0]
        error.append(np.abs(total / (len(error) + 1) - x).mean())

    fig = figure(1, 1, size=(10, 5))[0]
    fig.clf()
    grid = fig.add_gridspec(3, 2, width_ratios=[1.25, 1])
    top = 1 / (1 - p)
    for k, (image, title) in enumerate([(x, "x: activations of 4 examples"),
                                        (mask.astype(float), f"keep-mask, p = {p:g} (T = keep)"),
                                        (out, "out = x * mask / (1 - p): survivors doubled")]):
        ax = fig.add_subplot(grid[k, 0])
        ax.imshow(image, cmap="viridis", vmin=0, vmax=top)
        for (i, j), v in np.ndenumerate(image):
            ax.text(j, i, f"{v:.1f}" if k != 1 else ("T" if v else "F"), ha="center", va="center", fontsize=8,
                    color="white" if v < 0.55 * top else "black")
        ax.set_title(title, fontsize="medium")
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(grid[:, 1])
    ax.plot(draws, error, label="mean |average of out - x|")
    ax.plot(draws, error[0] / np.sqrt(draws), ":", color="grey", label="shrinks like 1 / sqrt(draws)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("masks drawn")
    ax.set_title("averaged over many masks, out is x", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def early_stopping(path: Path) -> Path:
    rng = np.random.default_rng(3)
    epochs = np.arange(40)
    train = 1.6 * np.exp(-epochs / 7) + 0.03
    val = 0.55 + 1.1 * np.exp(-epochs / 5) + 0.012 * np.maximum(epochs - 10, 0) + 0.02 * rng.standard_normal(40)
    val = np.round(val, 3)
    patience = 5
    stop_at = kept = None
    for k in range(1, len(val) + 1):  # the verdict after every epoch, as a training loop asks it
        stop, best = R.early_stopping(list(val[:k]), patience)
        if stop:
            stop_at, kept = k - 1, best
            break

    fig, ax = figure(size=(8, 4.2))
    ax.plot(epochs, train, "--", color="tab:red", label="training loss")
    ax.plot(epochs, val, "-", color="tab:red", label="validation loss")
    ax.axvspan(kept, stop_at, color="gold", alpha=0.25, label=f"waiting: {patience} epochs without improving")
    ax.plot([kept], [val[kept]], "*", color="gold", markeredgecolor="black", markersize=15,
            label=f"best_epoch = {kept} (these weights are kept)")
    ax.axvline(stop_at, color="grey", linestyle=":", label=f"stop = True after epoch {stop_at}")
    ax.set_xlabel("epoch (0-based)")
    ax.set_ylabel("loss")
    ax.set_title(f"early_stopping(val_losses, patience={patience}) after every epoch")
    ax.set_ylim(0, 1.05 * max(train.max(), val.max()))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return save_figure(fig, path)


def make_figures(out_dir) -> list[Path]:
    out = Path(out_dir)
    return [penalties(out / "penalties.png"), dropout(out / "dropout.png"),
            early_stopping(out / "early_stopping.png")]
