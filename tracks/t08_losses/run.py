"""Topic 08 run: what each loss looks like, and why the stable forms matter.

1. **Loss curves.** Each loss as a function of one prediction or logit, the
   target fixed: MSE and Huber against the error, BCE against the logit for
   hard and soft labels, cross-entropy and label smoothing against the
   margin ``m`` of the true class (logits ``(m, 0, ..., 0)``), with their
   gradients below. Every value comes from this topic's functions (yours
   where they pass), one forward and one backward per point. Label
   smoothing has a finite best margin, ``log(q_y / q_other)``: the run finds
   it on the curve and compares it with the formula (a target).

2. **Stability.** The same batch of logits, scaled by 1 ... 1000, through a
   naive cross-entropy (``-log(exp(z_y) / sum exp(z))``, float32 and
   float64) and through ``softmax_cross_entropy_forward``, next to optax in
   float64. The naive one overflows (``inf / inf = NaN``) or underflows
   (``log 0 = -inf``); the stable one must match optax at every scale in both
   dtypes (a target).
"""

from __future__ import annotations

import numpy as np

from fdl.plot import figure, line_plot

# the stable CE must agree with optax (float64) to this relative error in float32 and float64:
# float32 has eps = 1.2e-7, and a mean of 8 rows of a log-sum-exp costs a few dozen roundings at most
STABLE_REL_ERROR = 1e-5


def add_arguments(group) -> None:
    group.add_argument("--classes", type=int, default=10, help="classes for the cross-entropy curves (default 10)")
    group.add_argument("--alpha", type=float, default=0.1, help="label smoothing for the curves (default 0.1)")
    group.add_argument("--points", type=int, default=None,
                       help="points per curve (default 1201, smoke 241)")


# --------------------------------------------------------------------------- 1. curves
def _value_and_slope(forward, backward, *args, **kwargs):
    """The loss and its gradient (w.r.t. the first argument) at one point."""
    loss, cache = forward(*args, **kwargs)
    return float(loss), backward(np.float64(1.0), cache)


def loss_curves(ctx, points: int, classes: int, alpha: float) -> dict:
    impl = ctx.impl
    u = np.linspace(-6.0, 6.0, points)  # errors and logits
    zero = np.zeros(1)

    q_true = 1 - alpha + alpha / classes  # the smoothed target of the true class ...
    q_other = alpha / classes  # ... and of every other class
    theory = float(np.log(q_true / q_other))  # label smoothing's best margin: softmax = q there
    margins = np.linspace(-6.0, max(6.0, np.ceil(theory) + 2), points)

    def curve(fn, grid=u):
        values, slopes = zip(*(fn(x) for x in grid))
        return np.array(values), np.array(slopes)

    regression = {
        "MSE": curve(lambda x: _value_and_slope(impl.mse_forward, impl.mse_backward, np.array([x]), zero)),
        "Huber (delta = 1)": curve(lambda x: _value_and_slope(impl.huber_forward, impl.huber_backward,
                                                              np.array([x]), zero, delta=1.0)),
    }
    binary = {
        f"BCE, label {y:g}": curve(lambda x, y=y: _value_and_slope(impl.bce_with_logits_forward,
                                                                  impl.bce_with_logits_backward,
                                                                  np.array([x]), np.array([y])))
        for y in (1.0, 0.0, 0.75)
    }

    # the true class (label 0) has logit m, the other classes 0: m is the margin
    label = np.array([0])

    def row(m):
        logits = np.zeros((1, classes))
        logits[0, 0] = m
        return logits

    q = np.full((1, classes), q_other)
    q[0, 0] = q_true

    def kl_point(m):
        log_p = row(m) - np.logaddexp(m, np.log(classes - 1))  # log softmax of (m, 0, ..., 0)
        value, grad = _value_and_slope(impl.kl_divergence_forward, impl.kl_divergence_backward, log_p, q)
        # chain rule through log p_j = z_j - logsumexp(z): d log p_j / dm = [j = 0] - p_0
        return value, grad[0, 0] - np.exp(log_p[0, 0]) * grad[0].sum()

    multi = {
        "cross-entropy": curve(lambda m: _value_and_slope(impl.softmax_cross_entropy_forward,
                                                          impl.softmax_cross_entropy_backward, row(m), label),
                               margins),
        f"label smoothing (alpha = {alpha:g})": curve(lambda m: _value_and_slope(
            impl.label_smoothing_forward, impl.label_smoothing_backward, row(m), label, alpha), margins),
        "KL(smoothed target || p)": curve(kl_point, margins),
    }
    # the gradient w.r.t. the margin is the gradient of the true class's logit
    multi = {k: (v, g if g.ndim == 1 else g[:, 0, 0]) for k, (v, g) in multi.items()}
    regression = {k: (v, g[:, 0]) for k, (v, g) in regression.items()}
    binary = {k: (v, g[:, 0]) for k, (v, g) in binary.items()}

    fig, axes = figure(2, 3, size=(15, 8))
    panels = [
        (regression, u, "regression (target 0)", "prediction - target"),
        (binary, u, "binary cross-entropy", "logit x"),
        (multi, margins, f"{classes} classes, true class logit m, others 0", "margin m"),
    ]
    for col, (series, x, title, xlabel) in enumerate(panels):
        line_plot(axes[0, col], {k: (x, v) for k, (v, g) in series.items()}, title=title, xlabel=xlabel,
                  ylabel="loss")
        line_plot(axes[1, col], {k: (x, g) for k, (v, g) in series.items()}, title="gradient",
                  xlabel=xlabel, ylabel="d loss / d input")
    # KL to the smoothed target differs from label smoothing by a constant (the target's entropy):
    # the same gradient, so draw the KL gradient dashed on top of it
    axes[1, 2].lines[2].set_linestyle("--")
    axes[1, 2].legend(fontsize="small")
    axes[0, 0].set_ylim(-0.5, 10)

    ls_values = multi[f"label smoothing (alpha = {alpha:g})"][0]
    best = float(margins[np.argmin(ls_values)])
    for ax in axes[:, 2]:
        ax.axvline(theory, color="grey", linestyle=":", linewidth=1)
    axes[0, 2].text(theory - 0.15, 3.0, f"best margin with smoothing:\nlog(q_y / q_other) = {theory:.2f}",
                    fontsize=8, ha="right", color="dimgrey")
    axes[0, 2].set_ylim(-0.2, 7)
    ctx.save_figure(fig, "loss_curves.png")

    huber_slope = regression["Huber (delta = 1)"][1]
    return {
        "huber_gradient_max": float(np.abs(huber_slope).max()),
        "ls_best_margin": best,
        "ls_best_margin_theory": theory,
        "ls_kl_at_best": float(multi["KL(smoothed target || p)"][0][np.argmin(ls_values)]),
        "grid_step": float(margins[1] - margins[0]),
    }


# --------------------------------------------------------------------------- 2. stability
def naive_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """-mean log(exp(z_y) / sum exp(z)), exactly as the formula reads: overflows and underflows."""
    with np.errstate(all="ignore"):
        e = np.exp(logits)
        p = e / e.sum(axis=-1, keepdims=True)
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels])))


def optax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    import optax

    from fdl.check import oracle_mode

    with oracle_mode():  # float64 in JAX
        return float(optax.softmax_cross_entropy_with_integer_labels(
            np.asarray(logits, np.float64), labels).mean())


def _rel(value: float, exact: float) -> float:
    return abs(value - exact) / abs(exact) if np.isfinite(value) else float("inf")


def stability(ctx, scales: list[float], classes: int) -> dict:
    from rich.table import Table

    rng = ctx.rng_for("inputs")
    base = rng.standard_normal((8, classes))
    labels = rng.integers(0, classes, 8)
    rows = []
    for scale in scales:
        logits = scale * base
        exact = optax_cross_entropy(logits, labels)
        entry = {"scale": scale, "optax": exact}
        for dtype, tag in ((np.float32, "f32"), (np.float64, "f64")):
            z = logits.astype(dtype)
            entry[f"naive_{tag}"] = naive_cross_entropy(z, labels)
            entry[f"stable_{tag}"] = float(ctx.impl.softmax_cross_entropy_forward(z, labels)[0])
            # the float32 figures are judged against optax on the same (rounded) float32 logits
            reference = exact if dtype is np.float64 else optax_cross_entropy(z, labels)
            entry[f"stable_{tag}_rel"] = _rel(entry[f"stable_{tag}"], reference)
            entry[f"naive_{tag}_rel"] = _rel(entry[f"naive_{tag}"], reference)
        rows.append(entry)

    table = Table(header_style="bold", title="cross-entropy of one batch, logits scaled")
    for col in ("scale", "naive f32", "naive f64", "stable f32", "stable f64", "optax f64", "err f32", "err f64"):
        table.add_column(col, justify="right")

    def fmt(x):
        return f"{x:.6g}" if np.isfinite(x) else f"[red]{x}[/]"

    for e in rows:
        table.add_row(f"{e['scale']:g}", fmt(e["naive_f32"]), fmt(e["naive_f64"]), fmt(e["stable_f32"]),
                      fmt(e["stable_f64"]), f"{e['optax']:.6g}", f"{e['stable_f32_rel']:.0e}",
                      f"{e['stable_f64_rel']:.0e}")
    ctx.print(table)
    ctx.print("[dim]err: relative error of the stable values vs optax; naive: -log(exp(z_y) / sum exp(z))[/]")

    fig, ax = figure(size=(7, 4.5))
    x = np.array(scales)
    ceiling = 1.0  # where non-finite results are drawn
    for key, label, style in (("naive_f32", "naive float32", "o--"), ("naive_f64", "naive float64", "s--"),
                              ("stable_f32", "stable float32", "o-"), ("stable_f64", "stable float64", "s-")):
        err = np.array([e[f"{key}_rel"] for e in rows])
        finite = np.isfinite(err)
        err = np.where(finite, np.maximum(err, 1e-17), ceiling)  # exact results drawn at 1e-17
        line = ax.plot(x, err, style, label=label)[0]
        ax.plot(x[~finite], err[~finite], "x", color=line.get_color(), markersize=12, markeredgewidth=2)
    ax.axhline(ceiling, color="red", linewidth=0.8, linestyle=":")
    ax.text(x[0], ceiling * 1.6, "x = inf or NaN", color="red", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-18, 30)
    ax.set_xlabel("logit scale")
    ax.set_ylabel("relative error vs optax in float64")
    ax.set_title("naive vs stable cross-entropy")
    ax.legend(fontsize="small", loc="center left")
    ax.grid(alpha=0.3)
    ctx.save_figure(fig, "stability.png")

    def first_failure(key):
        bad = [e["scale"] for e in rows if not np.isfinite(e[key])]
        return bad[0] if bad else float("nan")

    return {
        "stable_max_rel_error_f32": max(e["stable_f32_rel"] for e in rows),
        "stable_max_rel_error_f64": max(e["stable_f64_rel"] for e in rows),
        "naive_first_nonfinite_scale_f32": first_failure("naive_f32"),
        "naive_first_nonfinite_scale_f64": first_failure("naive_f64"),
        "largest_scale": scales[-1],
    }


def run(ctx) -> dict:
    opts = ctx.options
    points = opts.points or (241 if ctx.smoke else 1201)
    if opts.classes < 2 or not 0 < opts.alpha < 1:
        raise ValueError(f"need --classes >= 2 and 0 < --alpha < 1, got {opts.classes} and {opts.alpha}")
    scales = [1.0, 10.0, 100.0, 300.0, 1000.0] if ctx.smoke else [1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0]

    metrics = loss_curves(ctx, points, opts.classes, opts.alpha)
    metrics.update(stability(ctx, scales, opts.classes))

    ctx.target("stable CE: max relative error vs optax, scales up to 1000, float32 and float64",
               max(metrics["stable_max_rel_error_f32"], metrics["stable_max_rel_error_f64"]), STABLE_REL_ERROR,
               higher_is_better=False)
    ctx.target("label smoothing: |best margin on the curve - log(q_y / q_other)|",
               abs(metrics["ls_best_margin"] - metrics["ls_best_margin_theory"]), metrics["grid_step"],
               higher_is_better=False)
    return metrics
