"""Topic 03 reference: optimizers as ``init``/``update`` pairs of pure functions, in NumPy.

An optimizer is two functions and nothing else::

    state            = opt.init(params)
    updates, state   = opt.update(grads, state, params)
    params           = apply_updates(params, updates)     # params + updates, leaf by leaf

``params``, ``grads`` and ``updates`` are pytrees of the same structure
(nested dicts, lists and tuples of NumPy arrays). ``state`` is a NamedTuple
holding everything the optimizer remembers between steps: a step count,
moment estimates. Nothing is hidden in a closure or an object that changes,
so a step can be repeated, saved, or run on another machine from
``(params, state)`` alone. ``updates`` already carry the sign and the learning
rate: they are what to *add* to the parameters.

Every optimizer here computes exactly what optax computes, operation for
operation where the order changes the rounding:

    sgd        u = -lr_t g
    momentum   m <- g + beta m                          u = -lr_t m
    nesterov   m <- g + beta m                          u = -lr_t (g + beta m)
    adagrad    s <- g^2 + s   (s_0 = 0.1)               u = -lr_t g / sqrt(s + eps)      (0 where s = 0)
    rmsprop    v <- (1 - rho) g^2 + rho v               u = -lr_t g / sqrt(v + eps)
    adam       m <- (1 - b1) g + b1 m,  v <- (1 - b2) g^2 + b2 v
               m^ = m / (1 - b1^t),  v^ = v / (1 - b2^t),  t = count + 1
                                                        u = -lr_t m^ / (sqrt(v^) + eps)
    adamw      as adam, then                            u = -lr_t (m^ / (sqrt(v^) + eps) + wd p)

``lr_t`` is the learning rate, a number or a schedule called with the number
of updates made before this one (0 for the first update), and ``count`` is
that same number, kept in the state.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = [
    "tree_map", "tree_leaves", "apply_updates",
    "Optimizer", "SgdState", "MomentumState", "AdagradState", "RmspropState", "AdamState", "ClipState",
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
    "clip_by_global_norm", "chain", "step_schedule", "warmup_cosine_schedule",
]


# --------------------------------------------------------------------------- given
# pytrees and the optimizer interface are given code (fdl/given.py), shared with the learner's file:
# tree_map / tree_leaves walk dicts, lists, tuples and NamedTuples in a fixed order, arrays at the
# leaves; Optimizer(init, update) is the pair of pure functions every optimizer returns.
from fdl.given import Optimizer, apply_updates, tree_leaves, tree_map  # noqa: E402


class SgdState(NamedTuple):
    count: int  # updates made so far: the learning-rate schedule's argument


class MomentumState(NamedTuple):
    count: int
    trace: Any  # m, a pytree like params


class AdagradState(NamedTuple):
    count: int
    sum_of_squares: Any  # s, a pytree like params


class RmspropState(NamedTuple):
    count: int
    nu: Any  # v, a pytree like params


class AdamState(NamedTuple):
    count: int
    mu: Any  # m, first moment
    nu: Any  # v, second moment


class ClipState(NamedTuple):
    """Clipping remembers nothing; its state is empty."""


def _learning_rate(learning_rate, count: int) -> float:
    """The learning rate of the update after ``count`` earlier ones (schedules start at 0)."""
    return learning_rate(count) if callable(learning_rate) else learning_rate


def _decayed(x: np.ndarray) -> np.ndarray:
    """``x`` (a freshly computed moment) with values below the smallest normal float set to 0.

    A moment decays geometrically wherever the gradient stays 0 (a weight fed
    by a pixel that is almost always black): Adam's m shrinks by 0.9 a step and
    leaves float32's normal range (1.2e-38) after ~700 steps. x86 CPUs compute
    with such *subnormal* numbers up to ~100x slower, so without this an epoch
    of MNIST slows down by half after the first two. The change is below any
    tolerance: the value was already smaller than 1.2e-38 (2.2e-308 in float64).
    """
    x = np.asarray(x)  # arithmetic on 0-d arrays returns NumPy scalars; make it an array again
    np.putmask(x, np.abs(x) < np.finfo(x.dtype).tiny, 0)
    return x


def _zeros_like(params):
    return tree_map(np.zeros_like, params)


# --------------------------------------------------------------------------- optimizers
def sgd(learning_rate) -> Optimizer:
    """u = -lr_t g."""

    def init(params):
        return SgdState(count=0)

    def update(grads, state, params=None):
        lr = _learning_rate(learning_rate, state.count)
        updates = tree_map(lambda g: -lr * g, grads)
        return updates, SgdState(count=state.count + 1)

    return Optimizer(init, update)


def momentum(learning_rate, beta: float = 0.9) -> Optimizer:
    """Heavy ball: m <- g + beta m, u = -lr_t m (no (1 - beta) damping, as optax.sgd(momentum=beta))."""

    def init(params):
        return MomentumState(count=0, trace=_zeros_like(params))

    def update(grads, state, params=None):
        lr = _learning_rate(learning_rate, state.count)
        trace = tree_map(lambda g, m: _decayed(g + beta * m), grads, state.trace)  # m_t = g_t + beta m_{t-1}
        updates = tree_map(lambda m: -lr * m, trace)
        return updates, MomentumState(count=state.count + 1, trace=trace)

    return Optimizer(init, update)


def nesterov(learning_rate, beta: float = 0.9) -> Optimizer:
    """m <- g + beta m, u = -lr_t (g + beta m): the step looks ahead along the new momentum."""

    def init(params):
        return MomentumState(count=0, trace=_zeros_like(params))

    def update(grads, state, params=None):
        lr = _learning_rate(learning_rate, state.count)
        trace = tree_map(lambda g, m: _decayed(g + beta * m), grads, state.trace)  # m_t = g_t + beta m_{t-1}
        updates = tree_map(lambda g, m: -lr * (g + beta * m), grads, trace)  # g_t + beta m_t
        return updates, MomentumState(count=state.count + 1, trace=trace)

    return Optimizer(init, update)


def adagrad(learning_rate, initial_accumulator_value: float = 0.1, eps: float = 1e-7) -> Optimizer:
    """s <- g^2 + s from s_0 = initial_accumulator_value; u = -lr_t g / sqrt(s + eps), 0 where s = 0."""

    def init(params):
        return AdagradState(count=0, sum_of_squares=tree_map(lambda p: np.full_like(p, initial_accumulator_value),
                                                             params))

    def scaled(g, s):
        # 1 / sqrt(s + eps) where something was accumulated; 0 where s = 0 (then g = 0 too):
        # an empty accumulator means "no information", not 0 / 0
        seen = s > 0
        inv_root = 1.0 / np.sqrt(np.where(seen, s + eps, 1.0))
        return np.where(seen, inv_root, 0.0) * g

    def update(grads, state, params=None):
        lr = _learning_rate(learning_rate, state.count)
        sums = tree_map(lambda g, s: g * g + s, grads, state.sum_of_squares)  # s_t = g_t^2 + s_{t-1}
        updates = tree_map(lambda g, s: -lr * scaled(g, s), grads, sums)
        return updates, AdagradState(count=state.count + 1, sum_of_squares=sums)

    return Optimizer(init, update)


def rmsprop(learning_rate, decay: float = 0.9, eps: float = 1e-8) -> Optimizer:
    """v <- (1 - decay) g^2 + decay v from v_0 = 0; u = -lr_t g / sqrt(v + eps) (eps inside the root)."""

    def init(params):
        return RmspropState(count=0, nu=_zeros_like(params))

    def update(grads, state, params=None):
        lr = _learning_rate(learning_rate, state.count)
        nu = tree_map(lambda g, v: _decayed((1 - decay) * (g * g) + decay * v), grads, state.nu)
        updates = tree_map(lambda g, v: -lr * (g / np.sqrt(v + eps)), grads, nu)
        return updates, RmspropState(count=state.count + 1, nu=nu)

    return Optimizer(init, update)


def _adam_direction(grads, state: AdamState, b1: float, b2: float, eps: float, scale: float = 1.0):
    """``scale`` * Adam's step direction m^ / (sqrt(v^) + eps), and the new state (shared by adam and adamw).

    With m^ = m / c1 and v^ = v / c2 (c = 1 - b^t), the direction is

        m^ / (sqrt(v^) + eps) = m * (sqrt(c2) / c1) / (sqrt(v) + eps sqrt(c2))

    which folds both corrections (and ``scale``, e.g. -lr) into scalars: four
    passes over each array instead of six. The same number up to rounding.
    """
    mu = tree_map(lambda g, m: _decayed((1 - b1) * g + b1 * m), grads, state.mu)  # m_t
    nu = tree_map(lambda g, v: _decayed((1 - b2) * (g * g) + b2 * v), grads, state.nu)  # v_t
    t = state.count + 1  # bias correction counts this update as t = 1, 2, ...
    correction1 = 1 - b1 ** t  # m_0 = 0 biases m_t toward 0 by this factor
    root_correction2 = math.sqrt(1 - b2 ** t)

    def direction(m, v):
        denominator = np.sqrt(v)  # a new array, so the in-place steps below touch nothing shared
        denominator += eps * root_correction2
        out = m * (scale * root_correction2 / correction1)
        out /= denominator
        return out

    return tree_map(direction, mu, nu), AdamState(count=t, mu=mu, nu=nu)


def adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """u = -lr_t m^ / (sqrt(v^) + eps) with bias-corrected moments m^, v^ (eps outside the root)."""

    def init(params):
        return AdamState(count=0, mu=_zeros_like(params), nu=_zeros_like(params))

    def update(grads, state, params=None):
        lr = _learning_rate(learning_rate, state.count)
        return _adam_direction(grads, state, b1, b2, eps, scale=-lr)

    return Optimizer(init, update)


def adamw(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 1e-4) -> Optimizer:
    """Adam with decoupled weight decay: u = -lr_t (m^ / (sqrt(v^) + eps) + weight_decay p).

    The decay acts on the parameters after Adam's rescaling, so every weight
    shrinks by the same fraction lr_t * weight_decay per step, whatever its
    gradient history. (L2 regularisation would add weight_decay * p to g
    *before* the rescaling, where Adam divides it away for large-gradient weights.)
    """

    def init(params):
        return AdamState(count=0, mu=_zeros_like(params), nu=_zeros_like(params))

    def update(grads, state, params=None):
        if params is None:
            raise ValueError("adamw needs the current params: call update(grads, state, params)")
        lr = _learning_rate(learning_rate, state.count)
        step, new_state = _adam_direction(grads, state, b1, b2, eps, scale=-lr)  # -lr m^ / (sqrt(v^) + eps)
        updates = tree_map(lambda s, p: s - (lr * weight_decay) * p, step, params)  # - lr wd p
        return updates, new_state

    return Optimizer(init, update)


# --------------------------------------------------------------------------- transformations
def clip_by_global_norm(max_norm: float) -> Optimizer:
    """Rescale the whole gradient tree to norm ``max_norm`` when its global norm reaches it.

    norm = sqrt(sum over every leaf of sum(g^2)); below max_norm the gradients
    pass unchanged, otherwise each leaf becomes (g / norm) * max_norm: the
    direction is kept, only the length is capped. No learning rate: it goes
    in front of an optimizer with :func:`chain`.
    """

    def init(params):
        return ClipState()

    def update(grads, state, params=None):
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in tree_leaves(grads)))
        if norm < max_norm:
            return grads, state
        return tree_map(lambda g: (g / norm) * max_norm, grads), state

    return Optimizer(init, update)


def chain(*transformations: Optimizer) -> Optimizer:
    """Apply ``transformations`` in order, each to the previous one's output; state is their tuple."""

    def init(params):
        return tuple(t.init(params) for t in transformations)

    def update(grads, state, params=None):
        updates, new_state = grads, []
        for transformation, inner in zip(transformations, state):
            updates, inner = transformation.update(updates, inner, params)
            new_state.append(inner)
        return updates, tuple(new_state)

    return Optimizer(init, update)


# --------------------------------------------------------------------------- schedules
def step_schedule(init_value: float, boundaries_and_scales: dict | None = None) -> Callable[[int], float]:
    """Piecewise constant: init_value times every scale whose boundary the step has reached (step >= b)."""
    items = sorted((boundaries_and_scales or {}).items())
    if any(scale < 0 for _, scale in items):
        raise ValueError(f"step_schedule scales must be >= 0, got {dict(items)}")

    def schedule(step: int) -> float:
        value = init_value
        for boundary, scale in items:
            if step >= boundary:  # the scale applies from the boundary step itself
                value = value * scale
        return float(value)

    return schedule


def warmup_cosine_schedule(init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
                           end_value: float = 0.0) -> Callable[[int], float]:
    """Linear warmup from init_value to peak_value over warmup_steps, then cosine decay to end_value.

    ``decay_steps`` counts the whole schedule, warmup included: the cosine
    lasts decay_steps - warmup_steps steps and the value stays at end_value
    afterwards. Written as peak * ((1 - alpha) c + alpha) with
    alpha = end / peak and c = (1 + cos(pi k / K)) / 2, as optax does.
    """
    cosine_steps = decay_steps - warmup_steps
    if cosine_steps <= 0:
        raise ValueError(f"decay_steps ({decay_steps}) must be larger than warmup_steps ({warmup_steps})")
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value

    def schedule(step: int) -> float:
        if step < warmup_steps:
            fraction = 1 - step / warmup_steps  # 1 at step 0, -> 0 at the end of warmup
            return float((init_value - peak_value) * fraction + peak_value)
        k = min(step - warmup_steps, cosine_steps)  # steps into the cosine, held at its end
        cosine = 0.5 * (1 + math.cos(math.pi * k / cosine_steps))
        return float(peak_value * ((1 - alpha) * cosine + alpha))

    return schedule
