"""Topic 09 in JAX: penalties over pytrees, dropout with explicit keys, weight decay via optax.

The NumPy track writes each gradient by hand; here ``jax.grad`` derives them,
and the pieces compose into one pure, jittable training step:

    loss(params) = cross_entropy(mlp(params, x, dropout key)) + l2(params, lam)
    updates, opt_state = optimizer.update(grads, opt_state, params)

Randomness is an argument, never hidden state: dropout takes a ``key`` and
the caller splits a fresh one per step, so a step is reproducible from its
inputs alone. Early stopping, usually a Python ``if`` in the loop, is written
here as a state carried through the epochs, so it also runs inside
``lax.scan``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from tracks.t05_mlp_forward.jax_version import init_mlp  # He init, one key per layer

__all__ = [
    "l1", "l2", "dropout",
    "sgd_with_weight_decay", "adam_with_decoupled_weight_decay",
    "EarlyStopping", "early_stopping_init", "early_stopping_update",
    "init_mlp", "mlp_apply", "loss_fn", "make_train_step",
]


# --------------------------------------------------------------------------- penalties
def l1(params, lam: float) -> jax.Array:
    """lam * sum |w| over every leaf; ``jax.grad`` gives lam * sign(w) (+1 at 0)."""
    return lam * sum(jnp.sum(jnp.abs(w)) for w in jax.tree_util.tree_leaves(params))


def l2(params, lam: float) -> jax.Array:
    """lam / 2 * sum w^2 over every leaf; ``jax.grad`` gives lam * w."""
    return lam / 2 * sum(jnp.sum(w * w) for w in jax.tree_util.tree_leaves(params))


# --------------------------------------------------------------------------- dropout
def dropout(x: jax.Array, p: float, *, key: jax.Array | None = None, train: bool = True) -> jax.Array:
    """Inverted dropout: keep each unit with probability 1 - p and scale it by 1 / (1 - p).

    ``p`` and ``train`` are static (Python values): under ``jit`` they select
    the program, and p = 0 or evaluation compile to the identity.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability p must be in [0, 1), got {p!r}")
    if not train or p == 0:
        return x
    if key is None:
        raise ValueError("dropout in training needs a PRNG key: dropout(x, p, key=key)")
    keep = jax.random.bernoulli(key, 1 - p, x.shape)  # True with probability 1 - p
    return jnp.where(keep, x / (1 - p), 0).astype(x.dtype)


# --------------------------------------------------------------------------- weight decay
def sgd_with_weight_decay(learning_rate: float, weight_decay: float, momentum: float | None = None):
    """u = -lr (g + wd p): the decay joins the gradient, so this *is* L2 with lam = wd."""
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.sgd(learning_rate, momentum=momentum))


def adam_with_decoupled_weight_decay(learning_rate: float, weight_decay: float):
    """u = -lr (adam direction + wd p): the decay is added after Adam's rescaling (AdamW).

    The same three pieces optax.adamw is made of; the tests show the two agree.
    """
    return optax.chain(optax.scale_by_adam(), optax.add_decayed_weights(weight_decay),
                       optax.scale_by_learning_rate(learning_rate))


# --------------------------------------------------------------------------- early stopping
class EarlyStopping(NamedTuple):
    """What early stopping remembers: the best loss so far, its epoch, and the epochs seen."""

    best: jax.Array  # loss of the last improving epoch (+inf before any)
    best_epoch: jax.Array  # its 0-based index (-1 before any)
    epoch: jax.Array  # epochs seen so far


def early_stopping_init() -> EarlyStopping:
    return EarlyStopping(jnp.asarray(jnp.inf), jnp.asarray(-1), jnp.asarray(0))


def early_stopping_update(state: EarlyStopping, loss, patience: int, min_delta: float = 0.0):
    """Record one epoch's validation loss -> (state, stop). Branch-free, so it runs under jit and scan."""
    improved = loss < state.best - min_delta
    best = jnp.where(improved, loss, state.best)
    best_epoch = jnp.where(improved, state.epoch, state.best_epoch)
    stop = (best_epoch >= 0) & (state.epoch - best_epoch >= patience)  # epochs since the best one
    return EarlyStopping(best, best_epoch, state.epoch + 1), stop


# --------------------------------------------------------------------------- an MLP that uses them
def mlp_apply(params, x, *, p: float = 0.0, key: jax.Array | None = None, train: bool = False) -> jax.Array:
    """Linear -> ReLU -> dropout for every hidden layer, then a linear output.  x: (B, n_in) -> (B, n_out)"""
    keys = jax.random.split(key, len(params)) if (train and p > 0) else [None] * len(params)
    for layer, k in zip(params[:-1], keys):
        x = jax.nn.relu(x @ layer["W"] + layer["b"])
        x = dropout(x, p, key=k, train=train)
    return x @ params[-1]["W"] + params[-1]["b"]


def loss_fn(params, x, labels, *, key=None, p: float = 0.0, lam: float = 0.0, train: bool = True):
    """Mean softmax cross-entropy (from topic 08's optax oracle) plus the L2 penalty."""
    logits = mlp_apply(params, x, p=p, key=key, train=train)
    data = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return data + l2(params, lam)


def make_train_step(optimizer: optax.GradientTransformation, *, p: float = 0.0, lam: float = 0.0):
    """A jitted ``step(params, opt_state, x, labels, key) -> (params, opt_state, loss)``."""

    @jax.jit
    def step(params, opt_state, x, labels, key):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, labels, key=key, p=p, lam=lam)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step
