"""Topic 02 reference: a reverse-mode autograd engine over NumPy arrays.

A :class:`Tensor` holds a value (``data``) and, after ``backward``, the
gradient of the output with respect to it (``grad``). Every operation builds
a new Tensor that remembers its *parents* (the inputs) and a *backward
function*: given ``g = dL/d out`` it returns ``dL/d parent`` for each parent,
a vector-Jacobian product exactly as in topic 01.

``out.backward()`` then applies the chain rule to the whole graph:

1. order the graph so every tensor comes *after* the tensors it was computed
   from (a topological order), by an iterative depth-first search: no
   recursion, so a chain 10,000 operations deep works;
2. walk that order backwards, starting from ``dL/dL = 1``; when a tensor is
   reached, all the tensors computed from it have already been visited, so
   its gradient is complete: the **sum** over all its uses (the multivariable
   chain rule, ``dL/dx = sum_k dL/dy_k * dy_k/dx``);
3. hand each parent its share from the tensor's backward function.

Only a few operations are *primitives* with a hand-written backward (``+``,
``*``, ``**``, ``exp``, ``log``, ``tanh``, ``relu``, ``@``, ``sum``, ``max``,
``reshape``, ``transpose``, indexing). Everything else (``-``, ``/``,
``mean``...) is composed of them, and gets its gradient for free.
"""

from __future__ import annotations

import numpy as np

from tracks.t01_tensor_ops.reference import unbroadcast

__all__ = ["Tensor"]


def _axes(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, an int, a tuple; negatives allowed) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim for a in axis))


def _shape_args(args) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both mean the tuple ``(2, 3)``."""
    if len(args) == 1 and (args[0] is None or isinstance(args[0], (tuple, list))):
        return () if args[0] is None else tuple(args[0])
    return tuple(args)


class Tensor:
    """A NumPy array that records how it was computed, so gradients can flow back."""

    # ``ndarray <op> Tensor`` must call Tensor's reflected operator (``__radd__``...)
    # instead of letting NumPy loop over the Tensor as an object.
    __array_ufunc__ = None

    def __init__(self, data):
        data = np.asarray(data)
        self.data = data if data.dtype.kind == "f" else data.astype(np.float64)
        self.grad = None  # dL/d self, same shape as data, once backward has reached this tensor
        self._parents: tuple[Tensor, ...] = ()  # the tensors this one was computed from
        self._backward = None  # g = dL/d self -> (dL/d parent for each parent)
        self._op = ""  # the operation that made it, for repr and messages

    # ----------------------------------------------------------------- basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __repr__(self) -> str:
        op = f", op={self._op!r}" if self._op else ""
        grad = ", grad=..." if self.grad is not None else ""
        return f"Tensor(shape={self.shape}, dtype={self.data.dtype.name}{op}{grad})"

    def _lift(self, value) -> "Tensor":
        """A Tensor as it is; a number or array as a constant leaf of this tensor's dtype."""
        if isinstance(value, Tensor):
            return value
        return type(self)(np.asarray(value, dtype=self.data.dtype))

    def _result(self, data, parents: tuple, backward, op: str) -> "Tensor":
        """The one way every primitive builds its output (``type(self)``, so subclasses stay subclasses)."""
        out = type(self)(data)
        out._parents = parents
        out._backward = backward
        out._op = op
        return out

    def zero_grad(self) -> None:
        self.grad = None

    # ----------------------------------------------------------------- binary primitives
    def __add__(self, other) -> "Tensor":
        a, b = self, self._lift(other)

        def backward(g):  # g: (*broadcast(sa, sb))
            # d(a + b)/da = d(a + b)/db = 1; what broadcasting copied, the backward sums
            return unbroadcast(g, a.shape), unbroadcast(g, b.shape)

        return self._result(a.data + b.data, (a, b), backward, "add")

    def __mul__(self, other) -> "Tensor":
        a, b = self, self._lift(other)

        def backward(g):
            # d(a b)/da = b, d(a b)/db = a
            return unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)

        return self._result(a.data * b.data, (a, b), backward, "mul")

    def __pow__(self, exponent) -> "Tensor":
        """``x ** p`` for a number ``p`` (a Tensor exponent is not supported)."""
        if isinstance(exponent, bool) or not isinstance(exponent, (int, float, np.number)):
            raise TypeError(f"Tensor ** p needs a number p, got {type(exponent).__name__}")
        p, x = exponent, self.data

        def backward(g):
            # d x^p / dx = p x^(p-1)
            return (g * p * x ** (p - 1),)

        return self._result(x ** p, (self,), backward, f"pow {p}")

    def __matmul__(self, other) -> "Tensor":
        a, b = self, self._lift(other)
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError(f"Tensor @ needs both operands with ndim >= 2, got shapes {a.shape} and {b.shape}")

        def backward(g):  # g: (*batch, n, m)
            # out_ij = sum_k a_ik b_kj  =>  dL/da_ik = sum_j g_ij b_kj, dL/db_kj = sum_i a_ik g_ij
            da = g @ np.swapaxes(b.data, -1, -2)  # (*batch, n, m) @ (*batch_b, m, k) -> (*batch, n, k)
            db = np.swapaxes(a.data, -1, -2) @ g  # (*batch_a, k, n) @ (*batch, n, m) -> (*batch, k, m)
            return unbroadcast(da, a.shape), unbroadcast(db, b.shape)  # sum the broadcast batch axes

        # (*batch_a, n, k) @ (*batch_b, k, m) -> (*broadcast(batch_a, batch_b), n, m)
        return self._result(a.data @ b.data, (a, b), backward, "matmul")

    # ----------------------------------------------------------------- unary primitives
    def exp(self) -> "Tensor":
        out = np.exp(self.data)

        def backward(g):
            return (g * out,)  # d exp(x)/dx = exp(x): reuse the output

        return self._result(out, (self,), backward, "exp")

    def log(self) -> "Tensor":
        x = self.data

        def backward(g):
            return (g / x,)  # d log(x)/dx = 1/x

        return self._result(np.log(x), (self,), backward, "log")

    def tanh(self) -> "Tensor":
        out = np.tanh(self.data)

        def backward(g):
            return (g * (1 - out * out),)  # d tanh(x)/dx = 1 - tanh(x)^2

        return self._result(out, (self,), backward, "tanh")

    def relu(self) -> "Tensor":
        x = self.data

        def backward(g):
            # d relu(x)/dx = 1 where x > 0, else 0 (0 at the kink x = 0, as JAX and PyTorch)
            return (g * (x > 0),)

        return self._result(np.maximum(x, 0), (self,), backward, "relu")

    # ----------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False) -> "Tensor":
        shape, axes = self.shape, _axes(axis, self.ndim)

        def backward(g):  # g: the reduced shape
            # every element was added once: copy g back along the summed axes
            if not keepdims:
                g = np.expand_dims(g, axes)  # put the summed axes back as size 1
            return (np.broadcast_to(g, shape),)  # (*shape)

        return self._result(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward, "sum")

    def max(self, axis=None, keepdims=False) -> "Tensor":
        x, axes = self.data, _axes(axis, self.ndim)
        out = x.max(axis=axis, keepdims=keepdims)

        def backward(g):
            # the gradient goes to the maximum; k tied maxima get g / k each (JAX's convention)
            top, g = (out, g) if keepdims else (np.expand_dims(out, axes), np.expand_dims(g, axes))
            winners = (x == top).astype(x.dtype)  # (*x.shape): 1 at every maximum of its slice
            return (g * winners / winners.sum(axis=axes, keepdims=True),)

        return self._result(out, (self,), backward, "max")

    # ----------------------------------------------------------------- shape primitives
    def reshape(self, *shape) -> "Tensor":
        old = self.shape

        def backward(g):
            return (g.reshape(old),)  # same elements, same order: reshape back

        return self._result(self.data.reshape(_shape_args(shape)), (self,), backward, "reshape")

    def transpose(self, *axes) -> "Tensor":
        """Permute the axes; no axes reverses them (``x.T``)."""
        axes = _shape_args(axes) or tuple(reversed(range(self.ndim)))
        axes = tuple(a % self.ndim for a in axes)

        def backward(g):
            # out axis i is input axis axes[i]; the inverse permutation puts them back
            return (g.transpose(np.argsort(axes)),)

        return self._result(self.data.transpose(axes), (self,), backward, "transpose")

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    def __getitem__(self, index) -> "Tensor":
        shape, dtype = self.shape, self.data.dtype

        def backward(g):  # g: the shape of self.data[index]
            dx = np.zeros(shape, dtype)
            # scatter back; np.add.at *adds* for repeated indices (x[[0, 0]] picks x[0] twice),
            # where dx[index] += g would keep only one of the repeats
            np.add.at(dx, index, g)
            return (dx,)

        return self._result(self.data[index], (self,), backward, "getitem")

    # ----------------------------------------------------------------- derived operations (no backward)
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
        return total * (total.data.size / self.data.size)  # divide by the number of elements summed

    # ----------------------------------------------------------------- the chain rule over the graph
    def _topological_order(self) -> list["Tensor"]:
        """Every tensor ``self`` depends on, each after all of its parents.

        Depth-first search with an explicit stack: a node is appended only when
        popped for the second time (``expanded``), after all its parents.
        """
        order: list[Tensor] = []
        visited: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)  # its parents are all in ``order`` already
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in node._parents if id(parent) not in visited)
        return order

    def backward(self, grad=None) -> None:
        """Add ``dL/d t`` to ``t.grad`` for every tensor ``t`` this one depends on.

        ``L`` is this tensor when it holds one value (the seed is 1), else
        ``sum(grad * self)`` for the ``grad`` given. Gradients accumulate: a
        second call adds to ``.grad``; ``zero_grad()`` clears a tensor's.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a scalar output; this tensor has shape {self.shape}. "
                    f"Reduce it first (e.g. out.sum().backward()) or pass grad= of shape {self.shape}."
                )
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.data.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(grad): grad has shape {grad.shape}, the tensor has shape {self.shape}")

        # dL/d node for this call, summed over the node's uses seen so far; kept apart
        # from .grad so that gradients from an earlier call are not sent through again
        pending = {id(self): grad}
        for node in reversed(self._topological_order()):  # every node after all its consumers
            g = pending.pop(id(node))  # complete: all consumers have been visited
            # a fresh array (g may be shared with another tensor), never a NumPy scalar
            node.grad = np.array(g) if node.grad is None else np.asarray(node.grad + g)
            if node._backward is None:
                continue  # a leaf
            for parent, parent_grad in zip(node._parents, node._backward(g)):
                key = id(parent)
                pending[key] = pending[key] + parent_grad if key in pending else parent_grad
