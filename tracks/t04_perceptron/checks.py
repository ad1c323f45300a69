"""Topic 04 checks: the perceptron rule step by step, sigmoid and logistic regression against JAX.

- ``perceptron``: whole training runs (several epochs over a small data set,
  separable or not) where the learner's ``perceptron_step`` is applied
  sample after sample to its own output, and the parameters after every step
  are compared with a ``jax.lax.scan`` of the rule written below in ``jnp``.
  Some data sets are small integers (or multiples of 1/4), so every margin
  is exact and ties ``y (w . x + b) = 0`` really happen, in float64 and float32.
- ``sigmoid``: ``jax.nn.sigmoid``, including |z| up to 1000, where
  ``exp(z) / (1 + exp(z))`` is ``inf / inf = nan``.
- ``logistic_regression``: ``optax.sigmoid_binary_cross_entropy`` averaged
  over the batch; only the parameters are differentiated. Cases include
  logits of 50 to 800, where ``log(sigmoid(z))`` computed naively is ``-inf``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import CENTRAL, Case, CheckContext, Tolerance, central_difference_vjp, deep_copy, describe, vjp_check
from fdl.check.compare import describe_args, to_numpy_tree

# --------------------------------------------------------------------------- tolerances
# In eps of the case dtype, calibrated on the reference over 300 seeds (worst
# |error| / bound: perceptron 0.20, sigmoid 0.20, logistic 0.18). The
# perceptron's parameters are sums of lr * y * x taken in the same order by
# both sides: equal up to a rounding or two. sigmoid is a few roundings, but
# s (1 - s) near s = 1 cancels, most in float32; the max|expected| term
# absorbs it. The logistic loss is a mean of positive terms; its gradient sums
# differences (s - y, then X^T r over terms of either sign), so its absolute
# part is measured against the size of the terms (see logistic_oracle_vjp).
PERCEPTRON = Tolerance(8, 8)
SIGMOID = Tolerance(16, 32)
LOGISTIC = Tolerance(8, 8)


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
    X = rng.standard_normal((n, d))
    u, c = rng.standard_normal(d), 0.3 * rng.standard_normal()
    Y = np.where(X @ u + c > 0, 1.0, -1.0)
    return X, Y


def _noisy(rng, n, d):
    """Gaussian points with random labels: almost never separable, the rule never settles."""
    return rng.standard_normal((n, d)), rng.choice([-1.0, 1.0], n)


def _grid(step):
    """Points on a grid of spacing ``step`` in [-2, 2]: every margin is exact, ties happen."""

    def sample(rng, n, d):
        k = round(2 / step)
        return rng.integers(-k, k + 1, (n, d)) * float(step), rng.choice([-1.0, 1.0], n)

    return sample


# (label, data, n, d, epochs, lr, start from zeros, dtype)
PERCEPTRON_CASES = [
    ("separable, from zeros", _separable, 11, 3, 4, 1.0, True, np.float64),
    ("not separable", _noisy, 9, 2, 4, 0.5, False, np.float64),
    ("integer points: exact ties y (w . x + b) = 0", _grid(1), 8, 2, 5, 1.0, True, np.float64),
    ("lr = 0.1", _separable, 7, 5, 3, 0.1, False, np.float64),
    ("one sample, d = 1", _noisy, 1, 1, 3, 1.0, True, np.float64),
    ("float32 stays float32", _grid(0.25), 10, 4, 3, 0.5, True, np.float32),
]


def _perceptron_check(ctx: CheckContext) -> None:
    step_fn = ctx.fn("perceptron_step")
    for label, data, n, d, epochs, lr, zeros, dtype in PERCEPTRON_CASES:
        X, Y = data(ctx.rng, n, d)
        X = X.astype(dtype)
        if zeros:
            params = {"w": np.zeros(d, dtype), "b": np.zeros((), dtype)}
        else:
            params = {"w": ctx.rng.standard_normal(d).astype(dtype), "b": np.array(ctx.rng.standard_normal(), dtype)}
        order = np.concatenate([ctx.rng.permutation(n) for _ in range(epochs)])
        ctx.case(f"perceptron_step over {epochs} epochs of X: {np.dtype(dtype).name} {X.shape}, lr={lr}, "
                 f"from {'w = 0, b = 0' if zeros else 'random w, b'} [{label}]")
        ws, bs, margins = (np.asarray(a) for a in perceptron_oracle(
            jnp.asarray(params["w"]), jnp.asarray(params["b"]), jnp.asarray(X), jnp.asarray(Y.astype(dtype)),
            jnp.asarray(order), lr=lr))

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
                        against="the perceptron rule in jnp")
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


def sigmoid_cases(rng):
    cases = [Case((np.asarray(rng.standard_normal(s) * 2),)) for s in [(3, 4), (1,), (2, 3, 5), (), (1, 1, 7)]]
    cases.append(Case((rng.permutation(LARGE).reshape(1, -1),), label="|z| up to 1000: exp(z) overflows"))
    cases.append(Case((np.zeros((2, 3)),), label="z = 0 gives 1/2"))
    z32 = np.concatenate([rng.standard_normal(6) * 4, [-1000.0, -100.0, -40.0, 40.0, 100.0, 1000.0]])
    cases.append(Case((rng.permutation(z32).reshape(3, 4).astype(np.float32),),
                      label="float32 stays float32; exp overflows past 88"))
    return cases


# --------------------------------------------------------------------------- logistic regression
def logistic_oracle(X, y, params):
    """Mean binary cross-entropy of sigmoid(X w + b) against y, by optax."""
    return optax.sigmoid_binary_cross_entropy(X @ params["w"] + params["b"], y).mean()


@jax.jit
def logistic_oracle_vjp(X, y, params, dloss):
    """The loss, ``jax.vjp`` of the loss for ``dloss``, and the size of the terms each gradient sums.

    dL/dw = X^T r dloss / n and dL/db = sum(r) dloss / n with r = sigmoid(z) - y are sums of
    differences: s - y cancels when s is close to y, and the sums cancel when the terms have
    either sign, so a result can be far smaller than what it is made of, and its rounding
    (which differs with the order of operations) is proportional to what it is made of.
    ``scale`` is that size per gradient entry: the sums with s - y replaced by s + y, all
    terms taken in absolute value.
    """
    loss, vjp = jax.vjp(lambda p: logistic_oracle(X, y, p), params)
    (grads,) = vjp(dloss)
    n = X.shape[0]
    r = (jax.nn.sigmoid(X @ params["w"] + params["b"]) + y) * jnp.abs(dloss) / n  # (n,) s, y >= 0
    scale = {"w": jnp.abs(X).T @ r, "b": r.sum()}
    return loss, grads, scale


def _params(rng, d, dtype=np.float64, scale=1.0):
    return {"w": (scale * rng.standard_normal(d)).astype(dtype), "b": np.array(rng.standard_normal(), dtype)}


def _labels(rng, n, dtype=np.float64):
    return rng.integers(0, 2, n).astype(dtype)


def logistic_cases(rng):
    cases = []
    for n, d in [(7, 3), (1, 4), (13, 1), (6, 5)]:
        cases.append(Case((rng.standard_normal((n, d)), _labels(rng, n), _params(rng, d))))
    # logits of 50 to 800 of either sign; half the samples confidently right, half confidently
    # wrong, those with label 1 (s - y = -1 each: were some +1, the sum for db could cancel to an
    # exact 0 that no tolerance relative to the result allows rounding around)
    n = 8
    wrong = rng.permutation(n) < n // 2
    sign = np.where(wrong, -1.0, rng.choice([-1.0, 1.0], n))
    X = np.stack([sign * rng.uniform(50, 800, n), rng.standard_normal(n)], axis=1)
    y = np.where(wrong, 1.0, sign > 0).astype(np.float64)
    big = {"w": np.array([1.0, 0.3]), "b": np.array(0.5)}
    # numeric=False: central differences of a loss of ~400 lose more digits than a gradient of ~0.1 has
    cases.append(Case((X, y, big), numeric=False, label="logits of 50 to 800: log(sigmoid) is -inf naively"))
    zero = {"w": np.zeros(3), "b": np.zeros(())}
    cases.append(Case((rng.standard_normal((5, 3)), _labels(rng, 5), zero), label="w = 0, b = 0: loss log 2"))
    cases.append(Case((rng.standard_normal((4, 2)), np.ones(4), _params(rng, 2)), label="every label 1"))
    X32 = (rng.standard_normal((16, 3)) * 4).astype(np.float32)
    cases.append(Case((X32, _labels(rng, 16, np.float32), _params(rng, 3, np.float32, scale=3.0)),
                      label="float32 stays float32; logits up to ~40"))
    return cases


def _tolerance_for_sum(tol: Tolerance, expected: np.ndarray, scale: np.ndarray) -> Tolerance:
    """``tol`` with its absolute part measured against the terms of the sum, not its result.

    compare() bounds the error by ``rel eps |expected| + abs eps max|expected|``; here the second
    term becomes ``abs eps max(scale)``, the error a sum of terms of that size can carry.
    """
    top = float(np.max(np.abs(expected))) if expected.size else 0.0
    big = float(np.max(scale)) if scale.size else 0.0
    if big <= top:
        return tol
    return Tolerance(tol.rel, tol.abs * big / top if top > 0 else tol.abs * 1e300, tol.power)


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
        dloss = np.asarray(ctx.rng.standard_normal(), dtype=X.dtype)
        expected, expected_grads, scale = to_numpy_tree(logistic_oracle_vjp(X, y, params, dloss))
        ctx.compare(loss, expected, LOGISTIC, what="logistic_forward output (the loss)",
                    against="optax.sigmoid_binary_cross_entropy(...).mean()")

        # 2. the gradient against jax.vjp
        grads = ctx.call(bwd, dloss.copy(), cache)
        if not (isinstance(grads, dict) and set(grads) == {"w", "b"}):
            ctx.fail(f"logistic_backward must return the gradient of params, a dict {{'w': ..., 'b': ...}} "
                     f"like params; it returned {describe(grads)}")
        for key in ("w", "b"):
            ctx.compare(grads[key], expected_grads[key], _tolerance_for_sum(LOGISTIC, expected_grads[key],
                        scale[key]), what=f"gradient of params[{key!r}]", against="jax.vjp of the oracle")

        # 3. the gradient against central differences of the checked forward
        if case.numeric and X.dtype == np.float64:
            ctx.doing = f"central differences of logistic_forward, case {ctx.cases}"
            (numeric,) = central_difference_vjp(lambda *a: fwd(*deep_copy(a))[0], deep_copy(args), (2,), dloss)
            for key in ("w", "b"):
                ctx.compare(grads[key], numeric[key], _tolerance_for_sum(CENTRAL, numeric[key], scale[key]),
                            what=f"gradient of params[{key!r}]", against="central differences of the forward")


CHECKS = {
    "perceptron": _perceptron_check,
    "sigmoid": vjp_check("sigmoid_forward", "sigmoid_backward", jax.nn.sigmoid, sigmoid_cases, names=["z"],
                         tol=SIGMOID),
    "logistic_regression": _logistic_check,
}
