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


def _float32_to_float64(x):
    out = np.exp(x.astype(np.float64))
    return out, out


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
    "sum": Bug({"sum_backward": _sum_backward_no_expand}, "sum_backward", "reduced axes not restored"),
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


def test_dtype_change_is_caught():
    bug = Bug({"exp_forward": _float32_to_float64}, "expected dtype float32", "float32 promoted to float64")
    assert_bug_caught(TOPIC, "exp", bug)


def test_fail_message_names_index_values_and_tolerance():
    result = assert_bug_caught(TOPIC, "mul", BUGS["mul"])
    for piece in ("worst at index", "expected", "got", "tolerance", "case 1", "mul_forward(a: float64"):
        assert piece in result.message, piece


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
