"""Topic 03 · Optimization algorithms: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic03

which runs every optimizer next to optax for many steps and shows PASS / FAIL / TODO.
Use NumPy only.

An optimizer is a pair of pure functions, returned together as an ``Optimizer``::

    state          = opt.init(params)                   # a NamedTuple (the classes below)
    updates, state = opt.update(grads, state, params)   # a NEW state; never modify the old one
    params         = apply_updates(params, updates)     # params + updates

``params``, ``grads`` and ``updates`` are pytrees: nested dicts, lists and
tuples with NumPy arrays at the leaves (a leaf may be 0-d). ``updates`` has
the structure of ``grads`` and already includes ``-learning_rate``.

``learning_rate`` is a number or a schedule ``step -> number``; call it with
``state.count``, the number of updates made before this one (0 for the first).

``tree_map``, ``tree_leaves``, ``apply_updates``, ``Optimizer`` and the state
classes are given: the exercises start at ``sgd``.
"""

import math
from typing import Any, NamedTuple

import numpy as np


# --------------------------------------------------------------------------- given
# tree_map(fn, tree, *rest), tree_leaves(tree), apply_updates(params, updates) and
# Optimizer(init, update) are given: read them in fdl/given.py.
from fdl.given import Optimizer, apply_updates, tree_leaves, tree_map  # noqa: E402


# --------------------------------------------------------------------------- given: the states
class SgdState(NamedTuple):
    count: int  # updates made so far


class MomentumState(NamedTuple):  # momentum and nesterov
    count: int
    trace: Any  # m, a tree like params


class AdagradState(NamedTuple):
    count: int
    sum_of_squares: Any  # s, a tree like params


class RmspropState(NamedTuple):
    count: int
    nu: Any  # v, a tree like params


class AdamState(NamedTuple):  # adam and adamw
    count: int
    mu: Any  # m, first moment
    nu: Any  # v, second moment


class ClipState(NamedTuple):
    """Clipping remembers nothing; its state is empty: ClipState()."""


# --------------------------------------------------------------------------- optimizers
def sgd(learning_rate):
    """Plain gradient descent: u = -lr_t * g.

    init(params) -> SgdState(count=0)
    update(grads, state, params=None) -> (updates, SgdState(count + 1))
    lr_t = learning_rate(state.count) if callable(learning_rate) else learning_rate
    """
    raise NotImplementedError("topic 03 · sgd")


def momentum(learning_rate, beta=0.9):
    """Heavy-ball momentum, as optax.sgd(lr, momentum=beta).

    m_t = g_t + beta * m_{t-1}   (m_0 = zeros; no (1 - beta) factor)
    u_t = -lr_t * m_t
    State: MomentumState(count, trace=m).
    """
    raise NotImplementedError("topic 03 · momentum")


def nesterov(learning_rate, beta=0.9):
    """Nesterov momentum, as optax.sgd(lr, momentum=beta, nesterov=True).

    m_t = g_t + beta * m_{t-1}
    u_t = -lr_t * (g_t + beta * m_t)     (the new m_t, not the old one)
    State: MomentumState(count, trace=m).
    """
    raise NotImplementedError("topic 03 · nesterov")


def adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7):
    """Adagrad, as optax.adagrad.

    s_0 = initial_accumulator_value (every element), s_t = g_t**2 + s_{t-1}
    u_t = -lr_t * g_t / sqrt(s_t + eps)      and 0 where s_t == 0 (no 0 / 0)
    State: AdagradState(count, sum_of_squares=s).
    """
    raise NotImplementedError("topic 03 · adagrad")


def rmsprop(learning_rate, decay=0.9, eps=1e-8):
    """RMSProp, as optax.rmsprop with its defaults.

    v_0 = zeros, v_t = (1 - decay) * g_t**2 + decay * v_{t-1}
    u_t = -lr_t * g_t / sqrt(v_t + eps)      (eps INSIDE the square root)
    State: RmspropState(count, nu=v).
    """
    raise NotImplementedError("topic 03 · rmsprop")


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    """Adam, as optax.adam.

    m_t = (1 - b1) g_t + b1 m_{t-1},   v_t = (1 - b2) g_t**2 + b2 v_{t-1}
    t = count + 1 (1 for the first update)
    m^ = m_t / (1 - b1**t),   v^ = v_t / (1 - b2**t)
    u_t = -lr_t * m^ / (sqrt(v^) + eps)     (eps OUTSIDE the square root)
    State: AdamState(count, mu=m, nu=v); lr_t uses the old count.
    """
    raise NotImplementedError("topic 03 · adam")


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    """AdamW, as optax.adamw: Adam with decoupled weight decay.

    u_t = -lr_t * (m^ / (sqrt(v^) + eps) + weight_decay * p_t)
    with m^, v^ exactly as in adam and p_t = params (update needs them: raise
    ValueError if params is None). The decay is added after Adam's rescaling,
    not to the gradient. State: AdamState.
    """
    raise NotImplementedError("topic 03 · adamw")


# --------------------------------------------------------------------------- transformations
def clip_by_global_norm(max_norm):
    """Cap the length of the whole gradient tree, as optax.clip_by_global_norm.

    norm = sqrt(sum over all leaves of sum(g**2))
    norm <  max_norm: updates = grads (unchanged)
    otherwise:        each leaf becomes (g / norm) * max_norm
    init(params) -> ClipState(); update(grads, state, params=None) -> (updates, state).
    """
    raise NotImplementedError("topic 03 · clip_by_global_norm")


def chain(*transformations):
    """Compose transformations, as optax.chain: the first one sees the gradients.

    init(params) -> tuple of every transformation's init(params), in order
    update: feed grads through each transformation.update(updates, its_state, params)
    in order; return (final updates, tuple of the new states).
    """
    raise NotImplementedError("topic 03 · chain")


# --------------------------------------------------------------------------- schedules
def step_schedule(init_value, boundaries_and_scales=None):
    """Piecewise constant, as optax.piecewise_constant_schedule. Returns schedule(step) -> float.

    value(step) = init_value * product of every scale whose boundary <= step
    step_schedule(1.0, {100: 0.1, 200: 0.1}): 1.0 for steps 0..99, 0.1 from 100, 0.01 from 200.
    Raise ValueError if a scale is negative.
    """
    raise NotImplementedError("topic 03 · step_schedule")


def warmup_cosine_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0):
    """Linear warmup, then cosine decay, as optax.warmup_cosine_decay_schedule. Returns schedule(step) -> float.

    step <  warmup_steps: init_value + (peak_value - init_value) * step / warmup_steps
    step >= warmup_steps: k = min(step - warmup_steps, K) with K = decay_steps - warmup_steps,
        c = (1 + cos(pi * k / K)) / 2,  value = peak * ((1 - alpha) * c + alpha),  alpha = end_value / peak_value
        (alpha = 0 when peak_value == 0)
    decay_steps includes the warmup. Raise ValueError if decay_steps <= warmup_steps.
    """
    raise NotImplementedError("topic 03 · warmup_cosine_schedule")
