"""Topic 02 checks: the learner's ``Tensor`` against ``jax.grad`` on the same programs.

A *program* is a Python function ``program(F, *leaves)`` written once with
operators and methods that NumPy-like arrays and Tensors share (``+ * / **
@``, ``.sum(axis)``, ``.reshape``, ``.T``, indexing); the four functions
arrays spell differently (``exp``, ``log``, ``tanh``, ``relu``) go through
``F`` (see :mod:`tracks.t02_autograd.graphs`). Run with ``F = TENSOR`` on
the learner's Tensors and with ``F = JAX`` on ``jnp`` arrays, the same text
gives the value to check and the oracle: ``jax.vjp`` of the ``jnp`` program.
Every case compares the forward value and the gradient of every leaf, and
checks that ``backward`` left the inputs and the seed ``g`` alone and gave
every leaf a ``.grad`` of its own (an array no other tensor, input or seed
shares).

Every program with an oblong matrix (a leaf or the output) runs a second
time with square shapes (:func:`with_square_twins`): a gradient transposed,
or summed over the wrong axis, keeps its shape there and only its values are
wrong. Every exercise has float32 programs, whose values and gradients must
stay float32.

``backward`` checks the engine itself: diamonds and a tensor as both
operands (``a * a``, ``a + a``), a one-element output, a leaf that is its
own output, the ValueError for a non-scalar output without ``grad``, an
unused leaf, one NumPy array given to two Tensors (the grads must be two
arrays), accumulation over two ``backward`` calls and after ``zero_grad``,
a ladder of 40 diamonds (3^40 paths from the output to its leaf: every
tensor's backward function must run once per call, after all its uses) and
a chain 20,000 tensors deep (no recursion).

``random_graphs`` generates programs (:func:`graphs.random_program`): a
random DAG over 2 to 4 leaves whose operations are drawn from every
primitive and derived op, finished by a sum to a scalar; a third of them
square, a quarter float32. A failure prints the program, and names the first
node, from the output back, whose value or gradient is wrong, with the
operations that use it: the backward to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from fdl.check import (
    ELEMENTWISE, MATMUL, REDUCTION, CheckFailure, Comparison, Tolerance, compare, describe, noise_floor,
)
from fdl.check.pytree import to_numpy
from fdl.check.sample import as_float32, nonzero, normal, positive, small, ties, with_zeros
from tracks.t01_tensor_ops import checks as t01_checks

from .graphs import JAX, NUMPY, TENSOR, GraphOracle, apply_step, brief, compiled, loss_of, random_program

__all__ = ["CHECKS", "Prog", "prog", "with_square_twins", "GRAPHS"]


# --------------------------------------------------------------------------- one program, checked
@dataclass(frozen=True)
class Prog:
    """A fixed check case: ``text`` says what ``fn(F, *leaves)`` computes."""

    text: str
    fn: Callable
    leaves: tuple[tuple[str, Callable, tuple[int, ...]], ...]  # (name, sampler, shape)
    label: str = ""


def prog(text: str, fn: Callable, label: str = "", **leaves) -> Prog:
    """``prog("a + b", lambda F, a, b: a + b, a=(normal, (3, 4)), b=(normal, (4,)))``"""
    return Prog(text, fn, tuple((name, s, tuple(shape)) for name, (s, shape) in leaves.items()), label)


def _oblong(shape) -> bool:
    return len(shape) >= 2 and shape[-1] > 1 and shape[-2] > 1 and shape[-1] != shape[-2]


def _shapes(p: Prog) -> list[tuple[int, ...]]:
    """The leaves' shapes and the output's, from a NumPy run of the program."""
    rng = np.random.default_rng(0)
    values = [sample(rng, shape) for _, sample, shape in p.leaves]
    return [v.shape for v in values] + [np.shape(p.fn(NUMPY, *values))]


SQUARE = 4  # the size every axis longer than 1 takes in a square twin


def with_square_twins(programs: list[Prog]) -> list[Prog]:
    """Each program, followed by its square twin when it has an oblong matrix.

    The twin has every axis longer than 1 set to ``SQUARE`` (broadcasting and
    matmul stay valid: equal sizes stay equal, 1s stay 1), so every matrix
    among its leaves and its output is square.
    """
    out = []
    for p in programs:
        out.append(p)
        if any(_oblong(s) for s in _shapes(p)):
            leaves = tuple((name, s, tuple(SQUARE if d > 1 else d for d in shape)) for name, s, shape in p.leaves)
            twin = replace(p, leaves=leaves, label=f"{p.label}; square" if p.label else "square")
            if any(_oblong(s) for s in _shapes(twin)):
                raise ValueError(f"{p.text}: its square twin is not square; write a square case by hand")
            out.append(twin)
    return out


def _as_tensor(ctx, value, T, what: str):
    if not isinstance(value, T):
        ctx.fail(f"{what} should be a Tensor, got {describe(value)}; every operation returns a new Tensor")
    return value


def _leaf_grad(ctx, tensor, name: str):
    if tensor.grad is None:
        ctx.fail(
            f"gradient of {name}: .grad is still None after backward(); backward must reach every tensor "
            f"the output depends on, and set .grad (an array of the tensor's shape)"
        )
    return tensor.grad


def _shares(a, b) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.shares_memory(a, b)


def _fresh_grads(ctx, grads: dict, arrays: dict) -> None:
    """Each ``.grad`` is an array of its own: no other grad, input or seed shares its memory.

    ``a.grad += ...`` in a later step (or a second backward accumulating in
    place) must change nothing else. In ``a + b`` both parents receive the
    very same array ``g``; ``.grad = g`` without a copy makes them one array.
    """
    names = list(grads)
    for i, name in enumerate(names):
        for other in names[i + 1:]:
            if _shares(grads[name], grads[other]):
                ctx.fail(f"{name} and {other} share memory: after backward they are the same array (or views "
                         f"of one), so adding to one changes the other. Give every tensor a fresh .grad "
                         f"(np.array(g) the first time): in a + b both parents receive the very same g")
        for what, array in arrays.items():
            if _shares(grads[name], array):
                ctx.fail(f"{name} shares memory with {what}: a .grad must be a fresh array (np.array(g) the "
                         f"first time), never the array passed in nor a view of it")


def _after_backward(ctx, tensors: dict, leaves: dict, seed_given, seed) -> None:
    """``backward`` changed no input and not the seed, and every leaf's grad is its own array."""
    for name, t in tensors.items():
        ctx.unchanged(leaves[name], t.data, f"backward changed the data of leaf {name} in place; a backward "
                                            f"function must only read the forward's values")
    if seed is not None:
        ctx.unchanged(seed, seed_given, "out.backward(g) modified the g passed to it in place; a backward "
                                        "function must not write into the gradient it receives (it may be "
                                        "shared by other tensors), compute a new array")
    arrays = {f"the data of leaf {name}": t.data for name, t in tensors.items()}
    if seed is not None:
        arrays["the g passed to backward(g)"] = seed_given
    _fresh_grads(ctx, {f"{name}.grad": t.grad for name, t in tensors.items()}, arrays)


class Oracle:
    """``jax.vjp`` of fixed programs, all compiled together on first use.

    ``oracle[k]`` is ``(out, grads, cotangent, (out_floor, grad_floors))``
    for program ``k``: the cotangent is ones for a one-element output, else
    random normal; the floors are the oracle's own noise (fdl.check's
    ``noise_floor``: how far its answers move when the inputs and the
    cotangent move by an ulp or two, times ``tol.rel``), so a sum that cancels
    (``a.sum()`` of values of either sign, a broadcast operand's gradient) is
    judged by the rounding of its terms. In the inputs' dtype: a float32
    program is a float32 computation in JAX too.
    """

    def __init__(self, programs: list[Prog], inputs: list[list[np.ndarray]], rng, tol: Tolerance):
        self.programs, self.inputs, self.rng, self.tol = programs, inputs, rng, tol
        self.results = None

    def __getitem__(self, k: int):
        if self.results is None:
            self.results = self._compute()
        return self.results[k]

    def _compute(self):
        import jax

        fns = [p.fn for p in self.programs]
        xs = self.inputs
        cts = []
        for fn, leaves in zip(fns, xs):
            out = jax.eval_shape(lambda *a, fn=fn: fn(JAX, *a), *leaves)
            shape, dtype = out.shape, np.dtype(out.dtype)
            ct = np.ones(shape, dtype) if np.prod(shape) == 1 else self.rng.standard_normal(shape).astype(dtype)
            cts.append(ct)

        def all_vjps(xs, cts):
            results = []
            for fn, leaves, ct in zip(fns, xs, cts):
                out, vjp = jax.vjp(lambda *a, fn=fn: fn(JAX, *a), *leaves)
                results.append((out, vjp(ct)))
            return results

        key = ("programs", tuple(map(id, fns)), tuple(_signature(x) for x in self.inputs), _signature(cts))
        run = compiled(key, all_vjps, xs, cts)
        results = to_numpy(run(xs, cts))
        floors = noise_floor(run, (xs, cts), results, self.tol)
        return [(np.asarray(out), [np.asarray(g) for g in grads], ct, (out_floor, list(grad_floors)))
                for (out, grads), ct, (out_floor, grad_floors) in zip(results, cts, floors)]


def _signature(arrays) -> tuple:
    return tuple((x.shape, x.dtype.str) for x in arrays)


def check_program(ctx, p: Prog, leaves: list[np.ndarray], oracle: Oracle, k: int, tol: Tolerance) -> None:
    """Run ``p`` on the learner's Tensor and compare with ``oracle[k]``: the value, then each leaf's gradient.

    A one-element output is seeded by ``out.backward()``; any other by
    ``out.backward(g)`` for a random ``g`` (so the ops checks need ``backward``
    and the op under test, nothing else).
    """
    T = ctx.fn("Tensor")
    names = [name for name, _, _ in p.leaves]
    shapes = ", ".join(f"{n}: {brief(x)}" for n, x in zip(names, leaves))
    ctx.case(f"{p.text}  with {shapes}" + (f"  [{p.label}]" if p.label else ""))

    ctx.doing = "making Tensors of the inputs"
    tensors = [T(x.copy()) for x in leaves]
    ctx.doing = f"computing {p.text} with your Tensor"
    out = _as_tensor(ctx, p.fn(TENSOR, *tensors), T, f"the result of {p.text}")
    ctx.doing = "computing the oracle (jax.vjp)"
    expected, grads, cotangent, (out_floor, grad_floors) = oracle[k]
    ctx.doing = ""
    ctx.compare(out.data, expected, tol, what=f"value of {p.text}", against="jnp", floor=out_floor)

    seed = None
    if expected.size == 1:
        ctx.doing = "calling out.backward() (a one-element output: the seed is 1)"
        out.backward()
    else:
        ctx.doing = f"calling out.backward(g) with a random g of shape {expected.shape}"
        seed = cotangent.copy()
        out.backward(seed)
    ctx.doing = ""
    for name, t, g, floor in zip(names, tensors, grads, grad_floors):
        ctx.compare(_leaf_grad(ctx, t, f"leaf {name}"), g, tol, what=f"gradient of leaf {name}",
                    against="jax.vjp of the same program", floor=floor)
    _after_backward(ctx, dict(zip(names, tensors)), dict(zip(names, leaves)), seed,
                    None if seed is None else cotangent)


def _inputs(ctx, programs: list[Prog]) -> list[list[np.ndarray]]:
    return [[sample(ctx.rng, shape) for _, sample, shape in p.leaves] for p in programs]


def program_check(programs: list[Prog], tol: Tolerance):
    def check(ctx) -> None:
        inputs = _inputs(ctx, programs)
        oracle = Oracle(programs, inputs, ctx.rng, tol)
        for k, (p, leaves) in enumerate(zip(programs, inputs)):
            check_program(ctx, p, leaves, oracle, k, tol)

    check.__doc__ = f"{len(programs)} programs: values and leaf gradients against jax.vjp"
    return check


# --------------------------------------------------------------------------- tolerances
# Error budgets in eps of the case dtype: fdl.check's ELEMENTWISE (16), MATMUL (64) and REDUCTION (32)
# for single ops (shape ops are exact), plus the oracle's noise floor everywhere but in random graphs.
# Calibrated on the reference over 300 seeds (fdl.sweep 2); the worst |diff| / allowed seen, the
# `ratio` of fdl.check.compare, beside each.
# elementwise (300 seeds: worst ratio 0.16), matmul (0.17), reductions (0.07), shape ops (0)
UNARY = Tolerance(64, 64)  # exp, log, tanh chains, +-1000 for tanh (300 seeds: worst ratio 0.08)
# the backward programs (a few roundings per use), the ladder and the 10,000-step chain (one term per
# use of x): 300 seeds, worst ratio 0.22 (the ladder's gradient of x, and b's in a * b with b 0-d)
GRAPH = Tolerance(128, 128)
DEEP = Tolerance(128, 128)
# random graphs chain up to ten ops through log, division and powers; no noise floor (a floor would need
# every graph's oracle run twice more), but the absolute error is measured against the graph's largest
# value or gradient, compare's ``scale`` (300 seeds: worst ratio 0.22)
RANDOM = Tolerance(256, 256)


# --------------------------------------------------------------------------- backward: the engine itself
DEPTH = 10_000  # steps of the deep chain: 20,000 tensors, far beyond Python's recursion limit (1,000)
RUNGS = 40  # diamonds of the ladder: 3^40 paths from its output back to x

_DIAMOND = ("h = a.tanh(); h * b + h.exp()", lambda F, a, b: (lambda h: h * b + F.exp(h))(F.tanh(a)))

BACKWARD_PROGRAMS = with_square_twins([
    prog("a * a", lambda F, a: a * a, "one tensor as both operands: both contributions count", a=(normal, (3, 4))),
    prog("a + a", lambda F, a: a + a, "one tensor as both operands of +: g reaches it twice", a=(normal, (3, 4))),
    prog(*_DIAMOND, "a diamond: h is used twice", a=(normal, (3, 4)), b=(normal, (3, 4))),
    prog("y = a + b; y * y + y", lambda F, a, b: (lambda y: y * y + y)(a + b),
         "y is used three times", a=(normal, (2, 3)), b=(normal, (2, 3))),
    prog("u = a * b; v = u.tanh() + u; v * a + u.exp() * v",
         lambda F, a, b: (lambda u: (lambda v: v * a + F.exp(u) * v)(F.tanh(u) + u))(a * b),
         "nested diamonds; a is used at two depths", a=(normal, (4,)), b=(normal, (4,))),
    prog("a * b", lambda F, a, b: a * b, "a one-element (1, 1) output: backward() seeds with ones",
         a=(normal, (1, 1)), b=(normal, ())),
    prog("(a * b).tanh()", lambda F, a, b: F.tanh(a * b), "a 0-d output: backward() seeds with 1",
         a=(normal, ()), b=(normal, ())),
    prog("a", lambda F, a: a, "the output is the leaf itself: its grad is the seed", a=(normal, (2, 3))),
    prog(*_DIAMOND, "float32 stays float32", a=(as_float32(normal), (3, 4)), b=(as_float32(normal), (4,))),
    prog("a + a", lambda F, a: a + a, "float32 stays float32", a=(as_float32(normal), (2, 3))),
    prog("(a * b).sum()", lambda F, a, b: (a * b).sum(), "float32, backward() seeds a float32 1",
         a=(as_float32(normal), (3, 3)), b=(as_float32(normal), (3,))),
])


def _chain_oracle(kind: str, x: np.ndarray, cotangent: np.ndarray):
    """The value and ``jax.vjp`` of the deep chain or the ladder, looped by ``lax.fori_loop`` (one compile).

    With their noise floors (how far they move when x and the cotangent move by an ulp): the gradient
    of x sums one term per use, of either sign.
    """
    import jax
    import jax.numpy as jnp
    from jax import lax

    def rung(y, x):
        h = jnp.tanh(y + x)
        return h * h + h

    steps = {"chain": (DEPTH, lambda _, y, x: jnp.tanh(y + x)), "ladder": (RUNGS, lambda _, y, x: rung(y, x))}
    count, body = steps[kind]

    def value_and_vjp(x, cotangent):
        def loop(x):
            return lax.fori_loop(0, count, lambda i, y: body(i, y, x), x)

        out, vjp = jax.vjp(loop, x)
        return out, vjp(cotangent)[0]

    args = (x, cotangent)
    run = compiled((kind, count, _signature(args)), value_and_vjp, *args)
    out, grad = to_numpy(run(*args))
    return out, grad, noise_floor(run, args, (out, grad), DEEP)


class _OncePerCall:
    """Wraps every tensor's backward function: a second run in one ``backward()`` call fails the check.

    Reverse mode visits each tensor once, after all its uses: its gradient is
    then complete. An engine that passes each use's share on at once (a
    stack of ``(tensor, g)`` pairs, or recursion per use) gets the right sum,
    but runs a tensor's backward once per path through it: 3^40 times here.
    """

    def __init__(self, ctx, tensors: list):
        self.ctx, self.calls = ctx, {}
        for t in tensors:
            fn = getattr(t, "_backward", None)
            if callable(fn):
                t._backward = self._wrap(t, fn)

    def _wrap(self, t, fn):
        def backward(g):
            self.calls[id(t)] = self.calls.get(id(t), 0) + 1
            if self.calls[id(t)] > 1:
                self.ctx.fail(
                    f"the backward function of {t!r} ran a second time in one backward() call: reverse mode "
                    f"must hand a tensor's gradient on once, complete (summed over all its uses), by visiting "
                    f"the tensors in reverse topological order. Passing each use's share on straight away "
                    f"gives the right sum, but runs once per path: 3^{RUNGS} times on this ladder")
            return fn(g)

        return backward


def _check_ladder(ctx, T) -> None:
    ctx.case(f"a ladder of diamonds: y = x, then {RUNGS} times h = (y + x).tanh(); y = h * h + h "
             f"(h is used three times per rung: 3^{RUNGS} paths from the output back to x)")
    x = ctx.rng.uniform(-1.0, 1.0, (SQUARE, SQUARE))
    cotangent = ctx.rng.standard_normal(x.shape)
    ctx.doing = "building the ladder with your Tensor"
    leaf = T(x.copy())
    y, made = leaf, []
    for _ in range(RUNGS):
        s = y + leaf
        h = s.tanh()
        hh = h * h
        y = hh + h
        made += [s, h, hh, y]
    _OncePerCall(ctx, made)
    expected, grad, (out_floor, grad_floor) = _chain_oracle("ladder", x, cotangent)
    ctx.doing = ""
    ctx.compare(y.data, expected, DEEP, what="value at the top of the ladder", against="jnp (lax.fori_loop)",
                floor=out_floor)
    ctx.doing = "calling y.backward(g) at the top of the ladder"
    y.backward(cotangent.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, leaf, "x"), grad, DEEP, what="gradient of leaf x", against="jax.vjp of the ladder",
                floor=grad_floor)


def _check_deep_chain(ctx, T) -> None:
    ctx.case(f"a deep chain: y = x, then {DEPTH:,} times y = (y + x).tanh() ({2 * DEPTH:,} tensors); "
             f"x is used {DEPTH + 1:,} times")
    x = ctx.rng.uniform(-1.0, 1.0, (3,))
    cotangent = ctx.rng.standard_normal((3,))
    ctx.doing = "building the chain with your Tensor"
    leaf = T(x.copy())
    y = leaf
    for _ in range(DEPTH):
        y = (y + leaf).tanh()
    expected, grad, (out_floor, grad_floor) = _chain_oracle("chain", x, cotangent)
    ctx.doing = ""
    ctx.compare(y.data, expected, DEEP, what="value at the end of the chain", against="jnp (lax.fori_loop)",
                floor=out_floor)
    ctx.doing = "calling y.backward(g) at the end of the chain"
    y.backward(cotangent.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, leaf, "x"), grad, DEEP, what="gradient of leaf x", against="jax.vjp of the chain",
                floor=grad_floor)


# two outputs of the same leaves, for the accumulation case: a is square, b broadcast over its rows
ACCUMULATE = [
    prog("(a * b).tanh() * a", lambda F, a, b: F.tanh(a * b) * a, a=(normal, (SQUARE, SQUARE)),
         b=(normal, (SQUARE,))),
    prog("b.exp() + a * a", lambda F, a, b: F.exp(b) + a * a, a=(normal, (SQUARE, SQUARE)), b=(normal, (SQUARE,))),
]


def _check_accumulation(ctx, T, a: np.ndarray, b: np.ndarray, oracle: Oracle, first: int) -> None:
    """Gradients accumulate (the lesson's rule, as PyTorch's): two calls give twice one call's gradient.

    Exactly twice, also for the tensors inside the graph: an engine that
    propagates ``.grad`` (which holds the first call's gradient) instead of
    this call's sends the first call's gradient through again.
    """
    ctx.case("gradients accumulate: out.backward(g) twice, then zero_grad(), then two different outputs")
    f, h = ACCUMULATE
    ta, tb = T(a.copy()), T(b.copy())
    ctx.doing = "computing the oracle (jax.vjp)"
    _, (fa, fb), g, (_, (ffa, ffb)) = oracle[first]
    _, (ha, hb), k, (_, (fha, fhb)) = oracle[first + 1]

    ctx.doing = f"calling out.backward(g) twice on out = {f.text}"
    out = f.fn(TENSOR, ta, tb)
    out.backward(g.copy())
    out.backward(g.copy())
    ctx.doing = ""
    against = "jax.vjp, summed over the calls"
    ctx.compare(_leaf_grad(ctx, ta, "a"), 2 * fa, GRAPH, what="a.grad after two backward calls", against=against,
                floor=2 * ffa)
    ctx.compare(_leaf_grad(ctx, tb, "b"), 2 * fb, GRAPH, what="b.grad after two backward calls", against=against,
                floor=2 * ffb)
    _fresh_grads(ctx, {"a.grad": ta.grad, "b.grad": tb.grad, "out.grad": out.grad}, {})

    ta.zero_grad()
    tb.zero_grad()
    if ta.grad is not None or tb.grad is not None:
        ctx.fail(f"after a.zero_grad() a.grad should be None, got {describe(ta.grad)}")
    ctx.doing = f"calling backward on a second output, {h.text}, after zero_grad()"
    h.fn(TENSOR, ta, tb).backward(k.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, ta, "a"), ha, GRAPH, what="a.grad after zero_grad() and one backward",
                against="jax.vjp", floor=fha)
    ctx.doing = f"calling backward on a new graph of {f.text}, without zero_grad()"
    f.fn(TENSOR, ta, tb).backward(g.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, ta, "a"), ha + fa, GRAPH, what="a.grad after two different outputs",
                against=against, floor=fha + ffa)
    ctx.compare(_leaf_grad(ctx, tb, "b"), hb + fb, GRAPH, what="b.grad after two different outputs",
                against=against, floor=fhb + ffb)


def _check_one_array_two_tensors(ctx, T, dtype) -> None:
    """One NumPy array given to two Tensors, and ``a + b``, whose parents receive the very same ``g``."""
    name = np.dtype(dtype).name
    ctx.case(f"one array x ({name} ({SQUARE}, {SQUARE})) given to two Tensors: a = Tensor(x), b = Tensor(x); "
             f"out = a * b + a; out.backward(g)")
    x = normal(ctx.rng, (SQUARE, SQUARE), dtype)
    g = normal(ctx.rng, x.shape, dtype)
    x_before, g_given = x.copy(), g.copy()
    ctx.doing = "computing a * b + a with a = Tensor(x), b = Tensor(x)"
    a, b = T(x), T(x)
    out = a * b + a
    ctx.doing = "calling out.backward(g)"
    out.backward(g_given)
    ctx.doing = ""
    ctx.unchanged(x_before, x, "backward changed the array x both Tensors were made from, in place")
    ctx.unchanged(g, g_given, "out.backward(g) modified the g passed to it in place")
    against = "the chain rule (d(ab + a)/da = b + 1, d/db = a)"
    ctx.compare(_leaf_grad(ctx, a, "a"), g * x + g, ELEMENTWISE, what="gradient of leaf a", against=against)
    ctx.compare(_leaf_grad(ctx, b, "b"), g * x, ELEMENTWISE, what="gradient of leaf b", against=against)
    _fresh_grads(ctx, {"a.grad": a.grad, "b.grad": b.grad, "out.grad": out.grad},
                 {"x (the data of a and b)": x, "the g passed to backward(g)": g_given})

    ctx.case(f"out = a + b ({name} ({SQUARE}, {SQUARE}) each); out.backward(g): add's backward hands the same g "
             f"to both parents")
    a, b = T(normal(ctx.rng, x.shape, dtype)), T(normal(ctx.rng, x.shape, dtype))
    g_given = g.copy()
    ctx.doing = "calling (a + b).backward(g)"
    out = a + b
    out.backward(g_given)
    ctx.doing = ""
    for t, leaf in ((a, "a"), (b, "b")):
        ctx.compare(_leaf_grad(ctx, t, leaf), g, ELEMENTWISE, what=f"gradient of leaf {leaf}",
                    against="the chain rule (d(a + b)/da = 1)")
    _fresh_grads(ctx, {"a.grad": a.grad, "b.grad": b.grad, "out.grad": out.grad},
                 {"the g passed to backward(g)": g_given})


def _check_errors_and_unused(ctx, T) -> None:
    ctx.case("backward() with no grad on a (3, 4) output must raise ValueError")
    a, b = T(normal(ctx.rng, (3, 4))), T(normal(ctx.rng, (4,)))
    out = a * b
    ctx.doing = "calling out.backward() on a (3, 4) output"
    try:
        out.backward()
    except ValueError:
        pass
    else:
        ctx.fail("out.backward() on an output of shape (3, 4) should raise ValueError: the seed 1 only makes "
                 "sense for a scalar loss; otherwise the caller must pass grad")
    ctx.doing = ""

    ctx.case("a leaf the output does not depend on keeps grad None")
    c = T(normal(ctx.rng, (4,)))
    a, b = T(normal(ctx.rng, (3, 4))), T(normal(ctx.rng, (4,)))
    ctx.doing = "calling (a * b).backward(g)"
    (a * b).backward(normal(ctx.rng, (3, 4)))
    ctx.doing = ""
    if c.grad is not None:
        ctx.fail(f"c is not part of a * b, yet c.grad is {describe(c.grad)} after backward; it should stay None")


def check_backward(ctx) -> None:
    T = ctx.fn("Tensor")
    inputs = _inputs(ctx, BACKWARD_PROGRAMS)
    a, b = normal(ctx.rng, (SQUARE, SQUARE)), normal(ctx.rng, (SQUARE,))
    oracle = Oracle(BACKWARD_PROGRAMS + ACCUMULATE, inputs + [[a, b], [a, b]], ctx.rng, GRAPH)
    for k, (p, leaves) in enumerate(zip(BACKWARD_PROGRAMS, inputs)):
        check_program(ctx, p, leaves, oracle, k, GRAPH)
    _check_errors_and_unused(ctx, T)
    for dtype in (np.float64, np.float32):
        _check_one_array_two_tensors(ctx, T, dtype)
    _check_accumulation(ctx, T, a, b, oracle, len(BACKWARD_PROGRAMS))
    _check_ladder(ctx, T)
    _check_deep_chain(ctx, T)


# --------------------------------------------------------------------------- the ops
C4 = np.array([0.5, -1.0, 2.0, 1.5])  # a NumPy constant: needs no gradient


def extremes(rng, shape, dtype=np.float64):
    """Normal values with a quarter of them of magnitude 20 to 1000: exp(1000) overflows, tanh is +-1."""
    x = rng.standard_normal(shape)
    big = rng.random(shape) < 0.25
    x[big] = np.where(rng.random(int(big.sum())) < 0.5, -1.0, 1.0) * rng.uniform(20.0, 1000.0, int(big.sum()))
    return x.astype(dtype)


def infinities(rng, shape, dtype=np.float64):
    """Nonzero values with +inf and -inf among them (relu(inf) = inf with slope 1, relu(-inf) = 0)."""
    x = nonzero(rng, shape)
    spots = rng.permutation(x.size)[:2]
    x.reshape(-1)[spots] = (np.inf, -np.inf)
    return x.astype(dtype)


ELEMENTWISE_PROGRAMS = with_square_twins([
    prog("a + b", lambda F, a, b: a + b, "equal shapes", a=(normal, (3, 4)), b=(normal, (3, 4))),
    prog("a + b", lambda F, a, b: a + b, "b broadcast over rows", a=(normal, (3, 4)), b=(normal, (4,))),
    prog("a + b", lambda F, a, b: a + b, "both broadcast", a=(normal, (3, 1)), b=(normal, (1, 4))),
    prog("a * b", lambda F, a, b: a * b, "both broadcast", a=(normal, (3, 1)), b=(normal, (1, 4))),
    prog("a * b", lambda F, a, b: a * b, "a 0-d tensor times a matrix", a=(normal, ()), b=(normal, (2, 3))),
    prog("a - b", lambda F, a, b: a - b, "rank difference", a=(normal, (2, 3, 4)), b=(normal, (3, 1))),
    prog("a / b", lambda F, a, b: a / b, "size-1 denominator", a=(normal, (5,)), b=(nonzero, (1,))),
    prog("a / b", lambda F, a, b: a / b, "both broadcast", a=(normal, (2, 1, 3)), b=(nonzero, (4, 1))),
    prog("a * b - a / b", lambda F, a, b: a * b - a / b, "a and b used twice", a=(normal, (3, 4)),
         b=(nonzero, (3, 4))),
    prog("-a", lambda F, a: -a, a=(normal, (2, 3))),
    prog("a ** 2", lambda F, a: a ** 2, a=(normal, (3, 4))),
    prog("a ** 3", lambda F, a: a ** 3, a=(normal, (2, 3))),
    prog("a ** 0.5", lambda F, a: a ** 0.5, a=(positive, (3, 4))),
    prog("a ** -1.5", lambda F, a: a ** -1.5, a=(positive, (5,))),
    # the ends of the exponent's range that need no positive base: p = 1 (slope 1) and p = 0 (slope 0)
    prog("a ** 1", lambda F, a: a ** 1, "p = 1: x ** 0 in the backward", a=(normal, (3, 4))),
    prog("a ** 0", lambda F, a: a ** 0, "p = 0: the slope is 0 everywhere", a=(nonzero, (2, 3))),
    prog("2.5 - a * 2 + 1.5", lambda F, a: 2.5 - a * 2 + 1.5, "Python numbers on either side", a=(normal, (3,))),
    prog("3.0 / a + 0.5 * a", lambda F, a: 3.0 / a + 0.5 * a, "number / Tensor, number * Tensor",
         a=(nonzero, (2, 3))),
    prog("a * C - C", lambda F, a: a * C4 - C4, "C a NumPy array (4,): Tensor * array, Tensor - array",
         a=(normal, (3, 4))),
    prog("C - a / C", lambda F, a: C4 - a / C4, "array on the left: array - Tensor", a=(normal, (2, 4))),
    prog("a * b + a", lambda F, a, b: a * b + a, "float32 stays float32", a=(as_float32(normal), (3, 4)),
         b=(as_float32(normal), (4,))),
    prog("a * 2 - 1", lambda F, a: a * 2 - 1, "float32 with Python numbers stays float32",
         a=(as_float32(normal), (3,))),
    prog("a / b", lambda F, a, b: a / b, "float32 stays float32", a=(as_float32(normal), (3, 1)),
         b=(as_float32(nonzero), (1, 4))),
])

UNARY_PROGRAMS = with_square_twins([
    prog("a.exp()", lambda F, a: F.exp(a), a=(normal, (3, 4))),
    prog("a.exp()", lambda F, a: F.exp(a), a=(normal, ())),
    prog("a.log()", lambda F, a: F.log(a), a=(positive, (3, 4))),
    prog("a.log()", lambda F, a: F.log(a), a=(positive, (1, 1, 5))),
    prog("a.tanh()", lambda F, a: F.tanh(a), a=(normal, (3, 4))),
    prog("a.tanh()", lambda F, a: F.tanh(a), a=(normal, (2, 3, 5))),
    prog("a.tanh()", lambda F, a: F.tanh(a), "|x| up to 1000: tanh is +-1, its slope 0 (exp(x) overflows)",
         a=(extremes, (4, 4))),
    prog("a.relu()", lambda F, a: F.relu(a), a=(nonzero, (3, 4))),
    prog("a.relu()", lambda F, a: F.relu(a), "exact zeros: relu'(0) = 0, as in JAX and PyTorch",
         a=(with_zeros, (4, 5))),
    prog("a.relu()", lambda F, a: F.relu(a), "+-inf: relu(inf) = inf with slope 1, relu(-inf) = 0",
         a=(infinities, (3, 3))),
    prog("a.exp().tanh() * b.log()", lambda F, a, b: F.tanh(F.exp(a)) * F.log(b), "a chain",
         a=(small, (2, 3)), b=(positive, (2, 3))),
    prog("a.relu().exp() + a.tanh()", lambda F, a: F.exp(F.relu(a)) + F.tanh(a), "a used twice",
         a=(nonzero, (3,))),
    prog("a.tanh()", lambda F, a: F.tanh(a), "float32 stays float32", a=(as_float32(normal), (4, 3))),
    prog("a.log()", lambda F, a: F.log(a), "float32 stays float32", a=(as_float32(positive), (5,))),
    prog("a.tanh()", lambda F, a: F.tanh(a), "float32, |x| up to 1000", a=(as_float32(extremes), (4, 4))),
    prog("a.relu()", lambda F, a: F.relu(a), "float32, exact zeros", a=(as_float32(with_zeros), (4, 4))),
])

W44 = np.array([[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 1.5], [-2.0, 1.0, 0.75, -0.25],
                [0.25, 1.25, -1.5, 0.5]])  # a (4, 4) constant

MATMUL_PROGRAMS = with_square_twins([
    prog("a @ b", lambda F, a, b: a @ b, "square matrices", a=(normal, (3, 3)), b=(normal, (3, 3))),
    prog("a @ b", lambda F, a, b: a @ b, a=(normal, (3, 4)), b=(normal, (4, 5))),
    prog("a @ b", lambda F, a, b: a @ b, "a batch of a against one b", a=(normal, (2, 3, 4)), b=(normal, (4, 5))),
    prog("a @ b", lambda F, a, b: a @ b, "one a against a batch of b", a=(normal, (3, 4)), b=(normal, (2, 4, 5))),
    prog("a @ b", lambda F, a, b: a @ b, "batch axes broadcast both ways", a=(normal, (2, 1, 3, 4)),
         b=(normal, (5, 4, 2))),
    prog("a @ b", lambda F, a, b: a @ b, a=(normal, (1, 1)), b=(normal, (1, 1))),
    prog("a @ b", lambda F, a, b: a @ b, "matrix times a batch of column vectors", a=(normal, (2, 3, 4)),
         b=(normal, (2, 4, 1))),
    prog("a @ a", lambda F, a: a @ a, "one tensor as both operands", a=(normal, (3, 3))),
    prog("a @ a.T", lambda F, a: a @ a.T, "a and its transpose", a=(normal, (3, 5))),
    prog("W @ a", lambda F, a: W44 @ a, "W a NumPy (4, 4) array on the left", a=(normal, (4, 2))),
    prog("(a @ b).tanh() @ c", lambda F, a, b, c: F.tanh(a @ b) @ c, "two layers", a=(normal, (5, 3)),
         b=(normal, (3, 4)), c=(normal, (4, 2))),
    prog("a @ b", lambda F, a, b: a @ b, "float32 stays float32", a=(as_float32(normal), (2, 3, 4)),
         b=(as_float32(normal), (4, 2))),
])

# (shape, axis, keepdims): topic 01's reductions, and a 0-d tensor
REDUCE = [*t01_checks.REDUCE, ((), None, False)]


def _reduction(method: str, shape, axis, keepdims, sample=normal, label="") -> Prog:
    text = f"a.{method}(axis={axis!r}, keepdims={keepdims})"
    return prog(text, lambda F, a: getattr(a, method)(axis=axis, keepdims=keepdims), label, a=(sample, shape))


REDUCTION_PROGRAMS = with_square_twins(
    [_reduction("sum", *r) for r in REDUCE]
    + [_reduction("mean", *r) for r in REDUCE[:-1]]
    + [_reduction("max", *r) for r in REDUCE]
    + [_reduction("max", (4, 5), 1, False, ties, "tied maxima share the gradient equally"),
       _reduction("max", (3, 4), None, False, ties, "tied maxima share the gradient equally"),
       _reduction("max", (2, 3, 4), (0, 2), True, ties, "tied maxima share the gradient equally"),
       _reduction("max", (4, 4), 0, False, ties, "tied maxima, square: a max over the wrong axis keeps its shape"),
       prog("a.sum(axis=0) * a.max(axis=0)", lambda F, a: a.sum(axis=0) * a.max(axis=0), "a used twice",
            a=(normal, (3, 4))),
       prog("a.mean(axis=1, keepdims=True) - a", lambda F, a: a.mean(axis=1, keepdims=True) - a,
            "centring rows", a=(normal, (3, 5))),
       _reduction("sum", (3, 4), 1, False, as_float32(normal), "float32 stays float32"),
       _reduction("max", (3, 4), 0, True, as_float32(normal), "float32 stays float32"),
       _reduction("max", (3, 4), 1, False, as_float32(ties), "float32, tied maxima")]
)

I302 = np.array([0, 2, 0])

# Written out, not twinned: a reshape's or an index's output shape is in its text. Every output that is
# a matrix is square; the leaves are square in some (``gradient of leaf a`` is one value to the tests).
SHAPE_PROGRAMS = [
    prog("a.reshape(4, 4)", lambda F, a: a.reshape(4, 4), a=(normal, (2, 8))),
    prog("a.reshape((3, 3))", lambda F, a: a.reshape((3, 3)), "a tuple", a=(normal, (9,))),
    prog("a.reshape(-1)", lambda F, a: a.reshape(-1), a=(normal, (2, 3, 4))),
    prog("a.reshape(-1)", lambda F, a: a.reshape(-1), a=(normal, (4, 4))),
    prog("a.reshape(3, 2, 2)", lambda F, a: a.reshape(3, 2, 2), a=(normal, (12,))),
    prog("a.reshape(1, 12)", lambda F, a: a.reshape(1, 12), "a row", a=(normal, (3, 4))),
    prog("a.transpose()", lambda F, a: a.transpose(), "no axes reverses them", a=(normal, (3, 4))),
    prog("a.transpose()", lambda F, a: a.transpose(), "no axes reverses them; square", a=(normal, (4, 4))),
    prog("a.transpose(1, 2, 0)", lambda F, a: a.transpose(1, 2, 0), a=(normal, (2, 3, 4))),
    prog("a.transpose(1, 2, 0)", lambda F, a: a.transpose(1, 2, 0), "a cube: only the values show the order",
         a=(normal, (3, 3, 3))),
    prog("a.transpose((2, 0, 1))", lambda F, a: a.transpose((2, 0, 1)), "a tuple", a=(normal, (3, 3, 2))),
    prog("a.transpose(-1, 0, 1)", lambda F, a: a.transpose(-1, 0, 1), "negative axes", a=(normal, (3, 3, 2))),
    prog("a.transpose(0, 2, 3, 1)", lambda F, a: a.transpose(0, 2, 3, 1), a=(normal, (2, 3, 4, 3))),
    prog("a.T", lambda F, a: a.T, a=(normal, (3, 3, 2))),
    prog("a[1:3]", lambda F, a: a[1:3], "a slice", a=(normal, (4, 2))),
    prog("a[:, ::2]", lambda F, a: a[:, ::2], "a strided slice", a=(normal, (3, 5))),
    prog("a[::-1]", lambda F, a: a[::-1], "a reversed slice", a=(normal, (4, 4))),
    prog("a[::-2]", lambda F, a: a[::-2], "a reversed strided slice", a=(normal, (5,))),
    prog("a[1]", lambda F, a: a[1], "an integer drops the axis", a=(normal, (3, 4))),
    prog("a[-1]", lambda F, a: a[-1], "a negative integer", a=(normal, (3, 4))),
    prog("a[..., 0]", lambda F, a: a[..., 0], a=(normal, (3, 3, 2))),
    prog("a[np.array([0, 2, 0])]", lambda F, a: a[I302], "repeated indices: row 0 is picked twice",
         a=(normal, (3, 3))),
    prog("a[np.array([0, 2, 0])]", lambda F, a: a[I302], "repeated indices, a vector", a=(normal, (4,))),
    prog("a[np.array([-1, 0, -1])]", lambda F, a: a[np.array([-1, 0, -1])], "repeated negative indices",
         a=(normal, (4,))),
    prog("a[:, np.array([1, 1, 3])]", lambda F, a: a[:, np.array([1, 1, 3])], "repeated column indices",
         a=(normal, (3, 5))),
    prog("a[np.array([[0, 1], [1, 1]])]", lambda F, a: a[np.array([[0, 1], [1, 1]])], "a 2-D index array",
         a=(normal, (3, 2))),
    prog("a[np.array([0, 2, 0]), np.array([1, 3, 1])]", lambda F, a: a[I302, np.array([1, 3, 1])],
         "paired index arrays: element (0, 1) twice", a=(normal, (3, 4))),
    prog("a[1:, np.array([0, 0])]", lambda F, a: a[1:, np.array([0, 0])], "a slice and repeats",
         a=(normal, (3, 2))),
    prog("a.T.reshape(4, 3)[1:] * a[0, :3]", lambda F, a: a.T.reshape(4, 3)[1:] * a[0, :3],
         "several shape ops; a used twice", a=(normal, (3, 4))),
    prog("a.T.reshape(3, 2, 2)", lambda F, a: a.T.reshape(3, 2, 2), "float32 stays float32",
         a=(as_float32(normal), (3, 4))),
    prog("a.T[::-1]", lambda F, a: a.T[::-1], "float32, square", a=(as_float32(normal), (3, 3))),
]


# --------------------------------------------------------------------------- random expression graphs
GRAPHS = 24  # random programs per check run
ORACLE = "jax.grad of the same program (float64)"


def _graph_kind(g: int) -> tuple[bool, type]:
    """Graph ``g`` of a run: square (every third), float32 (every fourth), of both kinds together too."""
    return g % 3 == 0, np.float32 if g % 4 == 1 else np.float64


def _within(got, expected: np.ndarray, scale: float) -> Comparison | None:
    """Silently: ``compare`` with the graph's ``scale`` (the size of the terms), or None when it fails."""
    try:
        return compare(got, expected, RANDOM, what="", against="", scale=scale)
    except CheckFailure:
        return None


def _note(ctx, comparison: Comparison | None, what: str) -> None:
    """Count a silent comparison that passed towards the exercise's closest call."""
    if comparison is not None and (ctx.worst is None or comparison.ratio > ctx.worst.ratio):
        ctx.worst = Comparison(comparison.max_abs, comparison.rel, comparison.ratio, what)


def check_random_graphs(ctx) -> None:
    """Random programs: every node's value, the loss, every leaf's gradient against jax.grad.

    The absolute part of every tolerance is measured against the largest
    value (or gradient) of any node in the graph, compare's ``scale``: in a
    graph, rounding comes from the terms a value is made of, not from the
    result (``log(x)`` near ``x = 1`` is small while its error is set by
    ``x``; a gradient that sums terms of either sign can be small or zero).
    Node values are compared silently and only the first wrong one, in
    program order, is reported: it names the operation to look at.
    Gradients the same way from the loss back, when a leaf's is wrong.
    """
    T = ctx.fn("Tensor")
    programs = []
    for g in range(GRAPHS):
        square, dtype = _graph_kind(g)
        leaves = 2 + (g // 3) % 3 if square else None  # square graphs of 2, 3 and 4 leaves in turn
        programs.append(random_program(ctx.rng, square=square, dtype=dtype, leaves=leaves))
    oracle = GraphOracle(programs)
    for g, program in enumerate(programs):
        listing = "\n    ".join(program.text().splitlines())
        ctx.case(f"random graph {g + 1} of {GRAPHS} (reproduce it with these lines):\n    {listing}")
        n_leaves = len(program.leaves)
        nodes = [T(x.copy()) for x in program.leaves]
        for k, step in enumerate(program.steps):
            ctx.doing = f"computing {program.line(k)}"
            nodes.append(_as_tensor(ctx, apply_step(TENSOR, step, [nodes[i] for i in step.args]), T, program.line(k)))
        ctx.doing = "computing the oracle (jax.value_and_grad)"
        value, expected_nodes, expected_grads = oracle[g]
        ctx.doing = ""
        value_scale = max(float(np.abs(v).max()) for v in expected_nodes)  # the largest value in the graph
        for k in range(len(program.steps)):  # the first wrong value names the op to look at
            i = n_leaves + k
            within = _within(nodes[i].data, expected_nodes[i], value_scale)
            if within is None:
                ctx.compare(nodes[i].data, expected_nodes[i], RANDOM, scale=value_scale, against="jnp",
                            what=f"value of {program.line(k)}")
            _note(ctx, within, f"value of a node of random graph {g + 1}")
        ctx.doing = "computing " + program.loss_line()
        loss = _as_tensor(ctx, loss_of(program, nodes, program.weights), T, "the loss")
        ctx.doing = ""
        ctx.compare(loss.data, value, RANDOM, what="value of the loss", against="jnp")

        ctx.doing = "calling loss.backward()"
        loss.backward()
        ctx.doing = ""
        names = [program.name(i) for i in range(n_leaves)]
        leaf_grads = [_leaf_grad(ctx, nodes[i], f"leaf {names[i]}") for i in range(n_leaves)]
        scale = max(float(np.abs(g).max()) for g in expected_grads)  # the largest gradient in the graph
        if any(_within(leaf_grads[i], expected_grads[i], scale) is None for i in range(n_leaves)):
            # from the loss backwards, the first node whose gradient is wrong: every node that
            # uses it has a right gradient, so the fault is in one of their backward functions
            for i in reversed(range(len(nodes))):
                got = nodes[i].grad
                if got is not None and _within(got, expected_grads[i], scale) is None:
                    users = "; ".join(program.users(i))
                    ctx.compare(got, expected_grads[i], RANDOM, scale=scale, against=ORACLE,
                                what=f"gradient of {program.name(i)} (its users' gradients are right: look "
                                     f"at the backward of {users})")
        for i in range(n_leaves):
            ctx.compare(leaf_grads[i], expected_grads[i], RANDOM, scale=scale, against=ORACLE,
                        what=f"gradient of leaf {names[i]}")
        _after_backward(ctx, dict(zip(names, nodes)), dict(zip(names, program.leaves)), None, None)


CHECKS = {
    "backward": check_backward,
    "elementwise": program_check(ELEMENTWISE_PROGRAMS, ELEMENTWISE),
    "unary": program_check(UNARY_PROGRAMS, UNARY),
    "matmul": program_check(MATMUL_PROGRAMS, MATMUL),
    "reductions": program_check(REDUCTION_PROGRAMS, REDUCTION),
    "shape_ops": program_check(SHAPE_PROGRAMS, ELEMENTWISE),
    "random_graphs": check_random_graphs,
}
