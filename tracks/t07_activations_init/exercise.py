"""Topic 07 · Activations & initialization: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic07

which checks every function against ``jax.nn`` and shows PASS / FAIL / TODO.
Use NumPy only (the standard library's ``math.erf``/``math.erfc`` are allowed
for the exact GELU). Each ``*_forward`` returns ``(out, cache)`` with ``out``
of the input's shape and dtype; each ``*_backward(dout, cache)`` returns
``dx``. Keep the cache minimal: for sigmoid and tanh the output is enough.
"""

import math

import numpy as np


# --------------------------------------------------------------------------- piecewise linear
def relu_forward(x):
    """out = max(x, 0).  x: (*s) -> out: (*s), same dtype.

    Hint: np.maximum(x, 0) keeps the dtype. What does the backward need:
    x, or is the output enough?
    """
    raise NotImplementedError("topic 07 · relu")


def relu_backward(dout, cache):
    """dout: (*s) -> dx: (*s). The gradient at exactly x = 0 is 0 (JAX's convention)."""
    raise NotImplementedError("topic 07 · relu")


def leaky_relu_forward(x, alpha=0.01):
    """out = x where x >= 0, alpha * x elsewhere.  x: (*s) -> out: (*s)"""
    raise NotImplementedError("topic 07 · leaky_relu")


def leaky_relu_backward(dout, cache):
    """dout: (*s) -> dx: (*s). Slope 1 where x >= 0 (x = 0 included, as in JAX), alpha elsewhere."""
    raise NotImplementedError("topic 07 · leaky_relu")


# --------------------------------------------------------------------------- smooth gates
def gelu_forward(x, approximate=False):
    """GELU.  x: (*s) -> out: (*s), same dtype.

    Exact: out = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2.
    NumPy has no erf: np.frompyfunc(math.erfc, 1, 1) applies the standard
    library's to every element (it returns an object array: convert it).
    approximate=True: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    """
    raise NotImplementedError("topic 07 · gelu")


def gelu_backward(dout, cache):
    """dout: (*s) -> dx: (*s).

    Exact: d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi).
    Tanh form: differentiate 0.5 x (1 + tanh(u(x))) with the product and chain rules.
    """
    raise NotImplementedError("topic 07 · gelu")


def silu_forward(x):
    """SiLU (swish): out = x * sigmoid(x).  x: (*s) -> out: (*s)"""
    raise NotImplementedError("topic 07 · silu")


def silu_backward(dout, cache):
    """dout: (*s) -> dx: (*s). Hint: d/dx [x s(x)] = s + x s (1 - s)."""
    raise NotImplementedError("topic 07 · silu")


def sigmoid_forward(x):
    """out = 1 / (1 + exp(-x)).  x: (*s) -> out: (*s)

    Must not overflow for x = -1000 or x = +1000: take exp of -|x| only, and
    pick 1 / (1 + e^-x) or e^x / (1 + e^x) by the sign of x (np.where).
    """
    raise NotImplementedError("topic 07 · sigmoid")


def sigmoid_backward(dout, cache):
    """dout: (*s) -> dx: (*s). Hint: sigmoid' = s (1 - s)."""
    raise NotImplementedError("topic 07 · sigmoid")


def tanh_forward(x):
    """out = tanh(x).  x: (*s) -> out: (*s)"""
    raise NotImplementedError("topic 07 · tanh")


def tanh_backward(dout, cache):
    """dout: (*s) -> dx: (*s). Hint: tanh' = 1 - tanh^2."""
    raise NotImplementedError("topic 07 · tanh")


# --------------------------------------------------------------------------- over an axis
def softmax_forward(x, axis=-1):
    """s = exp(x) / sum(exp(x)) along ``axis``.  x: (*s) -> s: (*s)

    Subtract the maximum along ``axis`` first (keepdims=True): softmax(x - c)
    = softmax(x), and exp(1000) is inf. ``axis`` may be negative.
    """
    raise NotImplementedError("topic 07 · softmax")


def softmax_backward(dout, cache):
    """dout: (*s) -> dx: (*s). dx = s * (dout - sum(dout * s, axis, keepdims=True))."""
    raise NotImplementedError("topic 07 · softmax")


def log_softmax_forward(x, axis=-1):
    """l = x - log(sum(exp(x), axis)), without overflow.  x: (*s) -> l: (*s)

    log(softmax(x)) is not enough: softmax underflows to 0 (and log(0) = -inf)
    long before the log-softmax is large. Use x - max - log(sum(exp(x - max))).
    """
    raise NotImplementedError("topic 07 · log_softmax")


def log_softmax_backward(dout, cache):
    """dout: (*s) -> dx: (*s). dx = dout - softmax(x) * sum(dout, axis, keepdims=True)."""
    raise NotImplementedError("topic 07 · log_softmax")


# --------------------------------------------------------------------------- initializers
# Fans, as jax.nn.initializers computes them: a 2-D shape is (fan_in, fan_out);
# a shape with more axes is (*receptive_field, in, out), a conv kernel
# (kh, kw, c_in, c_out), with fan_in = in * prod(receptive_field) and
# fan_out = out * prod(receptive_field). A shape with fewer than 2 axes raises
# ValueError. Draw only from ``rng`` (an np.random.Generator), never from
# np.random.*; return an array of ``shape`` and ``dtype``.


def glorot_uniform(shape, rng, dtype=np.float32):
    """Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).  -> (*shape)

    Hint: rng.uniform(low, high, size=shape), then .astype(dtype).
    """
    raise NotImplementedError("topic 07 · init")


def he_normal(shape, rng, dtype=np.float32):
    """He/Kaiming normal: N(0, 2 / fan_in), for ReLU networks.  -> (*shape)

    The variance is 2 / fan_in, so the standard deviation is sqrt(2 / fan_in).
    """
    raise NotImplementedError("topic 07 · init")


def lecun_normal(shape, rng, dtype=np.float32):
    """LeCun normal: N(0, 1 / fan_in).  -> (*shape)"""
    raise NotImplementedError("topic 07 · init")
