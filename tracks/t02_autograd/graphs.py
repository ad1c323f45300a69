"""Random programs for topic 02's ``random_graphs`` check, and the interpreters every check runs programs with.

A *program* is a list of steps over numbered nodes: the leaves (the inputs)
come first, then one node per step. :data:`OPS` is the one table of
operations: for each, how it is written (the line a failure prints) and how
it is computed. The same step runs on the learner's Tensors (``F = TENSOR``),
on ``jnp`` arrays for the oracle (``F = JAX``) and on NumPy arrays
(``F = NUMPY``), which the generator uses to keep every value in a safe
range; ``F`` supplies the four functions arrays spell differently (``exp``,
``log``, ``tanh``, ``relu``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from fdl.check import compile_fast

__all__ = ["TENSOR", "JAX", "NUMPY", "OPS", "Op", "Step", "Program", "apply_step", "loss_of", "run_numpy",
           "random_program", "GraphOracle", "compiled", "brief"]


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


def brief(x: np.ndarray) -> str:
    return f"{x.dtype.name} {x.shape}"


# Compiling is the oracle's cost: XLA on a CPU spends ~0.05-0.1 s on any executable, even one op, and
# running eagerly compiles every primitive apart (20 s for one seed's graphs, against 2 s compiled). So
# programs are compiled in small groups (one executable per group, cached by fdl.check.compile_fast,
# which bounds how many it keeps), keyed by the programs' structure and input shapes.
def compiled(key, fn: Callable, *args):
    """``jax.jit(fn)`` compiled for ``args`` (the checker's fast options), once per ``key``."""
    import jax

    return compile_fast(key, jax.jit(fn), *args)


# --------------------------------------------------------------------------- the operations
@dataclass(frozen=True)
class Op:
    """One operation: ``family`` (how the generator draws it), its text and its computation.

    ``text(param, *names)`` is the Python expression; ``apply(F, param, *args)`` its value.
    """

    family: str
    text: Callable[..., str]
    apply: Callable[..., Any]


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


def _method(name: str) -> Op:
    return Op("unary", lambda p, a: f"{a}.{name}()", lambda F, p, a: getattr(F, name)(a))


def _reduction(name: str) -> Op:
    return Op("reduce", lambda p, a: f"{a}.{name}(axis={p[0]!r}, keepdims={p[1]})",
              lambda F, p, a: getattr(a, name)(axis=p[0], keepdims=p[1]))


# name: Op. Scalar ops' param is the Python number; reductions' (axis, keepdims); reshape's (shape, as
# separate arguments); transpose's "T", None (no axes) or a permutation; getitem's the index parts.
OPS: dict[str, Op] = {
    "add": Op("binary", lambda p, a, b: f"{a} + {b}", lambda F, p, a, b: a + b),
    "sub": Op("binary", lambda p, a, b: f"{a} - {b}", lambda F, p, a, b: a - b),
    "mul": Op("binary", lambda p, a, b: f"{a} * {b}", lambda F, p, a, b: a * b),
    "div": Op("binary", lambda p, a, b: f"{a} / {b}", lambda F, p, a, b: a / b),
    "matmul": Op("matmul", lambda p, a, b: f"{a} @ {b}", lambda F, p, a, b: a @ b),
    "add_c": Op("scalar", lambda p, a: f"{a} + {p}", lambda F, p, a: a + p),
    "radd_c": Op("scalar", lambda p, a: f"{p} + {a}", lambda F, p, a: p + a),
    "sub_c": Op("scalar", lambda p, a: f"{a} - {p}", lambda F, p, a: a - p),
    "rsub_c": Op("scalar", lambda p, a: f"{p} - {a}", lambda F, p, a: p - a),
    "mul_c": Op("scalar", lambda p, a: f"{a} * {p}", lambda F, p, a: a * p),
    "rmul_c": Op("scalar", lambda p, a: f"{p} * {a}", lambda F, p, a: p * a),
    "div_c": Op("scalar", lambda p, a: f"{a} / {p}", lambda F, p, a: a / p),
    "rdiv_c": Op("scalar", lambda p, a: f"{p} / {a}", lambda F, p, a: p / a),
    "neg": Op("unary", lambda p, a: f"-{a}", lambda F, p, a: -a),
    "exp": _method("exp"),
    "log": _method("log"),
    "tanh": _method("tanh"),
    "relu": _method("relu"),
    "pow": Op("pow", lambda p, a: f"{a} ** {p}", lambda F, p, a: a ** p),
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "max": _reduction("max"),
    "reshape": Op("reshape", lambda p, a: f"{a}.reshape({', '.join(map(str, p[0])) if p[1] else p[0]})",
                  lambda F, p, a: a.reshape(*p[0]) if p[1] else a.reshape(p[0])),
    "transpose": Op("transpose",
                    lambda p, a: f"{a}.T" if p == "T" else f"{a}.transpose({', '.join(map(str, p or ()))})",
                    lambda F, p, a: a.T if p == "T" else a.transpose(*(p or ()))),
    "getitem": Op("getitem", lambda p, a: f"{a}[{_index_text(p)}]", lambda F, p, a: a[_index(p)]),
}


def _of_family(family: str) -> tuple[str, ...]:
    return tuple(name for name, op in OPS.items() if op.family == family)


@dataclass(frozen=True)
class Step:
    """One operation of a random program: ``op`` on the nodes ``args``, with a static ``param``."""

    op: str
    args: tuple[int, ...]
    param: Any = None


def apply_step(F, step: Step, args: list):
    """One step on Tensors, jnp arrays or NumPy arrays alike."""
    return OPS[step.op].apply(F, step.param, *args)


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
        return f"{self.name(len(self.leaves) + k)} = {OPS[step.op].text(step.param, *map(self.name, step.args))}"

    def loss_line(self) -> str:
        return "loss = " + " + ".join(f"({self.name(s)} * {self.name(s)} * w{j}).sum()"
                                      for j, s in enumerate(self.sinks))

    def text(self) -> str:
        lines = [f"{self.name(i)} = Tensor(<{brief(x)}>)" for i, x in enumerate(self.leaves)]
        lines += [self.line(k) for k in range(len(self.steps))]
        lines += [f"w{j} = <constant {brief(w)}, values in [0.5, 1.5)>" for j, w in enumerate(self.weights)]
        lines.append(self.loss_line())
        return "\n".join(lines)

    def users(self, i: int) -> list[str]:
        """The lines that use node ``i``: the backward functions that send it gradient."""
        used = [self.line(k) for k, s in enumerate(self.steps) if i in s.args]
        return used + (["the loss"] if i in self.sinks else [])

    @property
    def dtype(self) -> np.dtype:
        return self.leaves[0].dtype


def loss_of(program: Program, nodes: list, weights: list):
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


# --------------------------------------------------------------------------- the generator
# what a random value may be, so that checks test the engine, not floating point luck
MAX_ABS = 30.0  # no node larger: keeps exp and powers of it finite and well-conditioned
AWAY = 0.25  # log, fractional/negative powers and denominators stay this far from 0
# relu inputs and max runners-up stay this far (relative) from the kink: far beyond the rounding of a
# float32 graph (~1e-6 relative after ten operations), so float32 and float64 agree on every branch
KINK = 1e-4
CONSTANTS = (0.5, 1.5, 2.0, -0.75, 3.0)
POWERS = (2, 3, 0.5, -1, 1.5, -0.5)
FAMILIES = ("binary", "binary", "scalar", "scalar", "unary", "unary", "pow", "matmul", "reduce", "reshape",
            "transpose", "getitem")


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
        op = _pick(rng, _of_family("binary"))
        partners = [j for j, y in enumerate(nodes) if _broadcasts(x.shape, y.shape)
                    and (op != "div" or np.all(np.abs(y) > AWAY))]
        return Step(op, (i, _pick(rng, partners))) if partners else None
    if family == "scalar":
        op = _pick(rng, _of_family("scalar"))
        if op == "rdiv_c":
            i = _fitting(rng, nodes, i, lambda v: np.all(np.abs(v) > AWAY))
        return Step(op, (i,), _pick(rng, CONSTANTS)) if i is not None else None
    if family == "unary":
        op = _pick(rng, _of_family("unary"))
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
        op = _pick(rng, _of_family("reduce"))
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
        (("int", int(rng.integers(-n0, n0))),),  # negative indices too
        (("array", tuple(int(v) for v in rng.integers(0, n0, 3))),),  # repeats likely: accumulation
    ]
    if x.ndim >= 2:
        options.append((("...",), ("int", int(rng.integers(x.shape[-1])))))
        options.append((("slice", None, None, None), ("array", tuple(int(v) for v in rng.integers(0, x.shape[1], 3)))))
        options.append((("array", (0, n0 - 1, 0)), ("array", (0, 0, 0))))
    return Step("getitem", (i,), _pick(rng, options))


def _leaf_shapes(rng, square: bool, n_leaves: int) -> list[tuple[int, ...]]:
    """Sizes 2 to 4 (few shapes: each graph is compiled anyway, small ones compile fast).

    An oblong graph's leaves are an (n, m) matrix and shapes that broadcast
    against it or multiply it; a square graph's are all (n, n) matrices or
    batches of them, so every leaf (and every matmul, transpose and
    reduction of them) is square, where a transposed gradient keeps its shape.
    """
    if square:
        n = int(rng.integers(2, 5))
        return [(n, n)] + [_pick(rng, [(n, n), (n, n), (2, n, n)]) for _ in range(n_leaves - 1)]
    n, m, k = (int(d) for d in rng.permutation([2, 3, 4, 5])[:3])
    menu = [(n, m), (m,), (n, 1), (1, m), (), (m, k), (2, n, m), (k, n)]
    return [(n, m)] + [_pick(rng, menu) for _ in range(n_leaves - 1)]


def random_program(rng, *, square: bool = False, dtype=np.float64, leaves: int | None = None,
                   min_steps: int = 6, max_steps: int = 10) -> Program:
    """A random DAG of 2 to 4 leaves (or ``leaves``) and ``min_steps``..``max_steps`` ops whose values are all safe.

    Values are drawn and screened in float64, then the leaves and weights are
    cast to ``dtype``. Next to the values, ``moved[j]`` holds every node's
    value with leaf ``j`` scaled by random factors in [1, 1.002): a node that
    does not move although it is built from leaf ``j`` does not really depend
    on it, and is redrawn.
    """
    shapes = _leaf_shapes(rng, square, leaves or int(rng.integers(2, 5)))
    leaf_values = [np.asarray(rng.uniform(0.5, 2.0, s) if rng.random() < 0.4 else rng.standard_normal(s))
                   for s in shapes]
    nodes, steps = list(leaf_values), []
    ancestors = [{j} for j in range(len(leaf_values))]  # the leaves each node is built from
    moved = [[x * rng.uniform(1.0, 1.002, x.shape) if i == j else x for i, x in enumerate(leaf_values)]
             for j in range(len(leaf_values))]
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
    weights = [rng.uniform(0.5, 1.5, nodes[s].shape).astype(dtype) for s in sinks]
    return Program([x.astype(dtype) for x in leaf_values], steps, sinks, weights)


# --------------------------------------------------------------------------- the oracle
class GraphOracle:
    """``(loss, node values, dloss/dnode for every node)`` of random programs, by ``jax.value_and_grad``.

    Always in float64, from the program's leaves and weights (a float32
    program's are exactly representable): the expected values are the exact
    ones rounded once to the program's dtype, so only the checked engine's
    rounding counts. A zero *probe* is added to each step's value, so the
    gradient with respect to the probes is the gradient with respect to the
    nodes. Programs are compiled ``group`` at a time, on first use.
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
                    return loss_of(program, nodes, w), nodes

                results.append(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(x, p))
            return results

        def f64(arrays):
            return [np.asarray(v, np.float64) for v in arrays]

        leaves = [f64(program.leaves) for program in programs]
        probes = [[np.zeros(v.shape) for v in run_numpy(program)[len(program.leaves):]] for program in programs]
        weights = [f64(program.weights) for program in programs]
        key = ("graphs", tuple(program.text() for program in programs))
        out = compiled(key, losses, leaves, probes, weights)(leaves, probes, weights)
        results = []
        for program, ((value, nodes), (gx, gp)) in zip(programs, out):
            dtype = program.dtype
            results.append((np.asarray(value, dtype), [np.asarray(v, dtype) for v in nodes],
                            [np.asarray(g, dtype) for g in list(gx) + list(gp)]))
        return results
