"""Topic 01: each exercise's check catches a planted bug, for the planted reason."""

from __future__ import annotations

import numpy as np
import pytest

from fdl.curriculum import find_topic
from tracks.t01_tensor_ops import reference as ref

from helpers import Bug, assert_bug_caught

TOPIC = find_topic(1)


def _left_aligned_broadcast(*shapes):
    # aligns on the left: (3, 1) with (3,) passes, (2, 3, 4) with (3, 1) is wrong
    ndim = max((len(s) for s in shapes), default=0)
    padded = [tuple(s) + (1,) * (ndim - len(s)) for s in shapes]
    return tuple(max(sizes) for sizes in zip(*padded)) if padded else ()


def _unbroadcast_leading_only(grad, shape):
    extra = grad.ndim - len(shape)
    return grad.sum(axis=tuple(range(extra))) if extra else grad


def _add_backward_no_unbroadcast(dout, cache):
    return dout, dout


def _mul_backward_wrong_operand(dout, cache):
    a, b = cache
    return ref.unbroadcast(dout * a, a.shape), ref.unbroadcast(dout * b, b.shape)


def _div_backward_sign(dout, cache):
    a, b = cache
    return ref.unbroadcast(dout / b, a.shape), ref.unbroadcast(dout * a / (b * b), b.shape)


def _pow_backward_no_log(dout, cache):
    a, b, out = cache
    return ref.unbroadcast(dout * b * a ** (b - 1), a.shape), ref.unbroadcast(dout * out, b.shape)


def _exp_backward_input(dout, out):
    return dout * np.log(out)  # d exp(x)/dx written as x


def _log_backward_times(dout, x):
    return dout * x


def _tanh_backward_linear(dout, out):
    return dout * (1.0 - out)


def _sum_backward_no_expand(dout, cache):
    shape, axis, keepdims = cache
    return np.broadcast_to(dout, shape).copy()  # fails when the reduced axis is not the first


def _mean_backward_no_count(dout, cache):
    shape, axis, keepdims, count = cache
    return ref.sum_backward(dout, (shape, axis, keepdims))


def _max_backward_no_split(dout, cache):
    x, out, axis, keepdims = cache
    winners = (x == ref._restore(out, x.shape, axis, keepdims)).astype(x.dtype)
    return winners * ref._restore(dout, x.shape, axis, keepdims)  # every tied maximum gets all of it


def _reshape_backward_flat(dout, x_shape):
    return dout.reshape(-1)


def _transpose_backward_same_axes(dout, axes):
    return dout.transpose(axes)  # right only for self-inverse permutations


def _matmul_backward_no_batch_sum(dout, cache):
    a, b = cache
    return dout @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ dout


BUGS = {
    "broadcast_shape": Bug({"broadcast_shape": _left_aligned_broadcast}, "broadcast_shape",
                           "shapes aligned on the left"),
    "unbroadcast": Bug({"unbroadcast": _unbroadcast_leading_only}, "expected shape", "size-1 axes not summed"),
    "add": Bug({"add_backward": _add_backward_no_unbroadcast}, "gradient of", "no unbroadcast"),
    "mul": Bug({"mul_backward": _mul_backward_wrong_operand}, "gradient of a", "da = dout * a"),
    "div": Bug({"div_backward": _div_backward_sign}, "gradient of b", "db sign flipped"),
    "pow": Bug({"pow_backward": _pow_backward_no_log}, "gradient of b", "db without log(a)"),
    "exp": Bug({"exp_backward": _exp_backward_input}, "gradient of x", "dx = dout * x"),
    "log": Bug({"log_backward": _log_backward_times}, "gradient of x", "dx = dout * x"),
    "tanh": Bug({"tanh_backward": _tanh_backward_linear}, "gradient of x", "1 - tanh instead of 1 - tanh^2"),
    "sum": Bug({"sum_backward": _sum_backward_no_expand}, "gradient of x differs", "reduced axes not restored"),
    "mean": Bug({"mean_backward": _mean_backward_no_count}, "gradient of x", "not divided by the count"),
    "max": Bug({"max_backward": _max_backward_no_split}, "tied maxima", "ties do not share the gradient"),
    "reshape": Bug({"reshape_backward": _reshape_backward_flat}, "expected shape", "gradient left flat"),
    "transpose": Bug({"transpose_backward": _transpose_backward_same_axes}, "gradient of x",
                     "forward permutation instead of its inverse"),
    "matmul": Bug({"matmul_backward": _matmul_backward_no_batch_sum}, "expected shape",
                  "broadcast batch axes not summed"),
}


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


def test_fail_message_names_index_values_and_tolerance():
    result = assert_bug_caught(TOPIC, "mul", BUGS["mul"])
    for piece in ("worst at index", "expected", "got", "tolerance", "case 1", "mul_forward(a: float64"):
        assert piece in result.message, piece


# --------------------------------------------------------------------------- more slips, each for its reason
def _unbroadcast_axes_from_the_right(grad, shape):
    extra = grad.ndim - len(shape)
    out = grad.sum(axis=tuple(range(extra))) if extra else grad
    ones = tuple(i for i, n in enumerate(reversed(shape)) if n == 1)  # counted from the wrong end
    return out.sum(axis=ones, keepdims=True).reshape(shape) if ones else out.reshape(shape)


def _add_backward_bias_sum(dout, cache):
    a_shape, b_shape = cache
    db = dout if dout.shape == tuple(b_shape) else dout.sum(axis=0, keepdims=True).reshape(b_shape)
    return ref.unbroadcast(dout, a_shape), db  # a bias-style sum over the first axis, whatever b's shape


def _mul_backward_into_dout(dout, cache):
    a, b = cache
    db = ref.unbroadcast(dout * a, b.shape)
    dout *= b  # the caller's dout overwritten
    return ref.unbroadcast(dout, a.shape), db


def _div_forward_kept_from_zero(a, b):
    safe = np.where(np.abs(b) < 1e-6, np.copysign(1e-6, b), b)  # |b| kept above 1e-6 "for safety"
    return a / safe, (a, safe)


def _pow_backward_float64_log(dout, cache):
    a, b, out = cache
    da = dout * b * a ** (b - 1)
    db = dout * out * np.log(a.astype(np.float64))  # a float32 gradient of b becomes float64
    return ref.unbroadcast(da, a.shape), ref.unbroadcast(db, b.shape)


def _float32_to_float64(x):
    out = np.exp(x.astype(np.float64))
    return out, out


def _exp_backward_into_cache(dout, out):
    out *= dout  # the cached output overwritten with the gradient
    return out


def _exp_forward_clipped(x):
    out = np.exp(np.clip(x, -50, 50))  # clipped "to avoid overflow": exp(-100) is not exp(-50)
    return out, out


def _log_forward_clamped(x):
    return np.log(np.maximum(x, 1e-8)), x  # clamped "to avoid log(0)"


def _tanh_backward_into_dout(dout, out):
    dout *= 1 - out * out  # the caller's dout overwritten
    return dout


def _sum_backward_leading_axis(dout, cache):
    shape, axis, keepdims = cache
    restored = dout if keepdims else np.expand_dims(dout, 0)  # always put back as the first axis
    return np.broadcast_to(restored, shape).copy()


def _mean_backward_by_size(dout, cache):
    shape, axis, keepdims, count = cache
    return ref.sum_backward(dout, (shape, axis, keepdims)) / int(np.prod(shape))  # every element, not the count


def _max_backward_unrestored(dout, cache):
    x, out, axis, keepdims = cache
    winners = (x == out).astype(x.dtype)  # out broadcast as it is: its reduced axis not put back
    share = winners / winners.sum(axis=axis, keepdims=True)
    return share * ref._restore(dout, x.shape, axis, keepdims)


def _max_backward_argmax(dout, cache):
    x, out, axis, keepdims = cache
    if axis is None or isinstance(axis, tuple):
        return ref.max_backward(dout, cache)
    first = np.argmax(x, axis=axis)  # one winner per slice: the first tied maximum takes all
    mask = np.expand_dims(first, axis) == np.expand_dims(np.arange(x.shape[axis]), tuple(
        i for i in range(x.ndim) if i != axis % x.ndim))
    return mask.astype(x.dtype) * ref._restore(dout, x.shape, axis, keepdims)


def _max_backward_difference_mask(dout, cache):
    x, out, axis, keepdims = cache
    winners = (x - ref._restore(out, x.shape, axis, keepdims) == 0).astype(x.dtype)  # inf - inf is NaN, not 0
    count = np.maximum(winners.sum(axis=ref._axes(axis, x.ndim), keepdims=True), 1)
    return winners / count * ref._restore(dout, x.shape, axis, keepdims)


def _transpose_backward_reversed(dout, axes):
    return dout.T  # the reversal: the inverse only of reversal itself


def _matmul_backward_no_transpose_b(dout, cache):
    a, b = cache
    return ref.unbroadcast(dout @ b, a.shape), ref.unbroadcast(np.swapaxes(a, -1, -2) @ dout, b.shape)


def _matmul_backward_no_transpose_a(dout, cache):
    a, b = cache
    return ref.unbroadcast(dout @ np.swapaxes(b, -1, -2), a.shape), ref.unbroadcast(a @ dout, b.shape)


def _matmul_backward_db_transposed(dout, cache):
    a, b = cache
    db = np.swapaxes(dout, -1, -2) @ a  # dout^T A = (A^T dout)^T: B's gradient transposed
    return ref.unbroadcast(dout @ np.swapaxes(b, -1, -2), a.shape), ref.unbroadcast(db, b.shape)


MORE_BUGS = [
    ("unbroadcast", Bug({"unbroadcast": _unbroadcast_axes_from_the_right}, "unbroadcast result differs",
                        "size-1 axes counted from the right, then reshaped")),
    ("add", Bug({"add_backward": _add_backward_bias_sum}, "gradient of b differs",
                "b's gradient summed over axis 0 and reshaped")),
    ("mul", Bug({"mul_backward": _mul_backward_into_dout}, "modified dout in place", "dout *= b")),
    ("div", Bug({"div_forward": _div_forward_kept_from_zero}, "denominators down to 1e-8",
                "|b| clamped at 1e-6")),
    ("pow", Bug({"pow_backward": _pow_backward_float64_log}, "expected dtype float32", "log of a float64 copy")),
    ("exp", Bug({"exp_forward": _float32_to_float64}, "expected dtype float32", "float32 promoted to float64")),
    ("exp", Bug({"exp_backward": _exp_backward_into_cache}, "modified its cache in place", "out *= dout")),
    ("exp", Bug({"exp_forward": _exp_forward_clipped}, "exp underflows", "exp of a clipped x")),
    ("log", Bug({"log_forward": _log_forward_clamped}, "inputs down to 1e-12", "log(max(x, 1e-8))")),
    ("tanh", Bug({"tanh_backward": _tanh_backward_into_dout}, "modified dout in place", "dout *= 1 - out^2")),
    ("sum", Bug({"sum_backward": _sum_backward_leading_axis}, "gradient of x differs",
                "the reduced axis put back first, whichever it was")),
    ("mean", Bug({"mean_backward": _mean_backward_by_size}, "gradient of x differs",
                 "divided by x.size, not the count reduced")),
    ("max", Bug({"max_backward": _max_backward_unrestored}, "gradient of x",
                "x == out without the reduced axis put back")),
    ("max", Bug({"max_backward": _max_backward_argmax}, "tied maxima", "argmax: the first maximum takes all")),
    ("max", Bug({"max_backward": _max_backward_difference_mask}, "-inf, +inf", "x - out == 0 as the mask")),
    ("transpose", Bug({"transpose_backward": _transpose_backward_reversed}, "gradient of x differs", "dout.T")),
    ("matmul", Bug({"matmul_backward": _matmul_backward_no_transpose_b}, "gradient of a differs", "dA = dout @ B")),
    ("matmul", Bug({"matmul_backward": _matmul_backward_no_transpose_a}, "gradient of b differs", "dB = A @ dout")),
    ("matmul", Bug({"matmul_backward": _matmul_backward_db_transposed}, "gradient of b differs", "dB = dout^T @ A")),
]


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_slips_fail_for_their_reason(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_square_cases_catch_what_oblong_ones_only_crash_on():
    """A wrong axis that keeps the shape on a square input is caught as wrong values, in a square case."""
    square_only = ("size-1 axes counted from the right, then reshaped", "b's gradient summed over axis 0 and reshaped",
                   "the reduced axis put back first, whichever it was", "x == out without the reduced axis put back",
                   "dA = dout @ B", "dB = A @ dout", "dB = dout^T @ A")
    for exercise, bug in [(e, b) for e, b in MORE_BUGS if b.why in square_only]:
        result = assert_bug_caught(TOPIC, exercise, bug)
        assert "square" in result.message, (exercise, result.message)


def test_jax_version_rules_match_jax_autodiff():
    import jax
    import jax.numpy as jnp

    from tracks.t01_tensor_ops import jax_version as J

    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        a = jnp.asarray(rng.uniform(0.5, 2.0, (2, 3, 4)))
        b = jnp.asarray(rng.standard_normal((3, 1)))
        pairs = [(J.add, jnp.add), (J.mul, jnp.multiply), (J.div, jnp.divide), (J.power, jnp.power),
                 (J.matmul, lambda x, y: jnp.matmul(x, y))]
        for ours, theirs in pairs:
            y = b if ours is not J.matmul else jnp.asarray(rng.standard_normal((4, 2)))
            g1 = jax.grad(lambda x, z: jnp.sum(jnp.sin(ours(x, z))), argnums=(0, 1))(a, y)
            g2 = jax.grad(lambda x, z: jnp.sum(jnp.sin(theirs(x, z))), argnums=(0, 1))(a, y)
            for u, v in zip(g1, g2):
                np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)
        for ours, theirs in [(J.exp, jnp.exp), (J.log, jnp.log), (J.tanh, jnp.tanh)]:
            np.testing.assert_allclose(jax.grad(lambda x: jnp.sum(ours(x) ** 2))(a),
                                       jax.grad(lambda x: jnp.sum(theirs(x) ** 2))(a), rtol=1e-12)
        for ours, theirs in [(J.sum, jnp.sum), (J.mean, jnp.mean), (J.max, jnp.max)]:
            for axis, keep in [(None, False), (1, True), ((0, 2), False)]:
                f1 = jax.jit(lambda x: jnp.sum(ours(x, axis=axis, keepdims=keep) ** 2))
                f2 = lambda x: jnp.sum(theirs(x, axis=axis, keepdims=keep) ** 2)
                np.testing.assert_allclose(jax.grad(f1)(a), jax.grad(f2)(a), rtol=1e-12)
