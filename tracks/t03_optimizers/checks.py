"""Topic 03 checks: every optimizer next to optax, step for step, over whole trajectories.

An optimizer is right when it moves the parameters exactly as optax does,
not just once: a wrong bias correction, a count off by one or a damped
momentum can look fine on one step and drift later. So each case runs
``N_STEPS`` updates of the learner's optimizer and of optax with the same
hyper-parameters from the same parameters, and compares the updates and the
parameters after every step. A FAIL names the first step where the two
trajectories part, the leaf and the index.

Gradients come from a field ``g = h * ((p - c) + q_t) + r_t``: with ``h = 0``
they are random (``r_t``) and independent of the parameters; with ``h > 0``
and ``r_t = 0`` they are those of an ill-conditioned quadratic (curvatures
spread over two decades) at a jittered point, so they depend on where each
trajectory is and both optimizers must stay together to see the same
gradients. (Written so that one of the two products is 0 or exact: XLA fuses
``a * b + c`` into one rounding, NumPy rounds twice, and the field must be the
same number in both.)

The learner's optimizer sees a pytree: nested dicts with a list, a matrix,
a vector and a 0-d leaf (odd sizes), or a bare array, or a tuple. optax, the
oracle, runs on the same numbers as one flat vector: every transformation
here is elementwise but the global norm, which is the same sum either way.
One compiled optax step, ``vmap``-ed over an exercise's cases with traced
hyper-parameters, produces all of its trajectories.

Tolerances are in machine epsilons (float64). Two correct implementations
differ by a few eps of the values a leaf has had, not of its current value (a
momentum passing near 0 keeps the absolute error of the larger terms it was
summed from), so the absolute term of each comparison is scaled by the
largest magnitude the leaf has reached so far in the trajectory.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import CheckContext, Tolerance, deep_copy, describe

N_STEPS = 60  # updates per trajectory


# --------------------------------------------------------------------------- pytree layouts
class Layout:
    """How a flat vector of parameters is shown to the learner: a pytree of leaf shapes."""

    def __init__(self, name: str, shapes):
        self.name = name
        self.shapes = shapes
        self.keys = [keys for keys, _ in _keyed_leaves(shapes, is_leaf=_is_shape)]
        self.leaf_shapes = [_at(shapes, keys) for keys in self.keys]
        self.sizes = [math.prod(s) for s in self.leaf_shapes]
        self.offsets = np.cumsum([0] + self.sizes)
        self.size = int(self.offsets[-1])
        self.template = self.unflatten(np.zeros(self.size))  # the structure, with arrays at the leaves

    def unflatten(self, flat: np.ndarray):
        """``(..., size)`` -> a tree of ``(..., *leaf_shape)`` arrays (copies)."""
        lead = flat.shape[:-1]
        leaves = [np.array(flat[..., a:b]).reshape(lead + s)
                  for a, b, s in zip(self.offsets[:-1], self.offsets[1:], self.leaf_shapes)]
        return _build(self.shapes, iter(leaves))

    def last_leaf(self) -> slice:
        return slice(int(self.offsets[-2]), int(self.offsets[-1]))


def _is_shape(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(d, int) for d in value)


def _build(shapes, leaves):
    """A tree shaped like ``shapes`` with the next leaf of ``leaves`` at each shape."""
    if _is_shape(shapes):
        return next(leaves)
    if isinstance(shapes, dict):
        return {k: _build(v, leaves) for k, v in shapes.items()}
    return type(shapes)(_build(v, leaves) for v in shapes)


def _keyed_leaves(tree, keys=(), is_leaf=lambda x: False):
    """``(keys, leaf)`` pairs: the keys that reach each leaf, in a fixed order."""
    if not is_leaf(tree) and isinstance(tree, dict):
        for k, v in tree.items():
            yield from _keyed_leaves(v, keys + (k,), is_leaf)
    elif not is_leaf(tree) and isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            yield from _keyed_leaves(v, keys + (i,), is_leaf)
    else:
        yield keys, tree


def _at(tree, keys):
    for key in keys:
        tree = tree[key]
    return tree


def _path_text(keys) -> str:
    return "".join(f"[{k!r}]" for k in keys)


def _map(fn, tree, *rest):
    """tree_map for the check's own trees (dicts, lists, tuples; NamedTuples rebuilt)."""
    if isinstance(tree, dict):
        return {k: _map(fn, tree[k], *(r[k] for r in rest)) for k in tree}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_map(fn, *c) for c in zip(tree, *rest)))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map(fn, *c) for c in zip(tree, *rest))
    return fn(tree, *rest)


def _copy(tree):
    """A copy deep enough to tell whether the code under test wrote into its inputs."""
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, dict):
        return {k: _copy(v) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*(_copy(v) for v in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_copy(v) for v in tree)
    return tree


def _identical(a, b) -> bool:
    """A fast exact-equality test of two trees (ctx.unchanged gives the verdict when this says no)."""
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and bool((a == b).all())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_identical, a, b))
    return a is b or a == b


def _same_structure(got, expected) -> bool:
    """As lenient as fdl.check.compare: any dict for a dict, a list or tuple for either."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(got) == set(expected) and all(
            _same_structure(got[k], expected[k]) for k in expected)
    if isinstance(expected, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(got) == len(expected) and all(
            _same_structure(g, e) for g, e in zip(got, expected))
    return not isinstance(got, (dict, list, tuple))


# The pytree most cases use, and two others: 26 numbers each, so they share optax's compiled program.
NESTED = Layout("nested dict", {"dense": {"w": (5, 3), "b": (3,)}, "extra": [(7,), ()]})
BARE = Layout("bare array", (2, 13))
TUPLE = Layout("tuple", ((4, 3), (13,), ()))


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
    range of decades for a per-step scale of the gradients.
    """

    kwargs: dict
    schedule: float | None = None
    curvature: float = 0.0
    noise: float = 1.0
    zero_leaf: bool = False
    grad_scale: tuple[float, float] | None = None
    layout: Layout = NESTED
    label: str = ""


class Inputs(NamedTuple):
    """One case's numbers, flat: params0, h, c (size,); q, r (steps, size)."""

    params0: np.ndarray
    h: np.ndarray
    c: np.ndarray
    q: np.ndarray
    r: np.ndarray


def draw_inputs(rng: np.random.Generator, case: Trajectory) -> Inputs:
    size = case.layout.size
    c = rng.uniform(-2, 2, size)
    params0 = c + rng.uniform(-2, 2, size)
    scales = np.ones((N_STEPS, 1)) if case.grad_scale is None else 10.0 ** rng.uniform(*case.grad_scale, (N_STEPS, 1))
    noise = case.noise * scales * rng.standard_normal((N_STEPS, size))
    if case.curvature > 0:
        h, q, r = case.curvature * 10.0 ** rng.uniform(-1, 1, size), noise, np.zeros_like(noise)
    else:
        h, q, r = np.zeros(size), np.zeros_like(noise), noise
    if case.zero_leaf:
        last = case.layout.last_leaf()
        h[last], q[:, last], r[:, last] = 0.0, 0.0, 0.0
    return Inputs(params0, h, c, q, r)


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
    if case.zero_leaf:
        text += ", the last leaf's gradient always 0"
    if case.grad_scale is not None:
        text += f", gradients scaled by 10^[{case.grad_scale[0]}, {case.grad_scale[1]}] per step"
    return f"{text}, params a {case.layout.name}, {N_STEPS} steps"


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
    # chain: the same four pieces in two orders (see CHAIN_CASES)
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
    """optax's ``(updates, params)`` trajectories, ``(steps, size)`` each, for every case.

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


# --------------------------------------------------------------------------- comparing trajectories
def trajectory_tolerance(tol: Tolerance, expected: np.ndarray, scale: float) -> Tolerance:
    """``tol`` with its absolute term measured against ``scale`` instead of max|expected| (module doc)."""
    current = float(np.abs(expected).max(initial=0.0))
    if current == 0.0 or scale <= current:
        return tol
    return Tolerance(tol.rel, tol.abs * scale / current, tol.power)


class Trace(NamedTuple):
    """One side of a comparison: a tree of ``(steps, *shape)`` arrays and its running scales."""

    tree: Any
    scales: Any  # per leaf: (steps,) running max of |expected|


def _running_scales(tree, start=None, terms=None):
    """Per leaf and step t, the largest |value| at steps 0..t (and of ``start``, and of the ``terms`` scales).

    The parameters after step t were summed from the starting parameters and
    the updates so far: their rounding is relative to the largest of those.
    """
    def scale(a, a0=None, other=None):
        per_step = np.abs(a).reshape(a.shape[0], -1).max(axis=1, initial=0.0)
        if a0 is not None:
            per_step = np.maximum(per_step, np.abs(a0).max(initial=0.0))
        running = np.maximum.accumulate(per_step)
        return running if other is None else np.maximum(running, other)

    if start is None:
        return _map(scale, tree)
    return _map(scale, tree, start, terms)


def compare_step(ctx: CheckContext, got, expected: Trace, step: int, tol: Tolerance, *, what: str,
                 against: str) -> None:
    """Compare one step's tree leaf by leaf, with compare's own messages for a wrong structure."""
    exp_tree = _map(lambda a: a[step], expected.tree)
    if not _same_structure(got, exp_tree):
        ctx.compare(got, exp_tree, tol, what=what, against=against)  # raises, naming what is wrong
        ctx.fail(f"{what}: expected {describe(exp_tree)} (from {against}), got {describe(got)}")
    for keys, exp_leaf in _keyed_leaves(exp_tree):
        scale = float(_at(expected.scales, keys)[step])
        ctx.compare(_at(got, keys), exp_leaf, trajectory_tolerance(tol, exp_leaf, scale),
                    what=f"{what}{_path_text(keys)}", against=against)


def _leaves_look_right(got, layout: Layout) -> bool:
    """The learner's tree has the layout's structure, with float arrays of the right shapes at the leaves."""
    if not _same_structure(got, layout.template):
        return False
    for keys, shape in zip(layout.keys, layout.leaf_shapes):
        leaf = _at(got, keys)
        if not isinstance(leaf, (np.ndarray, np.floating, float)) or np.shape(leaf) != shape:
            return False
    return True


def _step_ratios(got: np.ndarray, expected: np.ndarray, scales: np.ndarray, tol: Tolerance) -> np.ndarray:
    """Per step, the worst |diff| / allowed over a leaf, exactly as compare_step would judge it."""
    rtol, atol = tol.bounds(expected.dtype)
    steps = expected.shape[0]
    e = expected.reshape(steps, -1)
    g = got.reshape(steps, -1).astype(np.float64)
    current = np.abs(e).max(axis=1, initial=0.0)
    absolute = np.where(current == 0.0, 0.0, np.maximum(scales, current))[:, None]
    bound = rtol * np.abs(e) + atol * absolute
    diff = np.abs(g - e)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / np.where(bound > 0, bound, np.finfo(np.float64).tiny))
    ratio = np.where(np.isfinite(g), ratio, np.inf)
    return ratio.max(axis=1, initial=0.0)


def run_trajectory(ctx: CheckContext, opt, inputs: Inputs, expected: tuple[np.ndarray, np.ndarray],
                   layout: Layout, tol: Tolerance, *, name: str, against: str) -> None:
    """Run ``opt`` N_STEPS on the gradient field of ``inputs``; compare every step with optax's ``expected``."""
    exp_updates, exp_params = (layout.unflatten(a) for a in expected)
    params = layout.unflatten(inputs.params0)
    update_scales = _running_scales(exp_updates)
    traces = {"updates": Trace(exp_updates, update_scales),
              "params after the update": Trace(exp_params, _running_scales(exp_params, params, update_scales))}
    h, c = layout.unflatten(inputs.h), layout.unflatten(inputs.c)
    q, r = layout.unflatten(inputs.q), layout.unflatten(inputs.r)

    given = _copy(params)
    state = ctx.call(opt.init, given)
    ctx.unchanged(params, given, f"{name}.init modified params in place; build new arrays for the state")
    _expect_state(ctx, state, f"{name}.init(params)")

    got = {"updates": [], "params after the update": []}
    for t in range(N_STEPS):
        grads = _map(lambda hh, p, cc, qq, rr: hh * ((p - cc) + qq[t]) + rr[t], h, params, c, q, r)
        args = (grads, state, params)
        given = _copy(args)
        ctx.doing = f"calling {name}.update at step {t}"
        result = opt.update(*given)
        ctx.doing = f"checking what {name}.update returned at step {t}"
        if not _identical(args, given):
            ctx.unchanged(args, given, f"{name}.update modified its grads, state or params in place at step {t}; "
                                       f"return new arrays (x = x + ..., not x += ...)")
        if not (isinstance(result, tuple) and len(result) == 2):
            ctx.fail(f"{name}.update must return (updates, new_state); at step {t} it returned {describe(result)}")
        updates, state = result
        _expect_state(ctx, state, f"{name}.update")
        if not _leaves_look_right(updates, layout):
            compare_step(ctx, updates, traces["updates"], t, tol, what=f"step {t}: updates", against=against)
            ctx.fail(f"step {t}: updates: expected {describe(_map(lambda a: a[t], exp_updates))}, "
                     f"got {describe(updates)}")
        params = _map(lambda p, u: p + u, params, updates)
        got["updates"].append(updates)
        got["params after the update"].append(params)
    ctx.doing = "comparing the trajectories"
    _verdict(ctx, got, traces, layout, tol, against)
    ctx.doing = ""


def _verdict(ctx: CheckContext, got: dict, traces: dict, layout: Layout, tol: Tolerance, against: str) -> None:
    """Find the first step where any leaf leaves the tolerance and report it; else record the worst."""
    ratios = {}  # (which, keys) -> (steps,) worst ratio per step
    for which, trace in traces.items():
        for keys in layout.keys:
            stacked = np.stack([np.asarray(_at(tree, keys)) for tree in got[which]])
            ratios[which, keys] = _step_ratios(stacked, _at(trace.tree, keys), _at(trace.scales, keys), tol)
    first = min((int(np.argmax(~(r <= 1.0))) for r in ratios.values() if np.any(~(r <= 1.0))), default=None)
    if first is not None:
        for which, trace in traces.items():
            compare_step(ctx, got[which][first], trace, first, tol, what=f"step {first}: {which}", against=against)
        ctx.fail(f"step {first}: the trajectories part (worst ratio "
                 f"{max(r[first] for r in ratios.values()):.3g} of the tolerance)")
    for (which, keys), r in ratios.items():  # record the closest call of every leaf
        step = int(np.argmax(r))
        trace = traces[which]
        exp_leaf = _at(trace.tree, keys)[step]
        ctx.compare(_at(got[which][step], keys), exp_leaf,
                    trajectory_tolerance(tol, exp_leaf, float(_at(trace.scales, keys)[step])),
                    what=f"step {step}: {which}{_path_text(keys)}", against=against)


def _is_optimizer(value) -> bool:
    return callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))


def _expect_optimizer(ctx: CheckContext, opt, call: str) -> None:
    if not _is_optimizer(opt):
        ctx.fail(f"{call} must return an Optimizer(init, update); it returned {describe(opt)}")


def _expect_state(ctx: CheckContext, state, who: str) -> None:
    if not isinstance(state, tuple):
        ctx.fail(f"{who} must return the optimizer state as a NamedTuple (e.g. AdamState(count, mu, nu)); "
                 f"it returned {describe(state)}")


def trajectory_check(name: str, cases: list[Trajectory], tol: Tolerance) -> Callable[[CheckContext], None]:
    """A check running the learner's ``name(**kwargs)`` next to optax on every case."""

    def check(ctx: CheckContext) -> None:
        factory = ctx.fn(name)
        inputs = [draw_inputs(ctx.rng, case) for case in cases]
        expected = None  # optax's trajectories, once the learner's code has shown it exists (a stub costs nothing)
        against = f"{OPTAX[name].text} with the same hyper-parameters"
        for k, case in enumerate(cases):
            call = call_text(name, case)
            ctx.case(f"{call} on {field_text(case)}" + (f" [{case.label}]" if case.label else ""))
            args, kwargs = call_args(case)
            opt = ctx.call(factory, *args, **kwargs)
            _expect_optimizer(ctx, opt, call)
            if expected is None:
                expected = optax_oracle(name, [case_hparams(name, c) for c in cases], inputs)
            run_trajectory(ctx, opt, inputs[k], expected[k], case.layout, tol, name=name, against=against)

    check.__doc__ = f"{name}: trajectories against {OPTAX[name].text}"
    return check


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
        trace = _map(lambda gg, m: gg + beta * m, g, state.trace)
        return trace, _TraceState(trace)

    return _Transform(lambda params: _TraceState(_map(np.zeros_like, params)), update)


def np_add_decayed_weights(weight_decay):  # optax.add_decayed_weights
    def update(g, state, params=None):
        if params is None:
            raise ValueError("add_decayed_weights needs params: chain must pass params to every transformation")
        return _map(lambda gg, p: gg + weight_decay * p, g, params), state

    return _Transform(lambda params: _Empty(), update)


def np_scale_by_sign():  # optax.scale_by_sign
    return _Transform(lambda params: _Empty(), lambda g, state, params=None: (_map(np.sign, g), state))


def np_scale_by_schedule(schedule):  # optax.scale_by_schedule
    def update(g, state, params=None):
        factor = schedule(state.count)
        return _map(lambda x: factor * x, g), _CountState(state.count + 1)

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
    names = {"trace": f"trace({hp['beta']})", "decay": f"add_decayed_weights({hp['weight_decay']})",
             "sign": "scale_by_sign()",
             "schedule": (f"scale_by_schedule(step -> -{hp['learning_rate']})" if hp["schedule"] == 1.0 else
                          f"scale_by_schedule(step -> -{hp['learning_rate']} * {hp['schedule']}**step)")}
    return ", ".join(names[p] for p in order)


_HP = [{"beta": 0.9, "weight_decay": 0.1, "learning_rate": 0.05, "schedule": 1.0},
       {"beta": 0.5, "weight_decay": 0.3, "learning_rate": 0.02, "schedule": 0.97},
       {"beta": 0.8, "weight_decay": 0.2, "learning_rate": 0.03, "schedule": 1.0},
       {"beta": 0.7, "weight_decay": 0.1, "learning_rate": 0.1, "schedule": 0.95}]
_A = ("trace", "decay", "sign", "schedule")
CHAIN_CASES = [
    ChainCase("chain_a", _chain_a, Trajectory(_HP[0]), f"chain({_pieces(_A, _HP[0])})"),
    ChainCase("chain_a", _chain_a, Trajectory(_HP[1], curvature=1.0, noise=0.5, layout=TUPLE),
              f"chain({_pieces(_A, _HP[1])})"),
    ChainCase("chain_a", _chain_a_nested, Trajectory(_HP[2]),
              f"chain(chain({_pieces(_A[:2], _HP[2])}), chain({_pieces(_A[2:], _HP[2])})) [chains nest]"),
    ChainCase("chain_b", _chain_b, Trajectory(_HP[3], layout=BARE),
              f"chain({_pieces(('sign', 'trace', 'decay', 'schedule'), _HP[3])}) [the same pieces, another order]"),
]


def _chain_check(ctx: CheckContext) -> None:
    chain = ctx.fn("chain")
    inputs = [draw_inputs(ctx.rng, c.case) for c in CHAIN_CASES]
    expected: dict[int, Any] = {}
    for i, c in enumerate(CHAIN_CASES):
        ctx.case(f"{c.text} on {field_text(c.case)}")
        opt = c.build(lambda *ts: ctx.call(chain, *ts), c.case.kwargs)
        _expect_optimizer(ctx, opt, "chain(...)")
        if not expected:  # optax's side, once the learner's chain has shown it exists
            for kind in ("chain_a", "chain_b"):
                index = [j for j, other in enumerate(CHAIN_CASES) if other.kind == kind]
                outs = optax_oracle(kind, [case_hparams(kind, CHAIN_CASES[j].case) for j in index],
                                    [inputs[j] for j in index])
                expected.update(zip(index, outs))
        run_trajectory(ctx, opt, inputs[i], expected[i], c.case.layout, CHAIN_TOL, name="chain(...)",
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


def schedule_check(name: str, oracle: Callable, cases: list[ScheduleCase], tol: Tolerance):
    """A check of ``name(*args) -> schedule`` against optax's ``oracle(*args)`` at steps 0..127."""

    def check(ctx: CheckContext) -> None:
        factory = ctx.fn(name)
        steps = jnp.arange(SCHEDULE_STEPS)  # int64 steps: optax's formulas in float64
        for case in cases:
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
            values = []
            for step in range(SCHEDULE_STEPS):
                ctx.doing = f"calling the schedule at step {step}"
                value = schedule(step)
                number = _as_number(value)
                if number is None:
                    ctx.fail(f"the schedule must return a number; at step {step} it returned {describe(value)}")
                values.append(number)
            ctx.doing = "comparing the schedule's values"
            expected = jnp.broadcast_to(jnp.asarray(jax.vmap(oracle(*case.args))(steps), jnp.float64), steps.shape)
            ctx.compare(np.asarray(values), expected, tol,
                        what=f"schedule values at steps 0..{SCHEDULE_STEPS - 1} (the index is the step)",
                        against=f"optax.{oracle.__name__} with the same arguments")
            ctx.doing = ""

    check.__doc__ = f"{name}: values at every step against optax.{oracle.__name__}"
    return check


STEP_CASES = [
    ScheduleCase((1.0, {30: 0.5, 60: 0.1}), "boundaries at steps 30 and 60"),
    ScheduleCase((0.3, {50: 0.1, 10: 2.0, 35: 0.5}), "boundaries not in order, a scale above 1"),
    ScheduleCase((0.7, {0: 0.5, 100: 0.0}), "a boundary at step 0, a scale of 0"),
    ScheduleCase((0.2, {127: 0.1, 1: 0.9}), "boundaries at steps 1 and 127"),
    ScheduleCase((0.05, {}), "no boundaries"),
    ScheduleCase((0.05,), "boundaries_and_scales left out"),
    ScheduleCase((1.0, {10: -0.5}), "a negative scale", raises=ValueError),
]

COSINE_CASES = [
    ScheduleCase((0.0, 1.0, 10, 100), "warmup over steps 0..9, decay until step 100, then held"),
    ScheduleCase((0.1, 0.5, 25, 60, 0.05), "end_value 0.05"),
    ScheduleCase((0.0, 0.3, 0, 50, 0.01), "no warmup: starts at the peak"),
    ScheduleCase((1.0, 0.2, 5, 40, 0.2), "init above peak, end equal to peak"),
    ScheduleCase((0.02, 3.0, 1, 127), "one warmup step, decay until the last step"),
    ScheduleCase((0.0, 1.0, 50, 50), "decay_steps equal to warmup_steps", raises=ValueError),
]


# --------------------------------------------------------------------------- tolerances and cases
# Error budgets in eps (float64), against the largest value a leaf has reached
# (module doc). On the reference over seeds 0..39 the worst |diff| / allowed
# was 0.06 (sgd), 0.05 (momentum), 0.07 (nesterov), 0.06 (adagrad), 0.16
# (rmsprop), 0.10 (adam), 0.13 (adamw), 0.15 (clip), 0.04 (chain), 0.05
# (schedules); a rewrite with another operation order (Adam's lr folded into
# the bias corrections, Nesterov as (1 + beta) g + beta^2 m...) stays as close.
SGD_TOL = Tolerance(32, 32)
MOMENTUM_TOL = Tolerance(64, 64)  # momentum sums 1 / (1 - beta) terms: up to 100 at beta = 0.99
ADAPTIVE_TOL = Tolerance(64, 64)  # square roots, divisions, bias corrections
CLIP_TOL = Tolerance(64, 64)  # parameters accumulate 60 rescaled steps, each with a norm rounded its own way
CHAIN_TOL = Tolerance(32, 32)
SCHEDULE_TOL = Tolerance(16, 16)

SCHEDULED = "the learning rate is a schedule"

CLIP_CASES = [
    Trajectory({"max_norm": 100.0}, layout=TUPLE, label="every step below max_norm: gradients pass unchanged"),
    Trajectory({"max_norm": 1.0}, label="every step above max_norm: rescaled to norm 1"),
    Trajectory({"max_norm": 1.0}, grad_scale=(-1.5, 0.5), label="some steps below max_norm, some above"),
    Trajectory({"max_norm": 2.0}, noise=0.0, label="all-zero gradients (norm 0) pass unchanged"),
    Trajectory({"max_norm": 2.0}, layout=BARE, label="a bare array is a pytree of one leaf"),
    Trajectory({"max_norm": 3.0}, curvature=1.0, label="gradients that depend on the parameters"),
]

# momentum and Nesterov take the same hyperparameters: one set of cases for both
MOMENTUM_CASES = [
    Trajectory({"learning_rate": 0.05}),
    Trajectory({"learning_rate": 0.02, "beta": 0.5}, curvature=1.0, noise=0.5, layout=TUPLE),
    Trajectory({"learning_rate": 0.01, "beta": 0.99}),
    Trajectory({"learning_rate": 0.03, "beta": 0.8}, schedule=0.95, curvature=1.0, noise=0.5, label=SCHEDULED),
]

CHECKS = {
    "sgd": trajectory_check("sgd", [
        Trajectory({"learning_rate": 0.1}),
        Trajectory({"learning_rate": 0.05}, curvature=1.0, noise=0.5, layout=BARE),
        Trajectory({"learning_rate": 0.2}, schedule=0.9, label=SCHEDULED),
        Trajectory({"learning_rate": 0.05}, schedule=0.97, curvature=1.0, noise=0.5, label=SCHEDULED),
    ], SGD_TOL),
    "momentum": trajectory_check("momentum", MOMENTUM_CASES, MOMENTUM_TOL),
    "nesterov": trajectory_check("nesterov", MOMENTUM_CASES, MOMENTUM_TOL),
    "adagrad": trajectory_check("adagrad", [
        Trajectory({"learning_rate": 0.5}),
        Trajectory({"learning_rate": 0.3, "initial_accumulator_value": 1.0, "eps": 1e-3}, curvature=1.0,
                   noise=0.5, layout=BARE),
        Trajectory({"learning_rate": 0.1, "initial_accumulator_value": 0.0, "eps": 0.0}, zero_leaf=True,
                   label="an empty accumulator gives 0, not 0 / 0"),
        Trajectory({"learning_rate": 0.4}, schedule=0.97, curvature=1.0, noise=0.5, label=SCHEDULED),
    ], ADAPTIVE_TOL),
    "rmsprop": trajectory_check("rmsprop", [
        Trajectory({"learning_rate": 0.01}),
        Trajectory({"learning_rate": 0.02, "decay": 0.5, "eps": 0.1}, curvature=1.0, noise=0.5, layout=TUPLE,
                   label="a large eps shows where it goes"),
        Trajectory({"learning_rate": 0.005, "decay": 0.99, "eps": 1e-4}, zero_leaf=True),
        Trajectory({"learning_rate": 0.03}, schedule=0.95, curvature=1.0, noise=0.5, label=SCHEDULED),
    ], ADAPTIVE_TOL),
    "adam": trajectory_check("adam", [
        Trajectory({"learning_rate": 0.01}),
        Trajectory({"learning_rate": 0.02, "b1": 0.5, "b2": 0.9, "eps": 1e-3}, curvature=1.0, noise=0.5,
                   layout=BARE),
        Trajectory({"learning_rate": 0.005, "b1": 0.0, "b2": 0.99}, zero_leaf=True),
        Trajectory({"learning_rate": 0.05, "b1": 0.8}, schedule=0.95, curvature=1.0, noise=0.5, label=SCHEDULED),
    ], ADAPTIVE_TOL),
    "adamw": trajectory_check("adamw", [
        Trajectory({"learning_rate": 0.01}),
        Trajectory({"learning_rate": 0.02, "b1": 0.8, "b2": 0.95, "weight_decay": 0.1}, curvature=1.0, noise=0.5,
                   layout=TUPLE),
        Trajectory({"learning_rate": 0.01, "eps": 1e-3, "weight_decay": 0.5}, zero_leaf=True,
                   label="weights decay even where the gradient is 0"),
        Trajectory({"learning_rate": 0.05, "weight_decay": 0.05}, schedule=0.95, curvature=1.0, noise=0.5,
                   label=SCHEDULED),
    ], ADAPTIVE_TOL),
    "clip_by_global_norm": trajectory_check("clip_by_global_norm", CLIP_CASES, CLIP_TOL),
    "chain": _chain_check,
    "step_schedule": schedule_check("step_schedule", optax.piecewise_constant_schedule, STEP_CASES,
                                    SCHEDULE_TOL),
    "warmup_cosine_schedule": schedule_check("warmup_cosine_schedule", optax.warmup_cosine_decay_schedule,
                                             COSINE_CASES, SCHEDULE_TOL),
}
