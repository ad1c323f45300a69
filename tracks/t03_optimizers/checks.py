"""Topic 03 checks: every optimizer next to optax, step for step, over whole trajectories.

An optimizer is right when it moves the parameters exactly as optax does,
not just once: a wrong bias correction, a count off by one or a damped
momentum can look fine on one step and drift later. So each case runs
``N_STEPS`` updates of the learner's optimizer and of optax with the same
hyper-parameters from the same parameters, and compares the updates and the
parameters after every step with :func:`fdl.check.compare_trajectories`. A
FAIL names the first step where the two trajectories part, the leaf and the
index.

Hyper-parameters are drawn across their valid range on every run
(:func:`fdl.check.sample.hyper`): learning rates over decades, momentum and
decay factors from 0 to 0.999, epsilons from 1e-8 to 1, weight decay from 0
to 10, clipping thresholds that bind, that do not, and gradients of norm 0.
A formula right only for the defaults fails.

Gradients come from a field ``g = h * ((p - c) + q_t) + r_t``: with ``h = 0``
they are random (``r_t``) and independent of the parameters; with ``h > 0``
and ``r_t = 0`` they are those of an ill-conditioned quadratic (curvatures
spread over two decades) at a jittered point, so they depend on where each
trajectory is and both optimizers must stay together to see the same
gradients. (Written so that one of the two products is 0 or exact: XLA fuses
``a * b + c`` into one rounding, NumPy rounds twice, and the field must be the
same number in both.) The extreme hyper-parameters run on random fields,
where no feedback can amplify rounding; the quadratics use stable ones.

The learner's optimizer sees a pytree: nested dicts with a list, a matrix
(square in some cases, as a transposed update is only wrong in value there),
a vector and a 0-d leaf (odd sizes), or a bare array, or a tuple. optax, the
oracle, runs on the same numbers as one flat vector: every transformation
here is elementwise but the global norm, which is the same sum either way.
One compiled optax step, ``vmap``-ed over an exercise's cases with traced
hyper-parameters, produces all of its trajectories.

float32: some cases run in float32 and must stay float32 (updates, and the
moments in the state). optax runs them in float64 from the same float32
numbers (hyper-parameters chosen representable in float32), and its
trajectory, rounded to float32, is what the learner's float32 run is compared
with: the tolerance is then in float32 eps, and measures the learner's own
rounding only.

State: ``update`` must leave its grads, state and params alone, return a
state that shares no memory with the grads or params it was given (the
caller may reuse those arrays), answer the same when called twice with the
same arguments (nothing remembered outside the state), and ``init`` must not
return views of the params.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import CheckContext, CheckFailure, Tolerance, compare_trajectories, deep_copy, describe, first_divergence
from fdl.check.pytree import keyed_leaves, leaves, path_text, same_structure, shares_memory, snapshot, tree_equal, \
    tree_map
from fdl.check.sample import hyper, normal, uniform

N_STEPS = 60  # updates per trajectory
# The params after t updates are p0 plus t updates, each within the tolerance of optax's: their errors add
# up (a trace with beta near 1 keeps a rounding of step 5 in every later update, and the params gather it
# step after step), so the params are held to PARAMS_SLACK times the updates' tolerance. The updates are
# compared first and at every step; the params are what the learner sees move.
PARAMS_SLACK = 8


# --------------------------------------------------------------------------- pytree layouts
class Layout:
    """How a flat vector of parameters is shown to the learner: a pytree with arrays at the leaves."""

    def __init__(self, name: str, template):
        self.name = name
        self.template = template  # the structure, with zero arrays of each leaf's shape
        self.leaf_shapes = [np.shape(leaf) for leaf in leaves(template)]
        self.offsets = np.cumsum([0] + [math.prod(s) for s in self.leaf_shapes])
        self.size = int(self.offsets[-1])

    def unflatten(self, flat: np.ndarray):
        """``(..., size)`` -> a tree of ``(..., *leaf_shape)`` arrays (copies)."""
        lead = flat.shape[:-1]
        parts = iter([np.array(flat[..., a:b]).reshape(lead + s)
                      for a, b, s in zip(self.offsets[:-1], self.offsets[1:], self.leaf_shapes)])
        return tree_map(lambda _: next(parts), self.template)

    def steps(self, flat: np.ndarray, dtype) -> list:
        """``(steps, size)`` -> one tree per step, in ``dtype``."""
        return [self.unflatten(np.asarray(row, dtype=dtype)) for row in flat]

    def last_leaf(self) -> slice:
        return slice(int(self.offsets[-2]), int(self.offsets[-1]))


def _tree(shapes):
    """A template from a nested structure of shapes: tuples of ints are leaves."""
    if isinstance(shapes, tuple) and all(isinstance(d, int) for d in shapes):
        return np.zeros(shapes)
    if isinstance(shapes, dict):
        return {k: _tree(v) for k, v in shapes.items()}
    return type(shapes)(_tree(v) for v in shapes)


# Four pytrees of 26 numbers each, so they share optax's compiled program. Every matrix-shaped leaf
# has a square twin under the same name (['dense']['w'], and the matrix of a bare array or tuple).
NESTED = Layout("nested dict", _tree({"dense": {"w": (5, 3), "b": (3,)}, "extra": [(7,), ()]}))
SQUARE = Layout("nested dict with a square matrix", _tree({"dense": {"w": (4, 4), "b": (4,)}, "extra": [(5,), ()]}))
BARE = Layout("bare array", _tree((2, 13)))
TUPLE = Layout("tuple with a square matrix", _tree(((3, 3), (16,), ())))


# --------------------------------------------------------------------------- cases
def exponential_schedule(init: float, rate: float) -> Callable:
    """``step -> init * rate**step``: one expression, evaluated by NumPy (learner) and JAX (optax) alike."""
    return lambda step: init * rate ** step


@dataclass(frozen=True)
class Trajectory:
    """One trajectory case.

    ``kwargs`` go to the learner's factory (``learning_rate`` a number);
    ``schedule`` replaces it with ``learning_rate * schedule**step``.
    ``curvature`` 0 gives random gradients; > 0 a quadratic whose curvatures
    span [0.1, 10] times it, jittered by ``noise``. ``zero_leaf`` makes the
    gradient of the last leaf exactly 0 at every step; ``grad_scale`` is a
    range of decades for a per-step scale of the gradients. ``dtype`` is the
    dtype of the params and gradients the learner sees.
    """

    kwargs: dict
    schedule: float | None = None
    curvature: float = 0.0
    noise: float = 1.0
    zero_leaf: bool = False
    grad_scale: tuple[float, float] | None = None
    layout: Layout = NESTED
    label: str = ""
    dtype: str = "float64"


def as_float32(case: Trajectory) -> Trajectory:
    """``case`` in float32, its hyper-parameters rounded to float32 numbers (both sides then use the same ones)."""
    def f32(v):
        return float(np.float32(v)) if isinstance(v, float) else v

    return replace(case, kwargs={k: f32(v) for k, v in case.kwargs.items()},
                   schedule=None if case.schedule is None else f32(case.schedule), dtype="float32")


class Inputs(NamedTuple):
    """One case's numbers, flat, float64 (float32 numbers for a float32 case): params0, h, c (size,); q, r."""

    params0: np.ndarray
    h: np.ndarray
    c: np.ndarray
    q: np.ndarray  # (steps, size)
    r: np.ndarray  # (steps, size)


def draw_inputs(rng: np.random.Generator, case: Trajectory) -> Inputs:
    size = case.layout.size
    c = uniform(rng, size, low=-2.0, high=2.0)
    params0 = c + uniform(rng, size, low=-2.0, high=2.0)
    scales = (np.ones((N_STEPS, 1)) if case.grad_scale is None
              else 10.0 ** uniform(rng, (N_STEPS, 1), low=case.grad_scale[0], high=case.grad_scale[1]))
    noise = case.noise * scales * normal(rng, (N_STEPS, size))
    if case.curvature > 0:
        h, q, r = case.curvature * 10.0 ** uniform(rng, size), noise, np.zeros_like(noise)
    else:
        h, q, r = np.zeros(size), np.zeros_like(noise), noise
    if case.zero_leaf:
        last = case.layout.last_leaf()
        h[last], q[:, last], r[:, last] = 0.0, 0.0, 0.0
    # a float32 case: float32 numbers, which float64 holds exactly (the oracle's copy is the same numbers)
    return Inputs(*(np.asarray(a, dtype=case.dtype).astype(np.float64) for a in (params0, h, c, q, r)))


def call_args(case: Trajectory) -> tuple[tuple, dict]:
    """The learner's call: the first hyper-parameter (learning_rate, max_norm) positional, the rest by name."""
    (first, value), *rest = case.kwargs.items()
    if first == "learning_rate" and case.schedule is not None:
        value = exponential_schedule(value, case.schedule)
    return (value,), dict(rest)


def call_text(name: str, case: Trajectory) -> str:
    (first, value), *rest = case.kwargs.items()
    parts = [f"<schedule: {value!r} * {case.schedule!r}**step>" if case.schedule is not None else repr(value)]
    parts += [f"{key}={v!r}" for key, v in rest]
    return f"{name}({', '.join(parts)})"


def field_text(case: Trajectory) -> str:
    text = "random gradients" if case.curvature == 0 else "an ill-conditioned quadratic"
    if case.noise == 0:
        text = "all-zero gradients"
    if case.zero_leaf:
        text += ", the last leaf's gradient always 0"
    if case.grad_scale is not None:
        text += f", gradients scaled by 10^[{case.grad_scale[0]}, {case.grad_scale[1]}] per step"
    return f"{text}, params a {case.layout.name} ({case.dtype}), {N_STEPS} steps"


# --------------------------------------------------------------------------- the optax oracle
def _optax_defaults(fn, names) -> dict:
    params = inspect.signature(fn).parameters
    return {k: params[k].default for k in names}


def _lr(hp):
    # A number and a constant schedule give optax the same product -lr * g
    # (scale vs scale_by_schedule); writing every case as lr * rate**count
    # (rate 1 for a number) lets one compiled program serve all of them.
    return lambda count: hp["learning_rate"] * hp["schedule"] ** count


class OptaxSpec(NamedTuple):
    build: Callable  # traced hyper-parameters -> an optax GradientTransformation
    defaults: dict  # hyper-parameters the learner's call may leave out
    text: str  # for messages


OPTAX: dict[str, OptaxSpec] = {
    "sgd": OptaxSpec(lambda hp: optax.sgd(_lr(hp)), {}, "optax.sgd"),
    "momentum": OptaxSpec(lambda hp: optax.sgd(_lr(hp), momentum=hp["beta"]), {"beta": 0.9},
                          "optax.sgd(momentum=beta)"),
    "nesterov": OptaxSpec(lambda hp: optax.sgd(_lr(hp), momentum=hp["beta"], nesterov=True), {"beta": 0.9},
                          "optax.sgd(momentum=beta, nesterov=True)"),
    "adagrad": OptaxSpec(
        lambda hp: optax.adagrad(_lr(hp), initial_accumulator_value=hp["initial_accumulator_value"], eps=hp["eps"]),
        _optax_defaults(optax.adagrad, ("initial_accumulator_value", "eps")), "optax.adagrad"),
    "rmsprop": OptaxSpec(lambda hp: optax.rmsprop(_lr(hp), decay=hp["decay"], eps=hp["eps"]),
                         _optax_defaults(optax.rmsprop, ("decay", "eps")), "optax.rmsprop"),
    "adam": OptaxSpec(lambda hp: optax.adam(_lr(hp), b1=hp["b1"], b2=hp["b2"], eps=hp["eps"]),
                      _optax_defaults(optax.adam, ("b1", "b2", "eps")), "optax.adam"),
    "adamw": OptaxSpec(
        lambda hp: optax.adamw(_lr(hp), b1=hp["b1"], b2=hp["b2"], eps=hp["eps"], weight_decay=hp["weight_decay"]),
        _optax_defaults(optax.adamw, ("b1", "b2", "eps", "weight_decay")), "optax.adamw"),
    "clip_by_global_norm": OptaxSpec(lambda hp: optax.clip_by_global_norm(hp["max_norm"]), {},
                                     "optax.clip_by_global_norm"),
    # chain: the same four pieces in two orders (see chain_cases)
    "chain_a": OptaxSpec(
        lambda hp: optax.chain(optax.trace(decay=hp["beta"]), optax.add_decayed_weights(hp["weight_decay"]),
                               optax.scale_by_sign(), optax.scale_by_schedule(lambda c: -_lr(hp)(c))),
        {}, "optax.chain(trace, add_decayed_weights, scale_by_sign, scale_by_schedule)"),
    "chain_b": OptaxSpec(
        lambda hp: optax.chain(optax.scale_by_sign(), optax.trace(decay=hp["beta"]),
                               optax.add_decayed_weights(hp["weight_decay"]),
                               optax.scale_by_schedule(lambda c: -_lr(hp)(c))),
        {}, "optax.chain(scale_by_sign, trace, add_decayed_weights, scale_by_schedule)"),
}


@partial(jax.jit, static_argnums=0)
def _optax_init(kind: str, hparams: dict, params0):
    """optax's initial state for every case of one exercise (vmap over the cases)."""
    return jax.vmap(lambda hp, p: OPTAX[kind].build(hp).init(p))(hparams, params0)


@partial(jax.jit, static_argnums=0)
def _optax_step(kind: str, hparams: dict, params, state, h, c, q, r):
    """One optax update for every case at once: (updates, new params, new state)."""

    def one_case(hp, p, s, hh, cc, qq, rr):
        grads = hh * ((p - cc) + qq) + rr
        updates, s = OPTAX[kind].build(hp).update(grads, s, p)
        return updates, optax.apply_updates(p, updates), s

    return jax.vmap(one_case)(hparams, params, state, h, c, q, r)


def optax_oracle(kind: str, hparams: list[dict], inputs: list[Inputs]) -> list[tuple[np.ndarray, np.ndarray]]:
    """optax's ``(updates, params)`` trajectories in float64, ``(steps, size)`` each, for every case.

    One compiled step ``vmap``-ed over the cases, called N_STEPS times (a
    compiled ``lax.scan`` would do the same and take longer to compile).
    """
    hp = {k: jnp.asarray([float(case[k]) for case in hparams]) for k in hparams[0]}
    x = Inputs(*(np.stack(xs) for xs in zip(*inputs)))
    params = jnp.asarray(x.params0)
    state = _optax_init(kind, hp, params)
    updates_steps, params_steps = [], []
    for t in range(N_STEPS):
        updates, params, state = _optax_step(kind, hp, params, state, x.h, x.c, x.q[:, t], x.r[:, t])
        updates_steps.append(np.asarray(updates))
        params_steps.append(np.asarray(params))
    updates, params = np.stack(updates_steps, axis=1), np.stack(params_steps, axis=1)  # (cases, steps, size)
    return [(updates[k], params[k]) for k in range(len(inputs))]


def case_hparams(kind: str, case: Trajectory) -> dict:
    hp = {"schedule": 1.0, **OPTAX[kind].defaults, **case.kwargs}
    if case.schedule is not None:
        hp["schedule"] = case.schedule
    return hp


# --------------------------------------------------------------------------- running a trajectory
def _ordered_like(got, template):
    """``got`` with its dicts' keys in the template's order (a dict's order is no part of its value)."""
    if isinstance(template, dict) and isinstance(got, dict) and set(got) == set(template):
        return {k: _ordered_like(got[k], template[k]) for k in template}
    if (isinstance(template, (list, tuple)) and isinstance(got, (list, tuple)) and len(got) == len(template)
            and not hasattr(got, "_fields")):
        return type(got)(_ordered_like(g, t) for g, t in zip(got, template))
    return got


def _leaves_look_right(got, layout: Layout, dtype) -> bool:
    """The learner's tree has the layout's structure, with arrays of the right shapes and dtype at the leaves."""
    if not same_structure(layout.template, got):
        return False

    def right(leaf, shape):
        if isinstance(leaf, float) and not isinstance(leaf, np.floating):
            return shape == ()  # a Python float carries no dtype of its own
        return isinstance(leaf, (np.ndarray, np.floating)) and np.shape(leaf) == shape and leaf.dtype == dtype

    return all(right(leaf, shape) for leaf, shape in zip(leaves(got), layout.leaf_shapes))


def _is_optimizer(value) -> bool:
    return callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))


def _expect_optimizer(ctx: CheckContext, opt, call: str) -> None:
    if not _is_optimizer(opt):
        ctx.fail(f"{call} must return an Optimizer(init, update); it returned {describe(opt)}")


def _expect_state(ctx: CheckContext, state, who: str, dtype) -> None:
    if not isinstance(state, tuple):
        ctx.fail(f"{who} must return the optimizer state as a NamedTuple (e.g. AdamState(count, mu, nu)); "
                 f"it returned {describe(state)}")
    for path, leaf in keyed_leaves(state):
        if isinstance(leaf, np.ndarray) and leaf.ndim >= 1 and leaf.dtype.kind == "f" and leaf.dtype != dtype:
            ctx.fail(f"{who} returned a state whose array state{path_text(path)} is {leaf.dtype.name} for "
                     f"{np.dtype(dtype).name} params: the moments must keep the params' dtype (np.zeros(p.shape) "
                     f"is float64 whatever p is; np.zeros_like(p) keeps its dtype), or every update turns "
                     f"{np.dtype(dtype).name} into float64")


def _expect_no_alias(ctx: CheckContext, state, given, who: str, what: str) -> None:
    ours = [leaf for leaf in leaves(given) if isinstance(leaf, np.ndarray) and leaf.size]
    theirs = [leaf for leaf in leaves(state) if isinstance(leaf, np.ndarray) and leaf.size]
    if not any(np.may_share_memory(a, b) for a in theirs for b in ours):  # a quick test of bounds first
        return
    shared = shares_memory(state, given)
    if shared:
        state_path, given_path = shared[0]
        ctx.fail(f"{who} returned a state that shares memory with the {what} it was given (state"
                 f"{path_text(state_path)} is {what}{path_text(given_path)} or a view of it): the caller may "
                 f"change those arrays after the call (an in-place step, a reused buffer), and the state would "
                 f"change with them; store new arrays (np.zeros_like(p), g + beta * m, g.copy())")


def _same(a, b) -> bool:
    """Exactly equal trees, NumPy scalars compared as 0-d arrays (so NaN equals NaN there too)."""
    def as_array(leaf):
        return np.asarray(leaf) if isinstance(leaf, np.generic) else leaf

    return tree_equal(tree_map(as_array, a), tree_map(as_array, b))


def _copy(tree):
    """A copy to compare with later (faster than a deep copy for trees of arrays)."""
    return tree_map(lambda leaf: leaf.copy() if isinstance(leaf, np.ndarray) else snapshot(leaf), tree)


def _optimizer_step(ctx: CheckContext, opt, grads, state, params, t: int, name: str, dtype, twice: bool):
    """One call of ``opt.update``, with every state rule checked; returns (updates, new_state).

    ``twice``: call it again with the same arguments, which must give the same answer.
    """
    args = (grads, state, params)
    given = _copy(args)
    ctx.doing = f"calling {name}.update at step {t}"
    result = opt.update(*given)
    ctx.doing = f"checking what {name}.update returned at step {t}"
    for part, was, now in zip(("grads", "state", "params"), args, given):
        why = (" (the state the step before returned: a caller may keep it, to repeat a step or to save it)"
               if part == "state" and t > 0 else "")
        ctx.unchanged(was, now, f"{name}.update modified its {part} in place at step {t}{why}; return new arrays "
                                f"(x = x + ..., not x += ...)")
    if not (isinstance(result, tuple) and len(result) == 2):
        ctx.fail(f"{name}.update must return (updates, new_state); at step {t} it returned {describe(result)}")
    _expect_state(ctx, result[1], f"{name}.update", dtype)
    _expect_no_alias(ctx, result[1], given[0], f"{name}.update at step {t}", "grads")
    _expect_no_alias(ctx, result[1], given[2], f"{name}.update at step {t}", "params")

    if not twice:
        ctx.doing = ""
        return result
    # the same arguments again: the same answer, and the first answer untouched
    first = _copy(result)
    ctx.doing = f"calling {name}.update a second time with the same arguments at step {t}"
    again = opt.update(*_copy(args))
    ctx.doing = f"comparing {name}.update's second answer at step {t} with its first"
    if not _same(result, first):
        ctx.fail(f"calling {name}.update again changed what its first call returned at step {t}: it returns "
                 f"arrays it keeps and overwrites later; return new arrays")
    if not _same(again, first):
        ctx.fail(f"{name}.update gave a different answer when called a second time with the same grads, state and "
                 f"params at step {t}: it remembers something outside the state (in a closure, an object or a "
                 f"global); everything an optimizer remembers between steps goes in the state it returns")
    ctx.doing = ""
    return result


def run_trajectory(ctx: CheckContext, opt, case: Trajectory, inputs: Inputs, expected: tuple[np.ndarray, np.ndarray],
                   tol: Tolerance, *, name: str, against: str) -> None:
    """Run ``opt`` N_STEPS on the gradient field of ``inputs``; compare every step with optax's ``expected``."""
    layout, dtype = case.layout, np.dtype(case.dtype)
    exp_updates, exp_params = (layout.steps(a, dtype) for a in expected)
    params, h, c = (layout.unflatten(a.astype(dtype)) for a in (inputs.params0, inputs.h, inputs.c))
    q, r = layout.unflatten(inputs.q.astype(dtype)), layout.unflatten(inputs.r.astype(dtype))

    given = _copy(params)
    state = ctx.call(opt.init, given)
    ctx.doing = f"checking what {name}.init returned"
    ctx.unchanged(params, given, f"{name}.init modified params in place; build new arrays for the state")
    _expect_state(ctx, state, f"{name}.init(params)", dtype)
    _expect_no_alias(ctx, state, given, f"{name}.init", "params")

    # the params trajectory starts from the initial params (the same on both sides): its running scale
    # then includes them, as the rounding of p + u does when the first steps bring a value near 0
    exp_params = [layout.unflatten(inputs.params0.astype(dtype))] + exp_params
    got_updates, got_params = [], [params]
    twice = {0, 1, int(ctx.rng.integers(2, N_STEPS))}  # steps where update is called a second time
    for t in range(N_STEPS):
        grads = tree_map(lambda hh, p, cc, qq, rr: np.asarray(hh * ((p - cc) + qq[t]) + rr[t]), h, params, c, q, r)
        updates, state = _optimizer_step(ctx, opt, grads, state, params, t, name, dtype, t in twice)
        updates = _ordered_like(updates, layout.template)
        if not _leaves_look_right(updates, layout, dtype):
            ctx.compare(updates, exp_updates[t], tol, what=f"step {t}: updates", against=against)  # names the fault
            ctx.fail(f"step {t}: updates: expected {describe(exp_updates[t])}, got {describe(updates)}")
        params = tree_map(lambda p, u: np.asarray(p + u), params, updates)
        got_updates.append(updates)
        got_params.append(params)

    ctx.doing = "comparing the trajectories"
    params_tol = tol.scaled(PARAMS_SLACK)
    try:
        compare_trajectories(ctx, got_updates, exp_updates, tol, what="updates", against=against)
    except CheckFailure:
        # the params after t updates are index t; did they part before the updates did?
        parted, _ = first_divergence(got_params, exp_params, params_tol)
        updates_parted, _ = first_divergence(got_updates, exp_updates, tol)
        if parted is None or updates_parted is None or parted > updates_parted:
            raise
    compare_trajectories(ctx, got_params, exp_params, params_tol, what="params",
                         against=f"{against}; the params at step t are those after t updates")
    ctx.doing = ""


def trajectory_check(name: str, cases: Callable[[np.random.Generator], list[Trajectory]],
                     tol: Tolerance) -> Callable[[CheckContext], None]:
    """A check running the learner's ``name(**kwargs)`` next to optax on every case ``cases(rng)`` draws."""

    def check(ctx: CheckContext) -> None:
        factory = ctx.fn(name)
        drawn = cases(ctx.rng)
        inputs = [draw_inputs(ctx.rng, case) for case in drawn]
        expected = None  # optax's trajectories, once the learner's code has shown it exists (a stub costs nothing)
        against = f"{OPTAX[name].text} with the same hyper-parameters"
        for k, case in enumerate(drawn):
            call = call_text(name, case)
            ctx.case(f"{call} on {field_text(case)}" + (f" [{case.label}]" if case.label else ""))
            args, kwargs = call_args(case)
            opt = ctx.call(factory, *args, **kwargs)
            _expect_optimizer(ctx, opt, call)
            if expected is None:
                expected = optax_oracle(name, [case_hparams(name, c) for c in drawn], inputs)
            run_trajectory(ctx, opt, case, inputs[k], expected[k], tol, name=name, against=against)

    check.__doc__ = f"{name}: trajectories against {OPTAX[name].text}"
    return check


# --------------------------------------------------------------------------- drawing hyper-parameters
def _draw(rng, low: float, high: float, *, log: bool = False) -> float:
    """One value strictly inside ``(low, high)``."""
    return hyper(rng, low, high, 1, log=log, include_low=False, include_high=False)[0]


def _shuffled(rng, values: list) -> list:
    return [values[i] for i in rng.permutation(len(values))]


SCHEDULED = "the learning rate is a schedule"
# a quadratic's curvatures reach 10: learning rates up to 0.1 keep plain descent stable (lr * h <= 1)


def sgd_cases(rng) -> list[Trajectory]:
    lrs = _shuffled(rng, hyper(rng, 1e-4, 1.0, 3, log=True))  # 1e-4, 1 and a draw between
    return [
        Trajectory({"learning_rate": lrs[0]}),
        Trajectory({"learning_rate": lrs[1]}, layout=SQUARE),
        as_float32(Trajectory({"learning_rate": lrs[2]}, layout=TUPLE)),
        Trajectory({"learning_rate": _draw(rng, 0.005, 0.1, log=True)}, curvature=1.0, noise=0.5, layout=BARE),
        Trajectory({"learning_rate": _draw(rng, 0.05, 1.0, log=True)}, schedule=_draw(rng, 0.9, 1.0), label=SCHEDULED),
        as_float32(Trajectory({"learning_rate": _draw(rng, 0.01, 0.1, log=True)}, schedule=_draw(rng, 0.95, 1.0),
                              curvature=1.0, noise=0.5, layout=SQUARE, label=SCHEDULED)),
    ]


def momentum_cases(rng) -> list[Trajectory]:
    """For momentum and Nesterov, which take the same hyper-parameters."""
    betas = hyper(rng, 0.0, 0.999, 4)  # 0, 0.999 and a draw from each half between
    lr = partial(_draw, rng, log=True)
    return [
        Trajectory({"learning_rate": lr(1e-3, 0.1)}, label="beta left at its default"),
        Trajectory({"learning_rate": lr(1e-4, 0.03), "beta": betas[3]}, layout=SQUARE),
        Trajectory({"learning_rate": lr(1e-3, 1.0), "beta": betas[0]}, layout=TUPLE, label="beta = 0: plain descent"),
        Trajectory({"learning_rate": lr(1e-3, 0.1), "beta": betas[2]}, layout=BARE),
        Trajectory({"learning_rate": lr(0.005, 0.05), "beta": betas[1]}, curvature=1.0, noise=0.5, layout=SQUARE),
        as_float32(Trajectory({"learning_rate": lr(1e-3, 0.1), "beta": _draw(rng, 0.9, 0.999)})),
        as_float32(Trajectory({"learning_rate": lr(0.005, 0.05), "beta": _draw(rng, 0.5, 0.9)},
                              schedule=_draw(rng, 0.9, 1.0), curvature=1.0, noise=0.5, layout=TUPLE,
                              label=SCHEDULED)),
    ]


def adagrad_cases(rng) -> list[Trajectory]:
    starts = _shuffled(rng, hyper(rng, 0.0, 1.0, 3))
    lr = partial(_draw, rng, log=True)
    return [
        Trajectory({"learning_rate": lr(0.01, 1.0)}, label="defaults"),
        Trajectory({"learning_rate": lr(1e-3, 1.0), "initial_accumulator_value": starts[0], "eps": 1e-10},
                   layout=SQUARE),
        as_float32(Trajectory({"learning_rate": lr(1e-3, 1.0), "initial_accumulator_value": starts[1],
                               "eps": 1.0}, layout=TUPLE, label="eps = 1 shows where it goes")),
        Trajectory({"learning_rate": lr(0.01, 1.0), "initial_accumulator_value": 0.0, "eps": 0.0}, zero_leaf=True,
                   label="an empty accumulator gives 0, not 0 / 0"),
        Trajectory({"learning_rate": lr(0.05, 0.5), "initial_accumulator_value": starts[2],
                    "eps": lr(1e-8, 1e-2)}, curvature=1.0, noise=0.5, layout=BARE),
        as_float32(Trajectory({"learning_rate": lr(0.1, 0.5)}, schedule=_draw(rng, 0.9, 1.0), curvature=1.0,
                              noise=0.5, layout=SQUARE, label=SCHEDULED)),
    ]


def rmsprop_cases(rng) -> list[Trajectory]:
    decays = hyper(rng, 0.0, 0.999, 3)  # 0, 0.999 and a draw between
    epss = _shuffled(rng, hyper(rng, 1e-8, 1.0, 3, log=True))
    lr = partial(_draw, rng, log=True)
    return [
        Trajectory({"learning_rate": lr(1e-3, 0.03)}, label="defaults"),
        Trajectory({"learning_rate": lr(1e-4, 0.1), "decay": decays[0], "eps": epss[0]}, layout=SQUARE),
        as_float32(Trajectory({"learning_rate": lr(1e-4, 0.1), "decay": decays[2], "eps": epss[1]}, zero_leaf=True,
                              layout=TUPLE)),
        Trajectory({"learning_rate": lr(1e-4, 0.1), "decay": decays[1], "eps": epss[2]}, layout=BARE),
        Trajectory({"learning_rate": lr(0.005, 0.03), "decay": _draw(rng, 0.5, 0.99), "eps": 0.1}, curvature=1.0,
                   noise=0.5, layout=SQUARE, label="a large eps shows where it goes"),
        as_float32(Trajectory({"learning_rate": lr(0.01, 0.03), "decay": _draw(rng, 0.8, 0.99)},
                              schedule=_draw(rng, 0.9, 1.0), curvature=1.0, noise=0.5, label=SCHEDULED)),
    ]


def _adam_hparams(rng) -> list[dict]:
    """b1 and b2 across [0, 0.999] and [0, 0.9999], eps across [1e-8, 1], paired at random: four sets."""
    b1s = _shuffled(rng, hyper(rng, 0.0, 0.999, 4))
    b2s = _shuffled(rng, hyper(rng, 0.0, 0.9999, 4))
    epss = _shuffled(rng, hyper(rng, 1e-8, 1.0, 4, log=True))
    return [{"b1": b1, "b2": b2, "eps": eps} for b1, b2, eps in zip(b1s, b2s, epss)]


def adam_cases(rng) -> list[Trajectory]:
    hp = _adam_hparams(rng)
    lr = partial(_draw, rng, log=True)
    quadratic = {"b1": _draw(rng, 0.5, 0.9), "b2": _draw(rng, 0.9, 0.999), "eps": lr(1e-8, 1e-3)}
    return [
        Trajectory({"learning_rate": lr(1e-3, 0.1)}, label="defaults"),
        Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[0]}, layout=SQUARE),
        Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[1]}, layout=TUPLE),
        as_float32(Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[2]}, zero_leaf=True)),
        as_float32(Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[3]}, layout=BARE)),
        Trajectory({"learning_rate": lr(0.005, 0.05), **quadratic}, curvature=1.0, noise=0.5, layout=SQUARE),
        Trajectory({"learning_rate": lr(0.01, 0.05), "b1": _draw(rng, 0.5, 0.9)}, schedule=_draw(rng, 0.9, 1.0),
                   curvature=1.0, noise=0.5, layout=TUPLE, label=SCHEDULED),
    ]


def adamw_cases(rng) -> list[Trajectory]:
    hp = _adam_hparams(rng)
    decays = _shuffled(rng, hyper(rng, 0.0, 10.0, 3))  # 0 (Adam), 10 (lr * 10 <= 1 still contracts) and between
    lr = partial(_draw, rng, log=True)
    return [
        Trajectory({"learning_rate": lr(1e-3, 0.1)}, label="defaults"),
        Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[0], "weight_decay": decays[0]}, layout=SQUARE),
        as_float32(Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[1], "weight_decay": decays[1]}, layout=TUPLE)),
        Trajectory({"learning_rate": lr(1e-4, 0.1), **hp[2], "weight_decay": decays[2]}, layout=BARE),
        Trajectory({"learning_rate": lr(1e-3, 0.1), **hp[3], "weight_decay": _draw(rng, 0.1, 5.0)}, zero_leaf=True,
                   label="weights decay even where the gradient is 0"),
        as_float32(Trajectory({"learning_rate": lr(0.005, 0.05), "b1": _draw(rng, 0.5, 0.9),
                               "b2": _draw(rng, 0.9, 0.999), "weight_decay": _draw(rng, 0.01, 1.0)},
                              curvature=1.0, noise=0.5, layout=SQUARE)),
        Trajectory({"learning_rate": lr(0.01, 0.05), "weight_decay": _draw(rng, 0.01, 1.0)},
                   schedule=_draw(rng, 0.9, 1.0), curvature=1.0, noise=0.5, label=SCHEDULED),
    ]


def clip_cases(rng) -> list[Trajectory]:
    # random gradients of 26 standard-normal numbers have norm about 5 (2 to 9 over 60 steps)
    norm = partial(_draw, rng, log=True)
    return [
        Trajectory({"max_norm": norm(100.0, 1e4)}, layout=TUPLE, label="every step below max_norm: gradients pass "
                                                                        "unchanged"),
        Trajectory({"max_norm": norm(1e-3, 1.0)}, label="every step above max_norm: rescaled to norm max_norm"),
        Trajectory({"max_norm": norm(0.5, 2.0)}, grad_scale=(-1.5, 0.5), layout=SQUARE,
                   label="some steps below max_norm, some above"),
        Trajectory({"max_norm": norm(0.01, 100.0)}, noise=0.0, label="gradients of norm 0 pass unchanged"),
        Trajectory({"max_norm": norm(1.0, 10.0)}, grad_scale=(-1.0, 1.0), layout=BARE,
                   label="a bare array is a pytree of one leaf"),
        Trajectory({"max_norm": norm(1.0, 5.0)}, curvature=1.0, label="gradients that depend on the parameters"),
        as_float32(Trajectory({"max_norm": norm(0.5, 2.0)}, grad_scale=(-1.5, 0.5), layout=SQUARE,
                              label="some steps below max_norm, some above")),
    ]


# --------------------------------------------------------------------------- chain
# Small NumPy transformations, each the twin of an optax one, for chain to
# compose. They belong to the check, so chain is judged on its own.
class _Transform(NamedTuple):
    init: Callable
    update: Callable


class _TraceState(NamedTuple):
    trace: Any


class _CountState(NamedTuple):
    count: int


class _Empty(NamedTuple):
    pass


def np_trace(beta):  # optax.trace
    def update(g, state, params=None):
        trace = tree_map(lambda gg, m: gg + beta * m, g, state.trace)
        return trace, _TraceState(tree_map(np.copy, trace))

    return _Transform(lambda params: _TraceState(tree_map(np.zeros_like, params)), update)


def np_add_decayed_weights(weight_decay):  # optax.add_decayed_weights
    def update(g, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs params: chain must pass params to every transformation")
        return tree_map(lambda gg, p: gg + weight_decay * p, g, params), state

    return _Transform(lambda params: _Empty(), update)


def np_scale_by_sign():  # optax.scale_by_sign
    return _Transform(lambda params: _Empty(), lambda g, state, params=None: (tree_map(np.sign, g), state))


def np_scale_by_schedule(schedule):  # optax.scale_by_schedule
    def update(g, state, params=None):
        factor = schedule(state.count)
        return tree_map(lambda x: factor * x, g), _CountState(state.count + 1)

    return _Transform(lambda params: _CountState(0), update)


def _chain_a(chain, hp):
    step = exponential_schedule(hp["learning_rate"], hp["schedule"])
    return chain(np_trace(hp["beta"]), np_add_decayed_weights(hp["weight_decay"]), np_scale_by_sign(),
                 np_scale_by_schedule(lambda c: -step(c)))


def _chain_a_nested(chain, hp):
    step = exponential_schedule(hp["learning_rate"], hp["schedule"])
    return chain(chain(np_trace(hp["beta"]), np_add_decayed_weights(hp["weight_decay"])),
                 chain(np_scale_by_sign(), np_scale_by_schedule(lambda c: -step(c))))


def _chain_b(chain, hp):
    step = exponential_schedule(hp["learning_rate"], hp["schedule"])
    return chain(np_scale_by_sign(), np_trace(hp["beta"]), np_add_decayed_weights(hp["weight_decay"]),
                 np_scale_by_schedule(lambda c: -step(c)))


class ChainCase(NamedTuple):
    kind: str  # which optax chain is the oracle
    build: Callable  # (chain, hp) -> the learner's chain of the NumPy pieces
    case: Trajectory  # kwargs: the pieces' hyper-parameters
    text: str


def _pieces(order, hp) -> str:
    names = {"trace": f"trace({hp['beta']!r})", "decay": f"add_decayed_weights({hp['weight_decay']!r})",
             "sign": "scale_by_sign()",
             "schedule": (f"scale_by_schedule(step -> -{hp['learning_rate']!r})" if hp["schedule"] == 1.0 else
                          f"scale_by_schedule(step -> -{hp['learning_rate']!r} * {hp['schedule']!r}**step)")}
    return ", ".join(names[p] for p in order)


_A = ("trace", "decay", "sign", "schedule")
_B = ("sign", "trace", "decay", "schedule")


def chain_cases(rng) -> list[ChainCase]:
    betas = _shuffled(rng, hyper(rng, 0.0, 0.999, 5))
    decays = _shuffled(rng, hyper(rng, 0.0, 1.0, 5))
    lrs = _shuffled(rng, hyper(rng, 1e-3, 0.1, 5, log=True))
    rates = [1.0, _draw(rng, 0.95, 1.0), 1.0, _draw(rng, 0.9, 1.0), 1.0]
    hp = [{"beta": b, "weight_decay": w, "learning_rate": lr, "schedule": s}
          for b, w, lr, s in zip(betas, decays, lrs, rates)]
    # the float32 case takes the sign of the gradients first: they are exact in both runs, so no sign can flip
    f32 = as_float32(Trajectory(hp[4], layout=SQUARE))
    hp[4] = {**f32.kwargs}
    return [
        ChainCase("chain_a", _chain_a, Trajectory(hp[0]), f"chain({_pieces(_A, hp[0])})"),
        ChainCase("chain_a", _chain_a, Trajectory(hp[1], curvature=1.0, noise=0.5, layout=TUPLE),
                  f"chain({_pieces(_A, hp[1])})"),
        ChainCase("chain_a", _chain_a_nested, Trajectory(hp[2], layout=SQUARE),
                  f"chain(chain({_pieces(_A[:2], hp[2])}), chain({_pieces(_A[2:], hp[2])})) [chains nest]"),
        ChainCase("chain_b", _chain_b, Trajectory(hp[3], layout=BARE),
                  f"chain({_pieces(_B, hp[3])}) [the same pieces, another order]"),
        ChainCase("chain_b", _chain_b, f32, f"chain({_pieces(_B, hp[4])}) [float32]"),
    ]


def _chain_check(ctx: CheckContext) -> None:
    chain = ctx.fn("chain")
    cases = chain_cases(ctx.rng)
    inputs = [draw_inputs(ctx.rng, c.case) for c in cases]
    expected: dict[int, Any] = {}
    for i, c in enumerate(cases):
        ctx.case(f"{c.text} on {field_text(c.case)}")
        opt = c.build(lambda *ts: ctx.call(chain, *ts), c.case.kwargs)
        _expect_optimizer(ctx, opt, "chain(...)")
        if not expected:  # optax's side, once the learner's chain has shown it exists
            for kind in ("chain_a", "chain_b"):
                index = [j for j, other in enumerate(cases) if other.kind == kind]
                outs = optax_oracle(kind, [case_hparams(kind, cases[j].case) for j in index],
                                    [inputs[j] for j in index])
                expected.update(zip(index, outs))
        run_trajectory(ctx, opt, c.case, inputs[i], expected[i], CHAIN_TOL, name="chain(...)",
                       against=f"{OPTAX[c.kind].text}, the same pieces in the same order")


# --------------------------------------------------------------------------- schedules
SCHEDULE_STEPS = 128  # every schedule is evaluated at steps 0..127 (one shape: JAX compiles once)


class ScheduleCase(NamedTuple):
    args: tuple
    label: str = ""
    raises: type[BaseException] | None = None


def _as_number(value):
    """``value`` as a float if it is a real number (Python or NumPy, 0-d), else None."""
    if isinstance(value, (bool, np.bool_)) or np.ndim(value) != 0 or not np.isrealobj(value):
        return None
    item = np.asarray(value).item()
    return float(item) if isinstance(item, (int, float)) else None


def schedule_check(name: str, oracle: Callable, cases: Callable[[np.random.Generator], list[ScheduleCase]],
                   tol: Tolerance):
    """A check of ``name(*args) -> schedule`` against optax's ``oracle(*args)`` at steps 0..127.

    The values are compared as numbers, then as the learning rate of float32
    gradients: ``value * g`` must stay float32 (a Python float does; a NumPy
    float64 such as ``np.cos`` returns would turn every float32 update into
    float64).
    """

    def check(ctx: CheckContext) -> None:
        factory = ctx.fn(name)
        steps = jnp.arange(SCHEDULE_STEPS)  # int64 steps: optax's formulas in float64
        for case in cases(ctx.rng):
            call = f"{name}({', '.join(map(repr, case.args))})"
            ctx.case(call + (f" [{case.label}]" if case.label else ""))
            if case.raises is not None:
                try:
                    got = ctx.call(factory, *deep_copy(case.args))
                except case.raises:
                    continue
                ctx.fail(f"{call} should raise {case.raises.__name__}; it returned {describe(got)}")
            args = deep_copy(case.args)
            schedule = ctx.call(factory, *args)
            ctx.unchanged(case.args, args, f"{name} modified its arguments in place")
            if not callable(schedule):
                ctx.fail(f"{call} must return a function step -> value; it returned {describe(schedule)}")
            raw, values = [], []
            for step in range(SCHEDULE_STEPS):
                ctx.doing = f"calling the schedule at step {step}"
                value = schedule(step)
                number = _as_number(value)
                if number is None:
                    ctx.fail(f"the schedule must return a number; at step {step} it returned {describe(value)}")
                raw.append(value)
                values.append(number)
            ctx.doing = "comparing the schedule's values"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # optax warns about a warmup of 0 steps
                expected = np.asarray(jnp.broadcast_to(jnp.asarray(jax.vmap(oracle(*case.args))(steps), jnp.float64),
                                                       steps.shape))
            against = f"optax.{oracle.__name__} with the same arguments"
            ctx.compare(np.asarray(values), expected, tol,
                        what=f"schedule values at steps 0..{SCHEDULE_STEPS - 1} (the index is the step)",
                        against=against)
            ctx.doing = "using the schedule's values as the learning rate of float32 gradients"
            g = normal(ctx.rng, SCHEDULE_STEPS, np.float32)
            scaled = [value * g[s:s + 1] for s, value in enumerate(raw)]  # what an optimizer computes: lr * g
            ctx.compare(np.concatenate(scaled), (expected * g.astype(np.float64)).astype(np.float32), tol,
                        what="value * g for float32 gradients g (a Python float keeps them float32; a NumPy "
                             "float64, as np.cos and np.where return, makes them float64)", against=against)
            ctx.doing = ""

    check.__doc__ = f"{name}: values at every step against optax.{oracle.__name__}"
    return check


def step_cases(rng) -> list[ScheduleCase]:
    k = int(rng.integers(2, 5))
    boundaries = [int(b) for b in rng.choice(np.arange(1, SCHEDULE_STEPS), k, replace=False)]
    scales = _shuffled(rng, hyper(rng, 0.0, 3.0, k))  # a scale of 0, one of 3, others between
    init = _draw(rng, 1e-3, 10.0, log=True)
    decays = {int(b): _draw(rng, 0.05, 0.9) for b in rng.choice(np.arange(1, SCHEDULE_STEPS), 3, replace=False)}
    return [
        ScheduleCase((1.0, {30: 0.5, 60: 0.1}), "boundaries at steps 30 and 60"),
        ScheduleCase((init, dict(zip(boundaries, scales))), "random boundaries, not in order, scales in [0, 3]"),
        ScheduleCase((_draw(rng, 0.01, 1.0, log=True), decays), "three decay factors: they multiply"),
        ScheduleCase((0.7, {0: _draw(rng, 0.1, 0.9), 100: 0.0}), "a boundary at step 0, a scale of 0"),
        ScheduleCase((0.2, {127: 0.1, 1: 0.9, 500: 0.5}), "boundaries at steps 1 and 127, one past the end"),
        ScheduleCase((0.05, {}), "no boundaries"),
        ScheduleCase((0.05,), "boundaries_and_scales left out"),
        ScheduleCase((1.0, {10: -0.5}), "a negative scale", raises=ValueError),
    ]


def cosine_cases(rng) -> list[ScheduleCase]:
    warmup = int(rng.integers(1, 60))
    decay = warmup + int(rng.integers(1, 100))  # may end past step 127
    peak = _draw(rng, 1e-3, 10.0, log=True)
    return [
        ScheduleCase((0.0, 1.0, 10, 100), "warmup over steps 0..9, decay until step 100, then held"),
        ScheduleCase((_draw(rng, 0.0, 1.0), peak, warmup, decay, _draw(rng, 0.0, peak)),
                     "random lengths and values"),
        ScheduleCase((0.0, _draw(rng, 0.1, 1.0), 0, int(rng.integers(20, 120)), 0.01), "no warmup: starts at the peak"),
        ScheduleCase((1.0, 0.2, 5, 40, 0.2), "init above peak, end equal to peak"),
        ScheduleCase((0.02, 3.0, 1, 127), "one warmup step, decay until the last step"),
        ScheduleCase((0.1, 0.5, 30, 31, 0.05), "a cosine of one step"),
        ScheduleCase((0.1, 0.0, 5, 40, 0.0), "peak 0"),
        ScheduleCase((0.0, 1.0, 50, 50), "decay_steps equal to warmup_steps", raises=ValueError),
    ]


# --------------------------------------------------------------------------- tolerances and checks
# Error budgets in eps of the values' dtype (float32 cases in float32 eps), against the largest value a
# leaf has reached so far in the trajectory (fdl.check.trajectory). Worst |diff| / allowed of the
# reference over seeds 0..299 (python -m fdl.sweep 3 --seeds 300) beside each.
SGD_TOL = Tolerance(32, 32)  # 300 seeds: sgd 0.05
MOMENTUM_TOL = Tolerance(64, 64)  # 300 seeds: momentum 0.05, nesterov 0.07 (a trace sums up to 1 / (1 - beta) terms)
ADAPTIVE_TOL = Tolerance(64, 64)  # 300 seeds: adagrad 0.05, rmsprop 0.16, adam 0.10, adamw 0.13
CLIP_TOL = Tolerance(64, 64)  # 300 seeds: 0.15 (60 rescaled steps, each with a norm rounded its own way)
CHAIN_TOL = Tolerance(32, 32)  # 300 seeds: 0.04
SCHEDULE_TOL = Tolerance(16, 16)  # 300 seeds: step_schedule 0.00, warmup_cosine_schedule 0.05

CHECKS = {
    "sgd": trajectory_check("sgd", sgd_cases, SGD_TOL),
    "momentum": trajectory_check("momentum", momentum_cases, MOMENTUM_TOL),
    "nesterov": trajectory_check("nesterov", momentum_cases, MOMENTUM_TOL),
    "adagrad": trajectory_check("adagrad", adagrad_cases, ADAPTIVE_TOL),
    "rmsprop": trajectory_check("rmsprop", rmsprop_cases, ADAPTIVE_TOL),
    "adam": trajectory_check("adam", adam_cases, ADAPTIVE_TOL),
    "adamw": trajectory_check("adamw", adamw_cases, ADAPTIVE_TOL),
    "clip_by_global_norm": trajectory_check("clip_by_global_norm", clip_cases, CLIP_TOL),
    "chain": _chain_check,
    "step_schedule": schedule_check("step_schedule", optax.piecewise_constant_schedule, step_cases, SCHEDULE_TOL),
    "warmup_cosine_schedule": schedule_check("warmup_cosine_schedule", optax.warmup_cosine_decay_schedule,
                                             cosine_cases, SCHEDULE_TOL),
}
