"""The pictures of topic 10's lesson, drawn from the reference pipeline, step and evaluation.

``python -m fdl.lessons 10`` calls :func:`make_figures`, which writes

- ``pipeline.png``: one image through ``preprocess``, and how
  ``iterate_minibatches`` cuts two epochs of 10 examples into batches of 4;
- ``training_step.png``: what flows through one ``train_step`` (with the
  shapes of a real call), and the loss of 150 such steps on small synthetic
  digits;
- ``evaluation.png``: why ``evaluate`` weights each batch by its size.

No download and no long training: synthetic images, a 784-32-10 network and
a few seconds at most, the same picture every time.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from fdl.plot import figure, save_figure
from tracks.t03_optimizers import reference as optimizers
from tracks.t05_mlp_forward import reference as mlp
from tracks.t06_backprop import reference as backprop
from tracks.t08_losses import reference as losses
from tracks.t10_mnist import reference as R

__all__ = ["make_figures"]


def synthetic_images(n: int, seed: int, classes: int = 10, shift: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 28, 28): each class a fixed set of strokes, moved by up to ``shift`` pixels, plus noise."""
    shapes = np.random.default_rng(100)
    templates = np.zeros((classes, 28, 28))
    rows, cols = np.mgrid[0:28, 0:28]
    for c in range(classes):  # three thick strokes per class, at random places
        for _ in range(3):
            (r0, c0), (r1, c1) = shapes.integers(5, 23, (2, 2))
            t = np.linspace(0, 1, 40)[:, None, None]
            r, q = r0 + t * (r1 - r0), c0 + t * (c1 - c0)
            near = ((rows - r) ** 2 + (cols - q) ** 2 < 3.0).any(axis=0)
            templates[c][near] = 1.0
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    moves = rng.integers(-shift, shift + 1, (n, 2))
    strokes = np.stack([np.roll(templates[y], tuple(m), axis=(0, 1)) for y, m in zip(labels, moves)])
    images = strokes * rng.uniform(150, 255, (n, 1, 1)) + rng.integers(0, 70, (n, 28, 28))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


def _model():
    """Topic 06's MLP and topic 08's cross-entropy: the model ``train_step`` and ``evaluate`` take."""
    return SimpleNamespace(forward=backprop.mlp_forward, backward=backprop.mlp_backward,
                           loss_forward=losses.softmax_cross_entropy_forward,
                           loss_backward=losses.softmax_cross_entropy_backward)


# --------------------------------------------------------------------------- 1. the pipeline
def _boxes(ax, y, order, batch_size, colours, label):
    """One row of boxes, an example index in each, coloured by the batch it lands in."""
    for k, example in enumerate(order):
        ax.add_patch(_rectangle((k + 0.05, y + 0.1), 0.9, 0.8, colours[k // batch_size]))
        ax.text(k + 0.5, y + 0.5, str(example), ha="center", va="center", fontsize=9)
    ax.text(-0.3, y + 0.5, label, ha="right", va="center", fontsize=9)


def _rectangle(xy, width, height, colour):
    from matplotlib.patches import Rectangle

    return Rectangle(xy, width, height, facecolor=colour, edgecolor="black", linewidth=0.6)


def pipeline(path: Path) -> Path:
    images, labels = synthetic_images(1, seed=0)
    x = R.preprocess(images)  # (1, 784) float32 in [0, 1]

    fig = figure(1, 1, size=(13, 4.2))[0]
    fig.clf()
    grid = fig.add_gridspec(1, 3, width_ratios=[0.8, 1.2, 2.1])
    ax = fig.add_subplot(grid[0, 0])
    shown = ax.imshow(images[0], cmap="gray", vmin=0, vmax=255)
    fig.colorbar(shown, ax=ax, fraction=0.046)
    ax.set_title(f"image {images.shape[1:]} {images.dtype}", fontsize="medium")
    ax.set_xticks([])
    ax.set_yticks([])

    ax = fig.add_subplot(grid[0, 1])
    ax.plot(np.arange(x.shape[1]), x[0], linewidth=0.6)
    ax.set_title(f"preprocess: one row {x.shape[1:]} {x.dtype}, 0 to 1", fontsize="medium")
    ax.set_xlabel("pixel index = 28 * row + column")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)

    ax = fig.add_subplot(grid[0, 2])
    n, batch_size = 10, 4
    xs, ys = np.arange(n)[:, None] * np.ones((1, 3)), np.arange(n)  # y says which example a row is
    colours = ["#9ecae1", "#a1d99b", "#fdae6b"]
    rng = np.random.default_rng(0)
    rows = [("original order", list(ys), n)]
    for epoch in (1, 2):
        order = np.concatenate([yb for _, yb in R.iterate_minibatches(xs, ys, batch_size, rng)])
        rows.append((f"epoch {epoch}", list(order), n))
    kept = np.concatenate([yb for _, yb in R.iterate_minibatches(xs, ys, batch_size, np.random.default_rng(0),
                                                                  drop_last=True)])
    rows.append(("epoch 1, drop_last", list(kept), len(kept)))
    for i, (label, order, _) in enumerate(rows):
        y = len(rows) - 1 - i
        if i == 0:
            for k, example in enumerate(order):
                ax.add_patch(_rectangle((k + 0.05, y + 0.1), 0.9, 0.8, "white"))
                ax.text(k + 0.5, y + 0.5, str(example), ha="center", va="center", fontsize=9)
            ax.text(-0.3, y + 0.5, label, ha="right", va="center", fontsize=9)
        else:
            _boxes(ax, y, order, batch_size, colours, label)
    ax.set_xlim(-3.2, n + 0.2)
    ax.set_ylim(-0.6, len(rows))
    ax.set_title(f"iterate_minibatches: n = {n}, batch_size = {batch_size}, one permutation per epoch",
                 fontsize="medium")
    ax.axis("off")
    for k, (colour, what) in enumerate(zip(colours, ["batch 1 (4)", "batch 2 (4)", "batch 3 (2: the rest)"])):
        ax.add_patch(_rectangle((0.2 + 3.0 * k, -0.5), 0.4, 0.3, colour))
        ax.text(0.7 + 3.0 * k, -0.35, what, va="center", fontsize=8)
    return save_figure(fig, path)


# --------------------------------------------------------------------------- 2. one training step
def _shape(a) -> str:
    return str(tuple(a.shape))


def training_step(path: Path) -> Path:
    train_images, train_labels = synthetic_images(768, seed=1)
    test_images, test_labels = synthetic_images(512, seed=2)
    x_train, x_test = R.preprocess(train_images), R.preprocess(test_images)
    model, sizes, batch_size = _model(), (784, 32, 10), 32
    params = mlp.init_mlp(sizes, np.random.default_rng(0), np.float32)
    optimizer = optimizers.adam(1e-3)
    state = optimizer.init(params)

    # the shapes of one real step, for the diagram
    xb, yb = next(R.iterate_minibatches(x_train, train_labels, batch_size, np.random.default_rng(0)))
    logits, cache = model.forward(xb, params)
    loss, loss_cache = model.loss_forward(logits, yb)
    dlogits = model.loss_backward(np.ones((), np.float32), loss_cache)
    _, grads = model.backward(dlogits, cache)

    steps, curve = [], []
    accuracy = [(0, R.evaluate(params, x_test, test_labels, model, batch_size=100)[1])]
    rng = np.random.default_rng(1)
    step = 0
    for _ in range(5):  # 5 epochs of 24 steps
        for xb_, yb_ in R.iterate_minibatches(x_train, train_labels, batch_size, rng):
            params, state, value = R.train_step(params, state, xb_, yb_, model, optimizer)
            step += 1
            steps.append(step)
            curve.append(value)
        accuracy.append((step, R.evaluate(params, x_test, test_labels, model, batch_size=100)[1]))

    fig, (ax, ax_loss) = figure(1, 2, size=(13, 4.6), gridspec_kw={"width_ratios": [1.35, 1]})
    grad_shapes = ", ".join(_shape(g["W"]) for g in grads)
    boxes = [
        (0.0, 3.0, f"x {_shape(xb)}\ny {_shape(yb)}", "#e5e5e5"),
        (2.2, 3.0, "model.forward", "#9ecae1"),
        (4.4, 3.0, f"logits\n{_shape(logits)}", "#e5e5e5"),
        (6.6, 3.0, "model.loss_forward", "#9ecae1"),
        (8.8, 3.0, f"loss ()\n= {float(loss):.3f}", "#e5e5e5"),
        (8.8, 1.5, "model.loss_backward\n(dloss = 1)", "#fdae6b"),
        (6.6, 1.5, f"dlogits\n{_shape(dlogits)}", "#e5e5e5"),
        (4.4, 1.5, "model.backward", "#fdae6b"),
        (2.2, 1.5, f"grads like params\nW {grad_shapes}", "#e5e5e5"),
        (0.0, 1.5, "optimizer.update\n(grads, state,\nparams)", "#a1d99b"),
        (0.0, 0.0, "updates,\nnew state", "#e5e5e5"),
        (2.2, 0.0, "apply_updates:\nparams + updates", "#a1d99b"),
        (4.4, 0.0, "return (new params,\nnew state, loss)", "#e5e5e5"),
    ]
    half_w, half_h = 1.0, 0.5
    for x0, y0, text, colour in boxes:
        ax.add_patch(_rectangle((x0 - half_w, y0 - half_h), 2 * half_w, 2 * half_h, colour))
        ax.text(x0, y0, text, ha="center", va="center", fontsize=7.5)
    arrows = [((0, 3), (2.2, 3)), ((2.2, 3), (4.4, 3)), ((4.4, 3), (6.6, 3)), ((6.6, 3), (8.8, 3)),
              ((8.8, 3), (8.8, 1.5)), ((8.8, 1.5), (6.6, 1.5)), ((6.6, 1.5), (4.4, 1.5)), ((4.4, 1.5), (2.2, 1.5)),
              ((2.2, 1.5), (0, 1.5)), ((0, 1.5), (0, 0)), ((0, 0), (2.2, 0)), ((2.2, 0), (4.4, 0))]
    for (x0, y0), (x1, y1) in arrows:
        dx, dy = np.sign(x1 - x0) * half_w, np.sign(y1 - y0) * half_h
        ax.annotate("", xy=(x1 - dx, y1 - dy), xytext=(x0 + dx, y0 + dy),
                    arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 0.8})
    ax.text(4.4, 3.8, "one call of train_step: forward (blue), backward (orange), update (green)",
            ha="center", fontsize=8.5)
    ax.set_xlim(-1.1, 9.9)
    ax.set_ylim(-0.6, 4.05)
    ax.axis("off")

    ax_loss.plot(steps, curve, linewidth=0.9, label="loss returned by train_step")
    ax_acc = ax_loss.twinx()
    ax_acc.plot(*zip(*accuracy), "o-", color="tab:green", label="test accuracy (evaluate)")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.set_ylabel("accuracy", color="tab:green")
    ax_loss.set_xlabel(f"step (batch {batch_size}, {len(x_train)} synthetic images, MLP 784-32-10, Adam)")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title(f"{len(steps)} calls of train_step, 5 epochs", fontsize="medium")
    ax_loss.grid(alpha=0.3)
    lines = ax_loss.get_legend_handles_labels()
    more = ax_acc.get_legend_handles_labels()
    ax_loss.legend(lines[0] + more[0], lines[1] + more[1], fontsize="small", loc="center right")
    return save_figure(fig, path)


# --------------------------------------------------------------------------- 3. evaluation
def evaluation(path: Path) -> Path:
    n, batch_size = 23, 5
    labels = np.zeros(n, np.int64)
    logits = np.zeros((n, 3))
    logits[:, 0] = np.linspace(3.0, 1.5, n)  # the first 20: the right class leads
    logits[20:, 0] = -1.0  # the last 3: the right class trails
    identity = SimpleNamespace(forward=lambda x, params: (x, None),  # the inputs are the logits
                               loss_forward=losses.softmax_cross_entropy_forward)
    per_example = np.array([float(losses.softmax_cross_entropy_forward(logits[i:i + 1], labels[i:i + 1])[0])
                            for i in range(n)])
    right, _ = R.evaluate(None, logits, labels, identity, batch_size=batch_size)
    starts = list(range(0, n, batch_size))
    means = [per_example[s:s + batch_size].mean() for s in starts]
    wrong = float(np.mean(means))

    fig, ax = figure(size=(9, 4))
    ax.bar(np.arange(n), per_example, color="lightgrey", edgecolor="grey", label="loss of each example")
    for s, m in zip(starts, means):
        width = min(batch_size, n - s)
        ax.hlines(m, s - 0.45, s + width - 0.55, color="tab:blue", linewidth=2.5)
        ax.text(s + width / 2 - 0.5, m + 0.07, f"batch mean\n{m:.3f} ({width})", ha="center", fontsize=7.5,
                color="tab:blue")
    ax.axhline(right, color="tab:green", linestyle="-", label=f"evaluate: sum(mean * size) / n = {right:.3f}")
    ax.axhline(wrong, color="tab:red", linestyle="--", label=f"mean of the batch means = {wrong:.3f} (wrong)")
    ax.set_xlabel(f"example ({n} examples in batches of {batch_size}: the last batch holds {n % batch_size})")
    ax.set_ylabel("cross-entropy")
    ax.set_title("evaluate: weight each batch by its size", fontsize="medium")
    ax.set_ylim(0, 1.25 * per_example.max())
    ax.legend(fontsize="small", loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def make_figures(out_dir) -> list[Path]:
    out = Path(out_dir)
    return [pipeline(out / "pipeline.png"), training_step(out / "training_step.png"),
            evaluation(out / "evaluation.png")]
