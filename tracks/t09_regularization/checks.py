"""Topic 09 checks: penalties against ``jax.vjp``, weight decay against optax, dropout, early stopping.

- **l1, l2**: the penalty of a parameter pytree (dicts, nested dicts, lists of
  dicts, float32) against ``jnp`` over the tree's leaves, its gradient against
  ``jax.vjp`` of that oracle (parameters only, ``lam`` is a constant) and, on
  the dict cases, against central differences of the checked forward. One
  case puts weights at exactly 0, where JAX's derivative of ``|w|`` is +1.
- **weight_decay**: ``add_decayed_weights`` next to ``optax.add_decayed_weights``
  for several steps of random updates and parameters, on several pytrees;
  ``update`` without parameters must raise ``ValueError``.
- **dropout**: with a given keep-mask, ``vjp_check`` against ``x * mask / (1 - p)``
  in ``jnp`` (the mask is a keyword); with a Generator, the statistics (the
  kept fraction is 1 - p, the mean is preserved, survivors are scaled by
  1 / (1 - p)) and reproducibility from the Generator's state; evaluation
  mode and p = 0 are the identity; p outside [0, 1) raises ``ValueError``.
- **early_stopping**: against an oracle written here independently, on
  hundreds of random loss curves and the edge cases (empty, ties, min_delta,
  patience 0 and 1).

Tolerances are in machine epsilons of the case's dtype, calibrated by running
the reference over 40 seeds (worst ratio under a third of the bound).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import Case, Tolerance, deep_copy, vjp_check
from fdl.check.compare import describe, to_numpy_tree

# --------------------------------------------------------------------------- tolerances
# A penalty sums every weight once (a reduction whose order differs from
# XLA's); its gradient is one or two roundings per element; the weight-decay
# update is one multiply-add per element; dropout one multiply and one divide.
PENALTY = Tolerance(16, 16)
ELEMENTWISE = Tolerance(4, 4)


def normal(rng, shape, dtype=np.float64):
    return np.asarray(rng.standard_normal(shape)).astype(dtype)


def _mlp_like(rng, sizes, dtype=np.float64) -> list[dict]:
    """A list of {"W", "b"} dicts, the shape of topic 05's MLP parameters."""
    return [{"W": normal(rng, (a, b), dtype), "b": normal(rng, (b,), dtype)} for a, b in zip(sizes[:-1], sizes[1:])]


# --------------------------------------------------------------------------- l1, l2
def l1_oracle(params, lam):
    return lam * sum(jnp.sum(jnp.abs(w)) for w in jax.tree_util.tree_leaves(params))


def l2_oracle(params, lam):
    return lam / 2 * sum(jnp.sum(jnp.square(w)) for w in jax.tree_util.tree_leaves(params))


def penalty_dict_cases(rng):
    """Parameter dicts (the engine's vjp_check walks dicts): flat, nested, 0-d leaf, float32, zeros."""
    cases = [
        Case(({"W": normal(rng, (3, 4)), "b": normal(rng, (4,))}, 0.1), diff=(0,)),
        Case(({"w": normal(rng, (7,))}, 1.0), diff=(0,), label="one leaf"),
        Case(({"layer1": {"W": normal(rng, (2, 5)), "b": normal(rng, (5,))},
               "layer2": {"W": normal(rng, (5, 3)), "b": normal(rng, (3,))}}, 0.03), diff=(0,), label="nested dicts"),
        Case(({"scale": normal(rng, ()), "W": normal(rng, (1, 1))}, 2.5), diff=(0,), label="0-d and 1x1 leaves"),
        Case(({"W": normal(rng, (4, 3), np.float32), "b": normal(rng, (3,), np.float32)}, 0.01), diff=(0,),
             label="float32 stays float32"),
    ]
    w = normal(rng, (3, 5))
    w[rng.random(w.shape) < 0.4] = 0.0
    cases.append(Case(({"W": w, "b": np.zeros(5)}, 0.5), diff=(0,), numeric=False,
                      label="weights exactly 0: JAX's derivative of |w| there is +1"))
    return cases


def penalty_list_cases(rng) -> list[tuple[list, float, str]]:
    """Lists of layer dicts, as an MLP's parameters: (params, lam, label)."""
    return [
        (_mlp_like(rng, [4, 6, 3]), 0.05, "list of 2 layer dicts"),
        (_mlp_like(rng, [3, 2]), 1.0, "list of 1 layer dict"),
        (_mlp_like(rng, [5, 4, 4, 2], np.float32), 0.2, "list of 3 layer dicts, float32"),
    ]


def penalty_check(forward: str, backward: str, oracle):
    """vjp_check on the dict cases, then the same comparisons on lists of layer dicts."""
    dict_check = vjp_check(forward, backward, oracle, penalty_dict_cases, names=["params", "lam"], tol=PENALTY)

    @partial(jax.jit, static_argnums=1)
    def oracle_vjp(params, lam, dout):  # one compiled program per tree structure
        out, vjp = jax.vjp(lambda p: oracle(p, lam), params)
        return out, vjp(dout)[0]

    def check(ctx) -> None:
        dict_check(ctx)
        fwd, bwd = ctx.fn(forward), ctx.fn(backward)
        for params, lam, label in penalty_list_cases(ctx.rng):
            ctx.case(f"{forward}(params: list of {len(params)} dicts {{W, b}}, lam={lam}) [{label}]")
            given = deep_copy(params)
            result = ctx.call(fwd, given, lam)
            if not (isinstance(result, tuple) and len(result) == 2):
                ctx.fail(f"{forward} must return (penalty, cache); it returned {describe(result)}")
            ctx.unchanged(params, given, f"{forward} modified the parameters in place; work on copies")
            dout = normal(ctx.rng, (), np.result_type(*jax.tree_util.tree_leaves(params)))
            expected, expected_grads = to_numpy_tree(oracle_vjp(params, lam, dout))
            got_dtype = np.asarray(result[0]).dtype
            if got_dtype != expected.dtype:  # a float64 NumPy scalar would otherwise pass as a Python float
                ctx.fail(f"{forward} output: expected dtype {expected.dtype.name} (the parameters' dtype), got "
                         f"{got_dtype.name}; a float64 start value or constant promotes a float32 sum")
            ctx.compare(result[0], expected, PENALTY, what=f"{forward} output", against="the JAX oracle")
            grads = ctx.call(bwd, deep_copy(dout), result[1])
            ctx.compare(grads, expected_grads, PENALTY, what="gradient of params", against="jax.vjp of the oracle")

    check.__doc__ = f"{forward}/{backward} on parameter pytrees against jax.vjp and central differences"
    return check


# --------------------------------------------------------------------------- weight decay
def decay_cases(rng) -> list[tuple[object, float, str]]:
    """(params, weight_decay, label): the pytrees an optimizer sees."""
    return [
        ({"W": normal(rng, (3, 4)), "b": normal(rng, (4,))}, 0.1, "a dict"),
        (_mlp_like(rng, [5, 3, 2]), 1e-4, "a list of layer dicts"),
        ({"enc": {"W": normal(rng, (2, 3))}, "scale": normal(rng, ())}, 1.5, "nested dicts with a 0-d leaf"),
        ({"W": normal(rng, (4, 2))}, 0.0, "weight_decay = 0 changes nothing"),
        (_mlp_like(rng, [3, 4, 2], np.float32), 0.05, "float32 stays float32"),
    ]


def weight_decay_check(ctx) -> None:
    factory = ctx.fn("add_decayed_weights")
    steps = 4
    for params, wd, label in decay_cases(ctx.rng):
        ctx.case(f"add_decayed_weights({wd}) for {steps} steps on {label}")
        opt = ctx.call(factory, wd)
        if not (isinstance(opt, tuple) and len(opt) == 2 and all(callable(f) for f in opt)):
            ctx.fail(f"add_decayed_weights must return Optimizer(init, update); it returned {describe(opt)}")
        init, update = opt
        oracle = optax.add_decayed_weights(wd)
        state = ctx.call(init, deep_copy(params))
        oracle_state = oracle.init(params)
        for step in range(1, steps + 1):
            updates = jax.tree_util.tree_map(lambda p: normal(ctx.rng, p.shape, p.dtype), params)
            given_updates, given_params = deep_copy(updates), deep_copy(params)
            result = ctx.call(update, given_updates, state, given_params)
            if not (isinstance(result, tuple) and len(result) == 2):
                ctx.fail(f"update must return (updates, state); it returned {describe(result)}")
            got, state = result
            ctx.unchanged((updates, params), (given_updates, given_params),
                          "update modified its updates or params in place; return new arrays")
            # optax's own update, called eagerly on the NumPy leaves: under jit XLA would fuse
            # u + wd * p into one FMA (one rounding where NumPy makes two), and where the sum cancels
            # that half-ulp becomes a large relative error
            expected, oracle_state = oracle.update(updates, oracle_state, params)
            ctx.compare(got, to_numpy_tree(expected), ELEMENTWISE, what=f"updates at step {step}",
                        against="optax.add_decayed_weights")
            # the parameters move between steps, as they would in training
            params = jax.tree_util.tree_map(lambda p: p + normal(ctx.rng, p.shape, p.dtype) * 0.1, params)

    ctx.case("update(updates, state) without params")
    params = {"W": normal(ctx.rng, (2, 3))}
    init, update = ctx.call(factory, 0.1)
    state = ctx.call(init, params)
    try:
        got = ctx.call(update, deep_copy(params), state)
    except ValueError as exc:
        if "param" not in str(exc).lower():
            ctx.fail(f"the ValueError should say that update needs the params; its message was {str(exc)!r}")
        return
    except Exception as exc:  # a crash on None is not a clear error
        ctx.fail(f"update without params should raise ValueError saying the params are needed; "
                 f"it raised {type(exc).__name__}: {exc}")
    ctx.fail(f"update without params should raise ValueError saying the params are needed; "
             f"it returned {describe(got)}")


# --------------------------------------------------------------------------- dropout
def dropout_oracle(x, p, *, mask=None, train=True):
    if not train or p == 0:
        return x
    return x * mask / (1 - p)


def dropout_mask_cases(rng):
    def masked(shape, p, dtype=np.float64, label=""):
        x = normal(rng, shape, dtype)
        keep = rng.random(shape) >= p
        return Case((x, p), {"mask": keep}, label=label)

    cases = [
        masked((3, 4), 0.5),
        masked((2, 3, 5), 0.1),
        masked((9,), 0.8, label="most units dropped"),
        masked((1, 1), 0.3, label="batch 1"),
        masked((4, 6), 0.25, np.float32, label="float32 stays float32"),
    ]
    x = normal(rng, (2, 5))
    cases += [
        Case((x, 0.4), {"mask": np.zeros((2, 5), bool)}, label="every unit dropped"),
        Case((x, 0.4), {"mask": np.ones((2, 5), bool)}, label="every unit kept: still scaled by 1 / (1 - p)"),
        Case((x, 0.0), {"mask": rng.random((2, 5)) >= 0.5}, label="p = 0 is the identity, whatever the mask"),
        Case((x, 0.5), {"mask": rng.random((2, 5)) >= 0.5, "train": False},
             label="train=False is the identity"),
    ]
    return cases


dropout_mask_check = vjp_check("dropout_forward", "dropout_backward", dropout_oracle, dropout_mask_cases,
                               names=["x", "p"], tol=ELEMENTWISE)

SIGMAS = 5.0  # a correct dropout fails a statistical test with probability ~ 1e-6


def _dropout_statistics(ctx, fwd, bwd) -> None:
    for p, dtype in [(0.1, np.float64), (0.5, np.float64), (0.8, np.float32)]:
        shape = (400, 250)
        ctx.case(f"dropout_forward(x: {np.dtype(dtype).name} {shape}, p={p}, rng=Generator) [statistics]")
        x = ctx.rng.uniform(0.5, 1.5, shape).astype(dtype)  # no zeros: a dropped unit is exactly 0
        seed = int(ctx.rng.integers(2**31))
        out, cache = ctx.call(fwd, x.copy(), p, rng=np.random.default_rng(seed))
        if not isinstance(out, np.ndarray) or out.shape != x.shape or out.dtype != x.dtype:
            ctx.fail(f"dropout_forward output: expected {describe(x)}, got {describe(out)}")
        kept = out != 0
        n = x.size
        frac, sigma = kept.mean(), math.sqrt(p * (1 - p) / n)
        if abs(frac - (1 - p)) > SIGMAS * sigma:
            ctx.fail(f"dropout_forward kept {frac:.4f} of the units with p={p}; expected about 1 - p = {1 - p:.4f} "
                     f"(+/- {SIGMAS * sigma:.4f}). p is the probability of DROPPING a unit")
        ctx.compare(out[kept], x[kept] / dtype(1 - p), ELEMENTWISE, what="the kept units of dropout_forward",
                    against="x / (1 - p)")
        mean_sigma = math.sqrt(float(np.sum(x.astype(np.float64) ** 2)) * p / (1 - p)) / n
        if abs(float(out.mean(dtype=np.float64)) - float(x.mean(dtype=np.float64))) > SIGMAS * mean_sigma:
            ctx.fail(f"dropout_forward changed the mean: {out.mean():.4f} where x has {x.mean():.4f}; "
                     f"inverted dropout scales the kept units by 1 / (1 - p) so the mean is preserved")
        dout = normal(ctx.rng, shape, dtype)
        dx = ctx.call(bwd, dout.copy(), cache)
        ctx.compare(dx, np.where(kept, dout / dtype(1 - p), 0).astype(dtype), ELEMENTWISE,
                    what="dropout_backward with the forward's own mask", against="dout * mask / (1 - p)")
        again, _ = ctx.call(fwd, x.copy(), p, rng=np.random.default_rng(seed))
        if not np.array_equal(again, out):
            ctx.fail("two calls with Generators of the same seed gave different masks: draw the mask from the "
                     "rng argument (rng.random(x.shape) >= p), not from np.random")
        rng = np.random.default_rng(seed)
        first, _ = ctx.call(fwd, x.copy(), p, rng=rng)
        second, _ = ctx.call(fwd, x.copy(), p, rng=rng)
        if np.array_equal(first, second):
            ctx.fail("two calls with the same Generator gave the same mask: each call must draw a new one")


def _dropout_identity(ctx, fwd, bwd) -> None:
    for p, train, label in [(0.5, False, "train=False"), (0.0, True, "p = 0")]:
        ctx.case(f"dropout_forward(x: float64 (6, 7), p={p}, rng=Generator, train={train}) [{label}: identity]")
        x = normal(ctx.rng, (6, 7))
        out, cache = ctx.call(fwd, x.copy(), p, rng=np.random.default_rng(0), train=train)
        ctx.compare(out, x, Tolerance(0, 0), what=f"dropout_forward output with {label}", against="x itself")
        dout = normal(ctx.rng, (6, 7))
        ctx.compare(ctx.call(bwd, dout.copy(), cache), dout, Tolerance(0, 0),
                    what=f"dropout_backward with {label}", against="dout itself")


def _dropout_bad_p(ctx, fwd) -> None:
    for p in (1.0, -0.1, 1.5):
        ctx.case(f"dropout_forward(x, p={p}, rng=Generator) [p outside [0, 1)]")
        x = normal(ctx.rng, (3, 4))
        try:
            with np.errstate(all="ignore"):
                got = ctx.call(fwd, x, p, rng=np.random.default_rng(0))
        except ValueError:
            continue
        except Exception as exc:
            ctx.fail(f"p={p} should raise ValueError (p must be in [0, 1)); it raised {type(exc).__name__}: {exc}")
        ctx.fail(f"p={p} should raise ValueError (p must be in [0, 1)); it returned {describe(got)}")


def dropout_check(ctx) -> None:
    dropout_mask_check(ctx)
    fwd, bwd = ctx.fn("dropout_forward"), ctx.fn("dropout_backward")
    _dropout_identity(ctx, fwd, bwd)
    _dropout_statistics(ctx, fwd, bwd)
    _dropout_bad_p(ctx, fwd)


# --------------------------------------------------------------------------- early stopping
def early_stopping_oracle(val_losses, patience, min_delta=0.0):
    """Independent of the reference: the improving epochs first, then the verdict from the last one."""
    improving: list[int] = []
    for i, loss in enumerate(val_losses):
        threshold = val_losses[improving[-1]] - min_delta if improving else math.inf
        if loss < threshold:
            improving.append(i)
    if not improving:
        return False, None
    last = improving[-1]
    return len(val_losses) - last > patience, last


EDGE_CASES = [
    ([], 3, 0.0, "no epoch yet"),
    ([0.5], 0, 0.0, "patience 0 stops at once"),
    ([0.5], 1, 0.0, "one epoch, patience 1"),
    ([0.5, 0.5], 1, 0.0, "a tie does not improve"),
    ([0.5, 0.5, 0.5, 0.5], 3, 0.0, "ties all the way"),
    ([0.9, 0.7, 0.7, 0.6], 2, 0.0, "a tie, then an improvement"),
    ([1.0, 0.95, 0.92, 0.91], 2, 0.1, "min_delta: small gains do not count"),
    ([1.0, 0.95, 0.85, 0.8], 1, 0.1, "min_delta: gains measured from the last improving epoch"),
    ([1.0, 0.9, 0.8, 0.7], 1, 0.0, "still improving"),
    ([1.0, 0.8, 0.9, 1.0, 1.1], 3, 0.0, "exactly patience epochs since the best"),
    ([1.0, 0.8, 0.9, 1.0], 3, 0.0, "one epoch short of patience"),
    ([0.3, 0.4, 0.5, 0.6], 1, 0.0, "the first epoch is the best"),
    ([2.0, 1.0, 3.0, 0.5, 4.0, 4.0], 2, 0.0, "the best comes late"),
]


def early_stopping_cases(rng) -> list[tuple[list[float], int, float, str]]:
    cases = list(EDGE_CASES)
    for i in range(300):
        n = int(rng.integers(1, 25))
        if i % 3 == 0:  # coarse values: many exact ties
            losses = [float(v) for v in rng.integers(0, 5, n) / 4]
        else:  # a noisy U-shaped validation curve
            turn = rng.uniform(0, n)
            losses = [round(float(1 + 0.02 * (e - turn) ** 2 / max(n, 1) + 0.05 * rng.standard_normal()), 3)
                      for e in range(n)]
        patience = int(rng.integers(0, 6))
        min_delta = float(rng.choice([0.0, 0.0, 0.01, 0.05, 0.25]))
        cases.append((losses, patience, min_delta, "random curve"))
    return cases


def early_stopping_check(ctx) -> None:
    fn = ctx.fn("early_stopping")
    # verdicts are compared as 1-element arrays: exact integer and boolean comparison in the engine
    # looks for mismatches with np.argwhere, which finds none in a 0-d array
    for losses, patience, min_delta, label in early_stopping_cases(ctx.rng):
        ctx.case(f"early_stopping(val_losses={losses}, patience={patience}, min_delta={min_delta}) [{label}]")
        given = list(losses)
        result = ctx.call(fn, given, patience, min_delta)
        ctx.unchanged(losses, given, "early_stopping modified val_losses in place")
        if not (isinstance(result, tuple) and len(result) == 2):
            ctx.fail(f"early_stopping must return (stop, best_epoch); it returned {describe(result)}")
        stop, best = result
        expected_stop, expected_best = early_stopping_oracle(losses, patience, min_delta)
        if expected_best is None:
            ctx.compare(best, None, ELEMENTWISE, what="best_epoch", against="the oracle (no epoch yet)")
        else:
            if not isinstance(best, (int, np.integer)) or isinstance(best, bool):
                ctx.fail(f"best_epoch: expected the int {expected_best}, got {describe(best)}")
            ctx.compare(np.array([best], np.int64), np.array([expected_best], np.int64), ELEMENTWISE,
                        what="best_epoch", against="the last epoch whose loss < best - min_delta")
        if not isinstance(stop, (bool, np.bool_)):
            ctx.fail(f"stop: expected a bool, got {describe(stop)}")
        ctx.compare(np.array([stop], bool), np.array([expected_stop], bool), ELEMENTWISE, what="stop",
                    against=f"at least patience={patience} epochs since best_epoch={expected_best}")


# --------------------------------------------------------------------------- the table
CHECKS = {
    "l1": penalty_check("l1_forward", "l1_backward", l1_oracle),
    "l2": penalty_check("l2_forward", "l2_backward", l2_oracle),
    "weight_decay": weight_decay_check,
    "dropout": dropout_check,
    "early_stopping": early_stopping_check,
}
