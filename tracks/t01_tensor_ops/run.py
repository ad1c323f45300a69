"""Topic 01 run: why vectorise? Python loops vs NumPy vs jitted JAX, timed.

Each row computes the same thing three ways (the results are compared before
timing) and reports the best of several repeats. The NumPy column uses the
exercise functions (yours where they pass).
"""

from __future__ import annotations

import timeit

import numpy as np

from fdl.plot import figure


def add_arguments(group) -> None:
    group.add_argument("--size", type=int, default=None,
                       help="n for the n x n operands (default 96, smoke 12)")


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm up (JAX compiles on the first call)
    number = 1
    while timeit.timeit(fn, number=number) < 0.02 and number < 10_000:  # batch fast calls
        number *= 4
    return min(timeit.repeat(fn, number=number, repeat=repeats)) / number


def _loops_mul_broadcast(a, b):
    n, m = a.shape
    out = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            out[i, j] = a[i, j] * b[j]
    return out


def _loops_unbroadcast(g):
    n, m = g.shape
    out = np.zeros(m)
    for i in range(n):
        for j in range(m):
            out[j] += g[i, j]
    return out


def _loops_max_rows(x):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        best = x[i, 0]
        for j in range(1, x.shape[1]):
            if x[i, j] > best:
                best = x[i, j]
        out[i] = best
    return out


def _loops_matmul(a, b):
    n, k = a.shape
    m = b.shape[1]
    out = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for t in range(k):
                acc += a[i, t] * b[t, j]
            out[i, j] = acc
    return out


def run(ctx) -> dict:
    import jax
    import jax.numpy as jnp

    from rich.table import Table

    n = ctx.options.size or (12 if ctx.smoke else 96)
    repeats = 2 if ctx.smoke else 5
    rng = ctx.rng_for("inputs")
    a = rng.standard_normal((n, n))
    b = rng.standard_normal((n, n))
    v = rng.standard_normal(n)
    impl = ctx.impl

    rows = [
        ("broadcast_mul", "a * b[None, :]", f"{n}x{n}",
         lambda: _loops_mul_broadcast(a, v),
         lambda: impl.mul_forward(a, v)[0],
         jax.jit(lambda x, y: x * y), (a, v)),
        ("unbroadcast", "unbroadcast to (n,)", f"{n}x{n}",
         lambda: _loops_unbroadcast(a),
         lambda: impl.unbroadcast(a, (n,)),
         jax.jit(lambda g: g.sum(axis=0)), (a,)),
        ("max", "max over rows", f"{n}x{n}",
         lambda: _loops_max_rows(a),
         lambda: impl.max_forward(a, axis=1)[0],
         jax.jit(lambda x: x.max(axis=1)), (a,)),
        ("matmul", "matmul a @ b", f"{n}x{n} @ {n}x{n}",
         lambda: _loops_matmul(a, b),
         lambda: impl.matmul_forward(a, b)[0],
         jax.jit(jnp.matmul), (a, b)),
    ]

    table = Table(header_style="bold")
    for col in ("operation", "size", "Python loops", "NumPy", "JAX jit (float32)", "NumPy speed-up"):
        table.add_column(col, justify="left" if col in ("operation", "size") else "right")
    metrics: dict[str, float] = {}
    names, loop_t, numpy_t, jax_t = [], [], [], []
    # the three ways compute the same numbers, up to rounding: the run's targets
    disagreement = {"loops": 0.0, "jax": 0.0}
    for key, name, size, loops, vectorised, jitted, args in rows:
        expected = vectorised()
        jax_args = tuple(jnp.asarray(x) for x in args)  # float32, JAX's default
        scale = max(float(np.max(np.abs(expected))), 1.0)
        for who, other in (("loops", loops()), ("jax", np.asarray(jitted(*jax_args), np.float64))):
            disagreement[who] = max(disagreement[who], float(np.max(np.abs(other - expected))) / scale)
        t_loop = _best_seconds(loops, repeats)
        t_np = _best_seconds(vectorised, repeats)
        t_jax = _best_seconds(lambda: jitted(*jax_args).block_until_ready(), repeats)
        table.add_row(name, size, f"{t_loop * 1e3:.3f} ms", f"{t_np * 1e3:.4f} ms", f"{t_jax * 1e3:.4f} ms",
                      f"{t_loop / t_np:,.0f}x")
        metrics[f"speedup_{key}"] = t_loop / t_np
        names.append(name)
        loop_t.append(t_loop)
        numpy_t.append(t_np)
        jax_t.append(t_jax)
    ctx.print(table)

    fig, ax = figure(size=(8, 4))
    x = np.arange(len(names))
    for offset, (label, times) in zip((-0.27, 0.0, 0.27), (("Python loops", loop_t), ("NumPy", numpy_t),
                                                           ("JAX jit", jax_t))):
        ax.bar(x + offset, np.array(times) * 1e3, width=0.27, label=label)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("milliseconds (log scale)")
    ax.set_title(f"The same computation three ways (n = {n})")
    ax.legend()
    ctx.save_figure(fig, "timing.png")
    metrics["n"] = n
    metrics["max_disagreement_loops"] = disagreement["loops"]
    metrics["max_disagreement_jax_float32"] = disagreement["jax"]
    # float64 sums of n terms of size ~1 round to ~n eps (1e-10 leaves room for n in the thousands);
    # JAX computes in float32 by default, whose eps is 1.2e-7
    ctx.target("loops against NumPy, largest relative difference", disagreement["loops"], 1e-10,
               higher_is_better=False)
    ctx.target("JAX (float32) against NumPy, largest relative difference", disagreement["jax"], 1e-4,
               higher_is_better=False)
    return metrics
