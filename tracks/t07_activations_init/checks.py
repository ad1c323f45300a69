"""Topic 07 checks: activations against ``jax.nn``, initializers against ``jax.nn.initializers``.

Activations go through :func:`fdl.check.vjp_check`: forward values, the VJP
against ``jax.vjp`` of the ``jax.nn`` function, and central differences of
the checked forward; the elementwise ones with ``elementwise=True`` (each
gradient element's rounding is bounded by its ``|dout|``, as for
``1 - tanh^2`` at large ``|x|``). Beyond odd shapes, a batch of 1 and three
axes the cases include:

- square inputs, (n, n), in float64 and float32;
- magnitudes of 100 and 1000, where ``exp`` overflows (float64 above ~709,
  float32 above ~88): a softmax without the max subtracted, a log of a
  softmax, or a sigmoid written ``e^x / (1 + e^x)`` returns inf or NaN here;
- exact zeros for relu and leaky relu: the kink, where the gradient is a
  convention (JAX: relu'(0) = 0, leaky_relu'(0) = 1); central differences
  there are meaningless, so those cases have ``numeric=False``;
- +-inf inputs where the value and the gradient are defined (relu, leaky
  relu, sigmoid, tanh), and ``-inf`` logits of softmax and log-softmax (a
  masked entry: probability 0);
- leaky relu's slope across (0, 3], drawn by :func:`fdl.check.sample.hyper`:
  above 1 a ``max(x, alpha x)`` formula is wrong;
- gelu exact and tanh-approximate; softmax and log-softmax over every axis
  of a 2-D and a 3-D input, negative axes too, and over an axis of size 1;
- the default arguments (``alpha=0.01``, ``approximate=False``,
  ``axis=-1``) as well as explicit ones.

A forward-only check then feeds NaN (and the infinities) in: the output has
NaN exactly where JAX's has (:func:`nonfinite_check`; the comparison of the
checker counts any NaN as wrong, so the NaNs are matched first, then set
aside).

Initializers are random, so their check is statistical (see
:func:`check_initializers`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdl.check import ELEMENTWISE, Case, CheckContext, Comparison, Tolerance, describe, noise_floor, vjp_check
from fdl.check.sample import hyper, normal, uniform, with_zeros

# --------------------------------------------------------------------------- oracles
# Module-level functions (not lambdas made per call): the checker compiles
# one program per oracle and input signature and caches it by identity.


def leaky_relu_oracle(x, alpha=0.01):
    return jax.nn.leaky_relu(x, negative_slope=alpha)


def gelu_oracle(x, approximate=False):
    return jax.nn.gelu(x, approximate=approximate)


def softmax_oracle(x, axis=-1):
    return jax.nn.softmax(x, axis=axis)


def log_softmax_oracle(x, axis=-1):
    return jax.nn.log_softmax(x, axis=axis)


# --------------------------------------------------------------------------- inputs
# The checker compiles one JAX program per oracle, input shapes and keyword arguments; compiling dominates a
# check's time, so shapes are small and few, and each hyper-parameter value drawn gets two cases.
# Magnitudes up to 1000, both signs: exp overflows float64 above ~709, float32 above ~88.
LARGE = np.array([[-1000.0, -750.0, -710.0, -100.0, -30.0],
                  [-3.5, -0.25, 0.5, 2.0, 15.0],
                  [30.0, 100.0, 710.0, 750.0, 1000.0]])
LARGE32 = np.array([[-100.0, -90.0, -89.0, -20.0, -1.5],
                    [-0.75, 0.125, 0.5, 3.0, 12.0],
                    [20.0, 88.5, 89.0, 90.0, 100.0]], dtype=np.float32)


def _shuffled(rng, x):
    """``x`` with its entries permuted, so no row holds only large or only small values."""
    return rng.permutation(x.reshape(-1)).reshape(x.shape)


# Fixed shapes: an activation's correctness hardly depends on its sizes, and a fixed shape is compiled once
# for every seed. Square (4, 4), tall (5, 3), three axes of different sizes (2, 5, 3).
N = 4
TALL = (5, 3)
THREE = (2, 5, 3)


def _edge(rng, n: int, dtype, *, zeros: bool, infinities: bool) -> np.ndarray:
    """(n, n) values of either sign, a quarter of them up to 1000 (100 in float32), with exact zeros and +-inf."""
    big = 1000.0 if dtype == np.float64 else 100.0
    x = normal(rng, (n, n), np.float64, scale=3.0)
    wide = rng.random((n, n)) < 0.25
    x[wide] = uniform(rng, int(wide.sum()), low=-big, high=big)
    spots = rng.permutation(n * n)
    if zeros:
        x.reshape(-1)[spots[:2]] = 0.0
    if infinities:
        x.reshape(-1)[spots[2:4]] = (np.inf, -np.inf)
    return x.astype(dtype)


def elementwise_cases(kwargs=None, *, kinks=False, infinities=False, full=True):
    """Cases for an elementwise activation, each called with ``kwargs`` (None: the defaults).

    ``full``: square (n, n), oblong, a batch of 1, three axes, a wide spread, magnitudes up to 1000
    (exp overflows) and their float32 versions; otherwise (one hyper-parameter value among several)
    a square normal case and the edge values in float32 (every new keyword is a new program to
    compile: two cases per value keep that cheap). ``kinks``: exact zeros, where
    relu' takes JAX's convention; ``infinities``: +-inf inputs, for functions whose value and
    gradient there are finite or a signed infinity. Central differences use a step proportional to
    |x|, too coarse to judge a gradient at |x| = 1000, so those cases compare with ``jax.vjp`` only.
    """

    def cases(rng):
        kw = dict(kwargs or {})
        n = N
        out = [Case((normal(rng, (n, n)),), dict(kw), label="square")]
        if full:
            out += [Case((normal(rng, TALL),), dict(kw)),
                    Case((normal(rng, (1, 7)),), dict(kw), label="a batch of 1"),
                    Case((normal(rng, THREE),), dict(kw)),
                    Case((normal(rng, (n, n), scale=4.0),), dict(kw), label="a wider spread"),
                    Case((_shuffled(rng, LARGE),), dict(kw), numeric=False,
                         label="magnitudes up to 1000: exp overflows"),
                    Case((normal(rng, (n, n), np.float32),), dict(kw), label="square, float32 stays float32"),
                    Case((_shuffled(rng, LARGE32),), dict(kw), label="float32 up to 100: exp overflows float32")]
            if kinks:
                x = with_zeros(rng, (n, n))
                x[0, 0] = 0.0
                out.append(Case((x,), dict(kw), numeric=False, label="exact zeros: the kink takes JAX's convention"))
                out.append(Case((x.astype(np.float32),), dict(kw), label="float32, exact zeros"))
            if infinities:
                x = _edge(rng, n, np.float64, zeros=False, infinities=True)
                out.append(Case((x,), dict(kw), numeric=False, label="+-inf among the inputs"))
                out.append(Case((x.astype(np.float32),), dict(kw), label="float32, +-inf among the inputs"))
        else:
            x = _edge(rng, n, np.float32, zeros=kinks, infinities=infinities)
            what = ", ".join(["float32, |x| up to 100"] + (["exact zeros"] if kinks else [])
                             + (["+-inf"] if infinities else []))
            out.append(Case((x,), dict(kw), label=what))
        return out

    return cases


# leaky relu's slope anywhere in (0, 3]: above 1 the "negative" branch is the larger one, so a formula
# like max(x, alpha x), right only for alpha < 1, fails there
ALPHA_RANGE = (0.0, 3.0)


def leaky_relu_cases(rng):
    cases = elementwise_cases(kinks=True, infinities=True)(rng)  # the default alpha = 0.01
    for alpha in hyper(rng, *ALPHA_RANGE, 4, include_low=False):
        alpha = float(f"{alpha:.3g}")  # 3 digits: readable in a message, and as good a slope
        cases += elementwise_cases({"alpha": alpha}, kinks=True, infinities=True, full=False)(rng)
    return cases


def gelu_cases(rng):
    return [*elementwise_cases()(rng),  # the default: exact
            *elementwise_cases({"approximate": True})(rng),
            Case((normal(rng, (3, 5), scale=3.0),), {"approximate": False})]


def _peaked(rng, rows: int, cols: int, tops=(-1000.0, -750.0, 710.0, 1000.0), far=(50.0, 1500.0), dtype=np.float64):
    """(rows, cols), each row with a maximum from ``tops`` and two entries within 3 of it.

    The near-ties keep the softmax away from one-hot, so its gradient is of
    order 0.1, not a cancellation of order 1e-13 that no tolerance could judge.
    """
    out = np.empty((rows, cols))
    for r in range(rows):
        top = rng.choice(tops)
        near, rest = uniform(rng, 2, low=0.0, high=3.0), uniform(rng, cols - 3, low=far[0], high=far[1])
        gaps = np.concatenate([[0.0], near, rest])
        out[r] = top - rng.permutation(gaps)
    return out.astype(dtype)


def _masked(rng, shape, dtype=np.float64) -> np.ndarray:
    """Normal logits with some entries -inf (masked out: probability 0), never a whole row."""
    x = normal(rng, shape, np.float64)
    x[rng.random(shape) < 0.3] = -np.inf
    x[..., 0] = normal(rng, shape[:-1])  # every row along the last axis keeps a finite entry
    x[0, ...] = normal(rng, shape[1:])  # and every column along the first
    return x.astype(dtype)


def softmax_cases(rng):
    """Every axis of a 2-D and a 3-D input, negative ones too, size 1, huge and masked logits, float32."""
    n = N
    out = [Case((normal(rng, (n, n)),), label="square"),  # the default axis=-1
           Case((normal(rng, (n, n)),), {"axis": 0}, label="square"),
           Case((normal(rng, TALL),), {"axis": 1}),
           Case((normal(rng, TALL),), {"axis": -2}),
           Case((normal(rng, (1, 7)),), {"axis": 0}, label="an axis of size 1: softmax is 1, its gradient 0")]
    # sizes all different: a reduction over the wrong axis cannot keep the right values
    out += [Case((normal(rng, THREE),), {"axis": axis}, label=f"axis {axis} of 3") for axis in (0, 1, 2, -1, -2, -3)]
    # a softmax near one-hot has a gradient that is a cancellation (s_i (dout_i - s . dout) with s_i ~ 1):
    # tiny, and as imprecise in JAX as in NumPy; a spread of 2.5 keeps every row away from that
    out.append(Case((normal(rng, (n, n), scale=2.5),), label="a wider spread"))
    out.append(Case((_peaked(rng, 3, 5),), numeric=False, label="magnitudes up to 2500: exp overflows"))
    out.append(Case((_peaked(rng, 5, 3).T.copy(),), {"axis": 0}, numeric=False,
                    label="magnitudes up to 2500, axis 0"))
    out.append(Case((1000 + normal(rng, (n, n)),), numeric=False, label="all near 1000: exp(x) is inf"))
    out.append(Case((-1000 + normal(rng, (n, n)),), {"axis": -2}, numeric=False,
                    label="all near -1000: exp(x) is 0"))
    out.append(Case((_masked(rng, (n, n + 1)),), numeric=False, label="-inf entries: masked out"))
    out.append(Case((normal(rng, (n, n), np.float32),), label="square, float32 stays float32"))
    out.append(Case((normal(rng, THREE, np.float32),), {"axis": -2}, label="float32, the middle axis"))
    out.append(Case((_peaked(rng, 3, 5, (-100.0, -90.0, 89.0, 100.0), (10.0, 100.0), np.float32),),
                    label="float32 up to 200: exp overflows float32"))
    out.append(Case(((-120 + normal(rng, (n, n))).astype(np.float32),),
                    label="float32, all near -120: exp(x) underflows to 0"))
    out.append(Case((_masked(rng, (n, n + 1), np.float32),), label="float32, -inf entries: masked out"))
    return out


# --------------------------------------------------------------------------- NaN and infinity, forward only
# The comparison treats NaN as a wrong value wherever it appears, so NaN in, NaN out is checked here: the
# pattern of NaNs first, then the other values (infinities included) with the NaNs set aside.
# silu and gelu give NaN at -inf in JAX (-inf * 0), a value no formula needs to reproduce, so only +inf is
# asked of them.
ALL_SPECIALS = (np.nan, np.inf, -np.inf)
NO_MINUS_INF = (np.nan, np.inf)


def nonfinite_check(forward: str, oracle, specials=ALL_SPECIALS, kwargs_list=({},), tol: Tolerance = ELEMENTWISE, *,
                    axis_wise: bool = False):
    """A forward-only check of NaN and +-inf inputs (see the comment above)."""

    def check(ctx: CheckContext) -> None:
        fwd = ctx.fn(forward)
        n = N
        for kwargs in kwargs_list:
            for dtype in (np.float64, np.float32):
                x = normal(ctx.rng, (n, n), np.float64)
                if axis_wise:  # a NaN in row 0 spoils the whole row; -inf entries elsewhere are masked out
                    x[0, int(ctx.rng.integers(n))] = np.nan
                    x[1:, 1:][ctx.rng.random((n - 1, n - 1)) < 0.3] = -np.inf
                else:
                    spots = ctx.rng.permutation(n * n)
                    for k, value in enumerate(specials):
                        x.reshape(-1)[spots[2 * k:2 * k + 2]] = value
                x = x.astype(dtype)
                shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
                ctx.case(f"{forward}(x: {np.dtype(dtype).name} {x.shape}{', ' + shown if shown else ''}) "
                         f"[NaN in, NaN out; {'masked -inf entries' if axis_wise else 'inf where defined'}]")
                given = x.copy()
                result = ctx.call(fwd, given, **kwargs)
                if not (isinstance(result, tuple) and len(result) == 2):
                    ctx.fail(f"{forward} must return (out, cache); it returned {describe(result)}")
                ctx.unchanged(x, given, f"{forward} modified its input in place; work on a copy")
                got = result[0]

                def run(v, kwargs=kwargs):
                    return oracle(jnp.asarray(v), **kwargs)

                expected = np.asarray(run(x))
                if isinstance(got, np.ndarray) and got.shape == expected.shape and got.dtype == expected.dtype:
                    _same_nans(ctx, forward, x, got, expected)
                    floor = noise_floor(run, (x,), expected, tol)
                    ctx.compare(np.where(np.isnan(expected), 0, got), np.where(np.isnan(expected), 0, expected),
                                tol, what=f"{forward} output", against="jax.nn", floor=floor)
                else:  # the wrong type, shape or dtype: compare says which
                    ctx.compare(got, expected, tol, what=f"{forward} output", against="jax.nn")

    return check


def _same_nans(ctx: CheckContext, forward: str, x, got, expected) -> None:
    lost = np.isnan(expected) & ~np.isnan(got)
    if lost.any():
        idx = tuple(int(i) for i in np.argwhere(lost)[0])
        ctx.fail(f"{forward} output at index {idx} is {float(got[idx])!r} where jax.nn gives nan (the input there "
                 f"is {float(x[idx])!r}): a NaN input must give NaN, so that a diverged network shows; np.maximum "
                 f"propagates NaN, a comparison like np.where(x > 0, x, 0) or np.fmax hides it")
    made = np.isnan(got) & ~np.isnan(expected)
    if made.any():
        idx = tuple(int(i) for i in np.argwhere(made)[0])
        ctx.fail(f"{forward} output at index {idx} is nan where jax.nn gives {float(expected[idx])!r} (the input "
                 f"there is {float(x[idx])!r}); look for inf - inf, 0 * inf or inf / inf")


def with_nonfinite(main, extra):
    """``main`` (the vjp_check), then ``extra`` (the NaN and infinity check) on the same context."""

    def check(ctx: CheckContext) -> None:
        main(ctx)
        extra(ctx)

    check.__doc__ = f"{main.__doc__}; NaN and infinite inputs"
    return check


# --------------------------------------------------------------------------- tolerances
# Error budgets in eps of the case's dtype, ``Tolerance(rel, abs)``: the
# bound is rel * eps * |expected_i| + abs * eps * max|expected|. Calibrated
# by running the reference over 300 seeds (``python -m fdl.sweep 7``); the worst error
# seen, as a fraction of the bound, is the figure beside each.
#
# relu, leaky relu: exact but for alpha * x (300 seeds: relu 0.005, leaky_relu 0.007)
EXACT_ISH = Tolerance(4, 4)
# tanh, sigmoid, silu: a few roundings in exp/tanh; 1 - t^2 and s (1 - s) cancel where
# the derivative is small, an error of ~eps absolute (300 seeds: tanh 0.18, sigmoid 0.05, silu 0.04)
GATE = Tolerance(16, 16)
# gelu: the tanh form's derivative adds 0.5 (1 + t) and 0.5 x (1 - t^2) du/dx, terms of
# size ~30 at x ~ -8 that cancel to almost 0, so its error is ~30 eps absolute (300 seeds: 0.35)
GELU = Tolerance(128, 128)
# softmax: s_i (dout_i - s . dout) errs by ~eps |dout| s_i, while the gradient itself can be
# far smaller than |dout| (a near-one-hot row cancels): hence the larger absolute term (300 seeds: 0.12)
SOFTMAX = Tolerance(96, 96)
# log-softmax: dout - s sum(dout) has no such cancellation (300 seeds: 0.03)
LOG_SOFTMAX = Tolerance(32, 32)

# --------------------------------------------------------------------------- initializers
# Statistics are judged in standard errors. Over the check's ~20 such
# comparisons, 6 standard errors leave a chance below 1e-7 that correct code
# fails, while the slips this check exists for (fan_out for fan_in, a missing
# factor 2, a bound of sqrt(3 / n)) are over 100 standard errors away on the
# 512 x 384 shape. Over 40 seeds the reference's worst was 3.4 (0.57 of the limit).
Z_LIMIT = 15.0
# dense, conv (kh, kw, in, out), square (fan_in == fan_out), wide and tall (fans 10 and 37 to 1 apart)
STAT_SHAPES = [(512, 384), (3, 3, 48, 96), (256, 256), (100, 1000), (1500, 40)]
SMALL_SHAPES = [(1, 1), (7, 5), (2, 3, 4)]


def _glorot_variance(fan_in, fan_out):
    return 2.0 / (fan_in + fan_out)


def _he_variance(fan_in, fan_out):
    return 2.0 / fan_in


def _lecun_variance(fan_in, fan_out):
    return 1.0 / fan_in


# name: (distribution, target variance, formula, jax's initializer, likely slips as (variance ratio, hint))
INITIALIZERS = {
    "glorot_uniform": (
        "uniform", _glorot_variance, "2 / (fan_in + fan_out)", jax.nn.initializers.glorot_uniform,
        lambda fi, fo: [
            (1 / 3, "a bound of sqrt(2 / (fan_in + fan_out)) is the std, not the bound: U(-a, a) has variance a^2/3"),
            (0.5, "a bound of sqrt(3 / (fan_in + fan_out)): the numerator is 6"),
            ((fi + fo) / fi, "a bound of sqrt(6 / fan_in): fan_in alone where fan_in + fan_out belongs"),
            ((fi + fo) / fo, "a bound of sqrt(6 / fan_out): fan_out alone where fan_in + fan_out belongs"),
        ],
    ),
    "he_normal": (
        "normal", _he_variance, "2 / fan_in", jax.nn.initializers.he_normal,
        lambda fi, fo: [
            (fi / fo, "fan_out where fan_in belongs: He scales by the number of inputs each output sums"),
            (0.5, "a missing factor 2: He's variance is 2 / fan_in (ReLU zeroes half the signal)"),
            (fi / (fi + fo), "Glorot's 2 / (fan_in + fan_out) where He's 2 / fan_in belongs"),
            ((2 / fi), "the variance used as the standard deviation: std = sqrt(2 / fan_in)"),
        ],
    ),
    "lecun_normal": (
        "normal", _lecun_variance, "1 / fan_in", jax.nn.initializers.lecun_normal,
        lambda fi, fo: [
            (fi / fo, "fan_out where fan_in belongs: LeCun scales by the number of inputs each output sums"),
            (2.0, "an extra factor 2: that is He's 2 / fan_in; LeCun's is 1 / fan_in"),
            (2 * fi / (fi + fo), "the average (fan_in + fan_out) / 2 where fan_in belongs (that is Glorot)"),
            ((1 / fi), "the variance used as the standard deviation: std = sqrt(1 / fan_in)"),
        ],
    ),
}

_JAX_INITS: dict = {}


def _jax_variance(name: str, shape: tuple, seed: int) -> float:
    """The sample variance of jax.nn.initializers' own draw for ``shape`` (float64).

    Compiled once per initializer and shape, whatever the seed. The "rbg"
    key (XLA's random bit generator) compiles faster than the default
    threefry; its draws are as good for a statistic.
    """
    if name not in _JAX_INITS:
        _JAX_INITS[name] = jax.jit(INITIALIZERS[name][3](), static_argnums=(1, 2))
    w = np.asarray(_JAX_INITS[name](jax.random.key(seed, impl="rbg"), shape, jnp.float64))
    return float(np.var(w))


def _fans(shape):
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _slip_hint(ratio: float, slips) -> str:
    """The likely slip whose variance ratio is nearest ``ratio`` (within 6%), or ''."""
    best = min(slips, key=lambda s: abs(math.log(ratio / s[0])) if ratio > 0 else math.inf)
    if ratio > 0 and abs(math.log(ratio / best[0])) < 0.06:
        return f"\n  hint: {best[1]}"
    return ""


def _expect_array(ctx: CheckContext, w, shape, dtype, call: str) -> None:
    if not isinstance(w, np.ndarray):
        ctx.fail(f"{call} must return a NumPy array of shape {shape}; it returned {describe(w)}")
    if w.shape != tuple(shape):
        ctx.fail(f"{call}: expected shape {tuple(shape)}, got {w.shape}")
    if w.dtype != np.dtype(dtype):
        ctx.fail(f"{call}: expected dtype {np.dtype(dtype).name}, got {w.dtype.name}; "
                 f"cast with .astype(dtype) at the end")
    if not np.all(np.isfinite(w)):
        ctx.fail(f"{call} returned non-finite values (a division by a zero fan?)")


def _record(ctx: CheckContext, z: float, what: str, diff: float, scale: float) -> None:
    """Keep the worst standardised deviation as the exercise's 'worst error' (ratio 1 = the limit)."""
    ratio = abs(z) / Z_LIMIT
    if ctx.worst is None or ratio > ctx.worst.ratio:
        ctx.worst = Comparison(abs(diff), abs(diff) / scale if scale else 0.0, ratio, what)


def _check_one(ctx: CheckContext, name: str, shape: tuple, seed: int, statistics: bool,
               against_jax: bool = False) -> None:
    distribution, variance_of, formula, _, slips_of = INITIALIZERS[name]
    fn = ctx.fn(name)
    call = f"{name}({shape}, rng=np.random.default_rng({seed}))"
    ctx.case(call)

    global_state = np.random.get_state()
    w = ctx.call(fn, shape, np.random.default_rng(seed))
    _expect_array(ctx, w, shape, np.float32, call + " (default dtype float32)")
    if not _same_global_state(global_state, np.random.get_state()):
        ctx.fail(f"{call} drew from NumPy's global generator (np.random.*); draw only from the rng passed in")
    again = ctx.call(fn, shape, np.random.default_rng(seed))
    if not (isinstance(again, np.ndarray) and np.array_equal(w, again)):
        ctx.fail(f"{call} gave different weights when called twice with the same seed; "
                 f"draw only from the rng passed in, never from a new unseeded one")
    other = ctx.call(fn, shape, np.random.default_rng(seed + 1))
    if w.size > 1 and isinstance(other, np.ndarray) and np.array_equal(w, other):
        ctx.fail(f"{call} gave the same weights for seeds {seed} and {seed + 1}: the rng passed in is not used")
    w64 = ctx.call(fn, shape, np.random.default_rng(seed), dtype=np.float64)
    _expect_array(ctx, w64, shape, np.float64, call[:-1] + ", dtype=np.float64)")

    fan_in, fan_out = _fans(shape)
    target = variance_of(fan_in, fan_out)
    std = math.sqrt(target)
    where = f"shape {shape}: fan_in {fan_in}, fan_out {fan_out}, target variance {formula} = {target:.4g}"
    if distribution == "uniform":
        limit = math.sqrt(3 * target)  # sqrt(6 / (fan_in + fan_out))
        for got, dtype in ((w, "float32"), (w64, "float64")):
            top = float(np.abs(got).max())
            if top > limit * (1 + 2 * np.finfo(got.dtype).eps):
                ctx.fail(f"{name}: a value of magnitude {top:.6g} lies outside the bound a = sqrt(6 / (fan_in + "
                         f"fan_out)) = {limit:.6g} ({dtype}; {where}); draw from U(-a, a)")
    if not statistics:
        return

    n = w64.size
    values = w64.astype(np.float64)
    mean, variance = float(values.mean()), float(values.var())
    # the mean's standard error from the sample's own variance: a wrong scale is the variance test's to report
    mean_se = math.sqrt(variance / n)
    z_mean = mean / mean_se if mean_se > 0 else (0.0 if mean == 0 else math.inf)
    _record(ctx, z_mean, f"mean of {name}{shape}", mean, std)
    if abs(z_mean) > Z_LIMIT:
        ctx.fail(f"{name}: mean {mean:.4g}, expected 0 within {Z_LIMIT:g} standard errors "
                 f"({Z_LIMIT * mean_se:.2g}); it is {z_mean:+.1f} ({where}). "
                 f"Weights are centred: U(-a, a) or N(0, sigma^2)")

    # Var of a sample variance: sigma^4 (kurtosis - 1) / n; kurtosis 1.8 uniform, 3 normal (less if truncated)
    excess = 0.8 if distribution == "uniform" else 2.0
    se = target * math.sqrt(excess / n)
    z_target = (variance - target) / se
    z_jax, jax_says = 0.0, ""
    if against_jax:
        reference = _jax_variance(name, shape, seed)
        z_jax = (variance - reference) / (math.sqrt(2) * se)  # two independent samples
        jax_says = f"; jax.nn.initializers.{name} gives {reference:.5g} for the same shape"
    _record(ctx, max(z_jax, z_target, key=abs), f"variance of {name}{shape}", variance - target, target)
    if abs(z_jax) > Z_LIMIT or abs(z_target) > Z_LIMIT:
        ratio = variance / target
        ctx.fail(
            f"{name}: variance {variance:.5g}, expected {target:.5g} ({where}){jax_says}. Yours is "
            f"{ratio:.4g} x the target, {z_target:+.1f} standard errors away (allowed {Z_LIMIT:g})"
            + _slip_hint(ratio, slips_of(fan_in, fan_out))
        )

    top = float(np.abs(values).max()) / std
    if distribution == "normal" and top < 1.9:
        ctx.fail(f"{name}: the largest |w| is only {top:.3f} standard deviations ({where}); a normal (even "
                 f"truncated at 2 std like JAX's) reaches beyond 1.9 in {n} draws. A uniform draw?")
    if distribution == "uniform":
        limit = math.sqrt(3 * target)
        reach = float(np.abs(values).max()) / limit
        if reach < 1 - 20 / n:  # P(max |w| < a (1 - 20/n)) = (1 - 20/n)^n ~ e^-20
            ctx.fail(f"{name}: the largest |w| is {reach:.4f} x the bound a = {limit:.5g} ({where}); "
                     f"{n} uniform draws on (-a, a) reach it. A normal or a narrower interval?")


def _same_global_state(a, b) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def check_initializers(ctx: CheckContext) -> None:
    """Shape, dtype, reproducibility and statistics of the three initializers.

    For each initializer and shape: the default dtype is float32 and
    ``dtype=np.float64`` gives float64; the same seed gives the same
    weights, another seed others, and NumPy's global generator is left
    alone; a 1-D shape raises ``ValueError`` (no fans). On large shapes
    (dense 512 x 384, conv 3 x 3 x 48 x 96, square 256 x 256, wide 100 x 1000,
    tall 1500 x 40), the mean is 0 and the variance equals the target within
    ``Z_LIMIT`` standard errors, and on the dense shape also the sample
    variance of ``jax.nn.initializers``' own draw (one compilation per
    initializer; the tests show JAX's variance equals the target on the other
    shapes too); a uniform stays within, and reaches, its bound; a normal
    reaches past 1.9 standard deviations.
    """
    seed = int(ctx.rng.integers(0, 2**31 - 1))
    for name in INITIALIZERS:
        for i, shape in enumerate(STAT_SHAPES):
            _check_one(ctx, name, shape, seed, statistics=True, against_jax=i == 0)
        for shape in SMALL_SHAPES:
            _check_one(ctx, name, shape, seed, statistics=False)
        fn = ctx.fn(name)
        ctx.case(f"{name}((5,), rng): a 1-D shape has no fan_in/fan_out")
        try:
            got = ctx.call(fn, (5,), np.random.default_rng(seed))
        except ValueError:
            continue
        ctx.fail(f"{name}((5,), rng) should raise ValueError (a weight needs 2 axes to have fans, as in "
                 f"jax.nn.initializers); it returned {describe(got)}")


# --------------------------------------------------------------------------- the checks
CHECKS = {
    "relu": with_nonfinite(
        vjp_check("relu_forward", "relu_backward", jax.nn.relu, elementwise_cases(kinks=True, infinities=True),
                  names=["x"], tol=EXACT_ISH, elementwise=True),
        nonfinite_check("relu_forward", jax.nn.relu, tol=EXACT_ISH)),
    "leaky_relu": with_nonfinite(
        vjp_check("leaky_relu_forward", "leaky_relu_backward", leaky_relu_oracle, leaky_relu_cases, names=["x"],
                  tol=EXACT_ISH, elementwise=True),
        nonfinite_check("leaky_relu_forward", leaky_relu_oracle, kwargs_list=({}, {"alpha": 2.5}), tol=EXACT_ISH)),
    "gelu": with_nonfinite(
        vjp_check("gelu_forward", "gelu_backward", gelu_oracle, gelu_cases, names=["x"], tol=GELU, elementwise=True),
        nonfinite_check("gelu_forward", gelu_oracle, NO_MINUS_INF, ({}, {"approximate": True}), tol=GELU)),
    "silu": with_nonfinite(
        vjp_check("silu_forward", "silu_backward", jax.nn.silu, elementwise_cases(), names=["x"], tol=GATE,
                  elementwise=True),
        nonfinite_check("silu_forward", jax.nn.silu, NO_MINUS_INF, tol=GATE)),
    "sigmoid": with_nonfinite(
        vjp_check("sigmoid_forward", "sigmoid_backward", jax.nn.sigmoid, elementwise_cases(infinities=True),
                  names=["x"], tol=GATE, elementwise=True),
        nonfinite_check("sigmoid_forward", jax.nn.sigmoid, tol=GATE)),
    "tanh": with_nonfinite(
        vjp_check("tanh_forward", "tanh_backward", jnp.tanh, elementwise_cases(infinities=True), names=["x"],
                  tol=GATE, elementwise=True),
        nonfinite_check("tanh_forward", jnp.tanh, tol=GATE)),
    "softmax": with_nonfinite(
        vjp_check("softmax_forward", "softmax_backward", softmax_oracle, softmax_cases, names=["x"], tol=SOFTMAX),
        nonfinite_check("softmax_forward", softmax_oracle, kwargs_list=({}, {"axis": 0}), tol=SOFTMAX,
                        axis_wise=True)),
    "log_softmax": with_nonfinite(
        vjp_check("log_softmax_forward", "log_softmax_backward", log_softmax_oracle, softmax_cases, names=["x"],
                  tol=LOG_SOFTMAX),
        nonfinite_check("log_softmax_forward", log_softmax_oracle, kwargs_list=({}, {"axis": 0}), tol=LOG_SOFTMAX,
                        axis_wise=True)),
    "init": check_initializers,
}
