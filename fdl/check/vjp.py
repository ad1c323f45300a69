"""The standard checks: forward/backward pairs, forwards alone, and plain functions.

:func:`vjp_check` checks a forward ``f_forward(*args) -> (out, cache)`` and
its hand-written backward ``f_backward(dout, cache) -> grads`` against a JAX
oracle, on every case:

1. the forward output equals the oracle's (value, shape, dtype, no NaN), and
   the forward left its inputs alone;
2. for a random cotangent ``dout`` the backward equals ``jax.vjp`` of the
   oracle;
3. the backward wrote nothing into ``dout``, its cache or the inputs, and a
   second call with the same ``dout`` gives the same gradients without
   changing the first ones (a layer's backward runs again when a graph
   reuses it, and a cache is read by more than one step);
4. on small float64 cases the backward also equals central differences of
   the checked forward, an oracle that shares nothing with JAX, so neither
   can hide an error alone.

Every check runs float32 cases too: when a check's cases are all float64,
float32 copies of the first ones are added, and each output must keep its
input's dtype.

Tolerances are in eps multiples (:mod:`fdl.check.tolerance`), plus the
oracle's own *noise floor*: the oracle runs again on inputs (and ``dout``)
moved by one or two ulps, and each element may differ from the oracle by
``tol.rel`` times as much as the oracle's own answer moved. A sum of large
terms that cancels to a small result moves by the rounding of its terms, so
its tolerance follows the terms, not the result; anything a bug does is far
larger (the floor is capped at ``sqrt(eps)`` of the value's size). Central
differences are judged against the size of the terms they subtract
(``sum |dout * out|``), for the same reason.

:func:`forward_check` checks a forward whose backward comes in a later
topic; :func:`function_check` a function without a backward, including the
cases where it must raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from .compare import describe, describe_args
from .harness import CheckContext
from .pytree import (
    as_jax, is_array_tree, is_float_tree, leaves, random_like, size, snapshot, to_numpy, tree_equal, tree_map,
    zeros_like,
)
from .tolerance import CENTRAL, ELEMENTWISE, Tolerance

__all__ = ["Case", "vjp_check", "forward_check", "function_check", "central_difference_vjp", "noise_floor",
           "NUMERIC_MAX_SIZE", "FLOAT32_COPIES"]

# central differences evaluate the forward twice per input element
NUMERIC_MAX_SIZE = 400
# float32 copies added to a check whose cases are all float64
FLOAT32_COPIES = 2


@dataclass
class Case:
    """One input set.

    ``args`` are passed positionally to both the checked function and the
    oracle, ``kwargs`` as keywords (axes, shapes, flags). ``diff`` lists the
    positions of the arguments to differentiate (default: every floating
    array or dict of arrays); the backward returns one gradient per
    position, in order. ``numeric=False`` turns central differences off for
    a case at a kink (ties in a max, relu at 0). ``raises`` is the exception
    type a :func:`function_check` case must raise. ``float32=False`` keeps a
    case out of the automatic float32 copies (values float32 cannot hold).
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    diff: tuple[int, ...] | None = None
    numeric: bool = True
    label: str = ""
    raises: type[BaseException] | None = None
    float32: bool = True

    def diff_positions(self) -> tuple[int, ...]:
        if self.diff is not None:
            return self.diff
        return tuple(i for i, a in enumerate(self.args) if is_float_tree(a))

    def dtypes(self) -> set[str]:
        """The dtypes of the case's floating arrays (positional and keyword)."""
        found = set()
        for leaf in leaves([list(self.args), dict(self.kwargs)]):
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f":
                found.add(leaf.dtype.name)
        return found

    def as_float32(self) -> "Case | None":
        """This case with every float64 array in float32, or None when it does not fit float32."""
        if self.raises is not None or not self.float32 or self.dtypes() != {"float64"}:
            return None
        limit = float(np.finfo(np.float32).max) / 1e3

        def cast(leaf):
            if isinstance(leaf, np.ndarray) and leaf.dtype == np.float64:
                if np.any(np.abs(leaf[np.isfinite(leaf)]) > limit):
                    raise OverflowError
                return leaf.astype(np.float32)
            return leaf

        try:
            args = tree_map(cast, tuple(self.args))
            kwargs = tree_map(cast, dict(self.kwargs))
        except OverflowError:
            return None
        label = f"{self.label}; float32 copy" if self.label else "float32 copy"
        return replace(self, args=tuple(args), kwargs=kwargs, label=label, numeric=False)


CaseSource = Callable[[np.random.Generator], Sequence[Case]] | Sequence[Case]


def _cases(source: CaseSource, rng, *, float32: bool = True) -> list[Case]:
    cases = list(source(rng) if callable(source) else source)
    if float32 and cases and not any("float32" in c.dtypes() for c in cases):
        copies = [c.as_float32() for c in cases]
        cases += [c for c in copies if c is not None][:FLOAT32_COPIES]
    return cases


def _label(case: Case) -> str:
    return f" [{case.label}]" if case.label else ""


# --------------------------------------------------------------------------- central differences
def _inner(a, b, *, absolute: bool = False) -> float:
    """Sum over all leaves of ``a * b`` (of ``|a * b|`` with ``absolute``: the size of the terms added).

    ``_inner(dout, f(x))`` is the scalar whose gradient a VJP computes.
    """
    total = 0.0
    for x, y in zip(leaves(a), leaves(b)):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.shape == y.shape:
            terms = x * y
            total += float(np.sum(np.abs(terms[np.isfinite(terms)]))) if absolute else float(np.sum(terms))
    return total


def central_difference_vjp(f: Callable, args: tuple, positions: Sequence[int], dout) -> list:
    """``d<dout, f(args)>/d args[p]`` for each position, by central differences.

    The step for element ``x`` is ``eps**(1/3) * max(1, |x|)``, balancing
    truncation and rounding error (see :mod:`fdl.check.tolerance`).
    """
    grads = []
    for pos in positions:
        target = args[pos]
        grad = zeros_like(target)
        for leaf, gleaf in zip(leaves(target), leaves(grad)):
            flat, gflat = leaf.reshape(-1), gleaf.reshape(-1)
            step0 = np.finfo(leaf.dtype).eps ** (1.0 / 3.0)
            for i in range(flat.size):
                original = flat[i]
                h = step0 * max(1.0, abs(float(original)))
                flat[i] = original + h
                plus = _inner(dout, f(*args))
                flat[i] = original - h
                minus = _inner(dout, f(*args))
                flat[i] = original
                gflat[i] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


# --------------------------------------------------------------------------- the noise floor
def _nudge(x: np.ndarray, salt: int) -> np.ndarray:
    """``x`` moved by one or two ulps, up or down, by an amount that depends only on each value.

    Equal values move alike (ties stay ties), zeros stay zero (a kink at 0 stays
    a kink), the order of distinct values is kept.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f" or x.size == 0:
        return x
    eps = float(np.finfo(x.dtype).eps)
    flat = np.array(x, copy=True).reshape(-1)  # (ascontiguousarray would turn a 0-d array into 1-d)
    bits = flat.view(np.uint32 if x.itemsize == 4 else np.uint64).astype(np.uint64).reshape(x.shape)
    with np.errstate(over="ignore"):
        mixed = (bits ^ np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    u = (mixed >> np.uint64(40)).astype(np.float64) / float(1 << 24)  # in [0, 1)
    step = np.where(u < 0.5, -(1.0 + 2.0 * u), 1.0 + 2.0 * (u - 0.5))  # in +-[1, 2)
    with np.errstate(over="ignore", invalid="ignore"):
        moved = (x.astype(np.float64) * (1.0 + eps * step)).astype(x.dtype)
    return np.where(np.isfinite(x), moved, x).astype(x.dtype).reshape(x.shape)


def _magnitude(*trees) -> float:
    """The largest finite |value| among the floating leaves of ``trees``."""
    biggest = 0.0
    for leaf in leaves(list(trees)):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" and leaf.size:
            finite = np.abs(leaf[np.isfinite(leaf)])
            biggest = max(biggest, float(finite.max(initial=0.0)))
    return biggest


def _floor_from(noise, expected, tol: Tolerance, magnitude: float):
    """``tol.rel`` times the oracle's own movement, capped at sqrt(eps) of the problem's ``magnitude``.

    The cap is relative to the largest value among the inputs and outputs, not to the value compared:
    a sum that cancels to almost nothing keeps the rounding of its large terms. It keeps a function
    that jumps where a nudge moves its input from loosening the check beyond sqrt(eps).
    """
    def one(n, e):
        e = np.asarray(e)
        if e.dtype.kind != "f" or n is None:
            return None
        n = np.asarray(n, dtype=np.float64)
        cap = np.sqrt(np.finfo(e.dtype).eps) * magnitude
        return np.minimum(tol.rel * np.where(np.isfinite(n), n, 0.0), cap)

    return tree_map(one, noise, expected)


def _movement(a, b):
    """``|a - b|`` leaf by leaf (floating leaves only; others None)."""
    def one(x, y):
        x, y = np.asarray(x), np.asarray(y)
        if x.dtype.kind != "f" or x.shape != y.shape:
            return None
        with np.errstate(invalid="ignore", over="ignore"):
            return np.abs(x.astype(np.float64) - y.astype(np.float64))
    return tree_map(one, a, b)


def _max_tree(a, b):
    return tree_map(lambda x, y: None if x is None or y is None else np.maximum(x, y), a, b)


def noise_floor(fn: Callable, inputs: tuple, expected, tol: Tolerance, *, draws: int = 2):
    """How far ``fn(*inputs)`` may be from ``expected`` for rounding alone, element by element.

    ``fn`` runs again on ``inputs`` nudged by an ulp or two (:func:`_nudge`);
    the result is ``tol.rel`` times the largest movement over ``draws``
    nudges, capped at ``sqrt(eps)`` of the values' size. A tree like
    ``expected`` (None where a leaf is not floating), for ``compare(floor=)``.
    """
    worst = None
    for salt in range(1, draws + 1):
        nudged = tree_map(lambda leaf, s=salt: _nudge(leaf, 0x51ED27 * s), tuple(inputs))
        moved = _movement(to_numpy(fn(*nudged)), expected)
        worst = moved if worst is None else _max_tree(worst, moved)
    return _floor_from(worst, expected, tol, _magnitude(to_numpy(list(inputs)), expected))


# --------------------------------------------------------------------------- compiling the oracle
def _signature(value) -> Any:
    """A hashable description of an argument: shape and dtype for arrays, the value otherwise."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str)
    if isinstance(value, dict):
        return ("dict", tuple((k, _signature(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    return ("value", repr(value))


_COMPILED: dict[Any, tuple[Callable, tuple[str, ...]]] = {}
_EXECUTABLES: dict[Any, Any] = {}

# Oracles are small programs run once or twice each: XLA's optimisation passes
# cost more than they save, so checks compile without them (and without the
# slower LLVM passes). No fast-math option is involved: the arithmetic is the same.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True,
                "xla_cpu_use_fusion_emitters": False}


def compile_fast(key, jitted: Callable, *args):
    """``jitted`` compiled for ``args`` with :data:`FAST_COMPILE`, once per ``key`` in this process."""
    if key not in _EXECUTABLES:
        lowered = jitted.lower(*args)
        try:
            executable = lowered.compile(compiler_options=FAST_COMPILE)
        except Exception:  # a JAX or backend without these options: compile as usual
            executable = lowered.compile()
        if len(_EXECUTABLES) > 1024:  # bound the memory a long session can hold
            _EXECUTABLES.clear()
        _EXECUTABLES[key] = executable
    return _EXECUTABLES[key]


def _compiled_vjp(oracle: Callable, args: tuple, kwargs: dict, positions: tuple[int, ...]) -> Callable:
    """``f(array_args, array_kwargs, dout) -> (out, grads)``, jitted once per oracle and signature.

    Forward and VJP compile as one XLA program: eager JAX would compile every
    primitive separately, several times slower for small checks. Arrays, in
    the positional arguments and in the keywords (a dropout mask), are traced,
    so a new case of the same shapes reuses the program with its own values;
    everything else (shapes, axes, flags) is static and part of the key.
    """
    import jax

    traced = tuple(i for i, a in enumerate(args) if is_array_tree(a))
    traced_kw = tuple(sorted(k for k, v in kwargs.items() if is_array_tree(v)))
    static = {i: a for i, a in enumerate(args) if i not in traced}
    static_kw = {k: v for k, v in kwargs.items() if k not in traced_kw}
    key = (oracle, positions, tuple(_signature(a) for a in args),
           tuple((k, _signature(v)) for k, v in sorted(kwargs.items(), key=lambda kv: kv[0])))
    try:
        return _COMPILED[key]
    except (KeyError, TypeError):
        pass

    def forward_and_vjp(array_args, array_kwargs, dout):
        values = dict(zip(traced, array_args))
        keywords = {**static_kw, **dict(zip(traced_kw, array_kwargs))}

        def of_diff(*diff_args):
            full = [values[i] if i in values else static[i] for i in range(len(args))]
            for p, a in zip(positions, diff_args):
                full[p] = a
            return oracle(*full, **keywords)

        out, vjp = jax.vjp(of_diff, *(values[p] for p in positions))
        return out, vjp(dout) if dout is not None else None

    compiled = (jax.jit(forward_and_vjp), traced_kw)
    if len(_COMPILED) > 1024:  # a long sweep over random programs must not grow without bound
        _COMPILED.clear()
    try:
        _COMPILED[key] = compiled
    except TypeError:  # an unhashable oracle: compile every time
        pass
    return compiled


class _Oracle:
    """The oracle's output, a random cotangent, ``jax.vjp`` of the oracle, and their noise floors."""

    def __init__(self, oracle: Callable, args: tuple, kwargs: dict, positions: Sequence[int], rng, tol: Tolerance):
        import jax

        positions = tuple(positions)
        fn, traced_kw = _compiled_vjp(oracle, args, kwargs, positions)
        array_args = tuple(as_jax(a) for a in args if is_array_tree(a))
        array_kwargs = tuple(as_jax(kwargs[k]) for k in traced_kw)
        shapes = jax.eval_shape(lambda a, k: fn(a, k, None)[0], array_args, array_kwargs)
        self.dout = random_like(jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes), rng)
        try:
            executable = compile_fast((fn, "executable"), fn, array_args, array_kwargs, as_jax(self.dout))
        except TypeError:  # an unhashable key: compile through jit as usual
            executable = fn
        self._run = executable
        self._arrays = ([a for a in args if is_array_tree(a)], [kwargs[k] for k in traced_kw])
        self.out, self.grads = self._evaluate(*self._arrays, self.dout)
        self.tol = tol

    def _evaluate(self, array_args, array_kwargs, dout):
        out, grads = self._run(tuple(as_jax(a) for a in array_args), tuple(as_jax(k) for k in array_kwargs),
                               as_jax(dout))
        return to_numpy(out), to_numpy(grads)

    def floors(self):
        """Noise floors for the output and for the gradients (see :func:`noise_floor`)."""
        array_args, array_kwargs = self._arrays
        worst_out = worst_grads = None
        for salt in (1, 2):
            nudge = lambda leaf, s=salt: _nudge(leaf, 0x51ED27 * s)  # noqa: E731
            out, grads = self._evaluate(tree_map(nudge, list(array_args)), tree_map(nudge, list(array_kwargs)),
                                        tree_map(nudge, self.dout))
            mo, mg = _movement(out, self.out), _movement(grads, self.grads)
            worst_out = mo if worst_out is None else _max_tree(worst_out, mo)
            worst_grads = mg if worst_grads is None else _max_tree(worst_grads, mg)
        magnitude = _magnitude(list(array_args), list(array_kwargs), self.dout, self.out, self.grads)
        return (_floor_from(worst_out, self.out, self.tol, magnitude),
                _floor_from(worst_grads, self.grads, self.tol, magnitude))


def _elementwise_floor(grads, dout, tol: Tolerance):
    """For an elementwise function: each gradient may err by ``rel * eps * |dout|`` (its terms are O(1))."""
    d = np.abs(np.asarray(leaves(dout)[0], dtype=np.float64)) if len(leaves(dout)) == 1 else None

    def one(g):
        g = np.asarray(g)
        if d is None or g.dtype.kind != "f" or g.shape != d.shape:
            return None
        return tol.bounds(g.dtype)[0] * d

    return tree_map(one, grads)


def _add_floors(a, b):
    def one(x, y):
        if x is None:
            return y
        if y is None:
            return x
        return x + y
    return tree_map(one, a, b)


# --------------------------------------------------------------------------- the checks
def vjp_check(
    forward: str,
    backward: str,
    oracle: Callable,
    cases: CaseSource,
    *,
    names: Sequence[str] | None = None,
    tol: Tolerance = ELEMENTWISE,
    numeric_tol: Tolerance = CENTRAL,
    numeric: bool = True,
    float32: bool = True,
    elementwise: bool = False,
) -> Callable[[CheckContext], None]:
    """A check for the pair ``forward``/``backward`` against ``oracle`` (see module doc).

    ``oracle(*args, **kwargs)`` is a JAX function computing the forward;
    ``names`` name the positional arguments in messages (default a, b, c...).
    ``float32=False``: the cases bring their own float32 ones (or none fit).
    ``elementwise=True``: the function acts element by element, so each
    gradient element's rounding is bounded by ``|dout|`` (its derivative is
    computed from values of order 1, like ``1 - tanh(x)^2``).
    """

    def check(ctx: CheckContext) -> None:
        fwd, bwd = ctx.fn(forward), ctx.fn(backward)
        for case in _cases(cases, ctx.rng, float32=float32):
            args, kwargs = case.args, case.kwargs
            arg_names = list(names or "abcdefgh"[: len(args)])
            positions = case.diff_positions()
            ctx.case(f"{forward}({describe_args(arg_names, args, kwargs)})" + _label(case))

            # 1. forward value
            given = snapshot(args)
            result = ctx.call(fwd, *given, **kwargs)
            if not (isinstance(result, tuple) and len(result) == 2):
                ctx.fail(f"{forward} must return (out, cache); it returned {describe(result)}")
            out, cache = result
            ctx.unchanged(args, given, f"{forward} modified one of its inputs in place; work on copies")
            oracle_run = _Oracle(oracle, args, kwargs, positions, ctx.rng, tol)
            out_floor, grad_floor = oracle_run.floors()
            dout = oracle_run.dout
            ctx.compare(out, oracle_run.out, tol, what=f"{forward} output", against="the JAX oracle",
                        floor=out_floor)
            out_kept = snapshot(out)

            # 2. backward against jax.vjp
            cache_kept = snapshot(cache)
            dout_given = snapshot(dout)
            grads = _as_grads(ctx, ctx.call(bwd, dout_given, cache), positions, arg_names, backward)
            ctx.unchanged(dout, dout_given, f"{backward} modified dout in place; the caller may still need it")
            if elementwise:
                grad_floor = _add_floors(list(grad_floor), _elementwise_floor(list(oracle_run.grads), dout, tol))
            for p, got, exp, floor in zip(positions, grads, oracle_run.grads, grad_floor):
                ctx.compare(got, exp, tol, what=f"gradient of {arg_names[p]}", against="jax.vjp of the oracle",
                            floor=floor)

            # 3. state: nothing written, the same answer twice
            _check_state(ctx, forward, backward, bwd, dout, cache, cache_kept, given, args, out, out_kept, grads,
                         positions, arg_names)

            # 4. backward against central differences of the checked forward
            small = size([args[p] for p in positions]) <= NUMERIC_MAX_SIZE
            float64 = all(leaf.dtype == np.float64 for p in positions for leaf in leaves(args[p]))
            if numeric and case.numeric and small and float64:
                ctx.doing = f"central differences of {forward}, case {ctx.cases}"
                terms = _inner(dout, out, absolute=True)  # what the differences subtract: their rounding is relative to it

                def forward_value(*a):
                    return fwd(*snapshot(a), **kwargs)[0]

                numeric_grads = central_difference_vjp(forward_value, snapshot(args), positions, dout)
                for p, got, num in zip(positions, grads, numeric_grads):
                    ctx.compare(got, num, numeric_tol, what=f"gradient of {arg_names[p]}",
                                against="central differences of the forward", scale=terms)

    check.__doc__ = f"{forward}/{backward} against jax.vjp of the oracle and central differences"
    return check


def _as_grads(ctx, grads, positions, arg_names, backward) -> tuple:
    if len(positions) == 1 and not (isinstance(grads, tuple) and len(grads) == 1):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(positions):
        wanted = ", ".join(f"d{arg_names[p]}" for p in positions)
        ctx.fail(f"{backward} must return one gradient per input, ({wanted}); it returned {describe(grads)}")
    return tuple(grads)


def _check_state(ctx, forward, backward, bwd, dout, cache, cache_kept, given, args, out, out_kept, grads,
                 positions, arg_names) -> None:
    """The backward wrote into nothing it was given, and answers the same when called again."""
    ctx.doing = f"checking that {backward} left its cache alone"
    if not tree_equal(cache, cache_kept):
        ctx.fail(f"{backward} modified its cache in place (an array {forward} saved for it); the cache is read "
                 f"again when the backward runs twice or another step shares it: compute into new arrays "
                 f"(d = d * mask, not d *= mask, on arrays you did not create)")
    if not tree_equal(given, args):
        ctx.fail(f"{backward} modified the inputs of {forward} in place (through the cache); work on copies")
    if not tree_equal(out, out_kept):
        ctx.fail(f"{backward} modified the output of {forward} in place (it is in the cache); work on copies")
    first = snapshot(grads)
    ctx.doing = f"calling {backward} a second time with the same dout"
    again = _as_grads(ctx, bwd(snapshot(dout), cache), positions, arg_names, backward)
    ctx.doing = f"comparing {backward}'s second answer with its first"
    if not tree_equal(grads, first):
        ctx.fail(f"calling {backward} again changed the gradients its first call returned: they share memory "
                 f"with the cache or with each other (return new arrays, or copies, not views of saved ones)")
    for p, a, b in zip(positions, again, first):
        if not tree_equal(a, b):
            ctx.fail(f"{backward} gave a different gradient of {arg_names[p]} the second time it was called "
                     f"with the same dout and cache: it keeps state between calls, or changed its cache")
    ctx.doing = ""


def forward_check(
    forward: str,
    oracle: Callable,
    cases: CaseSource,
    *,
    names: Sequence[str] | None = None,
    tol: Tolerance = ELEMENTWISE,
    float32: bool = True,
) -> Callable[[CheckContext], None]:
    """A check for a forward ``f(*args) -> (out, cache)`` whose backward comes later.

    Only ``out`` is compared with the oracle; the cache is whatever the
    learner's backward will need (topic 05 writes forwards, topic 06 their
    backwards).
    """

    def check(ctx: CheckContext) -> None:
        fwd = ctx.fn(forward)
        for case in _cases(cases, ctx.rng, float32=float32):
            args, kwargs = case.args, case.kwargs
            arg_names = list(names or "abcdefgh"[: len(args)])
            ctx.case(f"{forward}({describe_args(arg_names, args, kwargs)})" + _label(case))
            given = snapshot(args)
            result = ctx.call(fwd, *given, **kwargs)
            if not (isinstance(result, tuple) and len(result) == 2):
                ctx.fail(f"{forward} must return (out, cache); it returned {describe(result)}")
            ctx.unchanged(args, given, f"{forward} modified one of its inputs in place; work on copies")

            def run(*a):
                return oracle(*(as_jax(x) for x in a), **kwargs)

            expected = to_numpy(run(*args))
            ctx.compare(result[0], expected, tol, what=f"{forward} output", against="the JAX oracle",
                        floor=noise_floor(run, args, expected, tol))

    check.__doc__ = f"{forward} output against the oracle"
    return check


def function_check(
    function: str,
    oracle: Callable,
    cases: CaseSource,
    *,
    names: Sequence[str] | None = None,
    tol: Tolerance = ELEMENTWISE,
    float32: bool = True,
) -> Callable[[CheckContext], None]:
    """A check for a function with no backward: its values, or the exception it must raise."""

    def check(ctx: CheckContext) -> None:
        fn = ctx.fn(function)
        for case in _cases(cases, ctx.rng, float32=float32):
            args, kwargs = case.args, case.kwargs
            arg_names = list(names or "abcdefgh"[: len(args)])
            ctx.case(f"{function}({describe_args(arg_names, args, kwargs)})" + _label(case))
            given = snapshot(args)
            if case.raises is not None:
                try:
                    got = ctx.call(fn, *given, **kwargs)
                except case.raises:
                    continue
                ctx.fail(f"{function} should raise {case.raises.__name__} here; it returned {describe(got)}")
            got = ctx.call(fn, *given, **kwargs)
            ctx.unchanged(args, given, f"{function} modified one of its inputs in place; work on copies")

            def run(*a):
                return oracle(*a, **kwargs)

            expected = to_numpy(run(*args))
            floor = noise_floor(run, args, expected, tol) if case.dtypes() else None
            ctx.compare(got, expected, tol, what=f"{function} result", against="the oracle", floor=floor)

    check.__doc__ = f"{function} against the oracle"
    return check
