"""Topic 01 checks: every exercise against jnp, its VJPs against ``jax.vjp``.

Oracles are JAX's own operations (``jnp.add``, ``jnp.max``, ``jnp.matmul``...)
and, for ``unbroadcast``, ``jax.vjp`` of ``jnp.broadcast_to``, so the checks
share no code with the reference. Tolerances are per operation, in machine
epsilons of the case's dtype (see :mod:`fdl.check.tolerance`), sized from the
rounding each formula can accumulate.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from fdl.check import Case, Tolerance, function_check, vjp_check

# --------------------------------------------------------------------------- inputs
# (a, b) shape pairs: equal, trailing, both stretched, rank difference, size 1, 0-d, batch 1
BINARY_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((5,), (1,)),
    ((), (2, 3)),
    ((2, 1, 3), (4, 1)),
    ((1, 1), (1, 1)),
]


def normal(rng, shape):
    return np.asarray(rng.standard_normal(shape))


def positive(rng, shape):
    """Values in [0.5, 2): safe for log, pow and division."""
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def nonzero(rng, shape):
    """Values with |x| in [0.5, 2) and either sign: safe denominators."""
    return positive(rng, shape) * np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def binary_cases(sample_a, sample_b):
    def cases(rng):
        out = [Case((sample_a(rng, sa), sample_b(rng, sb))) for sa, sb in BINARY_SHAPES]
        a32 = sample_a(rng, (3, 4)).astype(np.float32)
        b32 = sample_b(rng, (4,)).astype(np.float32)
        out.append(Case((a32, b32), label="float32 stays float32"))
        return out

    return cases


def unary_cases(sample):
    def cases(rng):
        shapes = [(3, 4), (1,), (2, 3, 5), (), (1, 1, 7)]
        out = [Case((sample(rng, s),)) for s in shapes]
        out.append(Case((sample(rng, (4, 3)).astype(np.float32),), label="float32 stays float32"))
        return out

    return cases


REDUCE = [  # (shape, axis, keepdims)
    ((3, 4), None, False),
    ((3, 4), 0, False),
    ((3, 4), 1, True),
    ((2, 3, 4), (0, 2), False),
    ((2, 3, 4), (2, 0), True),
    ((2, 3, 4), -1, False),
    ((5,), 0, True),
    ((1, 1, 3), None, True),
]


def reduce_cases(rng):
    return [Case((normal(rng, s),), {"axis": axis, "keepdims": keep}) for s, axis, keep in REDUCE]


def max_cases(rng):
    cases = reduce_cases(rng)
    # ties: small integers repeat, so several entries share the maximum and split its gradient
    for shape, axis, keep in [((4, 5), 1, False), ((3, 4), None, False), ((2, 3, 4), (0, 2), True)]:
        x = rng.integers(0, 3, shape).astype(np.float64)
        cases.append(Case((x,), {"axis": axis, "keepdims": keep}, numeric=False, label="tied maxima"))
    return cases


def reshape_cases(rng):
    pairs = [((3, 4), (4, 3)), ((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((12,), (2, 2, 3)), ((1, 5), (5, 1))]
    return [Case((normal(rng, s),), {"shape": new}) for s, new in pairs]


def transpose_cases(rng):
    perms = [((3, 4), None), ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4, 5), (0, 2, 3, 1)),
             ((2, 3, 4), None), ((2, 3, 4), (-1, 0, 1)), ((1, 6), (1, 0))]
    return [Case((normal(rng, s),), {"axes": axes}) for s, axes in perms]


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 1), (1, 1)),
    ((2, 3, 4), (2, 4, 1)),
]


def matmul_cases(rng):
    out = [Case((normal(rng, sa), normal(rng, sb))) for sa, sb in MATMUL_SHAPES]
    out.append(Case((normal(rng, (2, 3, 4)).astype(np.float32), normal(rng, (4, 2)).astype(np.float32)),
                    label="float32 stays float32"))
    return out


SHAPE_CASES = [
    Case(((3, 1), (1, 4))),
    Case(((2, 3, 4), (3, 1))),
    Case(((5, 1, 4), (3, 1))),
    Case(((1,), (1, 1, 1))),
    Case(((), ())),
    Case(((3,), ())),
    Case(((0,), (1,)), label="a zero-size axis broadcasts with 1"),
    Case(((2, 1, 1), (1, 3, 1), (1, 1, 4)), label="three shapes"),
    Case(((7, 2),), label="one shape"),
    Case((), label="no shapes at all"),
    Case(((3,), (4,)), raises=ValueError),
    Case(((2, 3), (3, 2)), raises=ValueError),
    Case(((0,), (5,)), raises=ValueError, label="0 only broadcasts with 1"),
    Case(((2, 1), (8, 4, 3)), raises=ValueError),
]


def unbroadcast_cases(rng):
    pairs = [((2, 3, 4), (3, 1)), ((3, 4), (4,)), ((3, 4), (3, 4)), ((3, 4), (1, 1)), ((3, 4), ()),
             ((5, 1, 2), (1, 1, 2)), ((1, 4), (1, 4)), ((2, 3), (1, 3)), ((4, 2, 3, 5), (2, 1, 5))]
    cases = [Case((normal(rng, g), s)) for g, s in pairs]
    cases.append(Case((normal(rng, (3, 4)).astype(np.float32), (4,)), label="float32 stays float32"))
    return cases


@partial(jax.jit, static_argnums=1)
def unbroadcast_oracle(grad, shape):
    """The VJP of ``broadcast_to(x, grad.shape)``: exactly what unbroadcast must compute."""
    _, vjp = jax.vjp(lambda x: jnp.broadcast_to(x, grad.shape), jnp.zeros(shape, grad.dtype))
    return vjp(grad)[0]


# --------------------------------------------------------------------------- tolerances
# Error budgets in eps of the case dtype. Forward values are a few roundings;
# backward passes add the sums of unbroadcast and reductions (summation order
# differs from XLA's). tanh' = 1 - tanh^2 and pow's a^(b-1) and log a lose
# relative accuracy where the derivative is small, so they get more.
EXACT_ISH = Tolerance(4, 4)
SUMS = Tolerance(32, 32)
TANH = Tolerance(64, 64)
POW = Tolerance(64, 64)
MATMUL = Tolerance(64, 64)

CHECKS = {
    "broadcast_shape": function_check("broadcast_shape", lambda *s: jnp.broadcast_shapes(*s), SHAPE_CASES,
                                      names=["s1", "s2", "s3"]),
    "unbroadcast": function_check("unbroadcast", unbroadcast_oracle, unbroadcast_cases,
                                  names=["grad", "shape"], tol=SUMS),
    "add": vjp_check("add_forward", "add_backward", jnp.add, binary_cases(normal, normal), tol=SUMS),
    "mul": vjp_check("mul_forward", "mul_backward", jnp.multiply, binary_cases(normal, normal), tol=SUMS),
    "div": vjp_check("div_forward", "div_backward", jnp.divide, binary_cases(normal, nonzero), tol=SUMS),
    "pow": vjp_check("pow_forward", "pow_backward", jnp.power, binary_cases(positive, normal), tol=POW),
    "exp": vjp_check("exp_forward", "exp_backward", jnp.exp, unary_cases(normal), names=["x"], tol=EXACT_ISH),
    "log": vjp_check("log_forward", "log_backward", jnp.log, unary_cases(positive), names=["x"], tol=EXACT_ISH),
    "tanh": vjp_check("tanh_forward", "tanh_backward", jnp.tanh, unary_cases(normal), names=["x"], tol=TANH),
    "sum": vjp_check("sum_forward", "sum_backward", jnp.sum, reduce_cases, names=["x"], tol=SUMS),
    "mean": vjp_check("mean_forward", "mean_backward", jnp.mean, reduce_cases, names=["x"], tol=SUMS),
    "max": vjp_check("max_forward", "max_backward", jnp.max, max_cases, names=["x"], tol=EXACT_ISH),
    "reshape": vjp_check("reshape_forward", "reshape_backward", jnp.reshape, reshape_cases, names=["x"],
                         tol=EXACT_ISH),
    "transpose": vjp_check("transpose_forward", "transpose_backward", jnp.transpose, transpose_cases,
                           names=["x"], tol=EXACT_ISH),
    "matmul": vjp_check("matmul_forward", "matmul_backward", jnp.matmul, matmul_cases, tol=MATMUL),
}
