"""Topic 01 reference: tensor operations, broadcasting, and their VJPs in NumPy.

Every operation is a pair::

    out, cache = op_forward(*inputs)
    grads      = op_backward(dout, cache)    # one gradient per input

``dout`` has the shape of ``out``; each gradient has the shape of its input.
The backward computes a vector-Jacobian product (VJP): for the scalar
``L = sum(dout * out)``, the gradient ``dL/d input``.

The rule that makes broadcasting differentiable: a forward that *copies* a
value along an axis (broadcasting) has a backward that *sums* along that
axis. :func:`unbroadcast` does that sum, and every binary op uses it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "broadcast_shape", "unbroadcast",
    "add_forward", "add_backward", "mul_forward", "mul_backward",
    "div_forward", "div_backward", "pow_forward", "pow_backward",
    "exp_forward", "exp_backward", "log_forward", "log_backward",
    "tanh_forward", "tanh_backward",
    "sum_forward", "sum_backward", "mean_forward", "mean_backward",
    "max_forward", "max_backward",
    "reshape_forward", "reshape_backward", "transpose_forward", "transpose_backward",
    "matmul_forward", "matmul_backward",
]


# --------------------------------------------------------------------------- broadcasting
def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape NumPy gives when broadcasting arrays of ``shapes`` together.

    Align the shapes on the right; on each axis the sizes must all be equal
    or 1 (a missing axis counts as 1), and the result takes the size that is
    not 1. Raises ``ValueError`` when two sizes differ and neither is 1.
    """
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(-ndim, 0):  # left to right over the aligned axes
        sizes = {s[axis] for s in shapes if len(s) >= -axis}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ValueError(f"shapes {shapes} do not broadcast: sizes {sorted(sizes)} on axis {axis}")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back to ``shape``: the backward of broadcasting to ``grad.shape``.

    grad: (*broadcast_shape), shape: the input's shape -> (*shape)
    Leading axes that broadcasting added are summed away; axes where the
    input had size 1 are summed with keepdims.
    """
    shape = tuple(shape)
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError(f"cannot unbroadcast a gradient of shape {grad.shape} to the larger rank {shape}")
    out = grad.sum(axis=tuple(range(extra))) if extra else grad
    # (*shape with broadcast sizes) -> (*shape): sum where the input had size 1
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and out.shape[i] != 1)
    if stretched:
        out = out.sum(axis=stretched, keepdims=True)
    if out.shape != shape:
        raise ValueError(f"a gradient of shape {grad.shape} does not come from broadcasting {shape}")
    return out


# --------------------------------------------------------------------------- binary ops
def add_forward(a, b):
    """out = a + b.  a: (*sa), b: (*sb) -> (*broadcast(sa, sb))"""
    return a + b, (a.shape, b.shape)


def add_backward(dout, cache):
    a_shape, b_shape = cache
    # d(a+b)/da = 1: the gradient passes through, summed over broadcast axes
    return unbroadcast(dout, a_shape), unbroadcast(dout, b_shape)


def mul_forward(a, b):
    """out = a * b, broadcasting."""
    return a * b, (a, b)


def mul_backward(dout, cache):
    a, b = cache
    return unbroadcast(dout * b, a.shape), unbroadcast(dout * a, b.shape)


def div_forward(a, b):
    """out = a / b, broadcasting."""
    return a / b, (a, b)


def div_backward(dout, cache):
    a, b = cache
    # d(a/b)/da = 1/b ; d(a/b)/db = -a/b^2
    return unbroadcast(dout / b, a.shape), unbroadcast(-dout * a / (b * b), b.shape)


def pow_forward(a, b):
    """out = a ** b for a > 0, broadcasting; gradients for both a and b."""
    out = a ** b
    return out, (a, b, out)


def pow_backward(dout, cache):
    a, b, out = cache
    # d(a^b)/da = b a^(b-1) ; d(a^b)/db = a^b log a
    da = dout * b * a ** (b - 1)
    db = dout * out * np.log(a)
    return unbroadcast(da, a.shape), unbroadcast(db, b.shape)


# --------------------------------------------------------------------------- unary ops
def exp_forward(x):
    out = np.exp(x)
    return out, out  # d exp(x)/dx = exp(x): keep the output, not the input


def exp_backward(dout, out):
    return dout * out


def log_forward(x):
    """out = log(x) for x > 0."""
    return np.log(x), x


def log_backward(dout, x):
    return dout / x


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    # d tanh(x)/dx = 1 - tanh(x)^2
    return dout * (1.0 - out * out)


# --------------------------------------------------------------------------- reductions
def _axes(axis, ndim: int) -> tuple[int, ...]:
    """Normalise ``axis`` (None, int, tuple, negatives) to sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim for a in axis))


def _restore(dout, shape, axis, keepdims):
    """Put back the reduced axes of ``dout`` as size 1, so it broadcasts against the input."""
    return dout if keepdims else np.expand_dims(dout, _axes(axis, len(shape)))


def sum_forward(x, axis=None, keepdims=False):
    """out = x.sum(axis, keepdims).  x: (*s) -> s without the axes (or with size 1 if keepdims)"""
    return x.sum(axis=axis, keepdims=keepdims), (x.shape, axis, keepdims)


def sum_backward(dout, cache):
    shape, axis, keepdims = cache
    # every input element contributed once: copy the gradient back along the summed axes
    return np.broadcast_to(_restore(dout, shape, axis, keepdims), shape).copy()


def mean_forward(x, axis=None, keepdims=False):
    count = int(np.prod([x.shape[a] for a in _axes(axis, x.ndim)]))
    return x.mean(axis=axis, keepdims=keepdims), (x.shape, axis, keepdims, count)


def mean_backward(dout, cache):
    shape, axis, keepdims, count = cache
    return np.broadcast_to(_restore(dout, shape, axis, keepdims) / count, shape).copy()


def max_forward(x, axis=None, keepdims=False):
    """out = x.max(axis, keepdims). The gradient goes to the maximum; tied maxima share it equally."""
    out = x.max(axis=axis, keepdims=keepdims)
    return out, (x, out, axis, keepdims)


def max_backward(dout, cache):
    x, out, axis, keepdims = cache
    winners = (x == _restore(out, x.shape, axis, keepdims)).astype(x.dtype)  # (*x.shape) 1 at each max
    share = winners / winners.sum(axis=_axes(axis, x.ndim), keepdims=True)
    return share * _restore(dout, x.shape, axis, keepdims)


# --------------------------------------------------------------------------- shape ops
def reshape_forward(x, shape):
    return x.reshape(shape), x.shape


def reshape_backward(dout, x_shape):
    return dout.reshape(x_shape)


def transpose_forward(x, axes=None):
    """out = x.transpose(axes); axes=None reverses the axes."""
    axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(a % x.ndim for a in axes)
    return x.transpose(axes), axes


def transpose_backward(dout, axes):
    # the inverse permutation: out axis i came from input axis axes[i]
    return dout.transpose(np.argsort(axes))


# --------------------------------------------------------------------------- matmul
def matmul_forward(a, b):
    """out = a @ b.  a: (*batch_a, n, k), b: (*batch_b, k, m) -> (*broadcast batch, n, m)"""
    return a @ b, (a, b)


def matmul_backward(dout, cache):
    a, b = cache
    # dA = dOut B^T, dB = A^T dOut, then sum over batch axes that were broadcast
    da = dout @ np.swapaxes(b, -1, -2)
    db = np.swapaxes(a, -1, -2) @ dout
    return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
