"""Topic 01 · Tensor operations & broadcasting: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic01

which checks every function against JAX and shows PASS / FAIL / TODO.
Use NumPy only. Each ``*_forward`` returns ``(out, cache)``; each
``*_backward(dout, cache)`` returns the gradient of every input (a tuple for
two inputs), each with its input's shape and dtype. Keep the cache minimal:
it is the memory the operation costs.
"""

import numpy as np


# --------------------------------------------------------------------------- broadcasting
def broadcast_shape(*shapes):
    """The shape NumPy gives when broadcasting arrays of ``shapes`` together.

    broadcast_shape((3, 1), (1, 4)) == (3, 4); broadcast_shape((2, 3, 4), (3, 1)) == (2, 3, 4).
    Align on the right; sizes on an axis must be equal or 1; raise ValueError otherwise.
    Do not call np.broadcast_shapes: this is the rule you are learning.
    """
    raise NotImplementedError("topic 01 · broadcast_shape")


def unbroadcast(grad, shape):
    """Sum ``grad`` (shape: the broadcast result) back to ``shape`` (an input's shape).

    grad: (*broadcast_shape) -> (*shape). Sum away leading axes broadcasting added,
    then sum (keepdims) the axes where ``shape`` has size 1.
    """
    raise NotImplementedError("topic 01 · unbroadcast")


# --------------------------------------------------------------------------- binary ops
def add_forward(a, b):
    """out = a + b with broadcasting. a: (*sa), b: (*sb) -> out: (*broadcast(sa, sb))"""
    raise NotImplementedError("topic 01 · add")


def add_backward(dout, cache):
    """dout: (*out) -> (da: (*sa), db: (*sb))"""
    raise NotImplementedError("topic 01 · add")


def mul_forward(a, b):
    """out = a * b with broadcasting."""
    raise NotImplementedError("topic 01 · mul")


def mul_backward(dout, cache):
    """-> (da, db)"""
    raise NotImplementedError("topic 01 · mul")


def div_forward(a, b):
    """out = a / b with broadcasting."""
    raise NotImplementedError("topic 01 · div")


def div_backward(dout, cache):
    """-> (da, db). Hint: d(a/b)/db = -a / b**2."""
    raise NotImplementedError("topic 01 · div")


def pow_forward(a, b):
    """out = a ** b for a > 0 with broadcasting; both a and b get gradients."""
    raise NotImplementedError("topic 01 · pow")


def pow_backward(dout, cache):
    """-> (da, db). Hint: d(a**b)/db = a**b * log(a)."""
    raise NotImplementedError("topic 01 · pow")


# --------------------------------------------------------------------------- unary ops
def exp_forward(x):
    """out = exp(x). x: (*s) -> (*s)"""
    raise NotImplementedError("topic 01 · exp")


def exp_backward(dout, cache):
    """-> dx"""
    raise NotImplementedError("topic 01 · exp")


def log_forward(x):
    """out = log(x) for x > 0."""
    raise NotImplementedError("topic 01 · log")


def log_backward(dout, cache):
    """-> dx"""
    raise NotImplementedError("topic 01 · log")


def tanh_forward(x):
    """out = tanh(x)."""
    raise NotImplementedError("topic 01 · tanh")


def tanh_backward(dout, cache):
    """-> dx. Hint: tanh' = 1 - tanh**2, so cache the output."""
    raise NotImplementedError("topic 01 · tanh")


# --------------------------------------------------------------------------- reductions
def sum_forward(x, axis=None, keepdims=False):
    """out = x.sum(axis=axis, keepdims=keepdims). axis: None, an int (maybe negative) or a tuple."""
    raise NotImplementedError("topic 01 · sum")


def sum_backward(dout, cache):
    """-> dx: (*x.shape). Hint: put the reduced axes back as size 1, then broadcast."""
    raise NotImplementedError("topic 01 · sum")


def mean_forward(x, axis=None, keepdims=False):
    """out = x.mean(axis=axis, keepdims=keepdims)."""
    raise NotImplementedError("topic 01 · mean")


def mean_backward(dout, cache):
    """-> dx"""
    raise NotImplementedError("topic 01 · mean")


def max_forward(x, axis=None, keepdims=False):
    """out = x.max(axis=axis, keepdims=keepdims)."""
    raise NotImplementedError("topic 01 · max")


def max_backward(dout, cache):
    """-> dx. The gradient goes to the maximum; when several entries tie, they share it equally."""
    raise NotImplementedError("topic 01 · max")


# --------------------------------------------------------------------------- shape ops
def reshape_forward(x, shape):
    """out = x.reshape(shape)."""
    raise NotImplementedError("topic 01 · reshape")


def reshape_backward(dout, cache):
    """-> dx"""
    raise NotImplementedError("topic 01 · reshape")


def transpose_forward(x, axes=None):
    """out = x.transpose(axes); axes=None reverses the axes; axes may be negative."""
    raise NotImplementedError("topic 01 · transpose")


def transpose_backward(dout, cache):
    """-> dx. Hint: the inverse permutation is np.argsort(axes)."""
    raise NotImplementedError("topic 01 · transpose")


# --------------------------------------------------------------------------- matmul
def matmul_forward(a, b):
    """out = a @ b. a: (*batch_a, n, k), b: (*batch_b, k, m) -> (*broadcast(batch_a, batch_b), n, m)"""
    raise NotImplementedError("topic 01 · matmul")


def matmul_backward(dout, cache):
    """-> (da, db). dA = dOut @ B^T, dB = A^T @ dOut, then unbroadcast the batch axes."""
    raise NotImplementedError("topic 01 · matmul")
