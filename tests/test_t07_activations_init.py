"""Topic 07: each exercise's check catches a planted bug, for the planted reason; the run and the JAX version."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from tracks.t07_activations_init import reference as ref

from helpers import Bug, assert_bug_caught

TOPIC = find_topic(7)


# --------------------------------------------------------------------------- one bug per exercise
def _relu_backward_masks_dout(dout, out):
    return np.where(dout > 0, dout, 0)  # the mask taken from the gradient, not the input


def _leaky_relu_backward_flat_below(dout, cache):
    positive, alpha = cache
    return np.where(positive, dout, 0)  # relu's backward: the alpha slope forgotten


def _gelu_backward_cdf_only(dout, cache):
    x, approximate = cache
    if approximate:
        return ref.gelu_backward(dout, cache)
    return dout * ref._normal_cdf(x).astype(x.dtype)  # Phi(x) without the x phi(x) term


def _silu_backward_sigmoid_only(dout, x):
    s, _ = ref.sigmoid_forward(x)
    return dout * s  # treats x sigmoid(x) as if x were a constant


def _sigmoid_forward_naive(x):
    e = np.exp(x)
    out = e / (1 + e)  # inf / inf = NaN for x > 709
    return out, out


def _tanh_backward_linear(dout, out):
    return dout * (1 - out)


def _softmax_forward_unshifted(x, axis=-1):
    e = np.exp(x)  # overflows for x > 709
    s = e / e.sum(axis=axis, keepdims=True)
    return s, (s, axis)


def _log_softmax_backward_no_sum(dout, cache):
    out, axis = cache
    return dout - np.exp(out) * dout  # the diagonal of the Jacobian only


def _he_normal_fan_out(shape, rng, dtype=np.float32):
    _, fan_out = ref.fans(shape)
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_out)).astype(dtype)


BUGS = {
    "relu": Bug({"relu_backward": _relu_backward_masks_dout}, "gradient of x", "mask from dout instead of x"),
    "leaky_relu": Bug({"leaky_relu_backward": _leaky_relu_backward_flat_below}, "gradient of x",
                      "no alpha slope below 0 in the backward"),
    "gelu": Bug({"gelu_backward": _gelu_backward_cdf_only}, "gradient of x", "exact GELU' = Phi(x), x phi(x) lost"),
    "silu": Bug({"silu_backward": _silu_backward_sigmoid_only}, "gradient of x", "SiLU' = sigmoid(x)"),
    "sigmoid": Bug({"sigmoid_forward": _sigmoid_forward_naive}, "non-finite", "e^x / (1 + e^x) overflows"),
    "tanh": Bug({"tanh_backward": _tanh_backward_linear}, "gradient of x", "1 - tanh instead of 1 - tanh^2"),
    "softmax": Bug({"softmax_forward": _softmax_forward_unshifted}, "non-finite", "no max subtraction"),
    "log_softmax": Bug({"log_softmax_backward": _log_softmax_backward_no_sum}, "gradient of x",
                       "the sum over the axis forgotten"),
    "init": Bug({"he_normal": _he_normal_fan_out}, "fan_out where fan_in belongs", "He scaled by fan_out"),
}


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


# --------------------------------------------------------------------------- more slips, each for its reason
def _relu_with_kink_gradient_one():
    def forward(x):
        return np.maximum(x, 0), x

    def backward(dout, x):
        return np.where(x >= 0, dout, 0)  # slope 1 at x = 0; JAX takes 0

    return {"relu_forward": forward, "relu_backward": backward}


def _leaky_relu_fixed_alpha(x, alpha=0.01):
    return ref.leaky_relu_forward(x)  # the argument ignored


def _gelu_always_exact(x, approximate=False):
    return ref.gelu_forward(x, approximate=False)


def _gelu_float64(x, approximate=False):
    out, cache = ref.gelu_forward(x.astype(np.float64), approximate)
    return out, cache  # float32 in, float64 out


def _softmax_last_axis_only(x, axis=-1):
    return ref.softmax_forward(x, axis=-1)


def _log_softmax_of_softmax(x, axis=-1):
    s, _ = ref.softmax_forward(x, axis)
    out = np.log(s)  # s underflows to 0 for entries far below the maximum
    return out, (out, axis)


def _he_normal_without_2(shape, rng, dtype=np.float32):
    fan_in, _ = ref.fans(shape)
    return (rng.standard_normal(shape) * math.sqrt(1.0 / fan_in)).astype(dtype)


def _glorot_bound_3(shape, rng, dtype=np.float32):
    fan_in, fan_out = ref.fans(shape)
    limit = math.sqrt(3.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def _glorot_normal(shape, rng, dtype=np.float32):
    fan_in, fan_out = ref.fans(shape)
    return (rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out))).astype(dtype)


def _uniform_from_zero(shape, rng, dtype=np.float32):
    fan_in, fan_out = ref.fans(shape)
    return rng.uniform(0, math.sqrt(6.0 / (fan_in + fan_out)), size=shape).astype(dtype)  # U(0, a): not centred


def _lecun_first_axis(shape, rng, dtype=np.float32):
    return (rng.standard_normal(shape) * math.sqrt(1.0 / shape[0])).astype(dtype)  # wrong for conv kernels


def _lecun_global_rng(shape, rng, dtype=np.float32):
    fan_in, _ = ref.fans(shape)
    return (np.random.standard_normal(shape) * math.sqrt(1.0 / fan_in)).astype(dtype)


def _lecun_fresh_rng(shape, rng, dtype=np.float32):
    return ref.lecun_normal(shape, np.random.default_rng(), dtype)


def _lecun_float64(shape, rng, dtype=np.float32):
    return ref.lecun_normal(shape, rng, np.float64)


def _relu_backward_into_dout(dout, out):
    dout[out <= 0] = 0  # the caller's dout zeroed in place
    return dout


def _relu_backward_float64_mask(dout, out):
    return dout * (out > 0).astype(float)  # a float64 mask turns a float32 gradient into float64


def _relu_forward_hides_nan(x):
    out = np.where(x > 0, x, 0)  # NaN > 0 is False: a NaN comes out as 0
    return out, out


def _leaky_relu_forward_max(x, alpha=0.01):
    positive = x >= 0
    return np.maximum(x, alpha * x), (positive, alpha)  # right only for alpha <= 1


def _tanh_backward_into_cache(dout, out):
    out **= 2  # the cached output squared in place
    return dout * (1 - out)


def _softmax_backward_into_cache(dout, cache):
    s, axis = cache
    s *= dout - (dout * s).sum(axis=axis, keepdims=True)  # the cached softmax overwritten with the gradient
    return s


def _softmax_forward_global_max(x, axis=-1):
    e = np.exp(x - x.max())  # one maximum for the whole array: rows far below it underflow to 0 / 0
    s = e / e.sum(axis=axis, keepdims=True)
    return s, (s, axis)


def _he_normal_truncated(shape, rng, dtype=np.float32):
    fan_in, _ = ref.fans(shape)
    z = rng.standard_normal(shape)
    z = np.where(np.abs(z) > 2, rng.standard_normal(shape), z)  # roughly truncated at 2 std, never rescaled
    return (z * math.sqrt(2.0 / fan_in)).astype(dtype)


def _lecun_any_rank(shape, rng, dtype=np.float32):
    fan_in = ref.fans(shape)[0] if len(shape) >= 2 else shape[0]  # a vector treated as its own fan
    return (rng.standard_normal(shape) * math.sqrt(1.0 / fan_in)).astype(dtype)


MORE_BUGS = [
    ("relu", Bug(_relu_with_kink_gradient_one(), "exact zeros", "relu'(0) = 1")),
    ("leaky_relu", Bug({"leaky_relu_forward": _leaky_relu_fixed_alpha}, "alpha=", "alpha ignored")),
    ("gelu", Bug({"gelu_forward": _gelu_always_exact}, "approximate=True", "the tanh form never used")),
    ("gelu", Bug({"gelu_forward": _gelu_float64}, "expected dtype float32", "float32 promoted to float64")),
    ("softmax", Bug({"softmax_forward": _softmax_last_axis_only}, "axis=0", "axis ignored")),
    ("log_softmax", Bug({"log_softmax_forward": _log_softmax_of_softmax}, "non-finite", "log(softmax(x))")),
    ("init", Bug({"he_normal": _he_normal_without_2}, "a missing factor 2", "He's variance 1 / fan_in")),
    ("init", Bug({"glorot_uniform": _glorot_bound_3}, "the numerator is 6", "bound sqrt(3 / (fan_in + fan_out))")),
    ("init", Bug({"glorot_uniform": _glorot_normal}, "outside the bound", "a normal, not a uniform")),
    ("init", Bug({"glorot_uniform": _uniform_from_zero}, "expected 0 within", "U(0, a) instead of U(-a, a)")),
    ("init", Bug({"lecun_normal": _lecun_first_axis}, "shape (3, 3, 48, 96): fan_in 432",
                 "fan_in = shape[0] for a conv kernel")),
    ("init", Bug({"lecun_normal": _lecun_global_rng}, "global generator", "np.random.standard_normal")),
    ("init", Bug({"lecun_normal": _lecun_fresh_rng}, "called twice with the same seed", "a new unseeded rng")),
    ("init", Bug({"lecun_normal": _lecun_float64}, "expected dtype float32", "dtype ignored")),
    ("init", Bug({"lecun_normal": _lecun_any_rank}, "should raise ValueError", "a 1-D shape accepted")),
    # the new classes of the checker, each for its reason
    ("relu", Bug({"relu_backward": _relu_backward_into_dout}, "modified dout in place", "dout[mask] = 0")),
    ("relu", Bug({"relu_backward": _relu_backward_float64_mask}, "expected dtype float32", "a float64 mask")),
    ("relu", Bug({"relu_forward": _relu_forward_hides_nan}, "a NaN input must give NaN", "np.where hides NaN")),
    ("leaky_relu", Bug({"leaky_relu_forward": _leaky_relu_forward_max}, "leaky_relu_forward output differs",
                       "max(x, alpha x), wrong for alpha > 1")),
    ("tanh", Bug({"tanh_backward": _tanh_backward_into_cache}, "modified its cache in place", "out **= 2")),
    ("softmax", Bug({"softmax_backward": _softmax_backward_into_cache}, "modified its cache in place",
                    "s *= ... on the cached softmax")),
    ("softmax", Bug({"softmax_forward": _softmax_forward_global_max}, "non-finite",
                    "the maximum of the whole array, not along the axis")),
    ("init", Bug({"he_normal": _he_normal_truncated}, "he_normal: variance", "truncated at 2 std, not rescaled")),
]


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_slips_fail_for_their_reason(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_max_formula_fails_on_a_slope_above_1():
    """max(x, alpha x) is leaky relu for alpha <= 1 only: the slopes drawn up to 3 are what catch it."""
    result = assert_bug_caught(TOPIC, "leaky_relu", Bug({"leaky_relu_forward": _leaky_relu_forward_max}))
    assert float(re.search(r"alpha=([0-9.]+)", result.message).group(1)) > 1


def test_init_failure_names_the_fans_and_jax():
    result = assert_bug_caught(TOPIC, "init", BUGS["init"])
    for piece in ("fan_in 512", "fan_out 384", "jax.nn.initializers.he_normal gives", "standard errors"):
        assert piece in result.message, piece


# --------------------------------------------------------------------------- the run
def test_smoke_run(capsys, tmp_path):
    code = main(["topic07", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report.get("error")
    run = report["run"]
    metrics = run["metrics"]
    assert metrics["depth"] >= 20
    assert metrics["relu_he_drift"] <= 4
    assert metrics["relu_normal001_last_std"] < 1e-3 and metrics["relu_glorot_uniform_last_std"] < 1e-2
    assert run["targets"] and all(t["met"] for t in run["targets"])
    names = {Path(p).name for p in run["plots"]}
    assert names == {"activation_std.png", "activation_std_zoom.png"}
    assert all(Path(p).stat().st_size > 10_000 for p in run["plots"])


def test_run_statistics_follow_the_variance_rule():
    """One ReLU layer multiplies E[h^2] by fan_in Var(W) / 2: He keeps it, LeCun halves it."""
    from tracks.t07_activations_init import run

    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 256), dtype=np.float32)
    g = rng.standard_normal((512, 256), dtype=np.float32)
    for init, factor in (("he_normal", 1.0), ("lecun_normal", 0.5)):
        weights = run.draw_weights(ref, init, 6, 256, rng)
        act_std, grad_std = run.layer_statistics(ref, weights, x, g, "relu")
        assert act_std.shape == grad_std.shape == (6,)
        per_layer = (act_std[-1] / act_std[0]) ** (2 / 5)  # the second moment's factor per layer
        assert per_layer == pytest.approx(factor, rel=0.15), init


# --------------------------------------------------------------------------- the JAX version
def test_jax_version_matches_jax_nn_and_the_numpy_run():
    import jax
    import jax.numpy as jnp

    from tracks.t07_activations_init import checks
    from tracks.t07_activations_init import jax_version as J
    from tracks.t07_activations_init import run

    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        x = jnp.asarray(3 * rng.standard_normal((4, 6)))
        pairs = [
            (J.relu, jax.nn.relu), (J.leaky_relu, jax.nn.leaky_relu),
            (lambda v: J.leaky_relu(v, 0.2), lambda v: jax.nn.leaky_relu(v, 0.2)),
            (J.gelu, lambda v: jax.nn.gelu(v, approximate=False)),
            (lambda v: J.gelu(v, True), lambda v: jax.nn.gelu(v, approximate=True)),
            (J.silu, jax.nn.silu), (J.sigmoid, jax.nn.sigmoid), (J.tanh, jnp.tanh),
            (J.softmax, jax.nn.softmax), (lambda v: J.softmax(v, 0), lambda v: jax.nn.softmax(v, axis=0)),
            (J.log_softmax, jax.nn.log_softmax),
            (lambda v: J.log_softmax(v, 0), lambda v: jax.nn.log_softmax(v, axis=0)),
        ]
        def values_and_grads(v):  # one compiled program for every pair, not one per primitive
            out = []
            for ours, theirs in pairs:
                out.append((ours(v), theirs(v), jax.grad(lambda u: jnp.sum(jnp.sin(ours(u))))(v),
                            jax.grad(lambda u: jnp.sum(jnp.sin(theirs(u))))(v)))
            return out

        for ours_v, theirs_v, ours_g, theirs_g in jax.jit(values_and_grads)(x):
            np.testing.assert_allclose(ours_v, theirs_v, rtol=1e-13, atol=1e-14)
            np.testing.assert_allclose(ours_g, theirs_g, rtol=1e-12, atol=1e-13)
        big = jnp.asarray([[-1000.0, 0.0, 1000.0]])
        for fn in (J.sigmoid, J.softmax, J.log_softmax, J.silu):
            assert np.all(np.isfinite(np.asarray(fn(big))))

        # the initializers are jax.nn.initializers' own draws, and their fans are the reference's
        inits = ((J.glorot_uniform, jax.nn.initializers.glorot_uniform(), lambda fi, fo: 2 / (fi + fo)),
                 (J.he_normal, jax.nn.initializers.he_normal(), lambda fi, fo: 2 / fi),
                 (J.lecun_normal, jax.nn.initializers.lecun_normal(), lambda fi, fo: 1 / fi))
        shapes = ((512, 384), (3, 3, 48, 96))

        @jax.jit
        def draws(key):
            return [[(ours(key, s), theirs(key, s, jnp.float32)) for s in shapes] for ours, theirs, _ in inits]

        for (_, _, variance), per_shape in zip(inits, draws(jax.random.key(7))):
            for shape, (w, w_jax) in zip(shapes, per_shape):
                assert J.fans(shape) == ref.fans(shape) == checks._fans(shape)
                assert w.dtype == jnp.float32 and w.shape == shape
                np.testing.assert_allclose(w, w_jax, rtol=1e-6, atol=1e-7)
                target = variance(*ref.fans(shape))
                assert float(np.var(np.asarray(w, np.float64))) == pytest.approx(target, rel=0.05)
        with pytest.raises(ValueError):
            ref.fans((5,))

        # the scan + vjp statistics equal the NumPy loop's, on the same float64 weights
        weights = J.init_mlp(jax.random.key(1), 12, 32, dtype=jnp.float64)
        xb = rng.standard_normal((16, 32))
        gb = rng.standard_normal((16, 32))
        for name, activation in (("relu", J.relu), ("tanh", J.tanh)):
            got = J.layer_statistics(weights, jnp.asarray(xb), jnp.asarray(gb), activation=activation)
            want = run.layer_statistics(ref, list(np.asarray(weights)), xb, gb, name)
            for a, b in zip(got, want):
                np.testing.assert_allclose(np.asarray(a), b, rtol=1e-10)
