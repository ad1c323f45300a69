"""Topic 02: each check catches bugs planted in the reference engine, for the planted reason.

``Tensor`` is a class, so bugs are planted by editing the reference's source
(``helpers.reference_source_with``): each edit's ``old`` text must occur
exactly once in reference.py.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import numpy as np
import pytest

from fdl.check import Status
from fdl.curriculum import find_topic
from fdl.track import check_topic, resolve
from tracks.t02_autograd import checks as C
from tracks.t02_autograd import graphs as G
from tracks.t02_autograd import reference as ref
from tracks.t02_autograd import run as R

from helpers import assert_source_bug_caught, shipped_stub

TOPIC = find_topic(2)


@dataclass(frozen=True)
class SourceBug:
    edits: tuple[tuple[str, str], ...]
    expect: tuple[str, ...]  # pieces of text the FAIL message must contain
    why: str


RECURSIVE_TOPO_SORT = SourceBug(
    ((
        "        order: list[Tensor] = []\n        visited: set[int] = set()\n",
        "        order, visited = [], set()\n\n"
        "        def visit(node):\n"
        "            if id(node) not in visited:\n"
        "                visited.add(id(node))\n"
        "                for parent in node._parents:\n"
        "                    visit(parent)\n"
        "                order.append(node)\n\n"
        "        visit(self)\n"
        "        return order\n",
    ),),
    ("RecursionError", "deep chain", "iterative traversal"),
    "a recursive topological sort: fine on small graphs, fails 20,000 tensors deep",
)

BUGS = {
    "backward": RECURSIVE_TOPO_SORT,
    "elementwise": SourceBug(
        (("return unbroadcast(g, a.shape), unbroadcast(g, b.shape)", "return g, g"),),
        ("gradient of leaf b: expected shape (4,)", "a + b"),
        "add's backward without unbroadcast",
    ),
    "unary": SourceBug(
        (("return (g / x,)  # d log(x)/dx = 1/x", "return (g * x,)"),),
        ("gradient of leaf a differs", "a.log()"),
        "log's derivative written as x instead of 1/x",
    ),
    "matmul": SourceBug(
        (("da = g @ np.swapaxes(b.data, -1, -2)", "da = g @ b.data"),),
        ("gradient of leaf a differs", "square matrices"),
        "dA = dOut @ B instead of dOut @ B^T",
    ),
    "reductions": SourceBug(
        (("return (g * winners / winners.sum(axis=axes, keepdims=True),)", "return (g * winners,)"),),
        ("gradient of leaf a differs", "tied maxima"),
        "every tied maximum gets the whole gradient",
    ),
    "shape_ops": SourceBug(
        (("np.add.at(dx, index, g)", "dx[index] += g"),),
        ("gradient of leaf a differs", "repeated indices"),
        "dx[index] += g keeps one of the repeated indices",
    ),
    "random_graphs": SourceBug(
        (("return (g * (1 - out * out),)", "return (g * (1 - out),)"),),
        ("random graph", "look at the backward of", ".tanh()"),
        "tanh' written as 1 - tanh",
    ),
}

MORE_BUGS = [
    ("backward", SourceBug(
        (("            visited.add(id(node))\n            stack.append((node, True))",
          "            visited.add(id(node))\n            order.append(node)"),
         ("for node in reversed(self._topological_order()):", "for node in self._topological_order():")),
        ("gradient of leaf a differs", "a diamond"),
        "nodes visited in DFS discovery order: h sends its gradient before all its uses are in",
    )),
    ("backward", SourceBug(
        (("pending[key] = pending[key] + parent_grad if key in pending else parent_grad",
          "pending[key] = parent_grad"),),
        ("gradient of leaf a differs", "a * a", "0.5 x the expected"),
        "a second use overwrites the first instead of adding",
    )),
    ("backward", SourceBug(
        (("node.grad = np.array(g) if node.grad is None else np.asarray(node.grad + g)", "node.grad = np.array(g)"),),
        ("a.grad after two backward calls",),
        "backward() overwrites .grad instead of accumulating",
    )),
    ("backward", SourceBug(
        (("            if self.data.size != 1:\n", "            if False:\n"),),
        ("should raise ValueError",),
        "a non-scalar output silently seeded with ones",
    )),
    ("elementwise", SourceBug(
        (("return unbroadcast(g * b.data, a.shape), unbroadcast(g * a.data, b.shape)",
          "return unbroadcast(g * a.data, a.shape), unbroadcast(g * b.data, b.shape)"),),
        ("gradient of leaf a differs",),
        "mul's backward with the operands swapped",
    )),
    ("elementwise", SourceBug(
        (("return (g * p * x ** (p - 1),)", "return (g * x ** (p - 1),)"),),
        ("gradient of leaf b differs", "a / b"),
        "pow's backward without the factor p: division (a * b ** -1) is the first to show it",
    )),
    ("unary", SourceBug(
        (("return (g * (x > 0),)", "return (g * (x >= 0),)"),),
        ("exact zeros",),
        "relu'(0) = 1",
    )),
    ("matmul", SourceBug(
        (("return unbroadcast(da, a.shape), unbroadcast(db, b.shape)  # sum the broadcast batch axes",
          "return da, db"),),
        ("gradient of leaf b: expected shape (4, 5)",),
        "broadcast batch axes not summed",
    )),
    ("reductions", SourceBug(
        (("g = np.expand_dims(g, axes)  # put the summed axes back as size 1", "pass"),),
        ("could not be broadcast", "a.sum(axis=(0, 2)"),
        "sum's backward broadcasts g without restoring the summed axes",
    )),
    ("shape_ops", SourceBug(
        (("return (g.transpose(np.argsort(axes)),)", "return (g.transpose(axes),)"),),
        ("gradient of leaf a: expected shape (2, 3, 4)", "a.transpose(1, 2, 0)"),
        "transpose's backward with the forward permutation",
    )),
    # engine properties: each tensor's backward once per call, fresh grads, this call's gradient only
    ("backward", SourceBug(
        (("        pending = {id(self): grad}\n"
          "        for node in reversed(self._topological_order()):  # every node after all its consumers\n"
          "            g = pending.pop(id(node))  # complete: all consumers have been visited\n",
          "        stack = [(self, grad)]\n"
          "        while stack:  # every share passed on at once, no topological order\n"
          "            node, g = stack.pop()\n"),
         ("            for parent, parent_grad in zip(node._parents, node._backward(g)):\n"
          "                key = id(parent)\n"
          "                pending[key] = pending[key] + parent_grad if key in pending else parent_grad",
          "            stack.extend(zip(node._parents, node._backward(g)))")),
        ("ran a second time in one backward() call", "a ladder of diamonds", "reverse topological order"),
        "each use's share passed on at once: right sums, but one backward run per path (3^40 on the ladder)",
    )),
    ("backward", SourceBug(
        (("node.grad = np.array(g) if node.grad is None else np.asarray(node.grad + g)",
          "node.grad = g if node.grad is None else np.asarray(node.grad + g)"),),
        ("a.grad and b.grad share memory", "np.array(g) the first time"),
        "the first gradient stored without a copy: .grad is the caller's array, or another tensor's",
    )),
    ("backward", SourceBug(
        (("zip(node._parents, node._backward(g))", "zip(node._parents, node._backward(node.grad))"),),
        ("a.grad after two backward calls differs",),
        ".grad propagated instead of this call's gradient: a second call sends the first call's through again",
    )),
    ("unary", SourceBug(
        (("return (g * (x > 0),)", "g[x <= 0] = 0  # in place\n            return (g,)"),),
        ("modified the g passed to it in place", "a.relu()"),
        "relu's backward zeroes the incoming gradient in place",
    )),
    ("unary", SourceBug(
        (("out = np.tanh(self.data)",
          "out = (np.exp(self.data) - np.exp(-self.data)) / (np.exp(self.data) + np.exp(-self.data))"),),
        ("non-finite", "|x| up to 1000"),
        "tanh written with exp: inf / inf = nan for |x| > 710",
    )),
    ("matmul", SourceBug(
        (("db = np.swapaxes(a.data, -1, -2) @ g", "db = np.swapaxes(g, -1, -2) @ a.data"),),
        ("gradient of leaf b differs", "square matrices"),
        "dB = dOut^T @ A instead of A^T @ dOut: the right shape only when square",
    )),
    ("reductions", SourceBug(
        (("winners = (x == top).astype(x.dtype)", "winners = (x == top).astype(float)"),),
        ("expected dtype float32", "a.max(axis=0, keepdims=True)"),
        "max's backward with a float64 mask: float32 gradients become float64",
    )),
    ("random_graphs", SourceBug(
        (("return (np.broadcast_to(g, shape),)  # (*shape)", "return (g * np.ones(shape),)  # (*shape)"),),
        ("expected dtype float32", "random graph 2 of"),
        "sum's backward through float64 ones: a float32 graph's gradients become float64",
    )),
]


def _assert_caught(exercise: str, bug: SourceBug):
    result = assert_source_bug_caught(TOPIC, exercise, *bug.edits)
    for piece in bug.expect:
        assert piece in result.message, f"{bug.why}: expected {piece!r} in:\n{result.message}"
    return result


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    _assert_caught(exercise, BUGS[exercise])


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{i}" for i, (e, _) in enumerate(MORE_BUGS)])
def test_more_planted_bugs_fail(exercise, bug):
    _assert_caught(exercise, bug)


def test_random_graph_failure_prints_the_program():
    result = _assert_caught("random_graphs", BUGS["random_graphs"])
    for piece in ("reproduce it with these lines", "= Tensor(<float64", "loss = (", ".sum()"):
        assert piece in result.message, piece


# --------------------------------------------------------------------------- the engine itself
def test_subclasses_stay_subclasses_and_dtypes_are_kept():
    class Mine(ref.Tensor):
        pass

    x = Mine(np.ones((2, 3), np.float32))
    y = ((x * 2 - 1) / 3).exp().sum(axis=0)
    assert type(y) is Mine
    assert y.data.dtype == np.float32
    y.backward(np.ones(3, np.float32))
    assert x.grad.dtype == np.float32 and x.grad.shape == (2, 3)
    assert ref.Tensor([1, 2]).data.dtype == np.float64  # integers become float64


def test_grads_are_fresh_arrays():
    a, b = ref.Tensor(np.ones(3)), ref.Tensor(np.ones(3))
    (a + b).backward(np.ones(3))
    a.grad += 1  # must not change b.grad
    assert np.all(b.grad == 1)


def test_a_very_deep_chain_needs_no_recursion():
    x = ref.Tensor(np.array([0.5]))
    y = x
    for _ in range(25_000):
        y = y * 1.0
    y.backward()
    assert x.grad[0] == 1.0


# --------------------------------------------------------------------------- random programs
def test_random_programs_use_every_operation_and_reuse_nodes():
    rng = np.random.default_rng(0)
    programs = [G.random_program(rng, square=C._graph_kind(g)[0]) for g in range(C.GRAPHS)]
    ops = {step.op for p in programs for step in p.steps}
    assert set(G.OPS) <= ops, f"never drawn: {set(G.OPS) - ops}"
    reused = sum(1 for p in programs
                 if any(sum(i in s.args for s in p.steps) + (i in p.sinks) > 1 for i in range(len(p.steps) + 4)))
    assert reused >= C.GRAPHS // 2, "most programs should use some tensor more than once"
    for p in programs:
        values = G.run_numpy(p)
        assert all(np.all(np.isfinite(v)) and np.abs(v).max() <= G.MAX_ABS for v in values)
        for step in p.steps:
            if step.op == "log" or (step.op == "pow" and step.param not in (2, 3)):
                assert np.all(values[step.args[0]] > G.AWAY), p.text()


# --------------------------------------------------------------------------- the escape hatch
def test_incomplete_engine_falls_back_to_the_reference(tmp_path):
    check = check_topic(TOPIC, shipped_stub(TOPIC, tmp_path))
    assert all(r.status is Status.TODO for r in check.results.values())
    impl = resolve(check)
    assert set(impl.chosen.values()) == {"reference"}
    assert impl.Tensor is ref.Tensor


def test_complete_engine_is_used(tmp_path):
    mine = tmp_path / "my_engine.py"
    shutil.copy(ref.__file__, mine)
    check = check_topic(TOPIC, mine)
    assert check.all_passed, {n: str(r) for n, r in check.results.items() if not r.passed}
    impl = resolve(check)
    assert set(impl.chosen.values()) == {"mine"}
    assert impl.Tensor is check.file.module.Tensor and impl.Tensor is not ref.Tensor


# --------------------------------------------------------------------------- the run
def test_smoke_run_uses_the_reference_engine_and_matches_jax(tmp_path, capsys):
    """Targets, plots and determinism are the generic smoke test's; here: the fallback and the gradient."""
    from fdl.run import main

    code = main(["topic02", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert [e["implementation"] for e in report["exercises"]] == ["reference"] * 7  # the stub falls back
    assert report["run"]["metrics"]["grad_rel_diff_vs_jax"] < 1e-12


# --------------------------------------------------------------------------- the JAX version
def test_jax_version_gradients_and_training_step_match_the_engine():
    import jax

    from tracks.t02_autograd import jax_version as J

    rng = np.random.default_rng(0)
    x, y = R.two_spirals(40, 1.0, 0.05, rng)
    x = x.astype(np.float64)
    params = R.init_params((2, 8, 8, 2), rng, dtype=np.float64)

    loss, mine = R.loss_and_grads(ref.Tensor, params, x, y)
    theirs = J.grads(params, x, y)
    assert set(theirs) == set(mine)
    for k in mine:
        np.testing.assert_allclose(mine[k], theirs[k], rtol=1e-11, atol=1e-13)

    # three steps of the run's momentum SGD, engine vs the pure JAX step
    with jax.enable_x64(True):
        p_jax, v_jax = dict(params), {k: np.zeros_like(v) for k, v in params.items()}
        p_np, v_np = dict(params), {k: np.zeros_like(v) for k, v in params.items()}
        for _ in range(3):
            p_jax, v_jax, loss_jax = J.sgd_momentum_step(p_jax, v_jax, x, y, 0.3, 0.9)
            loss_np, g = R.loss_and_grads(ref.Tensor, p_np, x, y)
            np.testing.assert_allclose(loss_np, float(loss_jax), rtol=1e-12)
            v_np = {k: 0.9 * v_np[k] + g[k] for k in g}
            p_np = {k: p_np[k] - 0.3 * v_np[k] for k in g}
        for k in params:
            np.testing.assert_allclose(p_np[k], np.asarray(p_jax[k]), rtol=1e-10, atol=1e-12)

        text = J.graph(J.loss, params, x, y)
        assert "tanh" in text and "dot_general" in text
        grad_text = J.gradient_graph(lambda p: J.loss(p, x, y), params)
        assert grad_text.count("dot_general") > text.count("dot_general")  # the backward's matmuls
