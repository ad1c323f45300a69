"""Topic 08 in JAX: the same losses as pure functions, jit/vmap/grad friendly.

Each function maps arrays to a scalar (the mean over the batch, like the
NumPy exercises), so ``jax.grad(loss)(pred, target)`` is the gradient the
NumPy backward computes by hand. Two things are worth seeing:

- the stable forms are the same as in NumPy (``softplus`` for BCE, the row
  maximum subtracted before ``exp``), but the maximum is wrapped in
  ``lax.stop_gradient``: the result does not depend on it mathematically, so
  differentiating through it would only add a zero (and split it between
  tied maxima);
- :func:`softmax_cross_entropy` carries its own backward with
  ``jax.custom_vjp``: it saves the softmax and returns ``(p - onehot) / N``,
  the formula of the lesson, instead of letting JAX differentiate
  ``logsumexp`` step by step. Later topics (the mini-GPT) use it on logits of
  shape ``(batch, seq, vocab)``: every leading axis is a batch axis.

The tests check every function and its gradient against optax.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["mse", "huber", "bce_with_logits", "log_softmax", "softmax_cross_entropy", "label_smoothing",
           "kl_divergence"]


def mse(pred: jax.Array, target: jax.Array) -> jax.Array:
    """mean((pred - target)^2) over every element.  pred, target: (*s) -> ()"""
    chex.assert_equal_shape([pred, target])  # a (n, 1) against (n,) would broadcast to (n, n)
    err = pred - target
    return jnp.mean(err * err)


def huber(pred: jax.Array, target: jax.Array, delta: float = 1.0) -> jax.Array:
    """Mean Huber loss: e^2/2 for |e| <= delta, delta (|e| - delta/2) beyond.  (*s) -> ()"""
    chex.assert_equal_shape([pred, target])
    abs_err = jnp.abs(pred - target)
    inside = jnp.minimum(abs_err, delta)  # the quadratic part of |e|
    return jnp.mean(0.5 * inside * inside + delta * (abs_err - inside))


def _softplus(x: jax.Array) -> jax.Array:
    """log(1 + e^x) exponentiating only -|x|."""
    return jnp.maximum(x, 0) + jnp.log1p(jnp.exp(-jnp.abs(x)))


def bce_with_logits(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean of y softplus(-x) + (1 - y) softplus(x): finite for any logit.  (*s), (*s) in [0, 1] -> ()"""
    chex.assert_equal_shape([logits, labels])
    labels = labels.astype(logits.dtype)
    return jnp.mean(labels * _softplus(-logits) + (1 - labels) * _softplus(logits))


def log_softmax(logits: jax.Array) -> jax.Array:
    """log softmax over the last axis: (z - m) - log sum exp(z - m), m the row maximum (a constant)."""
    shifted = logits - lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))


def _label_column(values: jax.Array, labels: jax.Array) -> jax.Array:
    """values[..., labels[...]]: one entry per row.  (*b, c), (*b) -> (*b)"""
    return jnp.take_along_axis(values, labels[..., None], axis=-1)[..., 0]


@jax.custom_vjp
def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean over rows of -log softmax(logits)_label.  logits: (*b, c), labels: (*b) ints -> ()"""
    return -jnp.mean(_label_column(log_softmax(logits), labels))


def _softmax_cross_entropy_fwd(logits, labels):
    log_probs = log_softmax(logits)
    loss = -jnp.mean(_label_column(log_probs, labels))
    return loss, (jnp.exp(log_probs), labels)  # the softmax is all the backward needs


def _softmax_cross_entropy_bwd(residuals, dloss):
    probs, labels = residuals
    onehot = jax.nn.one_hot(labels, probs.shape[-1], dtype=probs.dtype)
    rows = probs.size // probs.shape[-1]
    return (probs - onehot) * (dloss / rows), None  # labels are integers: no gradient


softmax_cross_entropy.defvjp(_softmax_cross_entropy_fwd, _softmax_cross_entropy_bwd)


def label_smoothing(logits: jax.Array, labels: jax.Array, alpha: float) -> jax.Array:
    """Mean cross-entropy against (1 - alpha) onehot + alpha / c.  (*b, c), (*b) ints -> ()

    Written as (1 - alpha) CE(onehot) + alpha CE(uniform), which never builds the smoothed targets.
    """
    log_probs = log_softmax(logits)
    nll = -_label_column(log_probs, labels)
    uniform = -jnp.mean(log_probs, axis=-1)
    return jnp.mean((1 - alpha) * nll + alpha * uniform)


def kl_divergence(log_predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean over rows of sum_j t_j (log t_j - log p_j), 0 log 0 = 0.  (*b, c), (*b, c) -> ()"""
    targets = targets.astype(log_predictions.dtype)
    # log of 1 where t = 0: no log(0) is ever taken, so no NaN reaches the gradient either
    log_targets = jnp.log(jnp.where(targets > 0, targets, 1))
    return jnp.mean(jnp.sum(targets * (log_targets - log_predictions), axis=-1))
