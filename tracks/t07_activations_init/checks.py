"""Topic 07 checks: activations against ``jax.nn``, initializers against ``jax.nn.initializers``.

Activations go through :func:`fdl.check.vjp_check`: forward values, the VJP
against ``jax.vjp`` of the ``jax.nn`` function, and central differences of
the checked forward. Beyond the usual shapes the cases include:

- magnitudes of 100 and 1000, where ``exp`` overflows (float64 above ~709,
  float32 above ~88): a softmax without the max subtracted, a log of a
  softmax, or a sigmoid written ``e^x / (1 + e^x)`` returns inf or NaN here;
- exact zeros for relu and leaky relu: the kink, where the gradient is a
  convention (JAX: relu'(0) = 0, leaky_relu'(0) = 1); central differences
  there are meaningless, so those cases have ``numeric=False``;
- softmax over axes 0, -2 and the default -1, and over an axis of size 1;
- the default arguments (``alpha=0.01``, ``approximate=False``,
  ``axis=-1``) as well as explicit ones.

Initializers are random, so their check is statistical (see
:func:`check_initializers`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from fdl.check import Case, CheckContext, Comparison, Tolerance, describe, vjp_check

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
# The checker compiles one JAX program per oracle, input shapes and keyword
# arguments; compiling dominates a check's time, so the cases reuse a few
# shapes: (3, 5) float64 (odd sizes), (1, 7) (a batch of 1), (2, 3, 5)
# (three axes) and (3, 5) float32.
# Magnitudes up to 1000, both signs: exp overflows float64 above ~709, float32 above ~88.
LARGE = np.array([[-1000.0, -750.0, -710.0, -100.0, -30.0],
                  [-3.5, -0.25, 0.5, 2.0, 15.0],
                  [30.0, 100.0, 710.0, 750.0, 1000.0]])
LARGE32 = np.array([[-100.0, -90.0, -89.0, -20.0, -1.5],
                    [-0.75, 0.125, 0.5, 3.0, 12.0],
                    [20.0, 88.5, 89.0, 90.0, 100.0]], dtype=np.float32)


def _normal(rng, shape):
    return np.asarray(rng.standard_normal(shape))


def _shuffled(rng, x):
    """``x`` with its entries permuted, so no row holds only large or only small values."""
    return rng.permutation(x.reshape(-1)).reshape(x.shape)


def elementwise_cases(kwargs=None, *, kinks=False, shapes=True):
    """Cases for an elementwise activation, each called with ``kwargs`` (None: the defaults).

    Central differences use a step proportional to |x|, too coarse to judge
    a gradient at |x| = 1000, so the large-magnitude cases are compared with
    ``jax.vjp`` only.
    """

    def cases(rng):
        kw = dict(kwargs or {})
        out = [Case((_normal(rng, (3, 5)),), dict(kw))]
        if shapes:
            out += [Case((_normal(rng, (1, 7)),), dict(kw), label="a batch of 1"),
                    Case((_normal(rng, (2, 3, 5)),), dict(kw))]
        out.append(Case((4 * _normal(rng, (3, 5)),), dict(kw), label="a wider spread"))
        out.append(Case((_shuffled(rng, LARGE),), dict(kw), numeric=False,
                        label="magnitudes up to 1000: exp overflows"))
        out.append(Case((_normal(rng, (3, 5)).astype(np.float32),), dict(kw), label="float32 stays float32"))
        out.append(Case((_shuffled(rng, LARGE32),), dict(kw), label="float32 up to 100: exp overflows float32"))
        if kinks:
            x = rng.integers(-2, 3, (3, 5)).astype(np.float64)  # small integers: about a fifth are exactly 0
            x[0, 0] = 0.0
            out.append(Case((x,), dict(kw), numeric=False, label="exact zeros: the kink takes JAX's convention"))
        return out

    return cases


def leaky_relu_cases(rng):
    return [*elementwise_cases(kinks=True)(rng),  # the default alpha = 0.01
            *elementwise_cases({"alpha": 0.2}, kinks=True, shapes=False)(rng)]


def gelu_cases(rng):
    return [*elementwise_cases()(rng),  # the default: exact
            *elementwise_cases({"approximate": True})(rng),
            Case((3 * _normal(rng, (3, 5)),), {"approximate": False})]


SOFTMAX_AXES = [  # (shape, axis, label); None: the default axis=-1
    ((3, 5), None, ""),
    ((3, 5), 0, ""),
    ((2, 3, 5), -2, "the middle axis"),
    ((1, 7), 0, "an axis of size 1: softmax is 1, its gradient 0"),
]


def _peaked(rng, rows: int, cols: int, tops=(-1000.0, -750.0, 710.0, 1000.0), far=(50.0, 1500.0), dtype=np.float64):
    """(rows, cols), each row with a maximum from ``tops`` and two entries within 3 of it.

    The near-ties keep the softmax away from one-hot, so its gradient is of
    order 0.1, not a cancellation of order 1e-13 that no tolerance could judge.
    """
    out = np.empty((rows, cols))
    for r in range(rows):
        top = rng.choice(tops)
        gaps = np.concatenate([[0.0], rng.uniform(0, 3, 2), rng.uniform(*far, cols - 3)])
        out[r] = top - rng.permutation(gaps)
    return out.astype(dtype)


def softmax_cases(rng):
    out = []
    for shape, axis, label in SOFTMAX_AXES:
        out.append(Case((_normal(rng, shape),), {} if axis is None else {"axis": axis}, label=label))
    # a softmax near one-hot has a gradient that is a cancellation (s_i (dout_i - s . dout) with s_i ~ 1):
    # tiny, and as imprecise in JAX as in NumPy; a spread of 2.5 keeps every row away from that
    out.append(Case((2.5 * _normal(rng, (3, 5)),), label="a wider spread"))
    out.append(Case((_peaked(rng, 3, 5),), numeric=False, label="magnitudes up to 2500: exp overflows"))
    out.append(Case((_peaked(rng, 5, 3).T.copy(),), {"axis": 0}, numeric=False,
                    label="magnitudes up to 2500, axis 0"))
    out.append(Case((1000 + _normal(rng, (3, 5)),), numeric=False, label="all near 1000: exp(x) is inf"))
    out.append(Case((-1000 + _normal(rng, (3, 5)),), numeric=False, label="all near -1000: exp(x) is 0"))
    out.append(Case((_normal(rng, (3, 5)).astype(np.float32),), label="float32 stays float32"))
    out.append(Case((_peaked(rng, 3, 5, (-100.0, -90.0, 89.0, 100.0), (10.0, 100.0), np.float32),),
                    label="float32 up to 200: exp overflows float32"))
    out.append(Case(((-120 + _normal(rng, (3, 5))).astype(np.float32),),
                    label="float32, all near -120: exp(x) underflows to 0"))
    return out


# --------------------------------------------------------------------------- tolerances
# Error budgets in eps of the case's dtype, ``Tolerance(rel, abs)``: the
# bound is rel * eps * |expected_i| + abs * eps * max|expected|. Calibrated
# by running the reference over 40 seeds; the worst error seen, as a
# fraction of the bound, is the figure beside each.
#
# relu, leaky relu: exact but for alpha * x (worst 0.06, against central differences)
EXACT_ISH = Tolerance(4, 4)
# tanh, sigmoid, silu: a few roundings in exp/tanh; 1 - t^2 and s (1 - s) cancel where
# the derivative is small, an error of ~eps absolute (worst 0.14)
GATE = Tolerance(32, 64)
# gelu: the tanh form's derivative adds 0.5 (1 + t) and 0.5 x (1 - t^2) du/dx, terms of
# size ~30 at x ~ -8 that cancel to almost 0, so its error is ~30 eps absolute (worst 0.23)
GELU = Tolerance(64, 384)
# softmax: s_i (dout_i - s . dout) errs by ~eps |dout| s_i, while the gradient itself can be
# far smaller than |dout| (a near-one-hot row cancels): hence the larger absolute term (worst 0.22)
SOFTMAX = Tolerance(32, 256)
# log-softmax: dout - s sum(dout) has no such cancellation (worst 0.07)
LOG_SOFTMAX = Tolerance(32, 32)

# --------------------------------------------------------------------------- initializers
# Statistics are judged in standard errors. Over the check's ~20 such
# comparisons, 6 standard errors leave a chance below 1e-7 that correct code
# fails, while the slips this check exists for (fan_out for fan_in, a missing
# factor 2, a bound of sqrt(3 / n)) are over 100 standard errors away on the
# 512 x 384 shape. Over 40 seeds the reference's worst was 3.4 (0.57 of the limit).
Z_LIMIT = 6.0
STAT_SHAPES = [(512, 384), (3, 3, 48, 96), (100, 1000)]  # dense, conv (kh, kw, in, out), wide
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
    (dense 512 x 384, conv 3 x 3 x 48 x 96, 100 x 1000), the mean is 0 and the
    variance equals the target within ``Z_LIMIT`` standard errors, and on the
    dense shape also the sample variance of ``jax.nn.initializers``' own
    draw (one compilation per initializer; the tests show JAX's variance
    equals the target on the other shapes too); a uniform stays within, and reaches, its
    bound; a normal reaches past 1.9 standard deviations.
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
    "relu": vjp_check("relu_forward", "relu_backward", jax.nn.relu, elementwise_cases(kinks=True),
                      names=["x"], tol=EXACT_ISH),
    "leaky_relu": vjp_check("leaky_relu_forward", "leaky_relu_backward", leaky_relu_oracle, leaky_relu_cases,
                            names=["x"], tol=EXACT_ISH),
    "gelu": vjp_check("gelu_forward", "gelu_backward", gelu_oracle, gelu_cases, names=["x"], tol=GELU),
    "silu": vjp_check("silu_forward", "silu_backward", jax.nn.silu, elementwise_cases(), names=["x"], tol=GATE),
    "sigmoid": vjp_check("sigmoid_forward", "sigmoid_backward", jax.nn.sigmoid, elementwise_cases(), names=["x"],
                         tol=GATE),
    "tanh": vjp_check("tanh_forward", "tanh_backward", jnp.tanh, elementwise_cases(), names=["x"], tol=GATE),
    "softmax": vjp_check("softmax_forward", "softmax_backward", softmax_oracle, softmax_cases, names=["x"],
                         tol=SOFTMAX),
    "log_softmax": vjp_check("log_softmax_forward", "log_softmax_backward", log_softmax_oracle, softmax_cases,
                             names=["x"], tol=LOG_SOFTMAX),
    "init": check_initializers,
}
