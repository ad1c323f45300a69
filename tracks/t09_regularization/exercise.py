"""Topic 09 · Regularization: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic09

which checks every function against JAX and optax and shows PASS / FAIL / TODO.
Use NumPy only.

- ``l1_*`` / ``l2_*``: a penalty over every array of a parameter pytree (a
  dict, nested dicts, or a list of layer dicts ``[{"W": ..., "b": ...}, ...]``).
  The forward returns ``(penalty, cache)`` with the penalty a 0-d array of the
  parameters' dtype; the backward returns a pytree of the same structure.
- ``add_decayed_weights``: a gradient transformation, ``Optimizer(init, update)``
  like topic 03's, so it chains with them.
- ``dropout_*``: inverted dropout, with a keep-mask you pass or one drawn
  from a NumPy Generator.
- ``early_stopping``: a verdict from the validation losses so far.

``tree_map``, ``tree_leaves``, ``Optimizer`` and ``DecayState`` are given.
"""

import math
from typing import Callable, NamedTuple

import numpy as np

# given code, the same as topic 03's (not an exercise here)
from fdl.given import Optimizer, tree_leaves, tree_map


# --------------------------------------------------------------------------- given: pytrees
def l1_forward(params, lam):
    """R = lam * sum over every leaf of sum |w|.  params: pytree of arrays -> (0-d array, cache)

    Keep the parameters' dtype: float32 parameters give a float32 penalty.
    """
    # TODO: sum np.abs(w) over the leaves, times lam; cache what the backward needs
    raise NotImplementedError("topic 09 · l1")


def l1_backward(dout, cache):
    """dR/dw = dout * lam * sign(w), a pytree like params.

    At w == 0 use +1 (JAX's choice; any value in [-1, 1] is a valid subgradient).
    """
    # TODO: tree_map over the cached params
    raise NotImplementedError("topic 09 · l1")


def l2_forward(params, lam):
    """R = lam / 2 * sum over every leaf of sum w^2.  params: pytree of arrays -> (0-d array, cache)"""
    # TODO
    raise NotImplementedError("topic 09 · l2")


def l2_backward(dout, cache):
    """dR/dw = dout * lam * w, a pytree like params."""
    # TODO
    raise NotImplementedError("topic 09 · l2")


# --------------------------------------------------------------------------- weight decay
class DecayState(NamedTuple):
    """Weight decay remembers nothing between steps; its state is empty."""


def add_decayed_weights(weight_decay):
    """The transformation u <- u + weight_decay * p, leaf by leaf (optax.add_decayed_weights).

    Returns Optimizer(init, update):
      init(params) -> DecayState()
      update(updates, state, params=None) -> (new updates, state)
    update without params must raise ValueError saying that it needs them.
    """
    # TODO: define init and update here, return Optimizer(init, update)
    raise NotImplementedError("topic 09 · weight_decay")


# --------------------------------------------------------------------------- dropout
def dropout_forward(x, p, *, mask=None, rng=None, train=True):
    """Inverted dropout: out = x * mask / (1 - p).  x: (*shape) -> (out: (*shape), cache)

    p: the probability of DROPPING a unit; raise ValueError unless 0 <= p < 1.
    mask: a boolean keep-mask of x's shape (True = keep), or None: then draw
        ``mask = rng.random(x.shape) >= p`` from the NumPy Generator ``rng``.
    train=False, or p == 0: the identity (out = x).
    """
    # TODO: validate p; identity when not training; else scale the survivors by 1 / (1 - p)
    raise NotImplementedError("topic 09 · dropout")


def dropout_backward(dout, cache):
    """dout: (*shape) -> dx: (*shape). The forward's mask and scale again; dout itself in the identity case."""
    # TODO
    raise NotImplementedError("topic 09 · dropout")


# --------------------------------------------------------------------------- early stopping
def early_stopping(val_losses, patience, min_delta=0.0):
    """-> (stop: bool, best_epoch: int or None)

    val_losses: a list with one validation loss per epoch so far (epoch 0 first).
    An epoch improves when its loss < best - min_delta, ``best`` being the loss
    of the last improving epoch (the first epoch improves on +inf).
    best_epoch: the 0-based index of the last improving epoch; None for [].
    stop: True when at least ``patience`` epochs have passed since best_epoch.
    early_stopping([0.9, 0.7, 0.8, 0.75], patience=2) == (True, 1)
    """
    # TODO: one pass over val_losses
    raise NotImplementedError("topic 09 · early_stopping")
