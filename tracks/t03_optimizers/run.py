"""Topic 03 run: optimizer paths on the Rosenbrock function and an ill-conditioned quadratic.

Every optimizer starts from the same point on each surface and takes the
same number of steps; the plots show where each one went (contours and
paths) and how fast the loss fell (log scale). The optimizers are this
topic's exercises (yours where they pass) and the gradients come from topic
02's autograd engine (``ctx.use(2).Tensor``: yours when all its checks pass,
otherwise the reference engine, and the run says which).

Learning rates are set per optimizer and per surface to sensible values for
each: an adaptive method's learning rate is a step length in parameter
units, SGD's multiplies the gradient, so one number cannot fit all.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from fdl.plot import figure, line_plot


def add_arguments(group) -> None:
    group.add_argument("--steps", type=int, default=None,
                       help="steps on the Rosenbrock function (default 2000, smoke 300)")
    group.add_argument("--quadratic-steps", type=int, default=None,
                       help="steps on the quadratic (default 200, smoke 60)")


# --------------------------------------------------------------------------- the two surfaces
def rosenbrock(x, y):
    """A curved, flat-bottomed valley; the minimum 0 is at (1, 1)."""
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


CONDITION = 25.0  # curvature ratio of the quadratic's two axes
_ANGLE = math.radians(30.0)  # its axes are turned, so no per-coordinate scaling can undo the conditioning
_COS, _SIN = math.cos(_ANGLE), math.sin(_ANGLE)


def quadratic(x, y):
    """0.5 (u^2 + 25 v^2) in axes turned by 30 degrees; the minimum 0 is at (0, 0)."""
    u = _COS * x + _SIN * y
    v = _COS * y - _SIN * x
    return 0.5 * (u ** 2 + CONDITION * v ** 2)


class Surface(NamedTuple):
    name: str
    loss: Callable  # (x, y) -> loss, for Tensors and for NumPy arrays alike
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]


ROSENBROCK = Surface("Rosenbrock", rosenbrock, (-1.5, 2.0), (1.0, 1.0), (-2.0, 2.0), (-1.0, 3.0))
QUADRATIC = Surface("ill-conditioned quadratic", quadratic, (-4.0, 2.0), (0.0, 0.0), (-5.0, 5.0), (-3.5, 3.5))


# --------------------------------------------------------------------------- the optimizers
class Contender(NamedTuple):
    label: str
    key: str  # in the metrics' names
    make: Callable  # (impl, learning_rate, steps) -> Optimizer
    rosenbrock_lr: float
    quadratic_lr: float


def _recipe(impl, peak, steps):
    """The transformer-training recipe: clip the gradient, Adam with warmup then cosine decay."""
    schedule = impl.warmup_cosine_schedule(0.0, peak, max(steps // 20, 1), steps)
    return impl.chain(impl.clip_by_global_norm(10.0), impl.adam(schedule))


CONTENDERS = [
    Contender("SGD", "sgd", lambda impl, lr, n: impl.sgd(lr), 1e-3, 0.05),
    Contender("Momentum", "momentum", lambda impl, lr, n: impl.momentum(lr, beta=0.9), 2e-4, 0.02),
    Contender("Nesterov", "nesterov", lambda impl, lr, n: impl.nesterov(lr, beta=0.9), 2e-4, 0.02),
    Contender("Adagrad", "adagrad", lambda impl, lr, n: impl.adagrad(lr), 0.3, 1.0),
    Contender("RMSProp", "rmsprop", lambda impl, lr, n: impl.rmsprop(lr), 3e-3, 0.03),
    Contender("Adam", "adam", lambda impl, lr, n: impl.adam(lr), 0.05, 0.2),
    Contender("AdamW (decay 0.1)", "adamw", lambda impl, lr, n: impl.adamw(lr, weight_decay=0.1), 0.05, 0.2),
    Contender("Adam, clipped, warmup-cosine", "adam_recipe", _recipe, 0.05, 0.2),
]


def descend(Tensor, surface: Surface, opt, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` updates from the surface's start: the path (steps + 1, 2) and the loss at each point."""
    params = {"x": np.array(surface.start[0]), "y": np.array(surface.start[1])}
    state = opt.init(params)
    path, losses = [], []
    for _ in range(steps):
        x, y = Tensor(params["x"]), Tensor(params["y"])  # 0-d leaves of a fresh graph
        loss = surface.loss(x, y)
        loss.backward()  # x.grad = dL/dx, y.grad = dL/dy
        path.append((float(params["x"]), float(params["y"])))
        losses.append(float(loss.data))
        if not np.isfinite(losses[-1]):
            break  # diverged: the plot shows how far it got
        updates, state = opt.update({"x": x.grad, "y": y.grad}, state, params)
        params = {k: params[k] + updates[k] for k in params}
    else:
        path.append((float(params["x"]), float(params["y"])))
        losses.append(float(surface.loss(params["x"], params["y"])))
    return np.array(path), np.array(losses)


# --------------------------------------------------------------------------- plots
def _contours(ax, surface: Surface, grid) -> None:
    X, Y, Z = grid
    log_z = np.log10(np.maximum(Z, 1e-2))
    ax.imshow(log_z, extent=(*surface.xlim, *surface.ylim), origin="lower", cmap="Blues_r", alpha=0.35,
              aspect="auto")
    ax.contour(X, Y, log_z, levels=14, colors="grey", linewidths=0.4)  # evenly spaced in log(loss)
    ax.plot(*surface.minimum, marker="*", color="black", markersize=11, linestyle="none")
    ax.plot(*surface.start, marker="o", color="black", markersize=4, linestyle="none")
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.tick_params(labelsize=7)


def _grid(surface: Surface, n: int = 150):
    X, Y = np.meshgrid(np.linspace(*surface.xlim, n), np.linspace(*surface.ylim, n))
    return X, Y, surface.loss(X, Y)


def _plot_paths(ctx, results: dict, steps: dict) -> None:
    """One panel per optimizer and surface: rows 1-2 Rosenbrock, rows 3-4 the quadratic."""
    fig, axes = figure(4, 4, size=(15.0, 13.5))
    for row, (surface, lr_of) in enumerate(((ROSENBROCK, lambda c: c.rosenbrock_lr),
                                            (QUADRATIC, lambda c: c.quadratic_lr))):
        grid = _grid(surface)
        for i, contender in enumerate(CONTENDERS):
            ax = axes[2 * row + i // 4, i % 4]
            path, losses = results[surface.name][contender.label]
            _contours(ax, surface, grid)
            ax.plot(path[:, 0], path[:, 1], color=f"C{i}", linewidth=1.2, marker=".", markersize=2)
            ax.plot(path[-1, 0], path[-1, 1], marker="x", color="red", markersize=7)
            ax.set_title(f"{contender.label}, lr {lr_of(contender):g}\n{surface.name}, {steps[surface.name]} steps: "
                         f"loss {losses[-1]:.2g}", fontsize=9)
    fig.suptitle("Optimizer paths from the dot; minimum: star, end: red cross", fontsize=12)
    ctx.save_figure(fig, "paths.png")


def _plot_losses(ctx, results: dict) -> None:
    fig, axes = figure(1, 2, size=(12.0, 4.4))
    for ax, surface in zip(axes, (ROSENBROCK, QUADRATIC)):
        series = {label: (np.arange(len(losses)), np.maximum(losses, 1e-30))
                  for label, (_, losses) in results[surface.name].items()}
        line_plot(ax, series, title=f"{surface.name}: loss per step", xlabel="step", ylabel="loss (log scale)",
                  logy=True)
    ctx.save_figure(fig, "loss.png")


def _plot_schedules(ctx, impl, steps: int) -> None:
    fig, ax = figure(size=(6.0, 3.6))
    t = np.arange(steps + 1)
    cosine = impl.warmup_cosine_schedule(0.0, 1.0, max(steps // 20, 1), steps)
    stepwise = impl.step_schedule(1.0, {steps // 2: 0.3, (3 * steps) // 4: 0.3})
    line_plot(ax, {"warmup_cosine_schedule(0, 1, n/20, n)": (t, [cosine(int(s)) for s in t]),
                   "step_schedule(1, {n/2: 0.3, 3n/4: 0.3})": (t, [stepwise(int(s)) for s in t])},
              title=f"learning-rate schedules over n = {steps} steps", xlabel="step", ylabel="multiplier")
    ctx.save_figure(fig, "schedules.png")


# --------------------------------------------------------------------------- the run
def run(ctx) -> dict:
    from rich.table import Table

    Tensor = ctx.use(2).Tensor  # the autograd engine: the learner's if it passes, else the reference
    impl = ctx.impl
    steps = {ROSENBROCK.name: ctx.options.steps or (300 if ctx.smoke else 2000),
             QUADRATIC.name: ctx.options.quadratic_steps or (60 if ctx.smoke else 200)}

    results: dict[str, dict] = {ROSENBROCK.name: {}, QUADRATIC.name: {}}
    for contender in CONTENDERS:
        for surface, lr in ((ROSENBROCK, contender.rosenbrock_lr), (QUADRATIC, contender.quadratic_lr)):
            n = steps[surface.name]
            opt = contender.make(impl, lr, n)
            results[surface.name][contender.label] = descend(Tensor, surface, opt, n)

    n_r, n_q = steps[ROSENBROCK.name], steps[QUADRATIC.name]
    table = Table(header_style="bold", title=f"final loss after {n_r} steps on Rosenbrock from {ROSENBROCK.start}, "
                                             f"{n_q} steps on the quadratic from {QUADRATIC.start}")
    table.add_column("optimizer", no_wrap=True)
    for column in ("lr", "Rosenbrock", "lr", "quadratic"):
        table.add_column(column, justify="right")
    metrics: dict[str, float] = {}
    for contender in CONTENDERS:
        final_r = results[ROSENBROCK.name][contender.label][1][-1]
        final_q = results[QUADRATIC.name][contender.label][1][-1]
        table.add_row(contender.label, f"{contender.rosenbrock_lr:g}", f"{final_r:.3g}",
                      f"{contender.quadratic_lr:g}", f"{final_q:.3g}")
        metrics[f"rosenbrock_{contender.key}"] = float(final_r)
        metrics[f"quadratic_{contender.key}"] = float(final_q)
    ctx.print(table)

    _plot_paths(ctx, results, steps)
    _plot_losses(ctx, results)
    _plot_schedules(ctx, impl, steps[ROSENBROCK.name])

    metrics["steps_rosenbrock"] = n_r
    metrics["steps_quadratic"] = n_q
    if ctx.options.steps:
        pass  # a step count of the learner's choosing: no target to hold it to
    elif ctx.smoke:
        # 300 steps only bring plain Adam into the valley (loss ~2); annealing the step size
        # takes the clipped warmup-cosine recipe further (~0.3)
        ctx.target("Rosenbrock loss of Adam, clipped, warmup-cosine (smoke)", metrics["rosenbrock_adam_recipe"],
                   1.0, higher_is_better=False)
    else:
        # Adam reaches the bottom of Rosenbrock's curved valley in 2000 steps (loss ~1e-12)
        ctx.target("Rosenbrock loss of Adam", metrics["rosenbrock_adam"], 1e-3, higher_is_better=False)
    return metrics
