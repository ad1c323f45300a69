"""Topic 09 reference: regularization in NumPy — penalties, weight decay, dropout, early stopping.

A network with enough parameters can memorise a small training set: its
training loss goes to zero while its loss on data it has not seen rises.
Regularization trades a little training fit for a model that generalises:

    L1 penalty      R(w) = lam * sum |w|             dR/dw = lam * sign(w)
    L2 penalty      R(w) = lam / 2 * sum w^2         dR/dw = lam * w
    weight decay    u <- u + wd * p                  (a gradient transformation)
    dropout         y = x * m / (1 - p),  m_i ~ Bernoulli(1 - p)   (training only)
    early stopping  keep the epoch with the best validation loss; stop when
                    `patience` epochs have passed without improving on it

The penalties are summed over every leaf of a parameter pytree (a dict, or a
list of dicts, of arrays) and their gradient has the same structure. With
plain SGD, adding ``lam * w`` to the gradient (L2) and decaying the weights
by ``wd * w`` are the same step; with Adam they differ, because Adam rescales
the gradient and with it the L2 term ("decoupled" weight decay, AdamW,
applies the decay after the rescaling).

Dropout is "inverted": the survivors are scaled by ``1 / (1 - p)`` during
training, so each unit's expected value is unchanged and evaluation uses the
network as it is, with no rescaling.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from fdl.given import Optimizer, tree_leaves, tree_map

__all__ = [
    "tree_map", "tree_leaves", "Optimizer", "DecayState",
    "l1_forward", "l1_backward", "l2_forward", "l2_backward",
    "add_decayed_weights",
    "dropout_forward", "dropout_backward",
    "early_stopping",
]


# --------------------------------------------------------------------------- pytrees
# tree_map, tree_leaves and Optimizer are topic 03's: one pytree walker, one optimizer shape.


def _tree_sum(values: list, dtype) -> np.ndarray:
    """Sum of per-leaf partial sums, as a 0-d array of the parameters' dtype."""
    total = np.zeros((), dtype)
    for v in values:
        total = total + v
    return total


# --------------------------------------------------------------------------- penalties
def l1_forward(params, lam: float):
    """R = lam * sum_leaves sum |w|.  params: pytree of arrays -> (0-d array, cache)

    The penalty's dtype is the parameters' dtype. The cache is the parameters
    themselves (their signs are the gradient) and ``lam``.
    """
    leaves = tree_leaves(params)
    dtype = np.result_type(*leaves)
    penalty = lam * _tree_sum([np.abs(w).sum() for w in leaves], dtype)  # lam * sum |w|
    return np.asarray(penalty, dtype), (params, lam)


def l1_backward(dout, cache):
    """dR/dw = dout * lam * sign(w), as a pytree like params.

    |w| has no derivative at w = 0; any value in [-1, 1] is a subgradient.
    We take +1 there, as JAX does, so the gradient matches jax.grad exactly.
    """
    params, lam = cache
    return tree_map(lambda w: dout * lam * np.where(w >= 0, 1, -1).astype(w.dtype), params)


def l2_forward(params, lam: float):
    """R = lam / 2 * sum_leaves sum w^2.  params: pytree of arrays -> (0-d array, cache)"""
    leaves = tree_leaves(params)
    dtype = np.result_type(*leaves)
    penalty = lam / 2 * _tree_sum([np.sum(w * w) for w in leaves], dtype)  # lam/2 * sum w^2
    return np.asarray(penalty, dtype), (params, lam)


def l2_backward(dout, cache):
    """dR/dw = dout * lam * w, as a pytree like params."""
    params, lam = cache
    return tree_map(lambda w: dout * lam * w, params)


# --------------------------------------------------------------------------- weight decay
class DecayState(NamedTuple):
    """Weight decay remembers nothing between steps; its state is empty."""


def add_decayed_weights(weight_decay: float) -> Optimizer:
    """u <- u + weight_decay * p, leaf by leaf (optax.add_decayed_weights).

    Placed before ``sgd(lr)`` in a chain it is L2 regularization,
    ``-lr (g + wd p)``; placed after Adam's rescaling it is AdamW's decoupled
    decay. ``update`` needs the current parameters and says so when it lacks them.
    """

    def init(params):
        return DecayState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the current parameters: call update(updates, state, params)"
            )
        return tree_map(lambda u, p: u + weight_decay * p, updates, params), state

    return Optimizer(init, update)


# --------------------------------------------------------------------------- dropout
def _check_probability(p: float) -> None:
    if not (isinstance(p, (int, float, np.integer, np.floating)) and 0 <= p < 1):
        raise ValueError(f"dropout probability p must be in [0, 1), got {p!r}")


def dropout_forward(x, p: float, *, mask=None, rng=None, train: bool = True):
    """Inverted dropout: out = x * mask / (1 - p).  x: (*shape) -> (out: (*shape), cache)

    p: the probability of *dropping* a unit, in [0, 1).
    mask: a boolean keep-mask of x's shape (True = keep), or None to draw one
        as ``rng.random(x.shape) >= p`` from the NumPy Generator ``rng``.
    train=False (evaluation) or p == 0: the identity, out = x.
    The cache is the mask and p (the mask is the layer's memory cost: one
    boolean per unit).
    """
    _check_probability(p)
    if not train or p == 0:
        return x, (None, p)
    if mask is None:
        if rng is None:
            raise ValueError("dropout_forward in training needs a keep-mask (mask=) or a Generator (rng=)")
        mask = rng.random(x.shape) >= p  # keep with probability 1 - p
    mask = np.asarray(mask)
    if mask.shape != x.shape or mask.dtype != np.bool_:
        raise ValueError(f"mask must be a boolean array of x's shape {x.shape}, got {mask.dtype} {mask.shape}")
    return x * mask / (1 - p), (mask, p)  # survivors scaled up: E[out] = x


def dropout_backward(dout, cache):
    """dx = dout * mask / (1 - p): the same mask and scale as the forward; dout itself in eval mode."""
    mask, p = cache
    if mask is None:
        return dout
    return dout * mask / (1 - p)


# --------------------------------------------------------------------------- early stopping
def early_stopping(val_losses, patience: int, min_delta: float = 0.0):
    """Should training stop, and which epoch was best?  -> (stop: bool, best_epoch: int | None)

    val_losses: one validation loss per epoch so far (epoch 0 first).
    An epoch improves when its loss < best - min_delta, where ``best`` is the
    loss of the last improving epoch (the first epoch always improves on
    +inf). ``best_epoch`` is the 0-based index of the last improving epoch,
    None for an empty list. ``stop`` is True when at least ``patience``
    epochs have passed since ``best_epoch`` (patience 0 stops at once).
    A NaN loss never improves.
    """
    if patience < 0:
        raise ValueError(f"patience must be >= 0, got {patience}")
    best, best_epoch = math.inf, None
    for epoch, loss in enumerate(val_losses):
        if loss < best - min_delta:
            best, best_epoch = loss, epoch
    if best_epoch is None:
        return False, None
    waited = len(val_losses) - 1 - best_epoch  # epochs since the best one
    return waited >= patience, best_epoch
