"""Topic 02 · Autograd engine from scratch: your code.

Write the primitives of ``Tensor`` (each a forward and its backward) and
``backward``, which applies the chain rule to the whole graph. Then run

    python -m fdl.run topic02

which checks your engine against ``jax.grad`` on the same programs and shows
PASS / FAIL / TODO per exercise. NumPy only.

How the pieces fit (already written below): every primitive computes its
output array and returns ``self._result(data, parents, backward, op)``, where
``backward(g)`` receives ``g = dL/d out`` (shape of ``out``) and returns one
gradient per parent, each of that parent's shape. ``Tensor.backward`` calls
these functions in reverse topological order and adds up what each tensor
receives. The derived operations at the bottom (``-``, ``/``, ``mean``...)
are compositions of the primitives: they work as soon as the primitives do.
"""

import numpy as np


def unbroadcast(grad, shape):
    """Sum ``grad`` (the broadcast shape) back to ``shape`` (an input's shape), as in topic 01.

    grad: (*broadcast_shape) -> (*shape). Sum away the leading axes broadcasting
    added, then sum (keepdims) the axes where ``shape`` has size 1. You may copy
    your topic 01 function here.
    """
    raise NotImplementedError("topic 02 · elementwise (unbroadcast, as in topic 01)")


class Tensor:
    """A NumPy array that records how it was computed, so gradients can flow back."""

    # ``ndarray <op> Tensor`` calls Tensor's reflected operator (``__radd__``...)
    __array_ufunc__ = None

    def __init__(self, data):
        data = np.asarray(data)
        self.data = data if data.dtype.kind == "f" else data.astype(np.float64)
        self.grad = None  # dL/d self, same shape as data, once backward has reached this tensor
        self._parents = ()  # the tensors this one was computed from
        self._backward = None  # g = dL/d self -> (dL/d parent for each parent)
        self._op = ""  # the operation that made it, for repr and messages

    # ----------------------------------------------------------------- given
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    def __repr__(self):
        op = f", op={self._op!r}" if self._op else ""
        grad = ", grad=..." if self.grad is not None else ""
        return f"Tensor(shape={self.shape}, dtype={self.data.dtype.name}{op}{grad})"

    def _lift(self, value):
        """A Tensor as it is; a number or array as a constant leaf of this tensor's dtype."""
        if isinstance(value, Tensor):
            return value
        return type(self)(np.asarray(value, dtype=self.data.dtype))

    def _result(self, data, parents, backward, op):
        """Build a primitive's output: ``backward(g)`` returns one gradient per tensor in ``parents``."""
        out = type(self)(data)
        out._parents = parents
        out._backward = backward
        out._op = op
        return out

    def zero_grad(self):
        self.grad = None

    # ----------------------------------------------------------------- binary primitives
    def __add__(self, other):
        """self + other, broadcasting. (*sa) + (*sb) -> (*broadcast(sa, sb)).

        Use ``b = self._lift(other)``. Backward: ``g`` to both, each unbroadcast to its shape.
        """
        raise NotImplementedError("topic 02 · elementwise")

    def __mul__(self, other):
        """self * other, broadcasting. Backward: ``g * b`` to a and ``g * a`` to b, unbroadcast."""
        raise NotImplementedError("topic 02 · elementwise")

    def __pow__(self, exponent):
        """self ** p for a Python number p. Backward: ``g * p * x ** (p - 1)``."""
        raise NotImplementedError("topic 02 · elementwise")

    def __matmul__(self, other):
        """self @ other. (*batch_a, n, k) @ (*batch_b, k, m) -> (*broadcast(batch_a, batch_b), n, m).

        Both operands have ndim >= 2. Backward: ``g @ b^T`` and ``a^T @ g`` (transpose the
        last two axes only: np.swapaxes), then unbroadcast the batch axes.
        """
        raise NotImplementedError("topic 02 · matmul")

    # ----------------------------------------------------------------- unary primitives
    def exp(self):
        """exp(x). Backward: ``g * exp(x)`` (keep the output)."""
        raise NotImplementedError("topic 02 · unary")

    def log(self):
        """log(x) for x > 0. Backward: ``g / x``."""
        raise NotImplementedError("topic 02 · unary")

    def tanh(self):
        """tanh(x). Backward: ``g * (1 - tanh(x)^2)``."""
        raise NotImplementedError("topic 02 · unary")

    def relu(self):
        """max(x, 0). Backward: ``g`` where x > 0, else 0 (0 at x == 0 too, as JAX and PyTorch)."""
        raise NotImplementedError("topic 02 · unary")

    # ----------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (None, an int, maybe negative, or a tuple).

        Backward: put the summed axes back as size 1 (unless keepdims), broadcast to x's shape.
        """
        raise NotImplementedError("topic 02 · reductions")

    def max(self, axis=None, keepdims=False):
        """Maximum over ``axis``. Backward: ``g`` to the maxima; k tied maxima get ``g / k`` each."""
        raise NotImplementedError("topic 02 · reductions")

    # ----------------------------------------------------------------- shape primitives
    def reshape(self, *shape):
        """x.reshape(2, 6) or x.reshape((2, 6)); -1 allowed. Backward: reshape g back."""
        raise NotImplementedError("topic 02 · shape_ops")

    def transpose(self, *axes):
        """Permute axes: x.transpose(1, 0, 2) or x.transpose((1, 0, 2)); no axes reverses them.

        Negative axes allowed. Backward: ``g.transpose(np.argsort(axes))``.
        """
        raise NotImplementedError("topic 02 · shape_ops")

    @property
    def T(self):
        return self.transpose()

    def __getitem__(self, index):
        """x[1:3], x[:, ::2], x[1], x[..., 0], x[np.array([0, 2, 0])] (integer arrays may repeat).

        Backward: scatter g into zeros of x's shape with np.add.at, which adds once per
        repeat (``dx[index] += g`` keeps only one of the repeats).
        """
        raise NotImplementedError("topic 02 · shape_ops")

    # ----------------------------------------------------------------- derived (given: no backward needed)
    def __neg__(self):
        return self * -1.0

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + -self._lift(other)

    def __rsub__(self, other):
        return self._lift(other) + -self

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * self._lift(other) ** -1

    def __rtruediv__(self, other):
        return self._lift(other) * self ** -1

    def __rmatmul__(self, other):
        return self._lift(other) @ self

    def mean(self, axis=None, keepdims=False):
        total = self.sum(axis=axis, keepdims=keepdims)
        return total * (total.data.size / self.data.size)

    # ----------------------------------------------------------------- the chain rule over the graph
    def backward(self, grad=None):
        """Add ``dL/d t`` to ``t.grad`` for every tensor ``t`` this one depends on.

        - ``grad=None``: this tensor must hold one value (else raise ValueError); the seed is 1.
          Otherwise ``grad`` (this tensor's shape) is the seed ``dL/d self``.
        - Order the graph so each tensor comes after its parents, **without recursion**
          (an explicit stack): a chain of 20,000 tensors must work.
        - Walk that order backwards: a tensor's gradient is complete once all the tensors
          computed from it are done; it is the **sum** over its uses.
        - Accumulate: a second backward() adds to .grad (keep this call's gradients apart
          from .grad while propagating, so an earlier call's are not sent through again).
        """
        raise NotImplementedError("topic 02 · backward")
