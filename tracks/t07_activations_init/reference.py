"""Topic 07 reference: activation functions, their VJPs, and weight initializers.

Every activation is a pair::

    out, cache = act_forward(x, ...)       # x: (*s) -> out: (*s), same dtype
    dx         = act_backward(dout, cache) # dout: (*s) -> dx: (*s)

Elementwise activations have a diagonal Jacobian, so the VJP is a product,
``dx = dout * f'(x)``. Where ``f'`` is a function of the output, the cache
holds the output and nothing else:

    sigmoid' = s (1 - s)              tanh' = 1 - t^2
    relu'    = [out > 0]              (JAX's convention: 0 at the kink x = 0)

softmax and log-softmax mix the entries along ``axis``, so their Jacobians
are full along that axis; the VJP still needs no Jacobian:

    s = softmax(x):    ds/dx = diag(s) - s s^T
                       dx = s * (dout - sum(dout * s, axis))
    l = log_softmax(x): dl/dx = I - 1 s^T
                       dx = dout - s * sum(dout, axis),  s = exp(l)

Stability. ``exp`` overflows float64 above ~709 and float32 above ~88.
softmax(x) = softmax(x - c) for any c, so subtracting the maximum keeps every
exponent <= 0 (at least one term is exp(0) = 1: the sum is never 0).
The sigmoid takes exp of a non-positive number on both branches:

    x >= 0:  1 / (1 + e^-x)        x < 0:  e^x / (1 + e^x)

Initializers. For ``y = x W`` with ``W: (fan_in, fan_out)`` and independent
zero-mean entries, ``Var(y_j) = fan_in Var(W) E[x^2]``. To keep the signal's
size from layer to layer:

    LeCun   Var(W) = 1 / fan_in                 (linear, tanh near 0, SELU)
    He      Var(W) = 2 / fan_in                 (ReLU zeroes half: E[relu(z)^2] = Var(z) / 2)
    Glorot  Var(W) = 2 / (fan_in + fan_out)     (a compromise between the forward
                                                 (fan_in) and backward (fan_out) passes)

Glorot's uniform version draws U(-a, a), whose variance is a^2 / 3, so
a = sqrt(6 / (fan_in + fan_out)).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "gelu_forward", "gelu_backward", "silu_forward", "silu_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "softmax_forward", "softmax_backward", "log_softmax_forward", "log_softmax_backward",
    "glorot_uniform", "he_normal", "lecun_normal", "fans",
]


# --------------------------------------------------------------------------- piecewise linear
def relu_forward(x):
    """out = max(x, 0).  x: (*s) -> out: (*s)"""
    out = np.maximum(x, 0)  # a Python 0 keeps x's dtype
    return out, out  # out > 0 exactly where x > 0: the output is all the backward needs


def relu_backward(dout, out):
    # relu'(x) = 1 for x > 0, 0 for x < 0; at x = 0 JAX (and PyTorch) take 0
    return np.where(out > 0, dout, 0)


def leaky_relu_forward(x, alpha=0.01):
    """out = x for x >= 0, alpha * x otherwise.  x: (*s) -> out: (*s)"""
    positive = x >= 0  # (*s) bool: 1 byte per element, the whole cache
    return np.where(positive, x, alpha * x), (positive, alpha)


def leaky_relu_backward(dout, cache):
    positive, alpha = cache
    # slope 1 on x >= 0 (JAX's convention at the kink x = 0), alpha below
    return np.where(positive, dout, alpha * dout)


# --------------------------------------------------------------------------- smooth gates
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715

# math.erfc on every element (NumPy has no erf): object in, object out
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _normal_cdf(x):
    """Phi(x) = P(Z <= x) = erfc(-x / sqrt 2) / 2, in float64.

    erfc rather than 1 + erf: for x << 0, 1 + erf(x / sqrt 2) cancels to 0
    long before Phi(x) underflows; erfc keeps full relative accuracy.
    """
    return 0.5 * np.asarray(_erfc(-_SQRT_HALF * np.asarray(x, dtype=np.float64)), dtype=np.float64)


def gelu_forward(x, approximate=False):
    """GELU: out = x Phi(x), Phi the standard normal CDF.  x: (*s) -> out: (*s)

    ``approximate=True`` uses the tanh form
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    if approximate:
        u = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3)
        return 0.5 * x * (1 + np.tanh(u)), (x, True)
    out = np.asarray(x, dtype=np.float64) * _normal_cdf(x)  # erfc runs in float64
    return out.astype(x.dtype, copy=False), (x, False)


def gelu_backward(dout, cache):
    x, approximate = cache
    if approximate:
        # d/dx [x (1 + t)/2] = (1 + t)/2 + x/2 (1 - t^2) du/dx,  du/dx = sqrt(2/pi) (1 + 3 c x^2)
        t = np.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x ** 3))
        du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x * x)
        return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
    # d/dx [x Phi(x)] = Phi(x) + x phi(x),  phi(x) = exp(-x^2/2) / sqrt(2 pi)
    x64 = np.asarray(x, dtype=np.float64)
    grad = _normal_cdf(x64) + x64 * _INV_SQRT_2PI * np.exp(-0.5 * x64 * x64)
    return dout * grad.astype(x.dtype, copy=False)


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)), without overflow.  x: (*s) -> out: (*s)"""
    e = np.exp(-np.abs(x))  # in (0, 1]: exp of a non-positive number never overflows
    # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x)  (the same value, multiplied by e^x / e^x)
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return out, out


def sigmoid_backward(dout, out):
    # sigmoid' = s (1 - s)
    return dout * out * (1 - out)


def silu_forward(x):
    """SiLU (swish): out = x sigmoid(x).  x: (*s) -> out: (*s)"""
    s, _ = sigmoid_forward(x)
    return x * s, x  # keep x only; the backward recomputes s (memory over one exp)


def silu_backward(dout, x):
    s, _ = sigmoid_forward(x)
    # d/dx [x s] = s + x s (1 - s) = s (1 + x (1 - s))
    return dout * s * (1 + x * (1 - s))


def tanh_forward(x):
    """out = tanh(x).  x: (*s) -> out: (*s)"""
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    # tanh' = 1 - tanh^2
    return dout * (1 - out * out)


# --------------------------------------------------------------------------- over an axis
def softmax_forward(x, axis=-1):
    """s = exp(x) / sum(exp(x), axis), stable.  x: (*s) -> s: (*s), summing to 1 along ``axis``"""
    shifted = x - x.max(axis=axis, keepdims=True)  # every exponent <= 0, the largest exactly 0
    e = np.exp(shifted)
    s = e / e.sum(axis=axis, keepdims=True)
    return s, (s, axis)


def softmax_backward(dout, cache):
    s, axis = cache
    # J = diag(s) - s s^T  =>  J^T dout = s * dout - s (s . dout)
    return s * (dout - (dout * s).sum(axis=axis, keepdims=True))


def log_softmax_forward(x, axis=-1):
    """l = x - logsumexp(x, axis), stable.  x: (*s) -> l: (*s)"""
    shifted = x - x.max(axis=axis, keepdims=True)
    # log sum exp(x) = max + log sum exp(x - max): the sum is >= 1, its log finite
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return out, (out, axis)


def log_softmax_backward(dout, cache):
    out, axis = cache
    # dl_i/dx_j = [i = j] - s_j  =>  dx = dout - s * sum(dout),  s = exp(l)
    return dout - np.exp(out) * dout.sum(axis=axis, keepdims=True)


# --------------------------------------------------------------------------- initializers
def fans(shape):
    """``(fan_in, fan_out)`` of a weight of ``shape``, as jax.nn.initializers computes them.

    (fan_in, fan_out) -> the two sizes. A kernel with more axes is
    ``(*receptive_field, in, out)`` (a conv kernel ``(kh, kw, c_in, c_out)``):
    every output sums over ``receptive_field x in`` inputs, so
    fan_in = in * prod(receptive_field), fan_out = out * prod(receptive_field).
    Fewer than 2 axes has no fan: ``ValueError``.
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 axes (fan_in, fan_out) to have fans; got shape {shape}")
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def glorot_uniform(shape, rng, dtype=np.float32):
    """Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).  -> (*shape) of ``dtype``"""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))  # Var U(-a, a) = a^2 / 3 = 2 / (fan_in + fan_out)
    # draw in float64 and cast: the same seed gives the same weights in every dtype
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def he_normal(shape, rng, dtype=np.float32):
    """He/Kaiming normal: N(0, 2 / fan_in).  -> (*shape) of ``dtype``"""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)).astype(dtype)


def lecun_normal(shape, rng, dtype=np.float32):
    """LeCun normal: N(0, 1 / fan_in).  -> (*shape) of ``dtype``"""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * math.sqrt(1.0 / fan_in)).astype(dtype)
