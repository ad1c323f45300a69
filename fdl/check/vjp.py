"""The two standard checks: forward/backward pairs, and plain functions.

:func:`vjp_check` checks a forward ``f_forward(*args) -> (out, cache)`` and
its hand-written backward ``f_backward(dout, cache) -> grads`` against a JAX
oracle, on every case:

1. the forward output equals the oracle's (value, shape, dtype, no NaN);
2. for a random cotangent ``dout`` the backward equals ``jax.vjp`` of the
   oracle;
3. on small float64 cases the backward also equals central differences of
   the checked forward, an oracle that shares nothing with JAX, so neither
   can hide an error alone;
4. neither pass modified its inputs (or ``dout``) in place.

:func:`function_check` checks a function without a backward (a shape rule,
an ``unbroadcast``, a schedule) against an oracle, including the cases where
it must raise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .compare import describe, describe_args, to_numpy_tree
from .harness import CheckContext, deep_copy
from .tolerance import CENTRAL, ELEMENTWISE, Tolerance

__all__ = ["Case", "vjp_check", "forward_check", "function_check", "central_difference_vjp", "NUMERIC_MAX_SIZE"]

# central differences evaluate the forward twice per input element
NUMERIC_MAX_SIZE = 400


@dataclass
class Case:
    """One input set.

    ``args`` are passed positionally to both the checked function and the
    oracle, ``kwargs`` as keywords (axes, shapes, flags). ``diff`` lists the
    positions of the arguments to differentiate (default: every floating
    array or dict of arrays); the backward returns one gradient per
    position, in order. ``numeric=False`` turns central differences off for
    a case at a kink (ties in a max, relu at 0). ``raises`` is the exception
    type a :func:`function_check` case must raise.
    """

    args: tuple
    kwargs: dict = field(default_factory=dict)
    diff: tuple[int, ...] | None = None
    numeric: bool = True
    label: str = ""
    raises: type[BaseException] | None = None

    def diff_positions(self) -> tuple[int, ...]:
        if self.diff is not None:
            return self.diff
        return tuple(i for i, a in enumerate(self.args) if _is_float_tree(a))


def _children(value):
    """The children of a container node of a pytree (dict, list, tuple), else None."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def _is_float_tree(value) -> bool:
    """A floating array, or a non-empty dict/list/tuple of them (a parameter pytree)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    children = _children(value)
    return bool(children) and all(_is_float_tree(v) for v in children)


CaseSource = Callable[[np.random.Generator], Sequence[Case]] | Sequence[Case]


def _cases(source: CaseSource, rng) -> Sequence[Case]:
    return source(rng) if callable(source) else source


def _leaves(tree) -> list[np.ndarray]:
    if isinstance(tree, dict):
        return [leaf for k in tree for leaf in _leaves(tree[k])]
    if isinstance(tree, (tuple, list)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def _random_like(tree, rng):
    if isinstance(tree, dict):
        return {k: _random_like(v, rng) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_random_like(v, rng) for v in tree)
    arr = np.asarray(tree)
    if arr.dtype.kind != "f":
        return np.zeros(arr.shape, arr.dtype)
    return rng.standard_normal(arr.shape).astype(arr.dtype)


def _inner(a, b) -> float:
    """Sum over all leaves of ``a * b``: the scalar whose gradient a VJP computes."""
    total = 0.0
    for x, y in zip(_leaves(a), _leaves(b)):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.dtype.kind == "f" and x.shape == y.shape:
            total += float(np.sum(x * y))
    return total


def _tree_size(tree) -> int:
    return sum(np.asarray(leaf).size for leaf in _leaves(tree))


def central_difference_vjp(f: Callable, args: tuple, positions: Sequence[int], dout) -> list:
    """``d<dout, f(args)>/d args[p]`` for each position, by central differences.

    The step for element ``x`` is ``eps**(1/3) * max(1, |x|)``, balancing
    truncation and rounding error (see :mod:`fdl.check.tolerance`).
    """
    grads = []
    for pos in positions:
        target = args[pos]
        grad = _zeros_like_tree(target)
        for leaf, gleaf in zip(_leaves(target), _leaves(grad)):
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


def _zeros_like_tree(tree):
    if isinstance(tree, dict):
        return {k: _zeros_like_tree(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_zeros_like_tree(v) for v in tree)
    return np.zeros_like(tree)


def _as_jax(tree):
    import jax.numpy as jnp

    if isinstance(tree, dict):
        return {k: _as_jax(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)) and _is_array_tree(tree):
        return type(tree)(_as_jax(v) for v in tree)
    if isinstance(tree, np.ndarray):
        return jnp.asarray(tree)
    return tree


def _signature(value) -> Any:
    """A hashable description of an argument: shape and dtype for arrays, the value otherwise."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str)
    if isinstance(value, dict):
        return ("dict", tuple((k, _signature(v)) for k, v in value.items()))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    return ("value", repr(value))


def _is_array_tree(value) -> bool:
    if isinstance(value, np.ndarray):
        return True
    children = _children(value)
    return bool(children) and all(_is_array_tree(v) for v in children)


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

    traced = tuple(i for i, a in enumerate(args) if _is_array_tree(a))
    traced_kw = tuple(sorted(k for k, v in kwargs.items() if _is_array_tree(v)))
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
    try:
        _COMPILED[key] = compiled
    except TypeError:  # an unhashable oracle: compile every time
        pass
    return compiled


def _oracle_vjp(oracle: Callable, args: tuple, kwargs: dict, positions: Sequence[int], rng):
    """The oracle's output, a random cotangent for it, and ``jax.vjp`` of the oracle."""
    import jax

    positions = tuple(positions)
    fn, traced_kw = _compiled_vjp(oracle, args, kwargs, positions)
    array_args = tuple(_as_jax(a) for a in args if _is_array_tree(a))
    array_kwargs = tuple(_as_jax(kwargs[k]) for k in traced_kw)
    shapes = jax.eval_shape(lambda a, k: fn(a, k, None)[0], array_args, array_kwargs)
    dout = _random_like(jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), shapes), rng)
    dout_jax = _as_jax(dout)
    try:
        executable = compile_fast((fn, "executable"), fn, array_args, array_kwargs, dout_jax)
    except TypeError:  # an unhashable key: compile through jit as usual
        executable = fn
    out, grads = executable(array_args, array_kwargs, dout_jax)
    return to_numpy_tree(out), to_numpy_tree(grads), dout


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
) -> Callable[[CheckContext], None]:
    """A check for the pair ``forward``/``backward`` against ``oracle`` (see module doc).

    ``oracle(*args, **kwargs)`` is a JAX function computing the forward;
    ``names`` name the positional arguments in messages (default a, b, c...).
    """

    def check(ctx: CheckContext) -> None:
        fwd, bwd = ctx.fn(forward), ctx.fn(backward)
        for case in _cases(cases, ctx.rng):
            args, kwargs = case.args, case.kwargs
            arg_names = list(names or "abcdefgh"[: len(args)])
            positions = case.diff_positions()
            ctx.case(f"{forward}({describe_args(arg_names, args, kwargs)})" + (f" [{case.label}]" if case.label else ""))

            # 1. forward value
            given = deep_copy(args)
            result = ctx.call(fwd, *given, **kwargs)
            if not (isinstance(result, tuple) and len(result) == 2):
                ctx.fail(f"{forward} must return (out, cache); it returned {describe(result)}")
            out, cache = result
            ctx.unchanged(args, given, f"{forward} modified one of its inputs in place; work on copies")

            expected, expected_grads, dout = _oracle_vjp(oracle, args, kwargs, positions, ctx.rng)
            ctx.compare(out, expected, tol, what=f"{forward} output", against="the JAX oracle")

            # 2. backward against jax.vjp
            dout_given = deep_copy(dout)
            grads = ctx.call(bwd, dout_given, cache)
            ctx.unchanged(dout, dout_given, f"{backward} modified dout in place; the caller may still need it")
            if len(positions) == 1 and not (isinstance(grads, tuple) and len(grads) == 1):
                grads = (grads,)
            if not isinstance(grads, (tuple, list)) or len(grads) != len(positions):
                wanted = ", ".join(f"d{arg_names[p]}" for p in positions)
                ctx.fail(
                    f"{backward} must return one gradient per input, ({wanted}); "
                    f"it returned {describe(grads)}"
                )
            for p, got, exp in zip(positions, grads, expected_grads):
                ctx.compare(got, exp, tol, what=f"gradient of {arg_names[p]}", against="jax.vjp of the oracle")

            # 3. backward against central differences of the checked forward
            small = _tree_size([args[p] for p in positions]) <= NUMERIC_MAX_SIZE
            float64 = all(leaf.dtype == np.float64 for p in positions for leaf in _leaves(args[p]))
            if numeric and case.numeric and small and float64:
                ctx.doing = f"central differences of {forward}, case {ctx.cases}"

                def forward_value(*a):
                    return fwd(*deep_copy(a), **kwargs)[0]

                numeric_grads = central_difference_vjp(forward_value, deep_copy(args), positions, dout)
                for p, got, num in zip(positions, grads, numeric_grads):
                    ctx.compare(got, num, numeric_tol, what=f"gradient of {arg_names[p]}",
                                against="central differences of the forward")

    check.__doc__ = f"{forward}/{backward} against jax.vjp of the oracle and central differences"
    return check


def forward_check(
    forward: str,
    oracle: Callable,
    cases: CaseSource,
    *,
    names: Sequence[str] | None = None,
    tol: Tolerance = ELEMENTWISE,
) -> Callable[[CheckContext], None]:
    """A check for a forward ``f(*args) -> (out, cache)`` whose backward comes later.

    Only ``out`` is compared with the oracle; the cache is whatever the
    learner's backward will need (topic 05 writes forwards, topic 06 their
    backwards).
    """

    def check(ctx: CheckContext) -> None:
        fwd = ctx.fn(forward)
        for case in _cases(cases, ctx.rng):
            args, kwargs = case.args, case.kwargs
            arg_names = list(names or "abcdefgh"[: len(args)])
            ctx.case(f"{forward}({describe_args(arg_names, args, kwargs)})" + (f" [{case.label}]" if case.label else ""))
            given = deep_copy(args)
            result = ctx.call(fwd, *given, **kwargs)
            if not (isinstance(result, tuple) and len(result) == 2):
                ctx.fail(f"{forward} must return (out, cache); it returned {describe(result)}")
            ctx.unchanged(args, given, f"{forward} modified one of its inputs in place; work on copies")
            expected = to_numpy_tree(oracle(*(_as_jax(a) for a in args), **kwargs))
            ctx.compare(result[0], expected, tol, what=f"{forward} output", against="the JAX oracle")

    check.__doc__ = f"{forward} output against the oracle"
    return check


def function_check(
    function: str,
    oracle: Callable,
    cases: CaseSource,
    *,
    names: Sequence[str] | None = None,
    tol: Tolerance = ELEMENTWISE,
) -> Callable[[CheckContext], None]:
    """A check for a function with no backward: its values, or the exception it must raise."""

    def check(ctx: CheckContext) -> None:
        fn = ctx.fn(function)
        for case in _cases(cases, ctx.rng):
            args, kwargs = case.args, case.kwargs
            arg_names = list(names or "abcdefgh"[: len(args)])
            ctx.case(f"{function}({describe_args(arg_names, args, kwargs)})" + (f" [{case.label}]" if case.label else ""))
            given = deep_copy(args)
            if case.raises is not None:
                try:
                    got = ctx.call(fn, *given, **kwargs)
                except case.raises:
                    continue
                ctx.fail(f"{function} should raise {case.raises.__name__} here; it returned {describe(got)}")
            got = ctx.call(fn, *given, **kwargs)
            ctx.unchanged(args, given, f"{function} modified one of its inputs in place; work on copies")
            ctx.compare(got, oracle(*args, **kwargs), tol, what=f"{function} result", against="the oracle")

    check.__doc__ = f"{function} against the oracle"
    return check


def check_now(check: Callable[[CheckContext], None], impl: Any, *, name: str = "exercise", seed: int = 0):
    """Run a check on a namespace right away (for notebooks); returns an ExerciseResult."""
    from .harness import run_check

    return run_check(check, impl, exercise=name, seed=seed, source=getattr(impl, "__file__", None))
