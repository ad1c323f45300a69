"""Topic 05: each exercise's check catches a planted bug, for the planted reason; the run and the JAX version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from tracks.t05_mlp_forward import reference as ref

from helpers import Bug, assert_bug_caught, reference_with

TOPIC = find_topic(5)


def _linear_flattened(x, params):
    W, b = params["W"], params["b"]
    rows = x.reshape(-1, W.shape[0])
    return rows @ W + b, (x, W)  # batch axes left flattened: (2, 3, d) in, (6, d_out) out


def _linear_no_bias(x, params):
    return x @ params["W"], (x, params["W"])


def _linear_float64(x, params):
    return x.astype(np.float64) @ params["W"] + params["b"], (x, params["W"])


def _linear_transposed_where_it_fits(x, params):
    W, b = params["W"], params["b"]
    # written for a (d_out, d_in) W, then "fixed" for the shapes that raised: W.T stays wherever it fits
    W_used = W.T if W.shape[1] == x.shape[-1] else W
    return x @ W_used + b, (x, W)


def _init_fan_out(sizes, rng, dtype=np.float32):
    return [{"W": (rng.standard_normal((m, n)) * np.sqrt(2.0 / n)).astype(dtype), "b": np.zeros(n, dtype)}
            for m, n in zip(sizes[:-1], sizes[1:])]


def _init_lecun(sizes, rng, dtype=np.float32):
    return [{"W": (rng.standard_normal((m, n)) * np.sqrt(1.0 / m)).astype(dtype), "b": np.zeros(n, dtype)}
            for m, n in zip(sizes[:-1], sizes[1:])]


def _init_global_rng(sizes, rng, dtype=np.float32):
    return [{"W": (np.random.randn(m, n) * np.sqrt(2.0 / m)).astype(dtype), "b": np.zeros(n, dtype)}
            for m, n in zip(sizes[:-1], sizes[1:])]


def _init_uniform(sizes, rng, dtype=np.float32):
    # the right variance, the wrong distribution: U(-a, a) has std a / sqrt(3)
    return [{"W": rng.uniform(-1, 1, (m, n)).astype(dtype) * np.sqrt(6.0 / m).astype(dtype),
             "b": np.zeros(n, dtype)} for m, n in zip(sizes[:-1], sizes[1:])]


def _init_shared_draw(sizes, rng, dtype=np.float32):
    base = rng.standard_normal((max(sizes), max(sizes)))
    return [{"W": (base[:m, :n] * np.sqrt(2.0 / m)).astype(dtype), "b": np.zeros(n, dtype)}
            for m, n in zip(sizes[:-1], sizes[1:])]


def _init_float64(sizes, rng, dtype=np.float32):
    return ref.init_mlp(sizes, rng, np.float64)


def _mlp_relu_on_logits(x, params):
    h, caches = x, []
    for layer in params:
        z, cache = ref.linear_forward(h, layer)
        caches.append(cache)
        h = np.maximum(z, 0)
    return h, caches


def _mlp_no_relu(x, params):
    h, caches = x, []
    for layer in params:
        h, cache = ref.linear_forward(h, layer)
        caches.append(cache)
    return h, caches


BUGS = {
    "linear": Bug({"linear_forward": _linear_flattened}, "linear_forward output: expected shape",
                  "batch axes flattened and never restored"),
    "init_mlp": Bug({"init_mlp": _init_lecun}, "that is sqrt(1 / fan_in) (LeCun)", "variance 1 / fan_in"),
    "mlp": Bug({"mlp_forward": _mlp_relu_on_logits}, "mlp_forward output differs from the JAX oracle",
               "ReLU on the logits too"),
}

MORE_BUGS = [
    ("linear", Bug({"linear_forward": _linear_no_bias}, "linear_forward output differs", "b never added")),
    ("linear", Bug({"linear_forward": _linear_float64}, "expected dtype float32", "float32 promoted")),
    ("linear", Bug({"linear_forward": _linear_transposed_where_it_fits}, "[square]",
                   "W.T used wherever its shape fits: only a square layer shows it")),
    ("init_mlp", Bug({"init_mlp": _init_fan_out}, "that is sqrt(2 / fan_out)", "He scaled by fan_out")),
    ("init_mlp", Bug({"init_mlp": _init_global_rng}, "NumPy's global random state", "np.random.randn")),
    ("init_mlp", Bug({"init_mlp": _init_uniform}, "within one standard deviation", "uniform, right std")),
    ("init_mlp", Bug({"init_mlp": _init_shared_draw}, "correlation", "one draw shared by all layers")),
    ("init_mlp", Bug({"init_mlp": _init_float64}, "must have dtype float32", "ignores dtype")),
    ("mlp", Bug({"mlp_forward": _mlp_no_relu}, "mlp_forward output differs", "no ReLU at all")),
]


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_a_transposed_weight_that_fits_only_the_square_cases_catch():
    from fdl.check import Status, forward_check, run_check
    from tracks.t05_mlp_forward import checks

    def oblong(rng):
        return [c for c in checks.linear_cases(rng) if c.args[1]["W"].shape[0] != c.args[1]["W"].shape[1]]

    check = forward_check("linear_forward", checks.linear_oracle, oblong, names=["x", "params"], tol=checks.LINEAR)
    impl = reference_with(TOPIC, linear_forward=_linear_transposed_where_it_fits)
    assert run_check(check, impl, exercise="linear").status is Status.PASS
    assert_bug_caught(TOPIC, "linear", Bug({"linear_forward": _linear_transposed_where_it_fits}, "[square]"))


def test_init_check_leaves_the_global_random_state_alone():
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    assert_bug_caught(TOPIC, "init_mlp", Bug({"init_mlp": _init_lecun}))
    assert np.random.random() == expected


def test_reference_forward_keeps_float32_and_validates_shapes():
    rng = np.random.default_rng(0)
    params = ref.init_mlp([6, 5, 3], rng)
    assert all(p["W"].dtype == np.float32 and p["b"].dtype == np.float32 for p in params)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    logits, cache = ref.mlp_forward(x, params)
    assert logits.shape == (2, 4, 3) and logits.dtype == np.float32
    assert len(cache) == 2 and cache[0][0] is x  # the input is kept, not copied
    with pytest.raises(ValueError, match="last axis must be d_in = 6"):
        ref.linear_forward(rng.standard_normal((6, 4)), params[0])


def test_smoke_run(tmp_path, capsys):
    code = main(["topic05", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    metrics = report["run"]["metrics"]
    assert metrics["logits_shape"] == [32, 10]
    assert metrics["param_count"] == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10
    assert report["run"]["targets"] and all(t["met"] for t in report["run"]["targets"])
    plots = report["run"]["plots"]
    assert plots and all(Path(p).is_file() for p in plots)
    assert (tmp_path / "t05_mlp_forward" / "activations.png").is_file()


def test_jax_version_matches_the_reference_and_jits():
    import jax
    import jax.numpy as jnp

    from tracks.t05_mlp_forward import jax_version as J

    sizes = [7, 300, 200, 3]
    params = J.init_mlp(jax.random.key(0), sizes)
    assert [(p["W"].shape, p["b"].shape) for p in params] == [((7, 300), (300,)), ((300, 200), (200,)),
                                                              ((200, 3), (3,))]
    assert all(p["W"].dtype == jnp.float32 for p in params)
    assert J.param_count(params) == 7 * 300 + 300 + 300 * 200 + 200 + 200 * 3 + 3
    W = np.asarray(params[1]["W"])
    assert abs(W.std() / np.sqrt(2 / 300) - 1) < 0.02 and abs(W.mean()) < 0.01
    assert not np.any(np.asarray(params[0]["b"]))

    x = np.random.default_rng(1).standard_normal((2, 5, 7)).astype(np.float32)
    np_params = [{k: np.asarray(v) for k, v in p.items()} for p in params]
    expected, _ = ref.mlp_forward(x, np_params)
    got = jax.jit(J.mlp_apply)(params, jnp.asarray(x))
    assert got.shape == (2, 5, 3)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
    per_example = jax.vmap(J.mlp_apply, in_axes=(None, 0))(params, jnp.asarray(x[0]))
    np.testing.assert_allclose(np.asarray(per_example), expected[0], rtol=1e-5, atol=1e-5)
