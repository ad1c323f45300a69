"""Topic 04 in JAX: the perceptron and logistic regression as pure functions.

The same two models as the NumPy track, written the way the rest of the JAX
track is: parameters are a pytree ``{"w": (d,), "b": ()}``, every function is
pure, and nothing branches in Python on a traced value, so everything here
runs under ``jax.jit`` and ``jax.vmap``:

- the perceptron's ``if mistake`` becomes ``jnp.where(mistake, updated, old)``,
  and an epoch is a ``jax.lax.scan`` over the samples (the rule is sequential:
  each step sees the parameters the previous one left);
- logistic regression needs no hand-written backward: ``jax.grad`` of the
  stable loss gives ``X^T (s - y) / n`` by itself, and an optax optimizer
  applies it, the whole training run one ``lax.scan`` compiled once.
"""

from __future__ import annotations

from functools import partial

import chex
import jax
import jax.numpy as jnp
import optax

__all__ = ["init", "apply", "predict", "sigmoid", "perceptron_step", "perceptron_epoch", "loss",
           "train_logistic"]


def init(key: jax.Array, d: int, *, scale: float = 0.0, dtype=jnp.float32) -> dict:
    """Parameters of one linear unit on ``d`` inputs: w ~ scale * N(0, 1), b = 0.

    The default ``scale = 0`` is the perceptron's classic start; both models
    are convex in (w, b) (the perceptron trivially), so no random start is needed
    to break a symmetry.
    """
    return {"w": scale * jax.random.normal(key, (d,), dtype), "b": jnp.zeros((), dtype)}


def apply(params: dict, x: jax.Array) -> jax.Array:
    """The logit z = x . w + b.  x: (..., d) -> (...)"""
    chex.assert_shape(params["w"], (x.shape[-1],))  # one weight per input feature
    chex.assert_type([x, params["w"]], params["b"].dtype)
    return x @ params["w"] + params["b"]


def predict(params: dict, x: jax.Array) -> jax.Array:
    """The class, -1 or +1 (+1 where z > 0).  x: (..., d) -> (...)"""
    return jnp.where(apply(params, x) > 0, 1, -1)


def sigmoid(z: jax.Array) -> jax.Array:
    """1 / (1 + exp(-z)) exponentiating only -|z| <= 0 (the NumPy reference's formula)."""
    e = jnp.exp(-jnp.abs(z))
    return jnp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def perceptron_step(params: dict, x: jax.Array, y, lr: float = 1.0) -> dict:
    """One step of the rule on one sample (x: (d,), y: -1 or +1); a margin of 0 is a mistake."""
    mistake = y * apply(params, x) <= 0
    step = jnp.where(mistake, lr * y, 0).astype(params["w"].dtype)  # 0: the update changes nothing
    return {"w": params["w"] + step * x, "b": params["b"] + step}


@partial(jax.jit, static_argnames="lr")
def perceptron_epoch(params: dict, X: jax.Array, Y: jax.Array, lr: float = 1.0) -> tuple[dict, jax.Array]:
    """One pass over X: (n, d), Y: (n,) in order; returns the params and the number of mistakes."""

    def body(p, xy):
        x, y = xy
        mistake = y * apply(p, x) <= 0
        return perceptron_step(p, x, y, lr), mistake

    params, mistakes = jax.lax.scan(body, params, (X, Y))
    return params, mistakes.sum()


def loss(params: dict, X: jax.Array, y: jax.Array) -> jax.Array:
    """Mean binary cross-entropy of sigmoid(X w + b) against y in {0, 1}, from the logits.

    -[y log s + (1 - y) log(1 - s)] = max(z, 0) - y z + log(1 + exp(-|z|))
    """
    z = apply(params, X)
    return jnp.mean(jnp.maximum(z, 0) - y * z + jnp.log1p(jnp.exp(-jnp.abs(z))))


@partial(jax.jit, static_argnames=("optimizer", "steps"))
def train_logistic(params: dict, X: jax.Array, y: jax.Array, *, optimizer: optax.GradientTransformation,
                   steps: int) -> tuple[dict, jax.Array]:
    """Full-batch training for ``steps`` steps; returns the params and the loss before each step."""

    def body(carry, _):
        p, state = carry
        value, grads = jax.value_and_grad(loss)(p, X, y)
        updates, state = optimizer.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), value

    (params, _), losses = jax.lax.scan(body, (params, optimizer.init(params)), None, length=steps)
    return params, losses
