"""Topic 07 in JAX: the activations with our backward rules, initializers with explicit keys.

JAX would differentiate every activation below by itself. Each is
nevertheless a ``jax.custom_vjp`` carrying the rule derived in
``reference.py``, because that is how the rules matter in practice: a
softmax whose backward reuses its output, a sigmoid whose residual is one
array, not the graph of ``1 / (1 + exp(-x))``. The tests compare every rule
with JAX's own derivative of ``jax.nn``.

The initializers take a key first (``init(key, shape, dtype)``), as
``jax.nn.initializers`` do, and draw the same distributions: He and LeCun
from a normal truncated at two standard deviations and rescaled to the
target variance (so no weight is an outlier), Glorot from a uniform.

:func:`layer_statistics` is the run's experiment as one jitted program: a
``lax.scan`` over stacked weights, with the backward signal obtained from
``jax.vjp`` through zero perturbations added at every layer's input.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from tracks.t01_tensor_ops.jax_version import custom_unary
from jax import lax

__all__ = ["relu", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax",
           "fans", "glorot_uniform", "he_normal", "lecun_normal", "init_mlp", "layer_statistics"]


# --------------------------------------------------------------------------- elementwise
def _elementwise(forward, grad):
    """An activation whose VJP is ``dout * grad(x, out)``: topic 01's custom_vjp op with this rule."""
    return custom_unary(forward, lambda dout, x, out: dout * grad(x, out))


def _sigmoid(x):
    e = jnp.exp(-jnp.abs(x))  # exp of a non-positive number: no overflow
    return jnp.where(x >= 0, 1 / (1 + e), e / (1 + e))


relu = _elementwise(lambda x: jnp.maximum(x, 0), lambda x, o: (o > 0).astype(o.dtype))
sigmoid = _elementwise(_sigmoid, lambda x, o: o * (1 - o))
tanh = _elementwise(jnp.tanh, lambda x, o: 1 - o * o)


def _silu_grad(x, out):
    s = _sigmoid(x)
    return s * (1 + x * (1 - s))


silu = _elementwise(lambda x: x * _sigmoid(x), _silu_grad)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def leaky_relu(x, alpha=0.01):
    """x for x >= 0, alpha x below; slope 1 at the kink, as jax.nn.leaky_relu."""
    return jnp.where(x >= 0, x, alpha * x)


def _leaky_fwd(x, alpha):
    return leaky_relu(x, alpha), x >= 0


def _leaky_bwd(alpha, positive, dout):
    return (jnp.where(positive, dout, alpha * dout),)


leaky_relu.defvjp(_leaky_fwd, _leaky_bwd)

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _gelu_forward(x, approximate):
    if approximate:
        return 0.5 * x * (1 + jnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
    return x * 0.5 * lax.erfc(-x * math.sqrt(0.5))  # x Phi(x); erfc keeps accuracy for x << 0


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def gelu(x, approximate=False):
    """x Phi(x), or its tanh approximation."""
    return _gelu_forward(x, approximate)


def _gelu_fwd(x, approximate):
    return _gelu_forward(x, approximate), x


def _gelu_bwd(approximate, x, dout):
    if approximate:
        t = jnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3))
        du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
        return (dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du),)
    phi = jnp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return (dout * (0.5 * lax.erfc(-x * math.sqrt(0.5)) + x * phi),)


gelu.defvjp(_gelu_fwd, _gelu_bwd)


# --------------------------------------------------------------------------- over an axis
@partial(jax.custom_vjp, nondiff_argnums=(1,))
def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, the maximum subtracted first."""
    e = jnp.exp(x - jnp.max(x, axis=axis, keepdims=True))
    return e / jnp.sum(e, axis=axis, keepdims=True)


def _softmax_fwd(x, axis):
    s = softmax(x, axis)
    return s, s


def _softmax_bwd(axis, s, dout):
    return (s * (dout - jnp.sum(dout * s, axis=axis, keepdims=True)),)


softmax.defvjp(_softmax_fwd, _softmax_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``."""
    shifted = x - jnp.max(x, axis=axis, keepdims=True)
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def _log_softmax_fwd(x, axis):
    out = log_softmax(x, axis)
    return out, out


def _log_softmax_bwd(axis, out, dout):
    return (dout - jnp.exp(out) * jnp.sum(dout, axis=axis, keepdims=True),)


log_softmax.defvjp(_log_softmax_fwd, _log_softmax_bwd)


# --------------------------------------------------------------------------- initializers
# the standard deviation of N(0, 1) truncated to (-2, 2): dividing by it restores variance 1
_TRUNCATED_STD = 0.87962566103423978


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a ``(*receptive_field, in, out)`` kernel; see reference.fans."""
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 axes (fan_in, fan_out) to have fans; got shape {shape}")
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def glorot_uniform(key, shape, dtype=jnp.float32):
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return jax.random.uniform(key, shape, dtype, -1, 1) * jnp.sqrt(jnp.asarray(6 / (fan_in + fan_out), dtype))


def _truncated_normal(key, shape, dtype, variance):
    std = jnp.sqrt(jnp.asarray(variance, dtype)) / jnp.asarray(_TRUNCATED_STD, dtype)
    return jax.random.truncated_normal(key, -2, 2, shape, dtype) * std


def he_normal(key, shape, dtype=jnp.float32):
    """Variance 2 / fan_in (a normal truncated at 2 std, rescaled)."""
    return _truncated_normal(key, shape, dtype, 2 / fans(shape)[0])


def lecun_normal(key, shape, dtype=jnp.float32):
    """Variance 1 / fan_in (a normal truncated at 2 std, rescaled)."""
    return _truncated_normal(key, shape, dtype, 1 / fans(shape)[0])


# --------------------------------------------------------------------------- the run, in JAX
def init_mlp(key, depth: int, width: int, init=he_normal, dtype=jnp.float32):
    """Stacked square weights, (depth, width, width), one key per layer."""
    keys = jax.random.split(key, depth)
    return jax.vmap(lambda k: init(k, (width, width), dtype))(keys)


@partial(jax.jit, static_argnames="activation")
def layer_statistics(weights, x, g, activation=relu):
    """Per-layer std of ``h_l`` and of ``dL/dh_{l-1}`` for ``L = sum(h_depth * g)``.

    weights: (depth, width, width); x, g: (batch, width). Returns two
    (depth,) arrays, as the NumPy run's ``layer_statistics``. The gradient
    at each layer's input is the gradient with respect to a zero added
    there: ``z_l = (h_{l-1} + e_l) W_l`` with ``e_l = 0``.
    """

    def network(bumps):
        def layer(h, inputs):
            w, bump = inputs
            h = activation((h + bump) @ w)
            return h, jnp.std(h)

        out, act_std = lax.scan(layer, x, (weights, bumps))
        return out, act_std

    bumps = jnp.zeros((weights.shape[0], *x.shape), x.dtype)  # (depth, batch, width)
    (out, act_std), vjp = jax.vjp(network, bumps)
    (grads,) = vjp((g, jnp.zeros_like(act_std)))  # (depth, batch, width): dL/dh_{l-1}
    return act_std, jnp.std(grads, axis=(1, 2))
