"""Topic 03 in JAX: the same optimizers as pure functions over pytrees, ready for ``jax.jit``.

The NumPy reference already has the right shape for JAX: ``init`` and
``update`` are pure functions and the state is a NamedTuple, which JAX
treats as a pytree. What changes:

- arrays are ``jnp`` arrays and trees are walked by ``jax.tree_util.tree_map``;
- the step count is an int32 array in the state, so ``update`` can be traced
  once and compiled (a Python int would be baked into the compiled program);
- no Python ``if`` on values: clipping chooses with ``jnp.where``, schedules
  use ``jnp.where`` on the (traced) step.

    opt = chain(clip_by_global_norm(1.0), adamw(warmup_cosine_schedule(0.0, 3e-4, 100, 5000)))
    state = opt.init(params)

    @jax.jit
    def train_step(params, state, batch):
        grads = jax.grad(loss)(params, batch)
        updates, state = opt.update(grads, state, params)
        return apply_updates(params, updates), state

Every function matches optax step for step (tests/test_t03_optimizers.py
runs both under ``jax.jit`` for many steps).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "Optimizer", "apply_updates", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    "clip_by_global_norm", "chain", "step_schedule", "warmup_cosine_schedule",
]

tree_map = jax.tree_util.tree_map


class Optimizer(NamedTuple):
    init: Callable
    update: Callable


class SgdState(NamedTuple):
    count: jax.Array  # int32 scalar


class MomentumState(NamedTuple):
    count: jax.Array
    trace: Any


class AdagradState(NamedTuple):
    count: jax.Array
    sum_of_squares: Any


class RmspropState(NamedTuple):
    count: jax.Array
    nu: Any


class AdamState(NamedTuple):
    count: jax.Array
    mu: Any
    nu: Any


class ClipState(NamedTuple):
    pass


def apply_updates(params, updates):
    return tree_map(lambda p, u: p + u, params, updates)


def _zero_count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def _learning_rate(learning_rate, count):
    return learning_rate(count) if callable(learning_rate) else learning_rate


def _scale(lr, tree):
    """-lr * tree, with lr cast to each leaf's dtype (a schedule may compute in another precision)."""
    return tree_map(lambda x: jnp.asarray(-lr, x.dtype) * x, tree)


# --------------------------------------------------------------------------- optimizers
def sgd(learning_rate) -> Optimizer:
    def update(grads, state, params=None):
        return _scale(_learning_rate(learning_rate, state.count), grads), SgdState(state.count + 1)

    return Optimizer(lambda params: SgdState(_zero_count()), update)


def _momentum(learning_rate, beta: float, look_ahead: bool) -> Optimizer:
    def init(params):
        return MomentumState(_zero_count(), tree_map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        trace = tree_map(lambda g, m: g + beta * m, grads, state.trace)  # m_t = g_t + beta m_{t-1}
        direction = tree_map(lambda g, m: g + beta * m, grads, trace) if look_ahead else trace
        return _scale(_learning_rate(learning_rate, state.count), direction), MomentumState(state.count + 1, trace)

    return Optimizer(init, update)


def momentum(learning_rate, beta: float = 0.9) -> Optimizer:
    """m <- g + beta m, u = -lr_t m."""
    return _momentum(learning_rate, beta, look_ahead=False)


def nesterov(learning_rate, beta: float = 0.9) -> Optimizer:
    """m <- g + beta m, u = -lr_t (g + beta m)."""
    return _momentum(learning_rate, beta, look_ahead=True)


def adagrad(learning_rate, initial_accumulator_value: float = 0.1, eps: float = 1e-7) -> Optimizer:
    def init(params):
        return AdagradState(_zero_count(), tree_map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(grads, state, params=None):
        sums = tree_map(lambda g, s: g * g + s, grads, state.sum_of_squares)
        # where nothing was accumulated the update is 0 (and 1 / sqrt(0) is never used)
        scaled = tree_map(lambda g, s: jnp.where(s > 0, jax.lax.rsqrt(jnp.where(s > 0, s + eps, 1.0)), 0.0) * g,
                          grads, sums)
        return _scale(_learning_rate(learning_rate, state.count), scaled), AdagradState(state.count + 1, sums)

    return Optimizer(init, update)


def rmsprop(learning_rate, decay: float = 0.9, eps: float = 1e-8) -> Optimizer:
    def init(params):
        return RmspropState(_zero_count(), tree_map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        nu = tree_map(lambda g, v: (1 - decay) * (g * g) + decay * v, grads, state.nu)
        scaled = tree_map(lambda g, v: jax.lax.rsqrt(v + eps) * g, grads, nu)  # eps inside the root
        return _scale(_learning_rate(learning_rate, state.count), scaled), RmspropState(state.count + 1, nu)

    return Optimizer(init, update)


def _adam_direction(grads, state: AdamState, b1, b2, eps):
    mu = tree_map(lambda g, m: (1 - b1) * g + b1 * m, grads, state.mu)
    nu = tree_map(lambda g, v: (1 - b2) * (g * g) + b2 * v, grads, state.nu)
    t = state.count + 1
    correction1, correction2 = 1 - b1 ** t, 1 - b2 ** t
    direction = tree_map(lambda m, v: (m / correction1.astype(m.dtype))
                         / (jnp.sqrt(v / correction2.astype(v.dtype)) + eps), mu, nu)
    return direction, AdamState(t, mu, nu)


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    def init(params):
        return AdamState(_zero_count(), tree_map(jnp.zeros_like, params), tree_map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        direction, new_state = _adam_direction(grads, state, b1, b2, eps)
        return _scale(_learning_rate(learning_rate, state.count), direction), new_state

    return Optimizer(init, update)


def adamw(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-4) -> Optimizer:
    def init(params):
        return AdamState(_zero_count(), tree_map(jnp.zeros_like, params), tree_map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("adamw needs the current params: call update(grads, state, params)")
        direction, new_state = _adam_direction(grads, state, b1, b2, eps)
        decayed = tree_map(lambda d, p: d + weight_decay * p, direction, params)  # decoupled: after Adam
        return _scale(_learning_rate(learning_rate, state.count), decayed), new_state

    return Optimizer(init, update)


# --------------------------------------------------------------------------- transformations
def clip_by_global_norm(max_norm: float) -> Optimizer:
    def update(grads, state, params=None):
        leaves = jax.tree_util.tree_leaves(grads)
        norm = jnp.sqrt(sum(jnp.sum(g * g) for g in leaves))
        keep = norm < max_norm  # traced: choose with where, not if
        return tree_map(lambda g: jnp.where(keep, g, (g / norm.astype(g.dtype)) * max_norm), grads), state

    return Optimizer(lambda params: ClipState(), update)


def chain(*transformations: Optimizer) -> Optimizer:
    def init(params):
        return tuple(t.init(params) for t in transformations)

    def update(grads, state, params=None):
        new_state = []
        for transformation, inner in zip(transformations, state):
            grads, inner = transformation.update(grads, inner, params)
            new_state.append(inner)
        return grads, tuple(new_state)

    return Optimizer(init, update)


# --------------------------------------------------------------------------- schedules
def _float_step(step):
    # steps arrive as int32 counts; compute in the default float (float64 under x64)
    return jnp.asarray(step, dtype=jnp.result_type(float))


def step_schedule(init_value: float, boundaries_and_scales: dict | None = None) -> Callable:
    items = sorted((boundaries_and_scales or {}).items())
    if any(scale < 0 for _, scale in items):
        raise ValueError(f"step_schedule scales must be >= 0, got {dict(items)}")

    def schedule(step):
        step = _float_step(step)
        value = jnp.full_like(step, init_value)
        for boundary, scale in items:
            value = jnp.where(step >= boundary, value * scale, value)
        return value

    return schedule


def warmup_cosine_schedule(init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
                           end_value: float = 0.0) -> Callable:
    cosine_steps = decay_steps - warmup_steps
    if cosine_steps <= 0:
        raise ValueError(f"decay_steps ({decay_steps}) must be larger than warmup_steps ({warmup_steps})")
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value

    def schedule(step):
        step = _float_step(step)
        warm = (init_value - peak_value) * (1 - step / max(warmup_steps, 1)) + peak_value
        k = jnp.clip(step - warmup_steps, 0, cosine_steps)
        cosine = 0.5 * (1 + jnp.cos(math.pi * k / cosine_steps))
        decayed = peak_value * ((1 - alpha) * cosine + alpha)
        return jnp.where(step < warmup_steps, warm, decayed)

    return schedule
