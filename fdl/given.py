"""Code a learner is handed, not asked to write: pytrees, the optimizer interface, the MLP stack.

Exercise files import these (``from fdl.given import tree_map, Optimizer``)
instead of another topic's reference, so a learner's file never depends on
the answers, and a later topic does not carry a copy of an earlier one. All
of it is plain NumPy and Python, short enough to read.

- :func:`tree_map`, :func:`tree_leaves`, :func:`apply_updates`: pytrees are
  nested dicts, lists, tuples and NamedTuples with arrays at the leaves (the
  structure optax and JAX use), walked in a fixed order.
- :class:`Optimizer`: a gradient transformation, a pair of pure functions
  ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``.
- :class:`MLPStack`: linear -> ReLU -> (dropout) for each hidden layer, then
  a linear layer to the logits, assembled from whichever layer, activation,
  dropout and loss functions a run resolved (topics 06, 07, 09, 08).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = ["tree_map", "tree_leaves", "apply_updates", "Optimizer", "MLPStack"]


# --------------------------------------------------------------------------- pytrees
def tree_map(fn: Callable, tree, *rest):
    """``fn`` applied leaf by leaf to trees of the same structure; the structure is kept.

    ``tree_map(lambda g, m: g + 0.9 * m, grads, state.trace)`` -> a tree like ``grads``.
    """
    if isinstance(tree, dict):
        return {k: tree_map(fn, tree[k], *(r[k] for r in rest)) for k in tree}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # a NamedTuple
        return type(tree)(*(tree_map(fn, *children) for children in zip(tree, *rest)))
    if isinstance(tree, (list, tuple)):
        return type(tree)(tree_map(fn, *children) for children in zip(tree, *rest))
    return fn(tree, *rest)


def tree_leaves(tree) -> list:
    """The leaves of ``tree`` as a list, in the order :func:`tree_map` visits them."""
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in tree_leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for child in tree for leaf in tree_leaves(child)]
    return [tree]


def apply_updates(params, updates):
    """``params + updates``, leaf by leaf: one optimizer step (``updates`` already holds ``-lr``)."""
    return tree_map(lambda p, u: p + u, params, updates)


# --------------------------------------------------------------------------- the optimizer interface
class Optimizer(NamedTuple):
    """A gradient transformation: ``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``."""

    init: Callable
    update: Callable


# --------------------------------------------------------------------------- the MLP of Module 1
class MLPStack:
    """Linear -> ReLU -> dropout for each hidden layer, then a linear layer to the logits.

    ``layers`` has ``linear_forward/backward`` (topic 06), ``activations`` has
    ``relu_forward/backward`` (topic 07), ``dropout`` has
    ``dropout_forward/backward`` (topic 09; ``None`` for none) and ``losses``
    has ``softmax_cross_entropy_forward/backward`` (topic 08). ``params`` is a
    list of ``{"W": (d_in, d_out), "b": (d_out,)}``.
    """

    def __init__(self, layers: Any, activations: Any, losses: Any, dropout: Any = None):
        self.layers, self.activations, self.losses, self.dropout = layers, activations, losses, dropout

    def forward(self, params, x, *, train: bool = False, p: float = 0.0, rng: np.random.Generator | None = None):
        """x: (batch, d_0) -> logits: (batch, d_L), caches (one tuple per layer).

        Dropout with rate ``p`` acts only when ``train`` (and a dropout is given).
        """
        caches = []
        h = x  # (batch, d_0)
        for i, layer in enumerate(params):
            z, linear_cache = self.layers.linear_forward(h, layer)  # z_l = h_{l-1} W_l + b_l: (batch, d_l)
            if i == len(params) - 1:
                caches.append((linear_cache, None, None))
                return z, caches
            h, relu_cache = self.activations.relu_forward(z)  # a_l = max(z_l, 0)
            drop_cache = None
            if train and p > 0 and self.dropout is not None:
                h, drop_cache = self.dropout.dropout_forward(h, p, rng=rng)  # h_l = a_l * m_l / (1 - p)
            caches.append((linear_cache, relu_cache, drop_cache))
        return h, caches  # no layers: the input itself

    def backward(self, dlogits, caches):
        """dlogits: (batch, d_L) -> dx: (batch, d_0), grads: [{"W", "b"}, ...] like params."""
        grads = [None] * len(caches)
        d = dlogits
        for i in reversed(range(len(caches))):
            linear_cache, relu_cache, drop_cache = caches[i]
            if drop_cache is not None:
                d = self.dropout.dropout_backward(d, drop_cache)
            if relu_cache is not None:
                d = self.activations.relu_backward(d, relu_cache)
            d, grads[i] = self.layers.linear_backward(d, linear_cache)
        return d, grads

    def evaluate(self, params, x, y) -> tuple[float, float]:
        """Mean cross-entropy and accuracy, without dropout."""
        logits, _ = self.forward(params, x)
        loss, _ = self.losses.softmax_cross_entropy_forward(logits, y)
        return float(loss), float(np.mean(logits.argmax(axis=-1) == y))

    def model(self, *, train: bool, p: float = 0.0, rng: np.random.Generator | None = None) -> SimpleNamespace:
        """The ``model`` topic 10's ``train_step`` and ``evaluate`` take: forward(x, params), backward, loss."""
        return SimpleNamespace(
            forward=lambda x, params: self.forward(params, x, train=train, p=p, rng=rng),
            backward=self.backward,
            loss_forward=self.losses.softmax_cross_entropy_forward,
            loss_backward=self.losses.softmax_cross_entropy_backward,
        )
