"""Topic 05 run: a batch through an MNIST-shaped MLP, layer by layer.

Initialises an MLP with ``init_mlp`` (float32, He), pushes a batch of
standardised inputs through it and prints, per layer, the shapes, the
parameter count and the statistics of the pre-activations ``z``: mean, std,
the fraction the ReLU zeroes and the units it zeroes on *every* example
(dead units). He initialisation should keep the std of ``z`` roughly the
same at every depth. Then batching: the batched forward against one
example at a time (same numbers, far less time), extra leading batch axes,
and the JAX version on the same parameters. Saves the pre-activation
histograms per layer.
"""

from __future__ import annotations

import math
import time

import numpy as np

from fdl.plot import figure

DEFAULT_SIZES = (784, 512, 256, 128, 64, 10)
SMOKE_SIZES = (784, 64, 32, 10)


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in text.replace(" ", "").split(","))
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("give at least two positive layer sizes, e.g. 784,128,10")
    return sizes


def add_arguments(group) -> None:
    group.add_argument("--sizes", type=_sizes, default=None, metavar="D0,D1,...",
                       help=f"layer sizes (default {','.join(map(str, DEFAULT_SIZES))}; "
                            f"smoke {','.join(map(str, SMOKE_SIZES))})")
    group.add_argument("--batch", type=int, default=None, help="examples in the batch (default 512, smoke 32)")


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _layer_stats(impl, x: np.ndarray, params: list[dict]) -> list[dict]:
    """Pre-activations of every layer, computed with linear_forward one layer at a time."""
    stats = []
    h = x
    for l, layer in enumerate(params):
        z, _ = impl.linear_forward(h, layer)  # (batch, d_l)
        hidden = l < len(params) - 1
        off = z <= 0  # where a ReLU outputs 0
        stats.append({
            "z": z, "in_shape": h.shape, "out_shape": z.shape, "params": layer["W"].size + layer["b"].size,
            "mean": float(z.mean()), "std": float(z.std()),
            "zero_fraction": float(off.mean()) if hidden else math.nan,
            "dead_units": int(off.all(axis=0).sum()) if hidden else 0,
        })
        h = np.maximum(z, 0) if hidden else z
    return stats


def _plot(ctx, stats: list[dict], sizes) -> None:
    """A histogram of z per layer, the ReLU's zeroed half in grey, and the std of z by depth."""
    n = len(stats)
    cols = 2 if n + 1 == 4 else min(n + 1, 3)
    rows = math.ceil((n + 1) / cols)
    fig, axes = figure(rows, cols, size=(4.2 * cols, 3.2 * rows), squeeze=False)
    panels = list(axes.flat)
    for l, (ax, s) in enumerate(zip(panels, stats)):
        z = s["z"].reshape(-1)
        hidden = l < n - 1
        width = (float(z.max()) - float(z.min())) / 60 or 1.0
        bins = width * np.arange(math.floor(z.min() / width), math.ceil(z.max() / width) + 1)  # 0 is an edge
        counts, _ = np.histogram(z, bins=bins)
        if hidden:
            on = bins[:-1] >= 0  # the bins right of 0, which the ReLU passes
            ax.stairs(np.where(on, counts, 0), bins, fill=True, color="tab:blue", label="passed by ReLU")
            ax.stairs(np.where(on, 0, counts), bins, fill=True, color="tab:gray", alpha=0.6,
                      label="zeroed by ReLU")
            title = f"layer {l + 1}: z ({sizes[l]} -> {sizes[l + 1]})"
            ax.set_xlabel(f"std {s['std']:.2f}, zeroed {s['zero_fraction']:.0%}, dead units {s['dead_units']}")
        else:
            ax.stairs(counts, bins, fill=True, color="tab:orange", label="logits")
            title = f"layer {l + 1}: logits ({sizes[l]} -> {sizes[l + 1]})"
            ax.set_xlabel(f"std {s['std']:.2f}")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize="x-small")
        ax.grid(alpha=0.3)
    ax = panels[n]
    depth = np.arange(1, n + 1)
    ax.plot(depth, [s["std"] for s in stats], "o-", label="std of z (measured)")
    ax.axhline(math.sqrt(2), color="k", ls="--", lw=1, label="sqrt(2): He, unit-variance inputs")
    ax.set_ylim(0, 2 * max(math.sqrt(2), max(s["std"] for s in stats)))
    ax.set_xticks(depth)
    ax.set_title("std of z by depth", fontsize=10)
    ax.set_xlabel("layer")
    ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)
    for ax in panels[n + 1:]:
        ax.axis("off")
    fig.suptitle("Pre-activations per layer, He initialisation (float32)")
    ctx.save_figure(fig, "activations.png")


def run(ctx) -> dict:
    import jax
    import jax.numpy as jnp
    from rich.table import Table

    from . import jax_version

    sizes = ctx.options.sizes or (SMOKE_SIZES if ctx.smoke else DEFAULT_SIZES)
    batch = ctx.options.batch or (32 if ctx.smoke else 512)
    repeats = 3 if ctx.smoke else 10
    impl = ctx.impl
    rng = ctx.rng_for("inputs")

    params = impl.init_mlp(list(sizes), rng)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)  # standardised inputs: mean 0, std 1
    logits, _ = impl.mlp_forward(x, params)
    stats = _layer_stats(impl, x, params)

    # ---- shapes and statistics, layer by layer
    table = Table(header_style="bold", title=f"MLP {list(sizes)}, a batch of {batch}, float32; z = h W + b")
    for col in ("layer", "input", "output", "params", "mean z", "std z", "zeroed", "dead"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for l, s in enumerate(stats):
        hidden = l < len(stats) - 1
        table.add_row(
            f"{l + 1} {'relu' if hidden else 'out'}", str(s["in_shape"]), str(s["out_shape"]),
            f"{s['params']:,}", f"{s['mean']:+.3f}", f"{s['std']:.3f}",
            f"{s['zero_fraction']:.1%}" if hidden else "-", str(s["dead_units"]) if hidden else "-",
        )
    total = sum(s["params"] for s in stats)
    table.add_row("total", str(x.shape), str(logits.shape), f"{total:,}", "", "", "", "")
    ctx.print(table)

    # the layer-by-layer pass and mlp_forward must agree
    layerwise = stats[-1]["z"]
    scale = float(np.abs(layerwise).max()) or 1.0
    composed_diff = float(np.abs(logits.astype(np.float64) - layerwise).max()) / scale

    # ---- batching: one matrix product per layer versus one example at a time
    def batched():
        return impl.mlp_forward(x, params)[0]

    def one_at_a_time():
        return np.stack([impl.mlp_forward(x[i], params)[0] for i in range(batch)])

    single_diff = float(np.abs(one_at_a_time().astype(np.float64) - logits).max()) / scale
    t_batched = _best_seconds(batched, repeats)
    t_single = _best_seconds(one_at_a_time, max(1, repeats // 3))
    grid = (4, batch // 4) if batch % 4 == 0 else (1, batch)
    stacked, _ = impl.mlp_forward(x.reshape(*grid, sizes[0]), params)
    stacked_diff = float(np.abs(stacked.reshape(batch, -1).astype(np.float64) - logits).max()) / scale
    ctx.print(f"batched forward: {t_batched * 1e3:.2f} ms for {batch} examples; one at a time: "
              f"{t_single * 1e3:.1f} ms ({t_single / t_batched:,.1f}x the time); "
              f"largest difference {single_diff:.1e} of max|logits|")
    ctx.print(f"extra batch axes: x {x.reshape(*grid, sizes[0]).shape} -> logits {stacked.shape} "
              f"(difference {stacked_diff:.1e})")

    # ---- the JAX version on the same parameters
    jparams = jax.tree_util.tree_map(jnp.asarray, params)
    jax_logits = np.asarray(jax.jit(jax_version.mlp_apply)(jparams, jnp.asarray(x)))
    jax_diff = float(np.abs(jax_logits.astype(np.float64) - logits).max()) / scale
    ctx.print(f"JAX version (jax_version.mlp_apply, jit) on the same parameters: difference {jax_diff:.1e}")

    _plot(ctx, stats, sizes)

    # ---- targets
    stds = [s["std"] for s in stats]
    drift = max(abs(math.log2(s / stds[0])) for s in stds)
    ctx.target("logits have shape (batch, d_L)", float(logits.shape == (batch, sizes[-1])), 1.0)
    ctx.target("logits are float32", float(logits.dtype == np.float32), 1.0)
    ctx.target("He init keeps the scale: max |log2(std z_l / std z_1)|", drift, 1.0, higher_is_better=False)
    worst_diff = max(composed_diff, single_diff, stacked_diff, jax_diff)
    ctx.target("batched = one at a time = layer by layer = JAX (max diff / max|logits|)", worst_diff, 1e-5,
               higher_is_better=False)
    return {
        "sizes": list(sizes),
        "batch": batch,
        "param_count": total,
        "logits_shape": list(logits.shape),
        "logits_std": stds[-1],
        "std_per_layer": [round(s, 4) for s in stds],
        "std_drift_log2": drift,
        "dead_units": sum(s["dead_units"] for s in stats),
        "batched_ms": t_batched * 1e3,
        "batched_speedup": t_single / t_batched,
        "max_rel_diff": worst_diff,
    }
