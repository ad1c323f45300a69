"""Topic 02 checks: the learner's ``Tensor`` against ``jax.grad`` on the same programs.

A *program* is a Python function ``program(F, *leaves)`` written once with
operators and methods that NumPy-like arrays and Tensors share (``+ * / **
@``, ``.sum(axis)``, ``.reshape``, ``.T``, indexing); the four functions
arrays spell differently (``exp``, ``log``, ``tanh``, ``relu``) go through
``F``. Run with ``F = TENSOR`` on the learner's Tensors and with ``F = JAX``
on ``jnp`` arrays, the same text gives the value to check and the oracle:
``jax.vjp`` of the ``jnp`` program, in float64. Every case compares the
forward value and the gradient of every leaf.

``random_graphs`` generates programs: a random DAG over 2 to 4 leaves whose
operations are drawn from every primitive and derived op (see
:func:`random_program`), finished by a sum to a scalar. A failure prints the
program, and names the first tensor, from the output back, whose gradient is
wrong, with the operations that use it: the backward to look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from fdl.check import CheckFailure, Tolerance, compare, compile_fast, describe
from tracks.t01_tensor_ops import checks as t01_checks

__all__ = ["CHECKS", "TENSOR", "JAX", "NUMPY", "Step", "Program", "random_program", "run_numpy"]


# --------------------------------------------------------------------------- the three interpreters
class _TensorFunctions:
    """``F`` for Tensors: the functions are methods."""

    exp = staticmethod(lambda x: x.exp())
    log = staticmethod(lambda x: x.log())
    tanh = staticmethod(lambda x: x.tanh())
    relu = staticmethod(lambda x: x.relu())


class _JaxFunctions:
    """``F`` for the oracle. ``jax.nn.relu`` has derivative 0 at 0, as the engine must."""

    @staticmethod
    def exp(x):
        import jax.numpy as jnp

        return jnp.exp(x)

    @staticmethod
    def log(x):
        import jax.numpy as jnp

        return jnp.log(x)

    @staticmethod
    def tanh(x):
        import jax.numpy as jnp

        return jnp.tanh(x)

    @staticmethod
    def relu(x):
        import jax

        return jax.nn.relu(x)


class _NumpyFunctions:
    """``F`` for plain NumPy: used only to generate random programs with safe values."""

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    tanh = staticmethod(np.tanh)
    relu = staticmethod(lambda x: np.maximum(x, 0))


TENSOR, JAX, NUMPY = _TensorFunctions, _JaxFunctions, _NumpyFunctions


# --------------------------------------------------------------------------- samplers
def normal(rng, shape):
    return np.asarray(rng.standard_normal(shape))


def positive(rng, shape):
    """Values in [0.5, 2): safe for log, fractional powers and division."""
    return np.asarray(rng.uniform(0.5, 2.0, shape))


def small(rng, shape):
    """Values in [-1, 1): exp stays below e, where tanh' is still well above rounding."""
    return np.asarray(rng.uniform(-1.0, 1.0, shape))


def nonzero(rng, shape):
    """|x| in [0.5, 2), either sign: safe denominators, and away from relu's kink."""
    return positive(rng, shape) * np.where(rng.random(shape) < 0.5, -1.0, 1.0)


def ties(rng, shape):
    """Small integers: many entries share their slice's maximum."""
    return rng.integers(0, 3, shape).astype(np.float64)


def with_zeros(rng, shape):
    """Nonzero values with some exact zeros: relu's kink, where its derivative is 0."""
    x = nonzero(rng, shape)
    x[rng.random(shape) < 0.4] = 0.0
    return x


def float32(sample):
    def sample32(rng, shape):
        return sample(rng, shape).astype(np.float32)

    return sample32


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


def _brief(x: np.ndarray) -> str:
    return f"{x.dtype.name} {x.shape}"


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


# Compiling is the oracle's cost: XLA on a CPU spends ~0.05-0.1 s on any executable, even one op, and
# running eagerly compiles every primitive apart. So programs are compiled in small groups (one executable
# per group, cached for the process, keyed by the programs' structure and input shapes).
def compiled(key, fn: Callable, *args):
    """``jax.jit(fn)`` compiled for ``args`` (the checker's fast options), once per ``key``."""
    import jax

    return compile_fast(key, jax.jit(fn), *args)


def _signature(arrays) -> tuple:
    return tuple((x.shape, x.dtype.str) for x in arrays)


class Oracle:
    """``jax.vjp`` of fixed programs, all compiled together on first use.

    ``oracle[k]`` is ``(out, grads, cotangent)`` for program ``k``: the
    cotangent is ones for a one-element output, else random normal.
    """

    def __init__(self, programs: list[Prog], inputs: list[list[np.ndarray]], rng):
        self.programs, self.inputs, self.rng = programs, inputs, rng
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
        results = compiled(key, all_vjps, xs, cts)(xs, cts)
        return [(np.asarray(out), [np.asarray(g) for g in grads], ct) for (out, grads), ct in zip(results, cts)]


def check_program(ctx, p: Prog, leaves: list[np.ndarray], oracle: Oracle, k: int, tol: Tolerance) -> None:
    """Run ``p`` on the learner's Tensor and compare with ``oracle[k]``: the value, then each leaf's gradient.

    A one-element output is seeded by ``out.backward()``; any other by
    ``out.backward(g)`` for a random ``g`` (so the ops checks need ``backward``
    and the op under test, nothing else).
    """
    T = ctx.fn("Tensor")
    names = [name for name, _, _ in p.leaves]
    shapes = ", ".join(f"{n}: {_brief(x)}" for n, x in zip(names, leaves))
    ctx.case(f"{p.text}  with {shapes}" + (f"  [{p.label}]" if p.label else ""))

    ctx.doing = "making Tensors of the inputs"
    tensors = [T(x.copy()) for x in leaves]
    ctx.doing = f"computing {p.text} with your Tensor"
    out = _as_tensor(ctx, p.fn(TENSOR, *tensors), T, f"the result of {p.text}")
    ctx.doing = "computing the oracle (jax.vjp)"
    expected, grads, cotangent = oracle[k]
    ctx.doing = ""
    ctx.compare(out.data, expected, tol, what=f"value of {p.text}", against="jnp")

    if expected.size == 1:
        ctx.doing = "calling out.backward() (a one-element output: the seed is 1)"
        out.backward()
    else:
        ctx.doing = f"calling out.backward(g) with a random g of shape {expected.shape}"
        out.backward(cotangent.copy())
    ctx.doing = ""
    for name, t, g in zip(names, tensors, grads):
        ctx.compare(_leaf_grad(ctx, t, f"leaf {name}"), g, tol, what=f"gradient of leaf {name}",
                    against="jax.vjp of the same program")


def check_programs(ctx, programs: list[Prog], tol: Tolerance) -> None:
    inputs = [[sample(ctx.rng, shape) for _, sample, shape in p.leaves] for p in programs]
    oracle = Oracle(programs, inputs, ctx.rng)
    for k, (p, leaves) in enumerate(zip(programs, inputs)):
        check_program(ctx, p, leaves, oracle, k, tol)


def program_check(programs: list[Prog], tol: Tolerance):
    def check(ctx) -> None:
        check_programs(ctx, programs, tol)

    check.__doc__ = f"{len(programs)} programs: values and leaf gradients against jax.vjp"
    return check


# --------------------------------------------------------------------------- tolerances
# Error budgets in eps of the case dtype, calibrated on the reference: each
# check run over 40 seeds (random graphs over 200 seeds, 4,800 graphs), the
# worst |diff| / allowed seen (the `ratio` of fdl.check.compare) kept below
# 0.2 of the tolerance. Worst ratios, in brackets: elementwise ops and shape
# ops round at most twice per value (0.11; shape ops are exact, 0);
# unary chains lose accuracy where tanh' = 1 - tanh^2 is small (0.14);
# matmul and reductions sum in another order than XLA (0.17, 0.17); the
# backward programs (0.14) and the 10,000-step chain (0.19) compound a few
# roundings per step; random graphs chain up to ten ops through log,
# division and powers, their absolute error measured against the graph's
# largest value or gradient (0.08).
ELEMENTWISE = Tolerance(16, 16)
UNARY = Tolerance(128, 128)
GRAPH = Tolerance(128, 128)
MATMUL = Tolerance(64, 64)
REDUCTION = Tolerance(32, 32)
DEEP = Tolerance(64, 64)
RANDOM = Tolerance(512, 512)


# --------------------------------------------------------------------------- backward: the engine itself
DEPTH = 10_000  # steps of the deep chain: 20,000 tensors, far beyond Python's recursion limit (1,000)

BACKWARD_PROGRAMS = [
    prog("a * a", lambda F, a: a * a, "one tensor as both operands: both contributions count", a=(normal, (3, 4))),
    prog("h = a.tanh(); h * b + h.exp()", lambda F, a, b: (lambda h: h * b + F.exp(h))(F.tanh(a)),
         "a diamond: h is used twice", a=(normal, (3, 4)), b=(normal, (3, 4))),
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
]


def _deep_chain_oracle(x: np.ndarray, cotangent: np.ndarray):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def value_and_vjp(x, cotangent):
        chain = lambda x: lax.fori_loop(0, DEPTH, lambda _, y: jnp.tanh(y + x), x)  # noqa: E731
        out, vjp = jax.vjp(chain, x)
        return out, vjp(cotangent)[0]

    args = (x, cotangent)
    out, grad = compiled(("deep chain", DEPTH, _signature(args)), value_and_vjp, *args)(*args)
    return np.asarray(out), np.asarray(grad)


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
    expected, grad = _deep_chain_oracle(x, cotangent)
    ctx.doing = ""
    ctx.compare(y.data, expected, DEEP, what="value at the end of the chain", against="jnp (lax.fori_loop)")
    ctx.doing = "calling y.backward(g) at the end of the chain"
    y.backward(cotangent.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, leaf, "x"), grad, DEEP, what="gradient of leaf x", against="jax.vjp of the chain")


# two outputs of the same leaves, for the accumulation case
ACCUMULATE = [
    prog("(a * b).tanh() * a", lambda F, a, b: F.tanh(a * b) * a, a=(normal, (3, 4)), b=(normal, (4,))),
    prog("b.exp() + a * a", lambda F, a, b: F.exp(b) + a * a, a=(normal, (3, 4)), b=(normal, (4,))),
]


def _check_accumulation(ctx, T, a: np.ndarray, b: np.ndarray, oracle: Oracle, first: int) -> None:
    ctx.case("gradients accumulate: out.backward(g) twice, then zero_grad(), then two different outputs")
    f, h = ACCUMULATE
    ta, tb = T(a.copy()), T(b.copy())
    ctx.doing = "computing the oracle (jax.vjp)"
    _, (fa, fb), g = oracle[first]
    _, (ha, hb), k = oracle[first + 1]

    ctx.doing = f"calling out.backward(g) twice on out = {f.text}"
    out = f.fn(TENSOR, ta, tb)
    out.backward(g.copy())
    out.backward(g.copy())
    ctx.doing = ""
    against = "jax.vjp, summed over the calls"
    ctx.compare(_leaf_grad(ctx, ta, "a"), 2 * fa, GRAPH, what="a.grad after two backward calls", against=against)
    ctx.compare(_leaf_grad(ctx, tb, "b"), 2 * fb, GRAPH, what="b.grad after two backward calls", against=against)

    ta.zero_grad()
    tb.zero_grad()
    if ta.grad is not None or tb.grad is not None:
        ctx.fail(f"after a.zero_grad() a.grad should be None, got {describe(ta.grad)}")
    ctx.doing = f"calling backward on a second output, {h.text}, after zero_grad()"
    h.fn(TENSOR, ta, tb).backward(k.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, ta, "a"), ha, GRAPH, what="a.grad after zero_grad() and one backward",
                against="jax.vjp")
    ctx.doing = f"calling backward on a new graph of {f.text}, without zero_grad()"
    f.fn(TENSOR, ta, tb).backward(g.copy())
    ctx.doing = ""
    ctx.compare(_leaf_grad(ctx, ta, "a"), ha + fa, GRAPH, what="a.grad after two different outputs",
                against=against)
    ctx.compare(_leaf_grad(ctx, tb, "b"), hb + fb, GRAPH, what="b.grad after two different outputs",
                against=against)


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
    inputs = [[sample(ctx.rng, shape) for _, sample, shape in p.leaves] for p in BACKWARD_PROGRAMS]
    a, b = normal(ctx.rng, (3, 4)), normal(ctx.rng, (4,))
    oracle = Oracle(BACKWARD_PROGRAMS + ACCUMULATE, inputs + [[a, b], [a, b]], ctx.rng)
    for k, (p, leaves) in enumerate(zip(BACKWARD_PROGRAMS, inputs)):
        check_program(ctx, p, leaves, oracle, k, GRAPH)
    _check_errors_and_unused(ctx, T)
    _check_accumulation(ctx, T, a, b, oracle, len(BACKWARD_PROGRAMS))
    _check_deep_chain(ctx, T)


# --------------------------------------------------------------------------- the ops
C4 = np.array([0.5, -1.0, 2.0, 1.5])  # a NumPy constant: needs no gradient

ELEMENTWISE_PROGRAMS = [
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
    prog("2.5 - a * 2 + 1.5", lambda F, a: 2.5 - a * 2 + 1.5, "Python numbers on either side", a=(normal, (3,))),
    prog("3.0 / a + 0.5 * a", lambda F, a: 3.0 / a + 0.5 * a, "number / Tensor, number * Tensor",
         a=(nonzero, (2, 3))),
    prog("a * C - C", lambda F, a: a * C4 - C4, "C a NumPy array (4,): Tensor * array, Tensor - array",
         a=(normal, (3, 4))),
    prog("C - a / C", lambda F, a: C4 - a / C4, "array on the left: array - Tensor", a=(normal, (2, 4))),
    prog("a * b + a", lambda F, a, b: a * b + a, "float32 stays float32", a=(float32(normal), (3, 4)),
         b=(float32(normal), (4,))),
    prog("a * 2 - 1", lambda F, a: a * 2 - 1, "float32 with Python numbers stays float32",
         a=(float32(normal), (3,))),
]

UNARY_PROGRAMS = [
    prog("a.exp()", lambda F, a: F.exp(a), a=(normal, (3, 4))),
    prog("a.exp()", lambda F, a: F.exp(a), a=(normal, ())),
    prog("a.log()", lambda F, a: F.log(a), a=(positive, (3, 4))),
    prog("a.log()", lambda F, a: F.log(a), a=(positive, (1, 1, 5))),
    prog("a.tanh()", lambda F, a: F.tanh(a), a=(normal, (3, 4))),
    prog("a.tanh()", lambda F, a: F.tanh(a), a=(normal, (2, 3, 5))),
    prog("a.relu()", lambda F, a: F.relu(a), a=(nonzero, (3, 4))),
    prog("a.relu()", lambda F, a: F.relu(a), "exact zeros: relu'(0) = 0, as in JAX and PyTorch",
         a=(with_zeros, (4, 5))),
    prog("a.exp().tanh() * b.log()", lambda F, a, b: F.tanh(F.exp(a)) * F.log(b), "a chain",
         a=(small, (2, 3)), b=(positive, (2, 3))),
    prog("a.relu().exp() + a.tanh()", lambda F, a: F.exp(F.relu(a)) + F.tanh(a), "a used twice",
         a=(nonzero, (3,))),
    prog("a.tanh()", lambda F, a: F.tanh(a), "float32 stays float32", a=(float32(normal), (4, 3))),
    prog("a.log()", lambda F, a: F.log(a), "float32 stays float32", a=(float32(positive), (5,))),
]

W34 = np.array([[0.5, -1.0, 0.25, 2.0], [1.0, 0.0, -0.5, 1.5], [-2.0, 1.0, 0.75, -0.25]])  # (3, 4) constant

MATMUL_PROGRAMS = [
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
    prog("W @ a", lambda F, a: W34 @ a, "W a NumPy (3, 4) array on the left", a=(normal, (4, 2))),
    prog("(a @ b).tanh() @ c", lambda F, a, b, c: F.tanh(a @ b) @ c, "two layers", a=(normal, (5, 3)),
         b=(normal, (3, 4)), c=(normal, (4, 2))),
    prog("a @ b", lambda F, a, b: a @ b, "float32 stays float32", a=(float32(normal), (2, 3, 4)),
         b=(float32(normal), (4, 2))),
]

# (shape, axis, keepdims): topic 01's reductions, and a 0-d tensor
REDUCE = [*t01_checks.REDUCE, ((), None, False)]


def _reduction(method: str, shape, axis, keepdims, sample=normal, label="") -> Prog:
    text = f"a.{method}(axis={axis!r}, keepdims={keepdims})"
    return prog(text, lambda F, a: getattr(a, method)(axis=axis, keepdims=keepdims), label, a=(sample, shape))


REDUCTION_PROGRAMS = (
    [_reduction("sum", *r) for r in REDUCE]
    + [_reduction("mean", *r) for r in REDUCE[:-1]]
    + [_reduction("max", *r) for r in REDUCE]
    + [_reduction("max", (4, 5), 1, False, ties, "tied maxima share the gradient equally"),
       _reduction("max", (3, 4), None, False, ties, "tied maxima share the gradient equally"),
       _reduction("max", (2, 3, 4), (0, 2), True, ties, "tied maxima share the gradient equally"),
       prog("a.sum(axis=0) * a.max(axis=0)", lambda F, a: a.sum(axis=0) * a.max(axis=0), "a used twice",
            a=(normal, (3, 4))),
       prog("a.mean(axis=1, keepdims=True) - a", lambda F, a: a.mean(axis=1, keepdims=True) - a,
            "centring rows", a=(normal, (3, 5))),
       _reduction("sum", (3, 4), 1, False, float32(normal), "float32 stays float32"),
       _reduction("max", (3, 4), 0, True, float32(normal), "float32 stays float32")]
)

I302 = np.array([0, 2, 0])

SHAPE_PROGRAMS = [
    prog("a.reshape(4, 3)", lambda F, a: a.reshape(4, 3), a=(normal, (3, 4))),
    prog("a.reshape((6, 4))", lambda F, a: a.reshape((6, 4)), "a tuple", a=(normal, (2, 3, 4))),
    prog("a.reshape(-1)", lambda F, a: a.reshape(-1), a=(normal, (2, 3, 4))),
    prog("a.reshape(2, 2, 3)", lambda F, a: a.reshape(2, 2, 3), a=(normal, (12,))),
    prog("a.transpose()", lambda F, a: a.transpose(), "no axes reverses them", a=(normal, (3, 4))),
    prog("a.transpose(1, 2, 0)", lambda F, a: a.transpose(1, 2, 0), a=(normal, (2, 3, 4))),
    prog("a.transpose((2, 0, 1))", lambda F, a: a.transpose((2, 0, 1)), "a tuple", a=(normal, (2, 3, 4))),
    prog("a.transpose(-1, 0, 1)", lambda F, a: a.transpose(-1, 0, 1), "negative axes", a=(normal, (2, 3, 4))),
    prog("a.transpose(0, 2, 3, 1)", lambda F, a: a.transpose(0, 2, 3, 1), a=(normal, (2, 3, 4, 5))),
    prog("a.T", lambda F, a: a.T, a=(normal, (2, 3, 4))),
    prog("a[1:3]", lambda F, a: a[1:3], "a slice", a=(normal, (4, 3))),
    prog("a[:, ::2]", lambda F, a: a[:, ::2], "a strided slice", a=(normal, (3, 5))),
    prog("a[::-1]", lambda F, a: a[::-1], "a reversed slice", a=(normal, (4, 2))),
    prog("a[1]", lambda F, a: a[1], "an integer drops the axis", a=(normal, (3, 4))),
    prog("a[..., 0]", lambda F, a: a[..., 0], a=(normal, (2, 3, 4))),
    prog("a[np.array([0, 2, 0])]", lambda F, a: a[I302], "repeated indices: row 0 is picked twice",
         a=(normal, (3, 4))),
    prog("a[:, np.array([1, 1, 3])]", lambda F, a: a[:, np.array([1, 1, 3])], "repeated column indices",
         a=(normal, (2, 5))),
    prog("a[np.array([[0, 1], [1, 1]])]", lambda F, a: a[np.array([[0, 1], [1, 1]])], "a 2-D index array",
         a=(normal, (3, 2))),
    prog("a[np.array([0, 2, 0]), np.array([1, 3, 1])]", lambda F, a: a[I302, np.array([1, 3, 1])],
         "paired index arrays: element (0, 1) twice", a=(normal, (3, 4))),
    prog("a[1:, np.array([0, 0])]", lambda F, a: a[1:, np.array([0, 0])], "a slice and repeats",
         a=(normal, (3, 2))),
    prog("a.reshape(4, 3).T[::2] * a[0]", lambda F, a: a.reshape(4, 3).T[::2] * a[0],
         "several shape ops; a used twice", a=(normal, (3, 4))),
    prog("a.T.reshape(2, 6)", lambda F, a: a.T.reshape(2, 6), "float32 stays float32",
         a=(float32(normal), (3, 4))),
]


# --------------------------------------------------------------------------- random expression graphs
@dataclass(frozen=True)
class Step:
    """One operation of a random program: ``op`` on the nodes ``args``, with a static ``param``."""

    op: str
    args: tuple[int, ...]
    param: Any = None


@dataclass
class Program:
    """Leaves (the inputs), steps (each makes one node), and the loss over the sinks.

    Node ``i`` is leaf ``i`` for ``i < len(leaves)``, then the steps' results
    in order. The loss is ``sum over sinks s of (s * s * w_s).sum()``: every
    node no step uses is a sink, so every leaf reaches the loss, and the
    positive weights ``w_s`` keep the loss free of cancellation.
    """

    leaves: list[np.ndarray]
    steps: list[Step]
    sinks: list[int]
    weights: list[np.ndarray]

    def name(self, i: int) -> str:
        return "abcd"[i] if i < len(self.leaves) else f"n{i}"

    def line(self, k: int) -> str:
        """The Python line that computes step ``k``."""
        step = self.steps[k]
        return f"{self.name(len(self.leaves) + k)} = {_expression(step, [self.name(i) for i in step.args])}"

    def loss_line(self) -> str:
        return "loss = " + " + ".join(f"({self.name(s)} * {self.name(s)} * w{j}).sum()"
                                      for j, s in enumerate(self.sinks))

    def text(self) -> str:
        lines = [f"{self.name(i)} = Tensor(<{_brief(x)}>)" for i, x in enumerate(self.leaves)]
        lines += [self.line(k) for k in range(len(self.steps))]
        lines += [f"w{j} = <constant {_brief(w)}, values in [0.5, 1.5)>" for j, w in enumerate(self.weights)]
        lines.append(self.loss_line())
        return "\n".join(lines)

    def users(self, i: int) -> list[str]:
        """The lines that use node ``i``: the backward functions that send it gradient."""
        used = [self.line(k) for k, s in enumerate(self.steps) if i in s.args]
        return used + (["the loss"] if i in self.sinks else [])


BINARY = ("add", "sub", "mul", "div")
SCALAR_TEXT = {"add_c": "{a} + {c}", "radd_c": "{c} + {a}", "sub_c": "{a} - {c}", "rsub_c": "{c} - {a}",
               "mul_c": "{a} * {c}", "rmul_c": "{c} * {a}", "div_c": "{a} / {c}", "rdiv_c": "{c} / {a}"}


def _index(param) -> tuple:
    """The index a ``getitem`` step's param stands for (index arrays stored as tuples)."""
    parts = []
    for kind, *value in param:
        if kind == "slice":
            parts.append(slice(*value))
        elif kind == "int":
            parts.append(value[0])
        elif kind == "...":
            parts.append(Ellipsis)
        else:  # "array"
            parts.append(np.array(value[0]))
    return tuple(parts)


def _index_text(param) -> str:
    parts = []
    for kind, *value in param:
        if kind == "slice":
            start, stop, step = value
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            parts.append(text + (f":{step}" if step is not None else ""))
        elif kind == "int":
            parts.append(str(value[0]))
        elif kind == "...":
            parts.append("...")
        else:
            parts.append(f"np.array({list(value[0])})")
    return ", ".join(parts)


def _expression(step: Step, names: list[str]) -> str:
    op, p = step.op, step.param
    a = names[0]
    if op in BINARY:
        return f"{a} {dict(add='+', sub='-', mul='*', div='/')[op]} {names[1]}"
    if op == "matmul":
        return f"{a} @ {names[1]}"
    if op in SCALAR_TEXT:
        return SCALAR_TEXT[op].format(a=a, c=p)
    if op == "neg":
        return f"-{a}"
    if op == "pow":
        return f"{a} ** {p}"
    if op in ("exp", "log", "tanh", "relu"):
        return f"{a}.{op}()"
    if op in ("sum", "mean", "max"):
        axis, keepdims = p
        return f"{a}.{op}(axis={axis!r}, keepdims={keepdims})"
    if op == "reshape":
        shape, varargs = p
        return f"{a}.reshape({', '.join(map(str, shape)) if varargs else shape})"
    if op == "transpose":
        return f"{a}.T" if p == "T" else f"{a}.transpose({', '.join(map(str, p or ()))})"
    if op == "getitem":
        return f"{a}[{_index_text(p)}]"
    raise ValueError(f"unknown op {op!r}")


def apply_step(F, step: Step, args: list):
    """One step on Tensors, jnp arrays or NumPy arrays alike (``F`` supplies exp/log/tanh/relu)."""
    op, p = step.op, step.param
    a = args[0]
    if op == "add":
        return a + args[1]
    if op == "sub":
        return a - args[1]
    if op == "mul":
        return a * args[1]
    if op == "div":
        return a / args[1]
    if op == "matmul":
        return a @ args[1]
    if op == "add_c":
        return a + p
    if op == "radd_c":
        return p + a
    if op == "sub_c":
        return a - p
    if op == "rsub_c":
        return p - a
    if op == "mul_c":
        return a * p
    if op == "rmul_c":
        return p * a
    if op == "div_c":
        return a / p
    if op == "rdiv_c":
        return p / a
    if op == "neg":
        return -a
    if op == "pow":
        return a ** p
    if op in ("exp", "log", "tanh", "relu"):
        return getattr(F, op)(a)
    if op in ("sum", "mean", "max"):
        return getattr(a, op)(axis=p[0], keepdims=p[1])
    if op == "reshape":
        shape, varargs = p
        return a.reshape(*shape) if varargs else a.reshape(shape)
    if op == "transpose":
        return a.T if p == "T" else a.transpose(*(p or ()))
    if op == "getitem":
        return a[_index(p)]
    raise ValueError(f"unknown op {op!r}")


def _loss(program: Program, nodes: list, weights: list):
    total = None
    for s, w in zip(program.sinks, weights):
        term = (nodes[s] * nodes[s] * w).sum()
        total = term if total is None else total + term
    return total


def run_numpy(program: Program) -> list[np.ndarray]:
    """Every node's value, in plain NumPy (how the generator keeps values in safe ranges)."""
    nodes = list(program.leaves)
    for step in program.steps:
        nodes.append(np.asarray(apply_step(NUMPY, step, [nodes[i] for i in step.args])))
    return nodes


# what a random value may be, so that checks test the engine, not floating point luck
MAX_ABS = 30.0  # no node larger: keeps exp and powers of it finite and well-conditioned
AWAY = 0.25  # log, fractional/negative powers and denominators stay this far from 0
KINK = 1e-6  # relu inputs and max runners-up stay this far (relative) from the kink
CONSTANTS = (0.5, 1.5, 2.0, -0.75, 3.0)
POWERS = (2, 3, 0.5, -1, 1.5, -0.5)
FAMILIES = ("binary", "binary", "scalar", "scalar", "unary", "unary", "pow", "matmul", "reduce", "reshape", "transpose",
            "getitem")


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def _broadcasts(s1, s2) -> bool:
    try:
        np.broadcast_shapes(s1, s2)
        return True
    except ValueError:
        return False


def _independent(value: np.ndarray, moved: np.ndarray) -> bool:
    """``value`` did not move when a leaf it is built from moved by ~0.1%: an identity in disguise.

    ``x / x``, ``x - x``, ``(a * b) / b`` do not depend on some of their inputs,
    so those inputs' gradients are sums that cancel exactly in exact arithmetic
    and leave only rounding noise, different in any two correct engines.
    """
    return bool(np.all(np.abs(moved - value) <= 1e-9 * (1 + np.abs(value))))


def _far_from_kink(v: np.ndarray) -> bool:
    return bool(np.all(np.abs(v) > KINK * (1 + np.abs(v).max())))


def _clear_maximum(v: np.ndarray, axis) -> bool:
    """Each slice's maximum is tied exactly or beats the runner-up clearly (ties must be exact)."""
    top = v.max(axis=axis, keepdims=True)
    below = np.where(v < top, v, -np.inf).max(axis=axis, keepdims=True)
    return bool(np.all(top - below > KINK * (1 + np.abs(top))))


def _fitting(rng, nodes: list[np.ndarray], i: int, fits) -> int | None:
    """``i`` if node ``i`` fits the op's domain (log: positive...), else a random node that does, else None."""
    if fits(nodes[i]):
        return i
    candidates = [j for j, v in enumerate(nodes) if fits(v)]
    return _pick(rng, candidates) if candidates else None


def _propose(rng, nodes: list[np.ndarray]) -> Step | None:
    """A random step on existing nodes, or None when the drawn op fits no node."""
    last = len(nodes) - 1
    i = last if rng.random() < 0.5 else int(rng.integers(len(nodes)))  # recent nodes, and reuse of old ones
    x = nodes[i]
    family = _pick(rng, FAMILIES)
    if family == "binary":
        op = _pick(rng, BINARY)
        partners = [j for j, y in enumerate(nodes) if _broadcasts(x.shape, y.shape)
                    and (op != "div" or np.all(np.abs(y) > AWAY))]
        return Step(op, (i, _pick(rng, partners))) if partners else None
    if family == "scalar":
        op = _pick(rng, tuple(SCALAR_TEXT))
        if op == "rdiv_c":
            i = _fitting(rng, nodes, i, lambda v: np.all(np.abs(v) > AWAY))
        return Step(op, (i,), _pick(rng, CONSTANTS)) if i is not None else None
    if family == "unary":
        op = _pick(rng, ("exp", "log", "tanh", "relu", "neg"))
        fits = {"exp": lambda v: v.max() < 3, "log": lambda v: np.all(v > AWAY), "relu": _far_from_kink}
        i = _fitting(rng, nodes, i, fits[op]) if op in fits else i
        return Step(op, (i,)) if i is not None else None
    if family == "pow":
        p = _pick(rng, POWERS)
        i = i if p in (2, 3) else _fitting(rng, nodes, i, lambda v: np.all(v > AWAY))
        return Step("pow", (i,), p) if i is not None else None
    if family == "matmul":
        partners = [j for j, y in enumerate(nodes) if x.ndim >= 2 and y.ndim >= 2
                    and y.shape[-2] == x.shape[-1] and _broadcasts(x.shape[:-2], y.shape[:-2])]
        return Step("matmul", (i, _pick(rng, partners))) if partners else None
    if family == "reduce":
        op = _pick(rng, ("sum", "mean", "max"))
        axes = [None] + [a for a in range(-x.ndim, x.ndim)]
        if x.ndim >= 2:
            axes.append(tuple(int(a) for a in rng.choice(x.ndim, 2, replace=False)))
        axis = _pick(rng, axes)
        if op == "max" and not _clear_maximum(x, axis):
            return None
        return Step(op, (i,), (axis, bool(rng.random() < 0.4)))
    if family == "reshape":
        if x.ndim == 0:
            return None
        options = [(-1,), x.shape[::-1], (1,) + x.shape]
        divisors = [d for d in range(2, x.size) if x.size % d == 0]
        if divisors:
            d = _pick(rng, divisors)
            options.append((x.size // d, d))
        return Step("reshape", (i,), (tuple(int(s) for s in _pick(rng, options)), bool(rng.random() < 0.5)))
    if family == "transpose":
        if x.ndim < 2:
            return None
        choice = rng.random()
        param = "T" if choice < 0.3 else None if choice < 0.5 else tuple(int(a) for a in rng.permutation(x.ndim))
        return Step("transpose", (i,), param)
    # getitem
    if x.ndim == 0 or x.shape[0] < 2:
        return None
    n0 = x.shape[0]
    options = [
        (("slice", 1, None, None),),
        (("slice", None, None, -1),),
        (("int", int(rng.integers(n0))),),
        (("array", tuple(int(v) for v in rng.integers(0, n0, 3))),),  # repeats likely: accumulation
    ]
    if x.ndim >= 2:
        options.append((("...",), ("int", int(rng.integers(x.shape[-1])))))
        options.append((("slice", None, None, None), ("array", tuple(int(v) for v in rng.integers(0, x.shape[1], 3)))))
        options.append((("array", (0, n0 - 1, 0)), ("array", (0, 0, 0))))
    return Step("getitem", (i,), _pick(rng, options))


def random_program(rng, *, min_steps: int = 6, max_steps: int = 10) -> Program:
    """A random DAG of 2 to 4 leaves and ``min_steps``..``max_steps`` ops whose values are all safe.

    Next to the values, ``moved[j]`` holds every node's value with leaf ``j``
    scaled by random factors in [1, 1.002): a node that does not move although
    it is built from leaf ``j`` does not really depend on it, and is redrawn.
    """
    n, m, k = (int(d) for d in rng.permutation([2, 3, 4, 5])[:3])
    menu = [(n, m), (m,), (n, 1), (1, m), (), (m, k), (2, n, m), (k, n)]
    shapes = [(n, m)] + [_pick(rng, menu) for _ in range(int(rng.integers(1, 4)))]
    leaves = [(positive if rng.random() < 0.4 else normal)(rng, s) for s in shapes]
    nodes, steps = list(leaves), []
    ancestors = [{j} for j in range(len(leaves))]  # the leaves each node is built from
    moved = [[x * rng.uniform(1.0, 1.002, x.shape) if i == j else x for i, x in enumerate(leaves)]
             for j in range(len(leaves))]
    target = int(rng.integers(min_steps, max_steps + 1))
    for _ in range(50 * target):
        if len(steps) == target:
            break
        step = _propose(rng, nodes)
        if step is None:
            continue
        with np.errstate(all="ignore"):
            value = np.asarray(apply_step(NUMPY, step, [nodes[i] for i in step.args]))
            if value.size == 0 or value.ndim > 4 or value.size > 60 or not np.all(np.isfinite(value)) \
                    or np.abs(value).max() > MAX_ABS:
                continue
            built_from = set().union(*(ancestors[i] for i in step.args))
            shifted = {j: np.asarray(apply_step(NUMPY, step, [moved[j][i] for i in step.args])) for j in built_from}
        if any(_independent(value, shifted[j]) for j in built_from):
            continue
        nodes.append(value)
        steps.append(step)
        ancestors.append(built_from)
        for j, values in enumerate(moved):
            values.append(shifted.get(j, value))
    used = {i for s in steps for i in s.args}
    sinks = [i for i in range(len(nodes)) if i not in used]
    weights = [rng.uniform(0.5, 1.5, nodes[s].shape) for s in sinks]
    return Program(leaves, steps, sinks, weights)


class GraphOracle:
    """``(loss, node values, dloss/dnode for every node)`` of random programs, by ``jax.value_and_grad``.

    A zero *probe* is added to each step's value, so the gradient with respect
    to the probes is the gradient with respect to the nodes. Programs are
    compiled ``group`` at a time, on first use.
    """

    def __init__(self, programs: list[Program], group: int = 4):
        self.programs, self.group = programs, group
        self.results: dict[int, tuple] = {}

    def __getitem__(self, g: int):
        if g not in self.results:
            start = g - g % self.group
            batch = self.programs[start:start + self.group]
            self.results.update(zip(range(start, start + len(batch)), self._compute(batch)))
        return self.results[g]

    @staticmethod
    def _compute(programs: list[Program]):
        import jax

        def losses(leaves, probes, weights):
            results = []
            for program, x, p, w in zip(programs, leaves, probes, weights):
                def loss(x, p, program=program, w=w):
                    nodes = list(x)
                    for step, probe in zip(program.steps, p):
                        nodes.append(apply_step(JAX, step, [nodes[i] for i in step.args]) + probe)
                    return _loss(program, nodes, w), nodes

                results.append(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(x, p))
            return results

        leaves = [list(program.leaves) for program in programs]
        probes = [[np.zeros_like(v) for v in run_numpy(program)[len(program.leaves):]] for program in programs]
        weights = [list(program.weights) for program in programs]
        key = ("graphs", tuple(program.text() for program in programs))
        out = compiled(key, losses, leaves, probes, weights)(leaves, probes, weights)
        return [(np.asarray(value), [np.asarray(v) for v in nodes], [np.asarray(g) for g in list(gx) + list(gp)])
                for (value, nodes), (gx, gp) in out]


def _graph_tolerance(expected: np.ndarray, scale: float, tol: Tolerance) -> Tolerance:
    """``tol``, with its absolute part measured against ``scale`` when that is larger than this array.

    In a graph, rounding errors come from the terms a value or gradient is
    made of, not from the result: ``log(x)`` near ``x = 1`` is small while its
    error is set by ``x``; a gradient can be small (or zero) while the terms
    it sums are not. The largest value (or gradient) of any node in the graph
    bounds those terms.
    """
    peak = float(np.abs(expected).max()) if expected.size else 0.0
    return tol if peak >= scale or peak == 0 else Tolerance(tol.rel, tol.abs * scale / peak, tol.power)


def _close(got, expected: np.ndarray, scale: float, tol: Tolerance) -> bool:
    """Silently: within the graph tolerance? (An all-zero expected value allows |got| <= atol * scale.)"""
    if isinstance(got, np.generic):
        got = np.asarray(got)
    if np.abs(expected).max(initial=0.0) == 0 and isinstance(got, np.ndarray) and got.shape == expected.shape \
            and got.dtype == expected.dtype:
        return bool(np.abs(got).max(initial=0.0) <= tol.bounds(expected.dtype)[1] * scale)
    try:
        compare(got, expected, _graph_tolerance(expected, scale, tol), what="", against="")
        return True
    except CheckFailure:
        return False


def _compare_in_graph(ctx, got, expected: np.ndarray, scale: float, *, what: str, against: str) -> None:
    if np.abs(expected).max(initial=0.0) == 0 and _close(got, expected, scale, RANDOM):
        return  # zero expected, rounding noise got: compare() would allow no error at all
    ctx.compare(got, expected, _graph_tolerance(expected, scale, RANDOM), what=what, against=against)


GRAPHS = 24  # random programs per check run
ORACLE = "jax.grad of the same program"


def check_random_graphs(ctx) -> None:
    T = ctx.fn("Tensor")
    programs = [random_program(ctx.rng) for _ in range(GRAPHS)]
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
            _compare_in_graph(ctx, nodes[i].data, expected_nodes[i], value_scale, what=f"value of {program.line(k)}",
                              against="jnp")
        ctx.doing = "computing " + program.loss_line()
        loss = _as_tensor(ctx, _loss(program, nodes, program.weights), T, "the loss")
        ctx.doing = ""
        ctx.compare(loss.data, value, RANDOM, what="value of the loss", against="jnp")

        ctx.doing = "calling loss.backward()"
        loss.backward()
        ctx.doing = ""
        leaf_grads = [_leaf_grad(ctx, nodes[i], f"leaf {program.name(i)}") for i in range(n_leaves)]
        scale = max(float(np.abs(g).max()) for g in expected_grads)  # the largest gradient in the graph
        if not all(_close(leaf_grads[i], expected_grads[i], scale, RANDOM) for i in range(n_leaves)):
            # from the loss backwards, the first node whose gradient is wrong: every node that
            # uses it has a right gradient, so the fault is in one of their backward functions
            for i in reversed(range(len(nodes))):
                got = nodes[i].grad
                if got is not None and not _close(got, expected_grads[i], scale, RANDOM):
                    users = "; ".join(program.users(i))
                    _compare_in_graph(ctx, got, expected_grads[i], scale, against=ORACLE,
                                      what=f"gradient of {program.name(i)} (its users' gradients are right: look "
                                           f"at the backward of {users})")
        for i in range(n_leaves):
            _compare_in_graph(ctx, leaf_grads[i], expected_grads[i], scale, against=ORACLE,
                              what=f"gradient of leaf {program.name(i)}")


CHECKS = {
    "backward": check_backward,
    "elementwise": program_check(ELEMENTWISE_PROGRAMS, ELEMENTWISE),
    "unary": program_check(UNARY_PROGRAMS, UNARY),
    "matmul": program_check(MATMUL_PROGRAMS, MATMUL),
    "reductions": program_check(REDUCTION_PROGRAMS, REDUCTION),
    "shape_ops": program_check(SHAPE_PROGRAMS, ELEMENTWISE),
    "random_graphs": check_random_graphs,
}
