"""Topic 01 checks: every exercise against jnp, its VJPs against ``jax.vjp``.

Oracles are JAX's own operations (``jnp.add``, ``jnp.max``, ``jnp.matmul``...)
and, for ``unbroadcast``, ``jax.vjp`` of ``jnp.broadcast_to``, so the checks
share no code with the reference. Tolerances are per operation, in machine
epsilons of the case's dtype (see :mod:`fdl.check.tolerance`), sized from the
rounding each formula can accumulate.

Every list of cases starts with **square** ones, sizes ``n x n`` with ``n``
drawn from 3 to 5 (:func:`fdl.check.sample.square_and_not`), because a wrong
axis keeps the right shape only there:

- broadcasting: ``(n, n)`` with ``(n, 1)``, ``(1, n)``, ``(n,)`` and
  ``(n, n)``, an outer ``(n, 1)`` with ``(1, n)``, a leading axis
  ``(2, n, n)``: an ``unbroadcast`` that sums the wrong axis and reshapes, or
  a bias-style sum over axis 0 for every operand, gives a gradient of the
  right shape and the wrong values;
- reductions over axis 0, axis 1 and both of an ``(n, n)`` input, and over
  one axis of an ``(n, n, n)`` cube: ``dout`` broadcast back without its
  reduced axis put back lines up with the wrong axis, and does not crash;
- ``transpose`` of ``(n, n)`` and of cubes ``(n, n, n)`` and ``(2, n, n)``
  under 3-cycles and swaps, where a permutation and its inverse give the same
  shape;
- ``matmul`` with ``A`` and ``B`` both square, only ``B`` square
  (``dout @ B`` in place of ``dout @ B^T`` has the right shape), only ``A``
  square (``A @ dout`` in place of ``A^T @ dout``), and a square output of
  oblong factors; batched and broadcast square stacks.

Then the oblong shapes, ranks that differ, size-1 axes, 0-d arrays, and
float32 cases (square ones among them) whose outputs must stay float32.

Edge values: ``max`` with ties (small integers, so several entries share a
maximum; JAX's convention, the one the lesson teaches, splits the gradient
equally between them), with ``-inf`` entries, a slice that is ``-inf``
throughout (every entry is then a tied maximum), ``+inf`` and magnitudes of
1e300 (1e38 in float32), where ``x - out == 0`` is NaN and not a mask;
``log`` of inputs down to 1e-12 (1e-30 in float32) and of an exact 0
(``-inf``, gradient ``+-inf``), and ``div`` by denominators down to 1e-8 (1e-6
in float32): an epsilon added "for safety" is wrong there; ``exp`` from -745
to 709, where it underflows to 0 and nearly overflows. Central differences
are off for those cases (a step of ``eps^(1/3)`` crosses 0, or is far coarser
than the function's scale); they are judged against ``jax.vjp``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from fdl.check import Case, Tolerance, function_check, vjp_check
from fdl.check.sample import normal, nonzero, positive, square_and_not, ties

# --------------------------------------------------------------------------- sizes
# One square size n and an oblong pair (a, b), a > b, all from 3 to 5: few enough shapes that the compiled
# oracles are reused from seed to seed, varied enough that no size is hard-coded.


def _sizes(rng) -> tuple[int, int, int]:
    (n, _), (a, b), _ = square_and_not(rng, 3, 5)
    return n, a, b


# --------------------------------------------------------------------------- binary ops
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


def square_binary_shapes(n: int) -> list[tuple[tuple, tuple]]:
    """Pairs where a gradient summed over the wrong axis still has the shape of its input."""
    return [((n, n), (n, 1)), ((n, n), (1, n)), ((n, 1), (n, n)), ((n, n), (n, n)), ((n, 1), (1, n)),
            ((n,), (n, n)), ((2, n, n), (n, n))]


def binary_cases(sample_a, sample_b, edge=None):
    """Square pairs first, then BINARY_SHAPES, then float32 (square and not); ``edge(rng, n)``: extra cases."""

    def cases(rng):
        n, _, _ = _sizes(rng)
        out = [Case((sample_a(rng, sa), sample_b(rng, sb)), label="square") for sa, sb in square_binary_shapes(n)]
        out += [Case((sample_a(rng, sa), sample_b(rng, sb))) for sa, sb in BINARY_SHAPES]
        out.append(Case((sample_a(rng, (n, n), np.float32), sample_b(rng, (n, 1), np.float32)),
                        label="square, float32 stays float32"))
        out.append(Case((sample_a(rng, (3, 4), np.float32), sample_b(rng, (4,), np.float32)),
                        label="float32 stays float32"))
        if edge is not None:
            out += edge(rng, n)
        return out

    return cases


def _tiny(rng, shape, low: float, high: float, dtype=np.float64) -> np.ndarray:
    """Either sign, magnitudes log-uniform in [10^low, 10^high]."""
    return (nonzero(rng, shape) * 10.0 ** rng.uniform(low, high, shape)).astype(dtype)


def div_edges(rng, n):
    """Denominators near 0: a / (b + eps) or a clipped b is far off there."""
    return [Case((normal(rng, (n, n)), _tiny(rng, (n, 1), -8, -1)), numeric=False,
                 label="square, denominators down to 1e-8"),
            Case((normal(rng, (n, n), np.float32), _tiny(rng, (n, n), -6, -1, np.float32)),
                 label="square, float32, denominators down to 1e-6")]


# --------------------------------------------------------------------------- unary ops
UNARY_SHAPES = [(3, 4), (1,), (2, 3, 5), (), (1, 1, 7)]


def unary_cases(sample, edge=None):
    def cases(rng):
        n, _, _ = _sizes(rng)
        out = [Case((sample(rng, (n, n)),), label="square"), Case((sample(rng, (2, n, n)),), label="square")]
        out += [Case((sample(rng, s),)) for s in UNARY_SHAPES]
        out.append(Case((sample(rng, (n, n), np.float32),), label="square, float32 stays float32"))
        out.append(Case((sample(rng, (4, 3), np.float32),), label="float32 stays float32"))
        if edge is not None:
            out += edge(rng, n)
        return out

    return cases


def log_edges(rng, n):
    """Inputs near 0 and one exact 0: log(x + eps) or log(max(x, eps)) is far off there."""
    x = 10.0 ** rng.uniform(-12, 0, (n, n))
    x[0, int(rng.integers(n))] = 0.0  # log 0 = -inf, and its gradient dout / 0 = +-inf
    return [Case((x,), numeric=False, label="square, inputs down to 1e-12 and an exact 0"),
            Case(((10.0 ** rng.uniform(-30, 0, (n, n))).astype(np.float32),),
                 label="square, float32, inputs down to 1e-30")]


def exp_edges(rng, n):
    """exp from -745 (it underflows to 0) to 709 (near float64's largest), and to +-88 in float32."""
    return [Case((rng.uniform(-745, 709, (n, n)),), numeric=False, label="square, exp underflows and nearly overflows"),
            Case((rng.uniform(-100, 88, (n, n)).astype(np.float32),),
                 label="square, float32, exp underflows and nearly overflows")]


def tanh_edges(rng, n):
    """|x| up to ~25: tanh saturates and 1 - tanh^2 is tiny, computed from t ~ 1 to ~eps absolute.

    The check is elementwise: each gradient element may err by its share ``eps |dout|`` of those terms.
    """
    return [Case((normal(rng, (n, n), scale=8.0),), numeric=False, label="square, tanh saturates")]


# --------------------------------------------------------------------------- reductions
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


def square_reduce(n: int) -> list[tuple[tuple, object, bool]]:
    """Square inputs: the reduced axis put back in the wrong place keeps the right shape."""
    return [((n, n), 1, False), ((n, n), 0, False), ((n, n), -1, True), ((n, n), None, False),
            ((n, n, n), 1, False), ((2, n, n), (0, 2), False)]


def reduce_cases(rng):
    n, _, _ = _sizes(rng)
    out = [Case((normal(rng, s),), {"axis": axis, "keepdims": keep}, label="square")
           for s, axis, keep in square_reduce(n)]
    out += [Case((normal(rng, s),), {"axis": axis, "keepdims": keep}) for s, axis, keep in REDUCE]
    out.append(Case((normal(rng, (n, n), np.float32),), {"axis": 1, "keepdims": False},
                    label="square, float32 stays float32"))
    out.append(Case((normal(rng, (2, 3, 4), np.float32),), {"axis": (0, 2), "keepdims": True},
                    label="float32 stays float32"))
    return out


def _infinite(rng, n: int, big: float, dtype) -> np.ndarray:
    """(n, n): row 0 all -inf, row 1 some -inf, a +inf, huge magnitudes of either sign, the rest normal."""
    x = normal(rng, (n, n))
    x[0] = -np.inf  # every entry of the slice is the maximum: they share the gradient
    x[1, : n - 1] = -np.inf
    x[2, int(rng.integers(n))] = np.inf
    x[3:] = nonzero(rng, (n - 3, n)) * big
    return x.astype(dtype)


def max_cases(rng):
    n, _, _ = _sizes(rng)
    cases = reduce_cases(rng)
    # ties: small integers repeat, so several entries share the maximum and split its gradient equally
    for shape, axis, keep in [((n, n), 1, False), ((n, n), 0, True), ((n, n, n), (0, 2), False),
                              ((4, 5), 1, False), ((3, 4), None, False), ((2, 3, 4), (0, 2), True)]:
        cases.append(Case((ties(rng, shape),), {"axis": axis, "keepdims": keep}, numeric=False,
                          label="tied maxima"))
    cases.append(Case((ties(rng, (n, n), np.float32),), {"axis": 1, "keepdims": False},
                      label="tied maxima, float32"))
    for axis in (1, 0):
        x = _infinite(rng, n + 1, 1e300, np.float64)
        cases.append(Case((x if axis == 1 else x.T.copy(),), {"axis": axis, "keepdims": False}, numeric=False,
                          label="-inf, +inf and |x| ~ 1e300"))
    cases.append(Case((_infinite(rng, n + 1, 1e38, np.float32),), {"axis": -1, "keepdims": True},
                      label="float32, -inf, +inf and |x| ~ 1e38"))
    return cases


# --------------------------------------------------------------------------- shape ops
def reshape_cases(rng):
    n, a, b = _sizes(rng)
    pairs = [((n, n), (n * n,)), ((n * n,), (n, n)), ((2, n, n), (n, 2 * n)), ((a, b), (b, a)), ((n, n), (-1, n)),
             ((3, 4), (4, 3)), ((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((12,), (2, 2, 3)), ((1, 5), (5, 1))]
    out = [Case((normal(rng, s),), {"shape": new}) for s, new in pairs]
    out.append(Case((normal(rng, (n, n), np.float32),), {"shape": (n * n,)}, label="square, float32 stays float32"))
    out.append(Case((normal(rng, (2, 3, 4), np.float32),), {"shape": (4, 6)}, label="float32 stays float32"))
    return out


def transpose_cases(rng):
    n, _, _ = _sizes(rng)
    # square axes first: a permutation and its inverse (or the full reversal .T) give the same shape
    perms = [((n, n), None), ((n, n), (1, 0)), ((n, n, n), (1, 2, 0)), ((n, n, n), (2, 0, 1)), ((n, n, n), (0, 2, 1)),
             ((2, n, n), (0, 2, 1)), ((n, 2, n), (2, 1, 0)),
             ((3, 4), None), ((2, 3, 4), (1, 2, 0)), ((2, 3, 4), (2, 0, 1)), ((2, 3, 4, 5), (0, 2, 3, 1)),
             ((2, 3, 4), None), ((2, 3, 4), (-1, 0, 1)), ((1, 6), (1, 0))]
    out = [Case((normal(rng, s),), {"axes": axes}, label="square axes" if s.count(n) >= 2 else "")
           for s, axes in perms]
    out.append(Case((normal(rng, (n, n, n), np.float32),), {"axes": (1, 2, 0)}, label="square, float32 stays float32"))
    out.append(Case((normal(rng, (2, 3, 4), np.float32),), {"axes": (2, 0, 1)}, label="float32 stays float32"))
    return out


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 1), (1, 1)),
    ((2, 3, 4), (2, 4, 1)),
]


def matmul_shapes(rng) -> list[tuple[tuple, tuple, str]]:
    """Square and oblong factors: each of A, B, dout square in some case and not in another."""
    n, a, b = _sizes(rng)
    return [((n, n), (n, n), "A and B square"),
            ((a, b), (b, b), "B square: dout @ B has the shape of dout @ B^T"),
            ((b, b), (b, a), "A square: A @ dout has the shape of A^T @ dout"),
            ((b, a), (a, b), "square output of oblong factors"),
            ((2, n, n), (n, n), "a stack of square A, one square B"),
            ((n, n), (2, 1, n, n), "one square A, broadcast against a stack of B")]


def matmul_cases(rng):
    out = [Case((normal(rng, sa), normal(rng, sb)), label=label) for sa, sb, label in matmul_shapes(rng)]
    out += [Case((normal(rng, sa), normal(rng, sb))) for sa, sb in MATMUL_SHAPES]
    n = out[0].args[0].shape[0]
    out.append(Case((normal(rng, (n, n), np.float32), normal(rng, (n, n), np.float32)),
                    label="A and B square, float32 stays float32"))
    out.append(Case((normal(rng, (2, 3, 4), np.float32), normal(rng, (4, 2), np.float32)),
                    label="float32 stays float32"))
    return out


# --------------------------------------------------------------------------- broadcast_shape and unbroadcast
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
    n, _, _ = _sizes(rng)
    square = [((n, n), (n, 1)), ((n, n), (1, n)), ((n, n), (n,)), ((n, n), (n, n)), ((2, n, n), (n, n)),
              ((n, n, n), (n, 1, n)), ((2, n, n), (1, n))]
    pairs = [((2, 3, 4), (3, 1)), ((3, 4), (4,)), ((3, 4), (3, 4)), ((3, 4), (1, 1)), ((3, 4), ()),
             ((5, 1, 2), (1, 1, 2)), ((1, 4), (1, 4)), ((2, 3), (1, 3)), ((4, 2, 3, 5), (2, 1, 5))]
    cases = [Case((normal(rng, g), s), label="square") for g, s in square]
    cases += [Case((normal(rng, g), s)) for g, s in pairs]
    cases.append(Case((normal(rng, (2, n, n), np.float32), (n, n)), label="square, float32 stays float32"))
    cases.append(Case((normal(rng, (3, 4), np.float32), (4,)), label="float32 stays float32"))
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
# relative accuracy where the derivative is small, so they get more; tanh is
# judged elementwise (each gradient element to eps |dout|, as 1 - t^2 is
# computed from t ~ 1). Beside each, the worst error / tolerance of the
# reference over 300 seeds (python -m fdl.sweep 1 --seeds 300).
EXACT_ISH = Tolerance(4, 4)  # exp 0.15, log 0.12, max 0.08, reshape 0.006, transpose 0.006
SUMS = Tolerance(32, 32)  # unbroadcast 0.05, add 0.03, mul 0.02, div 0.06, sum 0.05, mean 0.04
TANH = Tolerance(64, 64)  # 0.06
POW = Tolerance(64, 64)  # 0.08
MATMUL = Tolerance(64, 64)  # 0.02

CHECKS = {
    "broadcast_shape": function_check("broadcast_shape", lambda *s: jnp.broadcast_shapes(*s), SHAPE_CASES,
                                      names=["s1", "s2", "s3"]),
    "unbroadcast": function_check("unbroadcast", unbroadcast_oracle, unbroadcast_cases,
                                  names=["grad", "shape"], tol=SUMS),
    "add": vjp_check("add_forward", "add_backward", jnp.add, binary_cases(normal, normal), tol=SUMS),
    "mul": vjp_check("mul_forward", "mul_backward", jnp.multiply, binary_cases(normal, normal), tol=SUMS),
    "div": vjp_check("div_forward", "div_backward", jnp.divide, binary_cases(normal, nonzero, div_edges), tol=SUMS),
    "pow": vjp_check("pow_forward", "pow_backward", jnp.power, binary_cases(positive, normal), tol=POW),
    "exp": vjp_check("exp_forward", "exp_backward", jnp.exp, unary_cases(normal, exp_edges), names=["x"],
                     tol=EXACT_ISH),
    "log": vjp_check("log_forward", "log_backward", jnp.log, unary_cases(positive, log_edges), names=["x"],
                     tol=EXACT_ISH),
    "tanh": vjp_check("tanh_forward", "tanh_backward", jnp.tanh, unary_cases(normal, tanh_edges), names=["x"],
                      tol=TANH, elementwise=True),
    "sum": vjp_check("sum_forward", "sum_backward", jnp.sum, reduce_cases, names=["x"], tol=SUMS),
    "mean": vjp_check("mean_forward", "mean_backward", jnp.mean, reduce_cases, names=["x"], tol=SUMS),
    "max": vjp_check("max_forward", "max_backward", jnp.max, max_cases, names=["x"], tol=EXACT_ISH),
    "reshape": vjp_check("reshape_forward", "reshape_backward", jnp.reshape, reshape_cases, names=["x"],
                         tol=EXACT_ISH),
    "transpose": vjp_check("transpose_forward", "transpose_backward", jnp.transpose, transpose_cases,
                           names=["x"], tol=EXACT_ISH),
    "matmul": vjp_check("matmul_forward", "matmul_backward", jnp.matmul, matmul_cases, tol=MATMUL),
}
