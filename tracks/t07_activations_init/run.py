"""Topic 07 run: what the initialization does to a signal through a deep network.

A plain MLP, ``h_l = act(h_{l-1} W_l)`` for l = 1..depth (no biases, square
``width x width`` weights), takes a batch of N(0, 1) inputs. For each
initializer and activation we record, per layer,

- the standard deviation of the activations ``h_l`` (the forward signal);
- the standard deviation of the gradient ``dL/dh_{l-1}`` that layer l sends
  down, for ``L = sum(h_depth * g)`` with ``g ~ N(0, 1)`` (the backward signal).

Since ``Var(h W) = fan_in Var(W) E[h^2]``, every layer multiplies the
signal's second moment by about ``fan_in Var(W) E[act(z)^2] / Var(z)``: a
fixed factor per layer, so over many layers it vanishes (< 1) or explodes
(> 1) geometrically, unless the initializer makes it 1. Everything runs in
float32, as training does: an exploding network overflows to inf, and the
table says so.
"""

from __future__ import annotations

import math

import numpy as np

from fdl.plot import figure

# two fixed scales that ignore the width, then the three exercise initializers
INITS = ("N(0, 1)", "N(0, 0.01^2)", "glorot_uniform", "lecun_normal", "he_normal")
ACTIVATIONS = ("tanh", "relu")
# a curve "vanishes" or "explodes" when its last layer is this factor away from its first
DRIFT = 10.0
# He + ReLU keeps the expected second moment exactly, but each layer's finite width adds a
# random factor: over 40 seeds the last/first std ratio stayed within 2.9 (30 layers of 256)
# and 2.4 (20 of 128, the smoke run); the gradient's within 1.9. Glorot falls to ~2e-5 instead.
HE_DRIFT = 4.0


def add_arguments(group) -> None:
    group.add_argument("--depth", type=int, default=None, help="number of layers (default 30, smoke 20)")
    group.add_argument("--width", type=int, default=None, help="units per layer (default 256, smoke 128)")
    group.add_argument("--batch", type=int, default=None, help="inputs in the batch (default 256, smoke 64)")


def draw_weights(impl, init: str, depth: int, width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``depth`` float32 weights of shape (width, width) from the initializer named ``init``."""
    shape = (width, width)
    if init == "N(0, 1)":  # what rng.standard_normal gives: far too large for any width > 2
        return [rng.standard_normal(shape, dtype=np.float32) for _ in range(depth)]
    if init == "N(0, 0.01^2)":  # a fixed small std, once common: for ReLU too small below width 20000
        return [np.float32(0.01) * rng.standard_normal(shape, dtype=np.float32) for _ in range(depth)]
    initializer = getattr(impl, init)
    return [initializer(shape, rng) for _ in range(depth)]


def layer_statistics(impl, weights: list[np.ndarray], x: np.ndarray, g: np.ndarray, activation: str):
    """Per-layer standard deviations of activations and of the gradients flowing down.

    weights: depth x (width, width); x: (batch, width); g: (batch, width) the
    cotangent of the last layer. Returns ``(act_std, grad_std)``, each
    (depth,): ``act_std[l-1] = std(h_l)``, ``grad_std[l-1] = std(dL/dh_{l-1})``.
    A std is ``inf`` once the values overflowed; after a forward overflow the
    gradients mean nothing and are all ``nan``.
    """
    forward = getattr(impl, f"{activation}_forward")
    backward = getattr(impl, f"{activation}_backward")
    h, caches, act_std = x, [], []
    with np.errstate(over="ignore", invalid="ignore"):  # an exploding network may overflow; it shows as a gap
        for w in weights:
            h, cache = forward(h @ w)  # (batch, width)
            caches.append(cache)
            act_std.append(_std(h))
        if not np.all(np.isfinite(act_std)):
            return np.array(act_std), np.full(len(weights), np.nan)
        dh, grad_std = g, []
        for w, cache in zip(reversed(weights), reversed(caches)):
            dz = backward(dh, cache)  # dL/dz_l, (batch, width)
            dh = dz @ w.T  # dL/dh_{l-1}: z_l = h_{l-1} W_l
            grad_std.append(_std(dh))
    return np.array(act_std), np.array(grad_std[::-1])


def _std(values: np.ndarray) -> float:
    """The standard deviation, accumulated in float64 (float32 squares overflow near 1e19); inf after overflow."""
    std = float(np.std(values, dtype=np.float64))
    return std if math.isfinite(std) else math.inf


def _verdict(start: float, end: float) -> str:
    """How a signal of std ``start`` ended up at ``end``: vanished, exploded, or stable within DRIFT."""
    if math.isnan(start) or math.isnan(end):
        return "[dim]undefined[/]"
    if end == math.inf or end > DRIFT * start:
        return "[red]explodes[/]"
    if end == 0 or end < start / DRIFT:  # 0: underflowed (and a zero start leaves nothing to carry)
        return "[blue]vanishes[/]"
    return "[green]stable[/]"


def _fmt(std: float) -> str:
    if math.isnan(std):
        return "-"
    if std == math.inf:
        return "inf (overflow)"
    if std == 0:
        return "0 (underflow)"
    return f"{std:.3g}"


def run(ctx) -> dict:
    from rich.table import Table

    depth = ctx.options.depth or (20 if ctx.smoke else 30)
    width = ctx.options.width or (128 if ctx.smoke else 256)
    batch = ctx.options.batch or (64 if ctx.smoke else 256)
    if depth < 2 or width < 2 or batch < 1:
        raise ValueError(f"--depth and --width need >= 2 and --batch >= 1; got {depth=}, {width=}, {batch=}")
    rng = ctx.rng_for("inputs")
    x = rng.standard_normal((batch, width), dtype=np.float32)  # (batch, width): inputs with std 1
    g = rng.standard_normal((batch, width), dtype=np.float32)  # the gradient arriving at the last layer

    stats: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for init in INITS:
        weights = draw_weights(ctx.impl, init, depth, width, rng)
        for activation in ACTIVATIONS:  # the same weights for both: only the nonlinearity differs
            stats[activation, init] = layer_statistics(ctx.impl, weights, x, g, activation)
    stats = {(a, i): stats[a, i] for a in ACTIVATIONS for i in INITS}

    table = Table(header_style="bold", title=f"{depth} layers of {width} units, a batch of {batch}, inputs N(0, 1)")
    for col in ("activation", "init", "std h_1", f"std h_{depth}", "forward", f"std dL/dh_{depth - 1}",
                "std dL/dh_0", "backward"):
        table.add_column(col, justify="left" if col in ("activation", "init", "forward", "backward") else "right")
    metrics: dict[str, float] = {"depth": depth, "width": width}
    for (activation, init), (act_std, grad_std) in stats.items():
        table.add_row(activation, init, _fmt(act_std[0]), _fmt(act_std[-1]), _verdict(act_std[0], act_std[-1]),
                      _fmt(grad_std[-1]), _fmt(grad_std[0]), _verdict(grad_std[-1], grad_std[0]))
        metrics[f"{activation}_{_key(init)}_last_std"] = act_std[-1]
    ctx.print(table)

    he_act, he_grad = stats["relu", "he_normal"]
    he_drift = max(he_act[-1] / he_act[0], he_act[0] / he_act[-1])
    he_grad_drift = max(he_grad[0] / he_grad[-1], he_grad[-1] / he_grad[0])
    metrics.update(relu_he_drift=he_drift, relu_he_grad_drift=he_grad_drift)
    ctx.target("relu + He: last/first activation std within a factor", he_drift, HE_DRIFT, higher_is_better=False)
    ctx.target("relu + He: gradient std at layer 1 / at the top within a factor", he_grad_drift, HE_DRIFT,
               higher_is_better=False)
    ctx.target("relu + N(0, 0.01^2): last activation std (vanishes)", stats["relu", "N(0, 0.01^2)"][0][-1], 1e-3,
               higher_is_better=False)
    ctx.target("relu + N(0, 1): last activation std (explodes)", stats["relu", "N(0, 1)"][0][-1], 1e3)

    _plot(ctx, stats, depth, width)
    return metrics


def _key(init: str) -> str:
    return {"N(0, 1)": "normal1", "N(0, 0.01^2)": "normal001"}.get(init, init)


# one look per initializer in every figure; Glorot and LeCun coincide for square layers
# (2 / (n + n) = 1 / n), so Glorot is dashed on top of LeCun
STYLE = {
    "N(0, 1)": {"color": "tab:red"},
    "N(0, 0.01^2)": {"color": "tab:blue"},
    "glorot_uniform": {"color": "tab:orange", "ls": "--", "lw": 2.0, "zorder": 3},
    "lecun_normal": {"color": "tab:olive", "lw": 2.0},
    "he_normal": {"color": "tab:green", "lw": 2.4},
}


def _plot(ctx, stats, depth: int, width: int) -> None:
    layers = np.arange(1, depth + 1)
    zoomed = ("glorot_uniform", "lecun_normal", "he_normal")
    for inits, filename, title in (
        (INITS, "activation_std.png", "every initializer"),
        (zoomed, "activation_std_zoom.png", "the three scaled to the fan, on a narrower axis"),
    ):
        fig, axes = figure(2, 2, size=(11, 7.5), sharex=True)
        for col, activation in enumerate(ACTIVATIONS):
            for init in inits:
                act_std, grad_std = stats[activation, init]
                axes[0, col].plot(layers, _positive(act_std), label=init, **STYLE[init])
                axes[1, col].plot(layers, _positive(grad_std), label=init, **STYLE[init])
            axes[0, col].set_title(f"{activation}: forward, std of h_l")
            axes[1, col].set_title(f"{activation}: backward, std of dL/dh_(l-1)")
            axes[1, col].set_xlabel("layer l")
            for row in range(2):
                ax = axes[row, col]
                ax.set_yscale("log")
                ax.axhspan(1 / DRIFT, DRIFT, color="green", alpha=0.07)
                ax.grid(alpha=0.3)
                if inits is zoomed:
                    ax.set_ylim(1e-6, 1e2)
        for row in range(2):
            axes[row, 0].set_ylabel("standard deviation (log)")
        axes[0, 1].legend(fontsize="small", loc="best")
        fig.suptitle(f"Signal through {depth} layers of width {width}: {title}\n"
                     f"(shaded: within {DRIFT:g}x of 1; Glorot = LeCun for square layers)")
        ctx.save_figure(fig, filename)


def _positive(values: np.ndarray) -> np.ndarray:
    """Zeros and non-finite values cannot be drawn on a log axis: leave a gap there."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)
