"""Topic 04 checks: the perceptron rule step by step, sigmoid and logistic regression against JAX.

- ``perceptron``: whole training runs (several epochs over a small data set,
  separable or not) where the learner's ``perceptron_step`` is applied
  sample after sample to its own output, and the parameters after every step
  are compared with a ``jax.lax.scan`` of the rule written below in ``jnp``.
  Learning rates span 1e-3 to 10. Some data sets are small integers (or
  multiples of 1/4, with learning rates that are powers of 2), so every
  margin is exact and ties ``y (w . x + b) = 0`` really happen, in float64
  and float32.
- ``sigmoid``: ``jax.nn.sigmoid`` through :func:`fdl.check.vjp_check`,
  including |z| up to 1000, where ``exp(z) / (1 + exp(z))`` is
  ``inf / inf = nan``, and the left tail, where s is tiny and keeps its
  relative accuracy only in a stable formula. Then, at ``z = 0`` and ``|z|``
  up to 1000: no overflow warnings (a formula that computes ``exp(-z)`` for
  every z and picks the right branch afterwards gives the right numbers and
  overflows on the way), and exactly 1/2, 0 and 1 where those are the
  correctly rounded values.
- ``logistic_regression``: ``optax.sigmoid_binary_cross_entropy`` averaged
  over the batch; only the parameters are differentiated. Cases include a
  square design (where ``X @ r`` has the shape of ``X.T @ r``), logits of 50
  to 800, where ``log(sigmoid(z))`` computed naively is ``-inf``, and
  separable data with weights that make every logit large and right.
"""

from __future__ import annotations

import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import (
    CENTRAL, Case, CheckContext, Tolerance, central_difference_vjp, deep_copy, describe, noise_floor, vjp_check,
)
from fdl.check.compare import describe_args, to_numpy_tree
from fdl.check.pytree import tree_equal
from fdl.check.sample import hyper, normal, square_and_not, uniform

# --------------------------------------------------------------------------- tolerances
# In eps of the case dtype. Worst |error| / bound of the reference over seeds 0..299
# (python -m fdl.sweep 4 --seeds 300) beside each. The perceptron's parameters are sums of
# lr * y * x taken in the same order by both sides: equal up to a rounding or two. sigmoid
# is a few roundings; s (1 - s) near s = 1 cancels, which elementwise=True bounds by |dout|.
# The logistic loss sums terms max(z, 0) - y z + log1p(exp(-|z|)) that cancel when z is large
# and right, and its gradient sums s - y, which cancels when s is close to y, then X^T r over
# terms of either sign: their absolute tolerance is measured against the size of the terms
# (compare's scale=), and every comparison adds the oracle's noise floor.
PERCEPTRON = Tolerance(16, 16)  # 300 seeds: 0.15
SIGMOID = Tolerance(16, 16)  # 300 seeds: 0.04
LOGISTIC = Tolerance(8, 8)  # 300 seeds: 0.12
EXACT = Tolerance(0, 0)


# --------------------------------------------------------------------------- perceptron
@partial(jax.jit, static_argnames="lr")
def perceptron_oracle(w0, b0, X, Y, order, *, lr):
    """The rule, scanned over the samples ``X[order]``: params after every step.

    w0: (d,), b0: (), X: (n, d), Y: (n,) of -1.0 / +1.0, order: (steps,) sample indices.
    Returns ws: (steps, d), bs: (steps,), margins: (steps,) of y (w . x + b) before each step.
    """

    def step(carry, i):
        w, b = carry
        x, y = X[i], Y[i]
        margin = y * (jnp.dot(w, x) + b)
        mistake = margin <= 0
        w = jnp.where(mistake, w + lr * y * x, w)
        b = jnp.where(mistake, b + lr * y, b)
        return (w, b), (w, b, margin)

    _, (ws, bs, margins) = jax.lax.scan(step, (w0, b0), order)
    return ws, bs, margins


def _separable(rng, n, d):
    """Gaussian points labelled by a random hyperplane: linearly separable."""
    X = normal(rng, (n, d))
    u, c = normal(rng, d), float(normal(rng, (), scale=0.3))
    return X, np.where(X @ u + c > 0, 1.0, -1.0)


def _noisy(rng, n, d):
    """Gaussian points with random labels: almost never separable, the rule never settles."""
    return normal(rng, (n, d)), rng.choice([-1.0, 1.0], n)


def _grid(step):
    """Points on a grid of spacing ``step`` in [-2, 2]: every margin is exact, ties happen."""

    def sample(rng, n, d):
        k = round(2 / step)
        return rng.integers(-k, k + 1, (n, d)) * float(step), rng.choice([-1.0, 1.0], n)

    return sample


def perceptron_cases(rng) -> list[tuple]:
    """(label, data, n, d, epochs, lr, start, dtype); start is "zeros", "random" or "grid" (multiples of 1/4)."""
    lrs = [float(v) for v in rng.permutation(hyper(rng, 1e-3, 10.0, 3, log=True))]  # 1e-3, 10, one between
    dyadic = [2.0 ** int(k) for k in rng.integers(-4, 4, 2)]  # lr * x stays exact on a grid
    return [
        ("separable, from zeros", _separable, 11, 3, 4, lrs[0], "zeros", np.float64),
        ("not separable", _noisy, 9, 2, 4, lrs[1], "random", np.float64),
        ("integer points: exact ties y (w . x + b) = 0", _grid(1), 8, 2, 5, 1.0, "zeros", np.float64),
        ("separable, from random w", _separable, 7, 5, 3, lrs[2], "random", np.float64),
        ("one sample, d = 1", _noisy, 1, 1, 3, 1.0, "zeros", np.float64),
        ("float32 stays float32", _grid(0.25), 10, 4, 3, dyadic[0], "zeros", np.float32),
        ("float32 from w and b on the grid: exact ties", _grid(0.5), 9, 3, 3, dyadic[1], "grid", np.float32),
    ]


def _start(rng, start: str, d: int, dtype) -> dict:
    if start == "zeros":
        return {"w": np.zeros(d, dtype), "b": np.zeros((), dtype)}
    if start == "grid":
        return {"w": (rng.integers(-8, 9, d) / 4).astype(dtype), "b": np.array(rng.integers(-8, 9) / 4, dtype)}
    return {"w": normal(rng, d, dtype), "b": normal(rng, (), dtype)}


def _perceptron_check(ctx: CheckContext) -> None:
    step_fn = ctx.fn("perceptron_step")
    for label, data, n, d, epochs, lr, start, dtype in perceptron_cases(ctx.rng):
        X, Y = data(ctx.rng, n, d)
        X = X.astype(dtype)
        params = _start(ctx.rng, start, d, dtype)
        order = np.concatenate([ctx.rng.permutation(n) for _ in range(epochs)])
        origin = {"zeros": "w = 0, b = 0", "random": "random w, b", "grid": "w, b on a grid"}[start]
        ctx.case(f"perceptron_step over {epochs} epochs of X: {np.dtype(dtype).name} {X.shape}, lr={lr!r}, "
                 f"from {origin} [{label}]")
        ws, bs, margins = (np.asarray(a) for a in perceptron_oracle(
            jnp.asarray(params["w"]), jnp.asarray(params["b"]), jnp.asarray(X), jnp.asarray(Y.astype(dtype)),
            jnp.asarray(order), lr=lr))

        # the size of what w has been summed from: an update's rounding (XLA may fuse w + lr y x into one) is
        # relative to it, and w may cancel to far less
        sizes = np.maximum(np.abs(ws).max(axis=1, initial=0.0), np.abs(bs))
        scales = np.maximum(np.maximum.accumulate(sizes), max(float(np.abs(params["w"]).max(initial=0.0)),
                                                              abs(lr) * float(np.abs(X).max(initial=0.0))))
        for t, i in enumerate(order):
            where = f"step {t + 1} (epoch {t // n + 1}, sample {i})"
            x, y = X[i].copy(), int(Y[i])
            given_params, given_x = deep_copy(params), x.copy()
            new = ctx.call(step_fn, given_params, given_x, y, lr=lr)
            ctx.unchanged(params, given_params, "perceptron_step modified params in place; return new arrays "
                                                "(w + ..., not w += ...)")
            ctx.unchanged(x, given_x, "perceptron_step modified x in place")
            if not (isinstance(new, dict) and set(new) == {"w", "b"}):
                ctx.fail(f"perceptron_step must return a dict {{'w': ..., 'b': ...}}; it returned {describe(new)}")
            _explain_wrong_decision(ctx, params, new, float(margins[t]), where)
            ctx.compare(new, {"w": ws[t], "b": bs[t]}, PERCEPTRON, what=f"params after {where}",
                        against="the perceptron rule in jnp", scale=float(scales[t]))
            params = new


def _changed(before: dict, after: dict) -> bool:
    return any(not np.array_equal(np.asarray(before[k]), np.asarray(after[k])) for k in ("w", "b"))


def _explain_wrong_decision(ctx: CheckContext, before: dict, after: dict, margin: float, where: str) -> None:
    """Say in words when the step updated on a correct sample, or skipped a mistake."""
    updated = _changed(before, after)
    if margin == 0 and not updated:
        ctx.fail(f"at {where} y (w . x + b) is exactly 0 and perceptron_step left params unchanged: a margin "
                 f"of exactly 0 counts as a mistake (test <= 0, not < 0), or training from w = 0 never starts")
    if margin <= 0 and not updated:
        ctx.fail(f"at {where} the sample is misclassified, y (w . x + b) = {margin:.6g} <= 0, but "
                 f"perceptron_step left params unchanged; a mistake must update w and b")
    if margin > 0 and updated:
        ctx.fail(f"at {where} the sample is classified correctly, y (w . x + b) = {margin:.6g} > 0, but "
                 f"perceptron_step changed params; the perceptron updates only on mistakes")


# --------------------------------------------------------------------------- sigmoid
LARGE = np.array([-1000.0, -800.0, -710.0, -700.0, -40.0, -1.0, 0.0, 1.0, 40.0, 700.0, 1000.0])


def sigmoid_cases(rng) -> list[Case]:
    cases = [Case((normal(rng, s, scale=2.0),)) for s in square_and_not(rng, 2, 6)]
    cases += [Case((normal(rng, s, scale=2.0),)) for s in [(1,), (2, 3, 5), ()]]
    cases.append(Case((rng.permutation(LARGE).reshape(1, -1),), label="|z| up to 1000: exp(z) overflows"))
    cases.append(Case((np.zeros((3, 3)),), label="z = 0 gives 1/2"))
    # numeric=False: the central-difference step grows with |z|, and its truncation error with it
    cases.append(Case((uniform(rng, 7, low=-60.0, high=-20.0),), numeric=False,
                      label="the left tail: s is tiny and must keep its relative accuracy (1 - s(-z) loses it)"))
    z32 = np.concatenate([normal(rng, 6, scale=4.0), [-1000.0, -100.0, -40.0, 40.0, 100.0, 1000.0]])
    cases.append(Case((rng.permutation(z32).reshape(3, 4).astype(np.float32),),
                      label="float32 stays float32; exp overflows past 88"))
    k = int(rng.integers(2, 6))
    cases.append(Case((normal(rng, (k, k), np.float32, scale=3.0),), label="float32, a square matrix"))
    cases.append(Case((uniform(rng, 5, np.float32, low=-80.0, high=-15.0),), label="float32, the left tail"))
    return cases


# Where the correctly rounded value is exactly 1/2, 0 or 1 (e^z below half the smallest subnormal,
# e^-z below half an ulp of 1), and where the derivative is exactly 0 or 1/4.
EXTREMES = {np.float64: (np.array([-1000.0, -800.0, -750.0, 0.0, 40.0, 750.0, 800.0, 1000.0]), 750.0),
            np.float32: (np.array([-1000.0, -200.0, -120.0, 0.0, 20.0, 120.0, 200.0, 1000.0]), 120.0)}
_FLOATING_WARNINGS = ("overflow", "invalid value", "divide by zero")


def _sigmoid_extremes(ctx: CheckContext) -> None:
    """No overflow warnings at |z| up to 1000, and exact 1/2, 0 and 1 (and derivatives 1/4 and 0) there."""
    fwd, bwd = ctx.fn("sigmoid_forward"), ctx.fn("sigmoid_backward")
    for dtype, (values, flat) in EXTREMES.items():
        z = ctx.rng.permutation(values).astype(dtype)
        ctx.case(f"sigmoid_forward(z: {np.dtype(dtype).name} {z.shape}) at z = {sorted(z.tolist())} [no overflow "
                 f"warnings; exactly 1/2, 0 and 1 where those are the correctly rounded values]")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
                result = ctx.call(fwd, z.copy())
                if not (isinstance(result, tuple) and len(result) == 2):
                    ctx.fail(f"sigmoid_forward must return (out, cache); it returned {describe(result)}")
                out, cache = result
                dz = ctx.call(bwd, np.ones_like(z), cache)
        ctx.doing = "looking for NumPy's warnings, then comparing exactly"
        noted = sorted({str(w.message) for w in caught
                        if issubclass(w.category, RuntimeWarning) and any(k in str(w.message) for k in
                                                                           _FLOATING_WARNINGS)})
        if noted:
            ctx.fail(f"sigmoid_forward/backward made NumPy warn at these z ({'; '.join(noted)}): the values may be "
                     f"right, but something overflowed on the way, as exp(-z) does for z = -1000 even in a "
                     f"branch np.where then discards; exponentiate only -|z|, which is <= 0")
        expected = np.asarray(jax.nn.sigmoid(jnp.asarray(z)))
        ctx.compare(out, expected, EXACT, what="sigmoid_forward output, which must be exactly 0, 1/2 or 1 here "
                                               "(clipping z gives something else)",
                    against="jax.nn.sigmoid")
        where = (np.abs(z) >= flat) | (z == 0)  # the derivative e^-|z| (1 + e^-|z|)^-2 rounds to 0, or is 1/4
        ctx.compare(np.asarray(dz)[where], np.where(z == 0, 0.25, 0.0)[where].astype(dtype), EXACT,
                    what=f"gradient of z at z = {z[where].tolist()} (dout = 1), which must be exactly 1/4 or 0",
                    against="s (1 - s)")


_sigmoid_values = vjp_check("sigmoid_forward", "sigmoid_backward", jax.nn.sigmoid, sigmoid_cases, names=["z"],
                            tol=SIGMOID, float32=False, elementwise=True)


def _sigmoid_check(ctx: CheckContext) -> None:
    _sigmoid_values(ctx)
    _sigmoid_extremes(ctx)


_sigmoid_check.__doc__ = _sigmoid_values.__doc__


# --------------------------------------------------------------------------- logistic regression
def logistic_oracle(X, y, params):
    """Mean binary cross-entropy of sigmoid(X w + b) against y, by optax."""
    return optax.sigmoid_binary_cross_entropy(X @ params["w"] + params["b"], y).mean()


@jax.jit
def logistic_oracle_vjp(X, y, params, dloss):
    """The loss and ``jax.vjp`` of the loss for ``dloss``."""
    loss, vjp = jax.vjp(lambda p: logistic_oracle(X, y, p), params)
    (grads,) = vjp(dloss)
    return loss, grads


def logistic_terms(X, y, params, dloss) -> tuple[float, dict]:
    """The size of the terms the loss and each gradient sum, for ``compare(scale=)``.

    The loss is a mean of ``max(z, 0) - y z + log1p(exp(-|z|))``: when z is large and right the first
    two cancel, and a formula that rounds them another way errs by eps times |z|, not times the loss.
    dL/dw = X^T r dloss / n and dL/db = sum(r) dloss / n with r = s - y sum differences: s - y cancels
    when s is close to y, and the sums cancel over terms of either sign, so their rounding follows the
    sums with s - y replaced by s + y, every term in absolute value.
    """
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    z = X @ np.asarray(params["w"], np.float64) + float(params["b"])
    n = X.shape[0]
    loss_terms = float(np.mean(np.maximum(z, 0) + np.abs(y * z) + np.log1p(np.exp(-np.abs(z)))))
    s = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
    r = (s + y) * abs(float(dloss)) / n
    return abs(float(dloss)) * loss_terms, {"w": float(np.max(np.abs(X).T @ r, initial=0.0)), "b": float(r.sum())}


def _params(rng, d, dtype=np.float64, scale=1.0):
    return {"w": normal(rng, d, dtype, scale=scale), "b": normal(rng, (), dtype)}


def _labels(rng, n, dtype=np.float64):
    return rng.integers(0, 2, n).astype(dtype)


def logistic_cases(rng) -> list[Case]:
    cases = []
    for n, d in square_and_not(rng, 2, 7):  # the square design first: X @ r has the shape of X.T @ r there
        cases.append(Case((normal(rng, (n, d)), _labels(rng, n), _params(rng, d)),
                          label="a square design" if n == d else ""))
    for n, d in [(1, 4), (13, 1)]:
        cases.append(Case((normal(rng, (n, d)), _labels(rng, n), _params(rng, d))))
    # logits of 50 to 800 of either sign; half the samples confidently right, half confidently wrong
    n = 8
    wrong = rng.permutation(n) < n // 2
    sign = np.where(wrong, -1.0, rng.choice([-1.0, 1.0], n))
    X = np.stack([sign * uniform(rng, n, low=50.0, high=800.0), normal(rng, n)], axis=1)
    y = np.where(wrong, 1.0, sign > 0).astype(np.float64)
    big = {"w": np.array([1.0, 0.3]), "b": np.array(0.5)}
    # numeric=False: central differences of a loss of ~400 lose more digits than a gradient of ~0.1 has
    cases.append(Case((X, y, big), numeric=False, label="logits of 50 to 800: log(sigmoid) is -inf naively"))
    # separable data, and weights scaled until the smallest logit is 2 to 10: every sample right, most by far
    n, d = 12, 3
    X = normal(rng, (n, d))
    u, c = normal(rng, d), float(normal(rng, (), scale=0.3))
    margin = X @ u + c
    k = float(hyper(rng, 2.0, 10.0, 1, include_low=False, include_high=False)[0]) / max(np.abs(margin).min(), 1e-3)
    separable = {"w": k * u, "b": np.array(k * c)}
    cases.append(Case((X, (margin > 0).astype(np.float64), separable), numeric=False,
                      label="separable data, weights that make every logit large and right: the loss is tiny"))
    zero = {"w": np.zeros(3), "b": np.zeros(())}
    cases.append(Case((normal(rng, (5, 3)), _labels(rng, 5), zero), label="w = 0, b = 0: loss log 2"))
    cases.append(Case((normal(rng, (4, 2)), np.ones(4), _params(rng, 2)), label="every label 1"))
    X32 = normal(rng, (16, 3), np.float32, scale=4.0)
    cases.append(Case((X32, _labels(rng, 16, np.float32), _params(rng, 3, np.float32, scale=3.0)),
                      label="float32 stays float32; logits up to ~40"))
    k = int(rng.integers(2, 6))
    cases.append(Case((normal(rng, (k, k), np.float32), _labels(rng, k, np.float32), _params(rng, k, np.float32)),
                      label="float32, a square design"))
    return cases


def _logistic_check(ctx: CheckContext) -> None:
    """logistic_forward/logistic_backward against optax and jax.vjp, and central differences."""
    fwd, bwd = ctx.fn("logistic_forward"), ctx.fn("logistic_backward")
    for case in logistic_cases(ctx.rng):
        args = case.args
        X, y, params = args
        ctx.case(f"logistic_forward({describe_args(['X', 'y', 'params'], args)})"
                 + (f" [{case.label}]" if case.label else ""))

        # 1. the loss
        given = deep_copy(args)
        result = ctx.call(fwd, *given)
        if not (isinstance(result, tuple) and len(result) == 2):
            ctx.fail(f"logistic_forward must return (loss, cache); it returned {describe(result)}")
        loss, cache = result
        ctx.unchanged(args, given, "logistic_forward modified one of its inputs in place; work on copies")
        dloss = normal(ctx.rng, (), X.dtype)
        inputs = (X, y, params, dloss)
        expected = to_numpy_tree(logistic_oracle_vjp(*inputs))
        loss_floor, grad_floor = noise_floor(lambda *a: logistic_oracle_vjp(*a), inputs, expected, LOGISTIC)
        loss_terms, grad_terms = logistic_terms(*inputs)
        ctx.compare(loss, expected[0], LOGISTIC, what="logistic_forward output (the loss)",
                    against="optax.sigmoid_binary_cross_entropy(...).mean()", floor=loss_floor,
                    scale=loss_terms / max(abs(float(dloss)), 1e-300))

        # 2. the gradient against jax.vjp
        cache_kept = deep_copy(cache)
        grads = ctx.call(bwd, dloss.copy(), cache)
        if not (isinstance(grads, dict) and set(grads) == {"w", "b"}):
            ctx.fail(f"logistic_backward must return the gradient of params, a dict {{'w': ..., 'b': ...}} "
                     f"like params; it returned {describe(grads)}")
        for key in ("w", "b"):
            ctx.compare(grads[key], expected[1][key], LOGISTIC, what=f"gradient of params[{key!r}]",
                        against="jax.vjp of the oracle", scale=grad_terms[key], floor=grad_floor[key])

        # 3. state: the cache and the inputs left alone, the same answer twice
        ctx.doing = "checking that logistic_backward left its cache alone"
        if not tree_equal(cache, cache_kept):
            ctx.fail("logistic_backward modified its cache in place (an array logistic_forward saved for it): "
                     "compute into new arrays")
        ctx.unchanged(args, given, "logistic_backward modified the inputs of logistic_forward in place (through "
                                   "the cache); work on copies")
        first = deep_copy(grads)
        ctx.doing = "calling logistic_backward a second time with the same dloss"
        again = bwd(dloss.copy(), cache)
        if not tree_equal(grads, first):
            ctx.fail("calling logistic_backward again changed the gradients its first call returned: they share "
                     "memory with the cache (return new arrays)")
        if not tree_equal(again, first):
            ctx.fail("logistic_backward gave a different gradient the second time it was called with the same dloss "
                     "and cache: it keeps state between calls, or changed its cache")
        ctx.doing = ""

        # 4. the gradient against central differences of the checked forward
        if case.numeric and X.dtype == np.float64:
            ctx.doing = f"central differences of logistic_forward, case {ctx.cases}"
            (numeric,) = central_difference_vjp(lambda *a: fwd(*deep_copy(a))[0], deep_copy(args), (2,), dloss)
            for key in ("w", "b"):
                ctx.compare(grads[key], numeric[key], CENTRAL, what=f"gradient of params[{key!r}]",
                            against="central differences of the forward", scale=max(grad_terms[key], loss_terms))
            ctx.doing = ""


CHECKS = {
    "perceptron": _perceptron_check,
    "sigmoid": _sigmoid_check,
    "logistic_regression": _logistic_check,
}
