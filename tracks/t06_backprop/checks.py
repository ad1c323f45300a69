"""Topic 06 checks: backward passes against ``jax.vjp`` and central differences, the checker against ``jax.grad``.

``linear`` and ``mlp`` run the learner's topic 05 forward and topic 06
backward on topic 05's cases (odd sizes, batch 1, no batch axis, extra
leading batch axes, square layers and batches, 1 to 4 layers, float32)
with a random cotangent ``dout``, and compare the gradients with ``jax.vjp`` of a jnp oracle
(``jnp.matmul``, ``jax.nn.relu``) and, on the small float64 cases, with
central differences of the learner's own forward.

``numerical_gradient`` is compared with ``jax.grad`` of the same function
written in jnp, on several functions and shapes (0-d to 3-d), in float64
and float32, square and not, within ``Tolerance.central`` (errors of order
``eps^(2/3)``): a forward difference, a step that does not scale with
``|x_i|`` or that ignores the dtype, or an ``h`` argument that is not used,
all FAIL. The cases with a given ``h`` (from 1e-5 to 0.3) use
``f = sum(x^3)``, whose central difference is exactly ``3 x^2 + h^2``, so
the step actually taken shows. ``x`` must come back unmodified, and ``f``
must be called with arrays shaped like ``x``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fdl.check import CheckContext, CheckFailure, Tolerance, describe, vjp_check
from fdl.check.sample import hyper, nonzero, normal
from tracks.t05_mlp_forward.checks import linear_cases, linear_oracle, mlp_cases, mlp_oracle

# --------------------------------------------------------------------------- numerical_gradient


class Function:
    """A scalar function twice: in NumPy (what the learner differentiates) and in jnp (for jax.grad)."""

    def __init__(self, name: str, numpy_fn: Callable, jax_fn: Callable):
        self.name = name
        self.numpy_fn = numpy_fn
        self.grad = jax.jit(jax.grad(jax_fn))  # jax.grad of the same function: the oracle


def _np_logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


FUNCTIONS = {
    "sin": Function("sum(sin(x) * x^2)", lambda x: np.sum(np.sin(x) * x**2), lambda x: jnp.sum(jnp.sin(x) * x**2)),
    "logsumexp": Function("log(sum(exp(x)))", _np_logsumexp, jax.nn.logsumexp),
    "tanh": Function("sum(tanh(x) * x[::-1])", lambda x: np.sum(np.tanh(x) * x[::-1]),
                     lambda x: jnp.sum(jnp.tanh(x) * x[::-1])),
    # f' >= 1: a one-element gradient is judged against its own size, which must not be near 0
    "scalar": Function("exp(x) + x", lambda x: np.exp(x) + x, lambda x: jnp.exp(x) + x),
    "large": Function("sum(sqrt(1 + x^2))", lambda x: np.sum(np.sqrt(1 + x * x)),
                      lambda x: jnp.sum(jnp.sqrt(1 + x * x))),
    "cube": Function("sum(x^3)", lambda x: np.sum(x**3), lambda x: jnp.sum(x**3)),
}

# (function, shape, scale of x, dtype, h, label); gradient_cases adds square ones and a range of h
GRADIENT_CASES = [
    ("sin", (5,), 1.0, np.float64, None, ""),
    ("sin", (3, 4), 1.0, np.float64, None, ""),
    ("logsumexp", (2, 3, 2), 1.0, np.float64, None, ""),
    ("tanh", (4, 3), 1.0, np.float64, None, ""),
    ("scalar", (), 1.0, np.float64, None, "0-d x"),
    ("large", (3, 4), 1e4, np.float64, None, "|x| ~ 1e4: the step must grow with |x_i|"),
    ("sin", (4, 3), 1.0, np.float32, None, "float32: the step from float32's eps"),
    ("logsumexp", (7,), 1.0, np.float32, None, "float32: the step from float32's eps"),
]
# a given h from 1e-5 to 0.3: the central difference of x^3 is exactly 3 x^2 + h^2, so a step other than h
# shows (h^2 stands out above the tolerance from h ~ 1e-4 on), and a small h is used as given too
H_RANGE = (1e-5, 0.3)


def gradient_cases(rng) -> list[tuple]:
    """GRADIENT_CASES, a square x in float64 and float32, and f = sum(x^3) at several given h."""
    n = int(rng.integers(2, 6))
    cases = list(GRADIENT_CASES)
    cases.insert(2, ("tanh", (n, n), 1.0, np.float64, None, "square x"))
    cases.append(("sin", (n, n), 1.0, np.float32, None, "square x, float32"))
    for h in hyper(rng, *H_RANGE, 3, log=True):
        cases.append(("cube", (6,), 1.0, np.float64, h, "h given: the central difference of x^3 is 3 x^2 + h^2"))
    return cases


def check_numerical_gradient(ctx: CheckContext) -> None:
    """numerical_gradient against jax.grad of the same function."""
    numgrad = ctx.fn("numerical_gradient")
    for key, shape, scale, dtype, h, label in gradient_cases(ctx.rng):
        fn = FUNCTIONS[key]
        if scale == 1:
            x = normal(ctx.rng, shape, dtype)
        else:  # every |x_i| in [scale / 2, 2 scale)
            x = (scale * nonzero(ctx.rng, shape)).astype(dtype)
        given = x.copy()
        shown = f", h={h:.3g}" if h is not None else ""
        ctx.case(f"numerical_gradient(f = {fn.name}, x: {np.dtype(dtype).name} {shape}{shown})"
                 + (f" [{label}]" if label else ""))

        def f(z, fn=fn, shape=shape, dtype=dtype):
            if not isinstance(z, np.ndarray) or z.shape != shape or z.dtype != dtype:
                ctx.fail(f"numerical_gradient must call f with an array shaped like x ({np.dtype(dtype).name} "
                         f"{shape}); it called f with {describe(z)}")
            return fn.numpy_fn(z)

        got = ctx.call(numgrad, f, given) if h is None else ctx.call(numgrad, f, given, h=h)
        ctx.unchanged(x, given, "numerical_gradient left x modified: put every perturbed element back exactly "
                                "(save the original value and restore it, or perturb a copy of x)")
        expected = np.asarray(fn.grad(jnp.asarray(x)))
        if h is not None:  # (f(x+h) - f(x-h)) / 2h = 3 x^2 + h^2 for f = sum(x^3), exactly
            expected = expected + h * h
        try:
            ctx.compare(got, expected, GRADIENT, what="numerical gradient", against="jax.grad of the same function")
        except CheckFailure as failure:
            raise _with_step_note(failure, dtype) from None


def _with_step_note(failure: CheckFailure, dtype) -> CheckFailure:
    """Add what the size of a small error says about the formula or the step."""
    rel = failure.comparison.rel if failure.comparison is not None else None
    if rel is None or not np.isfinite(rel) or rel > 1e-2:
        return failure
    eps = float(np.finfo(dtype).eps)
    note = (f"\n  note: that is an error of {rel:.1e} of max|gradient|; central differences with the step "
            f"eps^(1/3) * max(1, |x_i|) err by about eps^(2/3) = {eps ** (2 / 3):.0e} ({np.dtype(dtype).name}), "
            f"a forward difference by about eps^(1/2) = {eps ** 0.5:.0e}, a step of the wrong size by more")
    head, sep, tail = str(failure).partition("\n  in case")
    return CheckFailure(head + note + sep + tail, failure.comparison)


# --------------------------------------------------------------------------- tolerances
# In eps of the case's dtype, calibrated over 300 seeds (``python -m fdl.sweep 6``;
# worst |err| / bound: linear 0.20, mlp 0.13, numerical_gradient 0.15). Backward passes are matmuls and sums over the batch, chained over up
# to 4 layers; a sum that cancels keeps the rounding of its terms, hence the
# larger MLP budget. Central differences (of the learner's forward, and
# numerical_gradient) err by order eps^(2/3): Tolerance.central.
LINEAR = Tolerance(8, 8)
MLP = Tolerance(16, 16)
NUMERIC = Tolerance.central(32)
GRADIENT = Tolerance.central(64)

CHECKS = {
    "linear": vjp_check("linear_forward", "linear_backward", linear_oracle, linear_cases, names=["x", "params"],
                        tol=LINEAR, numeric_tol=NUMERIC),
    "mlp": vjp_check("mlp_forward", "mlp_backward", mlp_oracle, mlp_cases, names=["x", "params"],
                     tol=MLP, numeric_tol=NUMERIC),
    "numerical_gradient": check_numerical_gradient,
}
