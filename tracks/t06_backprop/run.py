"""Topic 06 run: a gradient check, the way one debugs a backward pass.

A small MLP (``init_mlp`` from topic 05, float64) and a mean-squared-error
loss ``L = 0.5 * mean ||mlp(x) - y||^2`` on random data. For the input and
every parameter (x, W1, b1, W2, ...) the gradient from ``mlp_backward`` is
compared with

- ``jax.grad`` of the JAX version (an independent implementation),
- ``numerical_gradient`` in float64 (no calculus at all),
- ``numerical_gradient`` in float32, to show why gradient checks run in
  float64,
- and, to show what a bug looks like, a backward that forgets the ReLU
  mask (built from ``linear_backward``).

The relative error ``||a - b|| / max(||a||, ||b||)`` is printed per row and
drawn as a bar chart (log scale). It also times backpropagation against
central differences: the reason backprop exists.
"""

from __future__ import annotations

import time

import numpy as np

from fdl.plot import figure

DEFAULT_SIZES = (12, 32, 32, 6)
SMOKE_SIZES = (5, 8, 3)
FLOOR = 1e-17  # where an exact zero is drawn on the log scale


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(s) for s in text.replace(" ", "").split(","))
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("give at least two positive layer sizes, e.g. 8,16,4")
    return sizes


def add_arguments(group) -> None:
    group.add_argument("--sizes", type=_sizes, default=None, metavar="D0,D1,...",
                       help=f"layer sizes (default {','.join(map(str, DEFAULT_SIZES))}; "
                            f"smoke {','.join(map(str, SMOKE_SIZES))})")
    group.add_argument("--batch", type=int, default=None, help="examples (default 32, smoke 4)")


def relative_error(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    return float(np.linalg.norm(a - b)) / scale if scale > 0 else 0.0


def _mse(impl, x, params, y) -> float:
    logits, _ = impl.mlp_forward(x, params)
    diff = logits - y
    return 0.5 * float(np.sum(diff * diff)) / x.shape[0]


def _with(params: list[dict], layer: int, key: str, value) -> list[dict]:
    """A shallow copy of ``params`` with one array replaced."""
    out = [dict(p) for p in params]
    out[layer][key] = value
    return out


def _numerical(impl, x, params, y) -> list[np.ndarray]:
    """Central differences of the loss for x and every parameter, in x's dtype."""
    grads = [impl.numerical_gradient(lambda v: _mse(impl, v, params, y), x)]
    for l, layer in enumerate(params):
        for key in ("W", "b"):
            grads.append(impl.numerical_gradient(
                lambda v, l=l, key=key: _mse(impl, x, _with(params, l, key, v), y), layer[key]))
    return grads


def _backward_without_mask(impl, x, params, dlogits) -> list[np.ndarray]:
    """A planted bug: backpropagate through the linear layers and skip every ReLU's mask."""
    caches, h = [], x
    for l, layer in enumerate(params):
        z, cache = impl.linear_forward(h, layer)
        caches.append(cache)
        h = np.maximum(z, 0) if l < len(params) - 1 else z
    grads, d = [], dlogits
    for cache in reversed(caches):
        d, g = impl.linear_backward(d, cache)  # the bug: no d *= (h > 0) between layers
        grads = [g["W"], g["b"]] + grads
    return [d] + grads


def _flat(dx, dparams) -> list[np.ndarray]:
    return [np.asarray(dx)] + [np.asarray(g[key]) for g in dparams for key in ("W", "b")]


def run(ctx) -> dict:
    import jax
    import jax.numpy as jnp
    from rich.table import Table

    from . import jax_version

    sizes = ctx.options.sizes or (SMOKE_SIZES if ctx.smoke else DEFAULT_SIZES)
    batch = ctx.options.batch or (4 if ctx.smoke else 32)
    impl = ctx.impl
    rng = ctx.rng_for("inputs")
    params = ctx.use(5).init_mlp(list(sizes), rng, dtype=np.float64)
    for layer in params:  # small random biases, so that b is not checked only at 0
        layer["b"] = 0.1 * rng.standard_normal(layer["b"].shape)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.standard_normal((batch, sizes[-1]))
    names = ["x"] + [f"{key}{l + 1}" for l in range(len(params)) for key in ("W", "b")]

    # ---- backprop: one forward, one backward (timed as the best of a few)
    def forward_backward():
        logits, cache = impl.mlp_forward(x, params)
        dlogits = (logits - y) / batch  # dL/dlogits for L = 0.5 * sum((logits - y)^2) / batch
        return dlogits, _flat(*impl.mlp_backward(dlogits, cache))

    t_backprop = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        dlogits, backprop = forward_backward()
        t_backprop = min(t_backprop, time.perf_counter() - start)

    # ---- the oracles
    with jax.enable_x64(True):
        jparams = jax.tree_util.tree_map(jnp.asarray, params)
        grad_fn = jax.jit(jax.grad(jax_version.mse_loss, argnums=(0, 1)))
        jgrads, jdx = grad_fn(jparams, jnp.asarray(x), jnp.asarray(y))
        by_jax = _flat(jdx, jgrads)
    start = time.perf_counter()
    numeric = _numerical(impl, x, params, y)
    t_numeric = time.perf_counter() - start
    params32 = [{k: v.astype(np.float32) for k, v in p.items()} for p in params]
    numeric32 = _numerical(impl, x.astype(np.float32), params32, y.astype(np.float32))
    buggy = _backward_without_mask(impl, x, params, dlogits)

    columns = {
        "jax.grad": [relative_error(a, b) for a, b in zip(backprop, by_jax)],
        "central diff.": [relative_error(a, b) for a, b in zip(backprop, numeric)],
        "central, float32": [relative_error(a, b) for a, b in zip(backprop, numeric32)],
        "bug: no ReLU mask": [relative_error(a, b) for a, b in zip(backprop, buggy)],
    }
    table = Table(header_style="bold",
                  title=f"relative error of mlp_backward against...  (MLP {list(sizes)}, batch {batch})")
    for col in ("value", "shape", "|grad|", *columns):
        table.add_column(col, justify="left" if col == "value" else "right")
    for i, name in enumerate(names):
        table.add_row(name, str(backprop[i].shape), f"{np.linalg.norm(backprop[i]):.3g}",
                      *(f"{col[i]:.1e}" for col in columns.values()))
    ctx.print(table)
    n_values = sum(g.size for g in backprop)
    ctx.print(f"backprop: {t_backprop * 1e3:.2f} ms for all {n_values} gradients; central differences: "
              f"{t_numeric * 1e3:.0f} ms ({2 * n_values} forward passes), {t_numeric / t_backprop:,.0f}x slower")

    # ---- the chart
    fig, ax = figure(size=(max(8.0, 0.9 * len(names) + 3), 4.6))
    positions = np.arange(len(names))
    width = 0.8 / len(columns)
    for k, (label, errors) in enumerate(columns.items()):
        shown = np.maximum(np.array(errors), FLOOR)
        ax.bar(positions + (k - (len(columns) - 1) / 2) * width, shown, width=width, label=label)
    ax.axhline(1e-6, color="k", ls="--", lw=1, label="target 1e-6 (float64)")
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 3, 10)
    ax.set_xticks(positions, names)
    ax.set_ylabel("relative error (log scale)")
    ax.set_title(f"mlp_backward vs three oracles and a buggy backward: MLP {list(sizes)}")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=5)
    ax.grid(axis="y", alpha=0.3)
    ctx.save_figure(fig, "gradient_check.png")

    worst_jax = max(columns["jax.grad"])
    worst_numeric = max(columns["central diff."])
    ctx.target("max relative error, mlp_backward vs jax.grad (float64)", worst_jax, 1e-6, higher_is_better=False)
    ctx.target("max relative error, mlp_backward vs central differences (float64)", worst_numeric, 1e-6,
               higher_is_better=False)
    return {
        "sizes": list(sizes),
        "batch": batch,
        "max_rel_error_jax": worst_jax,
        "max_rel_error_numeric": worst_numeric,
        "max_rel_error_numeric_float32": max(columns["central, float32"]),
        "max_rel_error_without_relu_mask": max(columns["bug: no ReLU mask"]),
        "backprop_ms": t_backprop * 1e3,
        "numeric_ms": t_numeric * 1e3,
        "backprop_speedup": t_numeric / t_backprop,
    }
