"""Topic 04 lesson figures, drawn from the reference: ``python -m fdl.lessons 04``.

- ``perceptron_steps.png``: the worked example's four points and the
  boundary after each of the perceptron's two mistakes.
- ``sigmoid_and_loss.png``: the sigmoid and its slope, the cross-entropy of
  one sample as a function of its logit, and that loss's slope ``s - y``.
- ``two_learners.png``: the perceptron and logistic regression on separable
  and on overlapping blobs, and the perceptron's mistakes per epoch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t04_perceptron import reference as R

# the worked example of the lesson
POINTS = np.array([[2.0, 1.0], [-1.0, -2.0], [1.0, -1.0], [-1.0, 1.0]])
LABELS = [1, -1, -1, 1]
COLOURS = {-1: "tab:blue", 1: "tab:red"}


def _line(ax, w, b, lim, style="k-", label=None) -> None:
    """Draw w . x + b = 0 across the box ``lim`` x ``lim``."""
    w1, w2 = float(w[0]), float(w[1])
    t = np.linspace(*lim, 200)
    if w1 == 0 and w2 == 0:
        return
    if abs(w2) >= abs(w1):
        ax.plot(t, -(w1 * t + float(b)) / w2, style, lw=2, label=label)
    else:
        ax.plot(-(w2 * t + float(b)) / w1, t, style, lw=2, label=label)


def _shade(ax, w, b, lim) -> None:
    """Colour the two half-planes by the class the unit predicts there."""
    g = np.linspace(*lim, 150)
    gx, gy = np.meshgrid(g, g)
    side = np.sign(w[0] * gx + w[1] * gy + b)
    ax.contourf(gx, gy, side, levels=[-1.5, 0, 1.5], colors=["tab:blue", "tab:red"], alpha=0.12)


def perceptron_steps(out_dir: Path) -> Path:
    """Replay the worked example with R.perceptron_step; one panel per state after a mistake."""
    params = {"w": np.zeros(2), "b": np.zeros(())}
    states = [(params, None, "start: w = (0, 0), b = 0\nevery margin is 0: a mistake")]
    for epoch in range(1, 4):
        clean = True
        for i, (x, y) in enumerate(zip(POINTS, LABELS)):
            margin = y * (params["w"] @ x + params["b"])
            params = R.perceptron_step(params, x, y)
            if margin <= 0:
                clean = False
                w, b = params["w"], float(params["b"])
                states.append((params, i, f"epoch {epoch}, mistake on x{i + 1} (margin {margin:g})\n"
                                          f"w = ({w[0]:g}, {w[1]:g}), b = {b:g}"))
        if clean:
            break
    lim = (-3.0, 3.0)
    fig, axes = figure(1, len(states), size=(4.2 * len(states), 4.6))
    for ax, (p, culprit, title) in zip(axes, states):
        if np.any(p["w"]):
            _shade(ax, p["w"], p["b"], lim)
            _line(ax, p["w"], p["b"], lim)
            ax.annotate("", xy=tuple(0.6 * p["w"] / np.linalg.norm(p["w"])), xytext=(0, 0),
                        arrowprops={"arrowstyle": "->", "lw": 2})
            ax.text(*(0.75 * p["w"] / np.linalg.norm(p["w"])), "w", fontsize=11)
        for i, (x, y) in enumerate(zip(POINTS, LABELS)):
            ring = "k" if i == culprit else "none"
            ax.scatter(*x, s=140, c=COLOURS[y], edgecolors=ring, linewidths=2.5, zorder=3)
            ax.annotate(f"x{i + 1}, y = {y:+d}", x, textcoords="offset points", xytext=(-24, 12 if i == 3 else -22),
                        fontsize=9)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.set_title(title, fontsize=10)
    return save_figure(fig, out_dir / "perceptron_steps.png")


def sigmoid_and_loss(out_dir: Path) -> Path:
    z = np.linspace(-8, 8, 401)
    s, cache = R.sigmoid_forward(z)
    slope = R.sigmoid_backward(np.ones_like(z), cache)
    one = {"w": np.array([1.0]), "b": np.array(0.0)}
    loss = {0: [], 1: []}
    grad = {0: [], 1: []}
    for label in (0, 1):
        for zi in z:  # one sample with logit zi: X = [[zi]], w = 1, b = 0
            value, c = R.logistic_forward(np.array([[zi]]), np.array([float(label)]), one)
            loss[label].append(float(value))
            grad[label].append(float(R.logistic_backward(1.0, c)["b"]))  # dL/db = dL/dz = s - y
    fig, axes = figure(1, 3, size=(15, 4.2))
    ax = axes[0]
    ax.plot(z, s, lw=2, label="s = sigmoid(z)")
    ax.plot(z, slope, lw=2, ls="--", label="ds/dz = s (1 - s)")
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_title("the sigmoid turns a score into a probability")
    ax.set_xlabel("z = w . x + b")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ax = axes[1]
    for label, colour in ((1, "tab:red"), (0, "tab:blue")):
        ax.plot(z, loss[label], lw=2, color=colour, label=f"label y = {label}")
    ax.set_title("cross-entropy of one sample")
    ax.set_xlabel("z")
    ax.set_ylabel("loss")
    ax.text(-7.5, 6.2, "confidently wrong:\nloss grows like |z|", fontsize=9)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    ax = axes[2]
    for label, colour in ((1, "tab:red"), (0, "tab:blue")):
        ax.plot(z, grad[label], lw=2, color=colour, label=f"y = {label}: s - {label}")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylim(-1.1, 1.1)
    ax.set_title("its slope dL/dz = s - y, never beyond 1")
    ax.set_xlabel("z")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return save_figure(fig, out_dir / "sigmoid_and_loss.png")


def _blobs(rng, n: int, gap: float, margin: float | None):
    """Two unit Gaussian blobs whose means are ``gap`` apart along (1, 1) / sqrt 2.

    With ``margin``, points closer than it to the bisecting line are dropped (separable data).
    Returns X: (2n, 2), Y: (2n,) of -1 / +1.
    """
    u = np.array([1.0, 1.0]) / np.sqrt(2.0)
    centre = np.array([0.5, -0.5])
    X, Y = [], []
    for label in (-1, 1):
        kept = np.empty((0, 2))
        while len(kept) < n:
            pts = centre + label * (gap / 2) * u + rng.standard_normal((2 * n, 2))
            if margin is not None:
                pts = pts[label * ((pts - centre) @ u) >= margin]
            kept = np.concatenate([kept, pts])
        X.append(kept[:n])
        Y.append(np.full(n, label))
    return np.concatenate(X), np.concatenate(Y), u, centre


def _train_perceptron(rng, X, Y, epochs: int):
    """Shuffled epochs of R.perceptron_step from zeros; params after every epoch, mistakes per epoch."""
    params = {"w": np.zeros(2), "b": np.zeros(())}
    history, mistakes = [], []
    for _ in range(epochs):
        count = 0
        for i in rng.permutation(len(X)):
            count += int(Y[i] * (params["w"] @ X[i] + params["b"]) <= 0)
            params = R.perceptron_step(params, X[i], int(Y[i]))
        history.append(params)
        mistakes.append(count)
        if count == 0:
            break
    return history, mistakes


def _train_logistic(X, Y, steps: int = 300, lr: float = 0.5):
    y01 = (Y + 1) / 2
    params = {"w": np.zeros(2), "b": np.zeros(())}
    for _ in range(steps):  # full-batch gradient descent
        _, cache = R.logistic_forward(X, y01, params)
        grads = R.logistic_backward(1.0, cache)
        params = {k: params[k] - lr * grads[k] for k in params}
    return params


def _accuracy(params, X, Y) -> float:
    return float(np.mean(np.where(X @ params["w"] + params["b"] > 0, 1, -1) == Y))


def two_learners(out_dir: Path) -> Path:
    rng = np.random.default_rng(4)
    sets = {"separable": (4.0, 0.4), "overlapping": (2.0, None)}
    fig, axes = figure(1, 3, size=(12.3, 4.0))
    curves = {}
    for ax, (name, (gap, margin)) in zip(axes[:2], sets.items()):
        X, Y, u, centre = _blobs(rng, 100, gap, margin)
        Xt, Yt, _, _ = _blobs(rng, 5000, gap, margin)  # fresh test points from the same blobs
        history, mistakes = _train_perceptron(rng, X, Y, epochs=15)
        logistic = _train_logistic(X, Y)
        curves[name] = mistakes
        lim = (-4.5, 5.0)
        for label in (-1, 1):
            pts = X[Y == label]
            ax.scatter(pts[:, 0], pts[:, 1], s=9, c=COLOURS[label], edgecolors="none", label=f"y = {label:+d}")
        # separable: where the perceptron stopped; overlapping: where each of the last 6 epochs left it
        shown = history[-6:] if name == "overlapping" else history[-1:]
        for k, p in enumerate(shown):
            _line(ax, p["w"], p["b"], lim, "k--", ("perceptron" if len(shown) == 1 else
                                                   "perceptron, end of each of the last 6 epochs") if k == 0 else None)
        for line in ax.lines:
            line.set_color("0.45")
            line.set_linewidth(1.0)
        _line(ax, logistic["w"], logistic["b"], lim, "k-", "logistic regression")
        title = f"{name} blobs, test accuracy: logistic {_accuracy(logistic, Xt, Yt):.3f}"
        if name == "overlapping":
            best = {"w": u, "b": -u @ centre}
            _line(ax, best["w"], best["b"], lim, "g:", "best possible boundary")
            title += f", best {_accuracy(best, Xt, Yt):.3f}"
        ax.set_title(title, fontsize=10)
        ax.set_xlim(lim)
        ax.set_ylim(lim)
        ax.set_aspect("equal")
        ax.legend(fontsize="x-small", loc="upper left")
    ax = axes[2]
    for name, mistakes in curves.items():
        ax.plot(range(1, len(mistakes) + 1), mistakes, "o-", label=f"{name} blobs")
    ax.set_ylim(bottom=0)
    ax.set_title("perceptron: mistakes per epoch (200 points)", fontsize=10)
    ax.set_xlabel("epoch")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return save_figure(fig, out_dir / "two_learners.png")


def make_figures(out_dir) -> list[Path]:
    out_dir = Path(out_dir)
    return [perceptron_steps(out_dir), sigmoid_and_loss(out_dir), two_learners(out_dir)]
