"""Topic 09 checks: penalties against ``jax.vjp``, weight decay against optax, dropout, early stopping.

- **l1, l2**: the penalty of a parameter pytree (dicts, nested dicts, lists of
  dicts, float32) against ``jnp`` over the tree's leaves, its gradient against
  ``jax.vjp`` of that oracle (parameters only, ``lam`` is a constant) and, on
  the dict cases, against central differences of the checked forward. Every
  weight matrix is square in some case (a gradient used transposed keeps its
  shape only there), tall and wide in others; ``lam`` runs over [0, 10], 0
  included; one case puts weights at exactly 0, where JAX's derivative of
  ``|w|`` is +1. The backward leaves its cache alone and answers the same twice.
- **weight_decay**: ``add_decayed_weights`` next to ``optax.add_decayed_weights``
  for several steps of random updates and moving parameters, on several
  pytrees (square, tall and wide matrices, float32), with decay rates from 0
  to 1; then inside two chains with Adam, as L2 regularisation (decay added to
  the gradient before Adam rescales it) and as AdamW's decoupled decay (added
  after), each against its optax counterpart; the two give different
  parameters on these cases, so the placement is what is checked. ``update``
  without parameters must raise ``ValueError``.
- **dropout**: with a given keep-mask, ``vjp_check`` against ``x * mask / (1 - p)``
  in ``jnp`` (the mask is a keyword) for p across [0, 1): 0, 0.1 ... 0.95;
  with a Generator, the statistics for p from 0.1 to 0.95 (the kept fraction
  is 1 - p, the mean is preserved, survivors are scaled by 1 / (1 - p)), the
  backward with the forward's own mask, and reproducibility from the
  Generator's state; evaluation mode (train=False, any p) and p = 0 are the
  identity; p outside [0, 1), NaN included, raises ``ValueError``.
- **early_stopping**: against an oracle written here independently, on
  hundreds of random loss curves (some with NaN losses) and the edge cases:
  empty, ties with the best, a gain of exactly min_delta, patience 0, 1 and
  more, and NaN losses, which never improve (the rule the lesson states).

Tolerances are in machine epsilons of the case's dtype, calibrated by running
the reference over 300 seeds (``python -m fdl.sweep 9 --seeds 300``); the
worst ratio of error to tolerance is beside each.
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
from fdl.check.pytree import snapshot, tree_equal
from fdl.check.sample import square_and_not
from tracks.t03_optimizers import reference as optimizers_reference

# --------------------------------------------------------------------------- tolerances
# A penalty sums every weight once (a reduction whose order differs from
# XLA's); its gradient is one or two roundings per element; the weight-decay
# update is one multiply-add per element; dropout one multiply and one divide.
PENALTY = Tolerance(16, 16)  # 300 seeds: worst error/tolerance l1 0.066, l2 0.057
ELEMENTWISE = Tolerance(4, 4)  # 300 seeds: worst error/tolerance dropout 0.083, weight_decay 0
# three Adam steps: the square root and the division of the second moment, chained (float64 only)
CHAIN = Tolerance(8, 8)  # 300 seeds: worst error/tolerance 0.12


def normal(rng, shape, dtype=np.float64):
    return np.asarray(rng.standard_normal(shape)).astype(dtype)


def _mlp_like(rng, sizes, dtype=np.float64) -> list[dict]:
    """A list of {"W", "b"} dicts, the shape of topic 05's MLP parameters."""
    return [{"W": normal(rng, (a, b), dtype), "b": normal(rng, (b,), dtype)} for a, b in zip(sizes[:-1], sizes[1:])]


def _sizes(rng) -> tuple[int, int, int]:
    """(n, a, b): an n x n matrix, and a != b for a tall (a, b) one and a wide (b, a) one.

    Sizes 3 and 4 only: each new shape is a new program to compile, and a transpose shows as well on
    3 x 3 as on a large matrix.
    """
    (n, _), (a, b), _ = square_and_not(rng, 3, 4)
    return n, a, b


# --------------------------------------------------------------------------- l1, l2
def l1_oracle(params, lam):
    return lam * sum(jnp.sum(jnp.abs(w)) for w in jax.tree_util.tree_leaves(params))


def l2_oracle(params, lam):
    return lam / 2 * sum(jnp.sum(jnp.square(w)) for w in jax.tree_util.tree_leaves(params))


# lam across [0, 10]: a fixed grid dealt out to the cases (each value is a constant of a compiled oracle, so a
# grid keeps the programs few), 0 and 10 always among them
LAMS = (1e-4, 0.01, 0.3, 1.0, 2.5)
LAM_EDGES = (0.0, 10.0)


def penalty_dict_cases(rng):
    """Parameter dicts (the engine's vjp_check walks dicts): square, tall, wide, nested, 0-d leaf, float32, zeros."""
    n, a, b = _sizes(rng)
    lams = [float(v) for v in rng.permutation(LAMS)]
    cases = [
        Case(({"W": normal(rng, (n, n)), "b": normal(rng, (n,))}, lams[0]), diff=(0,), label="square W"),
        Case(({"W": normal(rng, (a, b)), "b": normal(rng, (b,))}, lams[1]), diff=(0,), label="tall W"),
        Case(({"W": normal(rng, (b, a)), "b": normal(rng, (a,))}, lams[2]), diff=(0,), label="wide W"),
        Case(({"w": normal(rng, (7,))}, LAM_EDGES[0]), diff=(0,), label="lam = 0: no penalty, no gradient"),
        Case(({"layer1": {"W": normal(rng, (n, n)), "b": normal(rng, (n,))},
               "layer2": {"W": normal(rng, (n, n)), "b": normal(rng, (n,))}}, LAM_EDGES[1]), diff=(0,),
             label="nested dicts, lam = 10"),
        Case(({"scale": normal(rng, ()), "W": normal(rng, (1, 1))}, lams[3]), diff=(0,), label="0-d and 1x1 leaves"),
        Case(({"W": normal(rng, (n, n), np.float32), "b": normal(rng, (n,), np.float32)}, lams[4]), diff=(0,),
             label="square, float32 stays float32"),
        Case(({"W": normal(rng, (a, b), np.float32), "b": normal(rng, (b,), np.float32)}, lams[0]), diff=(0,),
             label="tall, float32 stays float32"),
    ]
    w = normal(rng, (n, n))
    w[rng.random(w.shape) < 0.4] = 0.0
    w[0, 0] = 0.0
    cases.append(Case(({"W": w, "b": np.zeros(n)}, lams[1]), diff=(0,), numeric=False,
                      label="weights exactly 0: JAX's derivative of |w| there is +1"))
    return cases


def penalty_list_cases(rng) -> list[tuple[list, float, str]]:
    """Lists of layer dicts, as an MLP's parameters: (params, lam, label)."""
    n, a, b = _sizes(rng)
    return [
        (_mlp_like(rng, [n, n, a]), 0.05, "list of 2 layer dicts, the first square"),
        (_mlp_like(rng, [a, b]), 1.0, "list of 1 layer dict"),
        (_mlp_like(rng, [b, n, n, 2], np.float32), 0.2, "list of 3 layer dicts, float32"),
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
            cache_kept = snapshot(result[1])
            grads = ctx.call(bwd, deep_copy(dout), result[1])
            ctx.compare(grads, expected_grads, PENALTY, what="gradient of params", against="jax.vjp of the oracle")
            if not tree_equal(result[1], cache_kept) or not tree_equal(given, params):
                ctx.fail(f"{backward} modified its cache (the parameters {forward} saved) in place; compute the "
                         f"gradient into new arrays")
            first = snapshot(grads)
            again = ctx.call(bwd, deep_copy(dout), result[1])
            if not (tree_equal(grads, first) and tree_equal(again, first)):
                ctx.fail(f"calling {backward} a second time with the same dout gave, or changed, other gradients: "
                         f"it keeps state between calls, or its gradients share memory with the cache")

    check.__doc__ = f"{forward}/{backward} on parameter pytrees against jax.vjp and central differences"
    return check


# --------------------------------------------------------------------------- weight decay
# decay rates from 0 to 1: 0 (the update passes unchanged), 1 and three spread in log-space between 1e-5 and 1
def _decay_rates(rng) -> list[float]:
    inner = np.exp(rng.uniform(np.log(1e-5), 0.0, 3))
    return [0.0, *(float(f"{v:.3g}") for v in rng.permutation(inner)), 1.0]


def decay_cases(rng) -> list[tuple[object, float, str]]:
    """(params, weight_decay, label): the pytrees an optimizer sees, every matrix square in one of them."""
    n, a, b = _sizes(rng)
    wd = _decay_rates(rng)
    return [
        ({"W": normal(rng, (n, n)), "b": normal(rng, (n,))}, wd[1], "a dict, square W"),
        (_mlp_like(rng, [a, b, b]), wd[2], "a list of layer dicts, tall and square"),
        ({"enc": {"W": normal(rng, (n, n))}, "scale": normal(rng, ())}, wd[3], "nested dicts with a 0-d leaf"),
        ({"W": normal(rng, (b, a))}, wd[0], "weight_decay = 0 changes nothing"),
        (_mlp_like(rng, [n, n, a], np.float32), wd[4], "float32 stays float32, square and oblong"),
        ({"W": normal(rng, (a, b), np.float32)}, wd[2], "float32, tall"),
    ]


def _update_steps(ctx, update, state, params, oracle, oracle_state, steps: int, label: str) -> None:
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
                    against=f"optax.add_decayed_weights ({label})")
        # the parameters move between steps, as they would in training
        params = jax.tree_util.tree_map(lambda p: p + normal(ctx.rng, p.shape, p.dtype) * 0.1, params)


# L2 regularisation and decoupled weight decay, with Adam: the same transformation in two places
CHAIN_LR, CHAIN_STEPS = 0.05, 3


def _chains(factory, wd: float):
    """(name, ours, optax's): the decay before Adam (L2 in the gradient) and after it (AdamW)."""
    opt = optimizers_reference
    return [
        ("L2: chain(add_decayed_weights, adam), the decay rescaled by Adam",
         opt.chain(factory(wd), opt.adam(CHAIN_LR)),
         optax.chain(optax.add_decayed_weights(wd), optax.adam(CHAIN_LR))),
        # adam(-1) is Adam's direction m^ / (sqrt(v^) + eps) itself; sgd(lr) then multiplies by -lr
        ("decoupled: chain(adam direction, add_decayed_weights, sgd), as AdamW",
         opt.chain(opt.adam(-1.0), factory(wd), opt.sgd(CHAIN_LR)),
         optax.adamw(CHAIN_LR, weight_decay=wd)),
    ]


def _decay_in_chains(ctx, factory) -> None:
    n, a, _ = _sizes(ctx.rng)
    wd = float(f"{np.exp(ctx.rng.uniform(np.log(0.05), np.log(1.0))):.3g}")
    start = _mlp_like(ctx.rng, [n, n, a])  # a square layer and an oblong one
    grads = [jax.tree_util.tree_map(lambda p: normal(ctx.rng, p.shape) * 10.0 ** ctx.rng.uniform(-2, 1), start)
             for _ in range(CHAIN_STEPS)]
    for name, ours, theirs in _chains(factory, wd):
        ctx.case(f"add_decayed_weights({wd}) in {name}, {CHAIN_STEPS} steps")
        params, oracle_params = deep_copy(start), deep_copy(start)
        state, oracle_state = ctx.call(ours.init, deep_copy(params)), theirs.init(oracle_params)
        for step, g in enumerate(grads, 1):
            updates, state = ctx.call(ours.update, deep_copy(g), state, deep_copy(params))
            params = optimizers_reference.apply_updates(params, updates)
            expected, oracle_state = theirs.update(g, oracle_state, oracle_params)
            oracle_params = to_numpy_tree(optax.apply_updates(oracle_params, expected))
            ctx.compare(params, oracle_params, CHAIN, what=f"params after step {step}",
                        against=f"optax, {name.split(':')[0]}")


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
        _update_steps(ctx, update, state, params, oracle, oracle.init(params), steps, f"weight_decay={wd}")

    _decay_in_chains(ctx, factory)

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


# p across [0, 1): a grid (p is a constant of the compiled oracle) from light dropout to 0.95, dealt out to the
# cases; 0.9 and 0.95 always among them, where 1 / (1 - p) is 10 and 20
DROP_RATES = (0.1, 0.25, 0.5, 0.75, 0.9)


def dropout_mask_cases(rng):
    n, a, b = _sizes(rng)
    ps = [float(v) for v in rng.permutation(DROP_RATES)]

    def masked(shape, p, dtype=np.float64, label=""):
        x = normal(rng, shape, dtype)
        keep = rng.random(shape) >= p
        return Case((x, p), {"mask": keep}, label=label)

    cases = [
        masked((n, n), ps[0], label="square"),
        masked((a, b), ps[1]),
        masked((b, a), ps[2]),
        masked((2, 3, 5), ps[3]),
        masked((9,), 0.95, label="most units dropped"),
        masked((1, 1), ps[4], label="batch 1"),
        masked((n, n), 0.9, np.float32, label="square, float32 stays float32, p = 0.9"),
        masked((a, b), ps[0], np.float32, label="float32 stays float32"),
    ]
    x = normal(rng, (n, n))
    cases += [
        Case((x, ps[1]), {"mask": np.zeros((n, n), bool)}, label="every unit dropped"),
        Case((x, ps[2]), {"mask": np.ones((n, n), bool)}, label="every unit kept: still scaled by 1 / (1 - p)"),
        Case((x, 0.0), {"mask": rng.random((n, n)) >= 0.5}, label="p = 0 is the identity, whatever the mask"),
        Case((x, ps[3]), {"mask": rng.random((n, n)) >= 0.5, "train": False},
             label="train=False is the identity"),
        Case((x.astype(np.float32), 0.9), {"mask": rng.random((n, n)) >= 0.5, "train": False},
             label="float32, train=False is the identity"),
    ]
    return cases


dropout_mask_check = vjp_check("dropout_forward", "dropout_backward", dropout_oracle, dropout_mask_cases,
                               names=["x", "p"], tol=ELEMENTWISE)

SIGMAS = 5.0  # a correct dropout fails a statistical test with probability ~ 1e-6
STATS_SHAPE = (320, 320)  # 102,400 units: the kept fraction to +-0.5% at p = 0.5; square, as a hidden layer can be


def _dropout_statistics(ctx, fwd, bwd) -> None:
    for p, dtype in [(0.1, np.float64), (0.5, np.float32), (0.9, np.float64), (0.95, np.float32)]:
        shape = STATS_SHAPE
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
        # E[out] = x: the mean over the units is x's mean within the sampling error of the mask
        mean_sigma = math.sqrt(float(np.sum(x.astype(np.float64) ** 2)) * p / (1 - p)) / n
        if abs(float(out.mean(dtype=np.float64)) - float(x.mean(dtype=np.float64))) > SIGMAS * mean_sigma:
            ctx.fail(f"dropout_forward changed the mean at p={p}: {out.mean():.4f} where x has {x.mean():.4f} "
                     f"(allowed +/- {SIGMAS * mean_sigma:.4f}); inverted dropout scales the kept units by "
                     f"1 / (1 - p) so that the expected value is unchanged")
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
    n = 6
    p_eval = float(ctx.rng.choice(DROP_RATES))
    for p, train, dtype, label in [(p_eval, False, np.float64, "train=False"), (0.9, False, np.float32, "train=False"),
                                   (0.0, True, np.float64, "p = 0"), (0.0, True, np.float32, "p = 0")]:
        name = np.dtype(dtype).name
        ctx.case(f"dropout_forward(x: {name} ({n}, {n}), p={p}, rng=Generator, train={train}) [{label}: identity]")
        x = normal(ctx.rng, (n, n), dtype)
        out, cache = ctx.call(fwd, x.copy(), p, rng=np.random.default_rng(0), train=train)
        ctx.compare(out, x, Tolerance(0, 0), what=f"dropout_forward output with {label}", against="x itself")
        dout = normal(ctx.rng, (n, n), dtype)
        ctx.compare(ctx.call(bwd, dout.copy(), cache), dout, Tolerance(0, 0),
                    what=f"dropout_backward with {label}", against="dout itself")


def _dropout_bad_p(ctx, fwd) -> None:
    for p in (1.0, -0.1, 1.5, float("nan")):
        ctx.case(f"dropout_forward(x, p={p}, rng=Generator) [p outside [0, 1)]")
        x = normal(ctx.rng, (3, 4))
        try:
            with np.errstate(all="ignore"):
                got = ctx.call(fwd, x, p, rng=np.random.default_rng(0))
        except ValueError:
            continue
        except Exception as exc:
            ctx.fail(f"p={p} should raise ValueError (p must be in [0, 1)); it raised {type(exc).__name__}: {exc}")
        hint = " (a test like `p < 0 or p >= 1` lets NaN through: every comparison with NaN is False)" \
            if math.isnan(p) else ""
        ctx.fail(f"p={p} should raise ValueError (p must be in [0, 1)); it returned {describe(got)}{hint}")


def dropout_check(ctx) -> None:
    dropout_mask_check(ctx)
    fwd, bwd = ctx.fn("dropout_forward"), ctx.fn("dropout_backward")
    _dropout_identity(ctx, fwd, bwd)
    _dropout_statistics(ctx, fwd, bwd)
    _dropout_bad_p(ctx, fwd)


# --------------------------------------------------------------------------- early stopping
def early_stopping_oracle(val_losses, patience, min_delta=0.0):
    """Independent of the reference: the improving epochs first, then the verdict from the last one.

    A NaN loss is no improvement (the lesson's rule): written here as an explicit test, not left to
    how ``<`` treats NaN.
    """
    improving: list[int] = []
    for i, loss in enumerate(val_losses):
        if math.isnan(loss):
            continue
        threshold = val_losses[improving[-1]] - min_delta if improving else math.inf
        if loss < threshold:
            improving.append(i)
    if not improving:
        return False, None
    last = improving[-1]
    return len(val_losses) - last > patience, last


NAN = float("nan")

EDGE_CASES = [
    ([], 3, 0.0, "no epoch yet"),
    ([0.5], 0, 0.0, "patience 0 stops at once"),
    ([0.9, 0.7], 0, 0.05, "patience 0 stops at once, also right after an improvement"),
    ([0.5], 1, 0.0, "one epoch, patience 1"),
    ([0.5, 0.5], 1, 0.0, "a tie does not improve"),
    ([0.5, 0.7, 0.5], 2, 0.0, "a tie with the best, after a worse epoch, does not improve"),
    ([0.5, 0.5, 0.5, 0.5], 3, 0.0, "ties all the way"),
    ([0.9, 0.7, 0.7, 0.6], 2, 0.0, "a tie, then an improvement"),
    ([1.0, 0.95, 0.92, 0.91], 2, 0.1, "min_delta: small gains do not count"),
    ([1.0, 0.75, 0.6], 5, 0.25, "a gain of exactly min_delta does not count"),
    ([1.0, 0.95, 0.85, 0.8], 1, 0.1, "min_delta: gains measured from the last improving epoch"),
    ([1.0, 0.9, 0.8, 0.7], 1, 0.0, "still improving"),
    ([1.0, 0.8, 0.9, 1.0, 1.1], 3, 0.0, "exactly patience epochs since the best"),
    ([1.0, 0.8, 0.9, 1.0], 3, 0.0, "one epoch short of patience"),
    ([0.3, 0.4, 0.5, 0.6], 1, 0.0, "the first epoch is the best"),
    ([2.0, 1.0, 3.0, 0.5, 4.0, 4.0], 2, 0.0, "the best comes late"),
    ([0.5, NAN, NAN], 2, 0.0, "NaN losses never improve: they count as epochs without improvement"),
    ([0.5, NAN], 2, 0.0, "a NaN loss is one epoch without improvement, short of patience"),
    ([NAN, 0.7, 0.8], 1, 0.0, "a NaN first epoch is not the best"),
    ([NAN], 0, 0.0, "only a NaN loss: no best epoch yet"),
    ([0.9, NAN, 0.8, NAN, 0.85], 3, 0.05, "NaN losses between real ones, min_delta > 0"),
    ([0.9, 0.6, NAN, 0.7, NAN, NAN], 4, 0.0, "NaN losses after the best"),
    ([math.inf, 1.0], 1, 0.0, "an infinite loss never improves on +inf"),
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
        label = "random curve"
        if i % 5 == 4:  # a diverged epoch or two
            for e in rng.integers(0, n, int(rng.integers(1, 3))):
                losses[int(e)] = NAN
            label = "random curve with NaN losses"
        patience = int(rng.integers(0, 8))
        min_delta = float(rng.choice([0.0, 0.0, 0.01, 0.05, 0.25]))
        cases.append((losses, patience, min_delta, label))
    return cases


def early_stopping_check(ctx) -> None:
    fn = ctx.fn("early_stopping")
    # verdicts are compared as 1-element arrays: exact integer and boolean comparison in the engine
    # looks for mismatches with np.argwhere, which finds none in a 0-d array
    for losses, patience, min_delta, label in early_stopping_cases(ctx.rng):
        ctx.case(f"early_stopping(val_losses={losses}, patience={patience}, min_delta={min_delta}) [{label}]")
        given = list(losses)
        result = ctx.call(fn, given, patience, min_delta)
        if not (len(given) == len(losses) and all(a == b or (a != a and b != b) for a, b in zip(given, losses))):
            ctx.fail("early_stopping modified val_losses in place")
        if not (isinstance(result, tuple) and len(result) == 2):
            ctx.fail(f"early_stopping must return (stop, best_epoch); it returned {describe(result)}")
        stop, best = result
        expected_stop, expected_best = early_stopping_oracle(losses, patience, min_delta)
        nan_hint = ("\n  hint: a NaN loss never improves, and does not stop training by itself: it is one more epoch "
                    "without improvement; `loss < best - min_delta` is False for NaN, while `not loss >= ...`, "
                    "np.argmin and min() treat NaN otherwise") if any(v != v for v in losses) else ""
        if expected_best is None:
            if best is not None:
                ctx.fail(f"best_epoch: expected None (no epoch has improved on +inf yet), got {describe(best)}"
                         f"{nan_hint}")
        else:
            if not isinstance(best, (int, np.integer)) or isinstance(best, bool):
                ctx.fail(f"best_epoch: expected the int {expected_best}, got {describe(best)}{nan_hint}")
            if best != expected_best:
                ctx.fail(f"best_epoch: expected {expected_best}, got {best} (the last epoch whose loss is below "
                         f"best - min_delta){nan_hint}")
            ctx.compare(np.array([best], np.int64), np.array([expected_best], np.int64), ELEMENTWISE,
                        what="best_epoch", against="the last epoch whose loss < best - min_delta")
        if not isinstance(stop, (bool, np.bool_)):
            ctx.fail(f"stop: expected a bool, got {describe(stop)}")
        if bool(stop) != expected_stop:
            waited = None if expected_best is None else len(losses) - 1 - expected_best
            since = "no best epoch yet" if waited is None else \
                f"{waited} epoch{'' if waited == 1 else 's'} since best_epoch={expected_best}"
            ctx.fail(f"stop: expected {expected_stop}, got {bool(stop)} ({since}, patience={patience}: stop when "
                     f"at least patience epochs have passed without improvement){nan_hint}")
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
