"""Topic 06: each exercise's check catches a planted bug, for the planted reason; the run and the JAX version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from tracks.t06_backprop import reference as ref

from helpers import Bug, assert_bug_caught, reference_with

TOPIC = find_topic(6)


# --------------------------------------------------------------------------- linear
def _linear_db_first_axis_only(dout, cache):
    dx, grads = ref.linear_backward(dout, cache)
    grads["b"] = dout.sum(axis=0)  # right for (n, d_out), not for more batch axes
    return dx, grads


def _linear_db_mean(dout, cache):
    x, W = cache
    dx, grads = ref.linear_backward(dout, cache)
    grads["b"] = dout.reshape(-1, W.shape[1]).mean(axis=0)
    return dx, grads


def _linear_float64(dout, cache):
    dx, grads = ref.linear_backward(dout, cache)
    return dx.astype(np.float64), grads


def _linear_dW_transposed_where_it_fits(dout, cache):
    x, W = cache
    D = dout.reshape(-1, W.shape[1])
    dx = (D @ W.T).reshape(x.shape)
    dW = D.T @ x.reshape(-1, W.shape[0])  # (d_out, d_in): W's shape transposed...
    if dW.shape != W.shape:
        dW = dW.T  # ...put right only where the shapes differ
    return dx, {"W": dW, "b": D.sum(axis=0)}


def _linear_dW_reshaped(dout, cache):
    x, W = cache
    D = dout.reshape(-1, W.shape[1])
    dx = (D @ W.T).reshape(x.shape)
    dW = (D.T @ x.reshape(-1, W.shape[0])).reshape(W.shape)  # a reshape is not a transpose
    return dx, {"W": dW, "b": D.sum(axis=0)}


def _linear_backward_reshapes_cache(dout, cache):
    x, W = cache
    x.shape = (-1, W.shape[0])  # flattens the cached x (the caller's input) in place
    D = dout.reshape(-1, W.shape[1])
    return (D @ W.T).reshape(dout.shape[:-1] + (W.shape[0],)), {"W": x.T @ D, "b": D.sum(axis=0)}


# --------------------------------------------------------------------------- mlp
def _mlp_no_relu_mask(dout, cache):
    grads = [None] * len(cache)
    d = dout
    for l in reversed(range(len(cache))):
        d, grads[l] = ref.linear_backward(d, cache[l])
    return d, grads


def _mlp_grads_reversed(dout, cache):
    dx, grads = ref.mlp_backward(dout, cache)
    return dx, grads[::-1]  # appended while walking backwards, never put back in order


def _mlp_dx_transposed_where_it_fits(dout, cache):
    grads = [None] * len(cache)
    d = dout
    for l in reversed(range(len(cache))):
        x, W = cache[l]
        D = d.reshape(-1, W.shape[1])
        dx = W @ D.T  # (d_in, n): the transpose of dx...
        if dx.shape != (D.shape[0], W.shape[0]):
            dx = dx.T  # ...put right only where the shapes differ: a square batch keeps it transposed
        grads[l] = {"W": x.reshape(-1, W.shape[0]).T @ D, "b": D.sum(axis=0)}
        d = dx.reshape(x.shape)
        if l > 0:
            d = d * (x > 0)
    return d, grads


def _mlp_float64_mask(dout, cache):
    grads = [None] * len(cache)
    d = dout
    for l in reversed(range(len(cache))):
        d, grads[l] = ref.linear_backward(d, cache[l])
        if l > 0:
            d = d * (cache[l][0] > 0).astype(np.float64)  # a float64 mask turns float32 into float64
    return d, grads


def _mlp_reuses_dout(dout, cache):
    dx, grads = ref.mlp_backward(dout, cache)
    dout *= 0.0  # the caller's array used as scratch space
    return dx, grads


# --------------------------------------------------------------------------- numerical_gradient
def _forward_difference(f, x, h=None):
    probe = x.copy()
    flat, grad = probe.reshape(-1), np.zeros_like(probe)
    f0 = float(f(probe))
    step0 = np.finfo(x.dtype).eps ** 0.5  # the best step for a forward difference
    for i in range(flat.size):
        original = flat[i]
        step = h if h is not None else step0 * max(1.0, abs(float(original)))
        flat[i] = original + step
        grad.reshape(-1)[i] = (float(f(probe)) - f0) / step
        flat[i] = original
    return grad


def _in_place_and_back(f, x, h=None):
    flat, grad = x.reshape(-1), np.zeros_like(x)
    step0 = np.finfo(x.dtype).eps ** (1 / 3)
    for i in range(flat.size):
        step = h if h is not None else step0 * max(1.0, abs(float(flat[i])))
        flat[i] += step
        up = float(f(x))
        flat[i] -= 2 * step
        down = float(f(x))
        flat[i] += step  # x + h - 2h + h is not always x in floating point
        grad.reshape(-1)[i] = (up - down) / (2 * step)
    return grad


def _unscaled_step(f, x, h=None):
    step = h if h is not None else float(np.finfo(x.dtype).eps) ** (1 / 3)
    return ref.numerical_gradient(f, x, h=step)


def _float64_step(f, x, h=None):
    if h is not None:
        return ref.numerical_gradient(f, x, h=h)
    probe = x.copy()
    flat, grad = probe.reshape(-1), np.zeros_like(probe)
    for i in range(flat.size):
        original = flat[i]
        step = np.finfo(np.float64).eps ** (1 / 3) * max(1.0, abs(float(original)))
        flat[i] = original + step
        up = float(f(probe))
        flat[i] = original - step
        down = float(f(probe))
        flat[i] = original
        grad.reshape(-1)[i] = (up - down) / (2 * step)
    return grad


def _ignores_h(f, x, h=None):
    return ref.numerical_gradient(f, x)


def _h_scaled_by_x(f, x, h=None):
    if h is None:
        return ref.numerical_gradient(f, x)
    probe = x.copy()
    flat, grad = probe.reshape(-1), np.zeros_like(probe)
    for i in range(flat.size):
        original = flat[i]
        step = h * max(1.0, abs(float(original)))  # the default step's scaling applied to a given h too
        flat[i] = original + step
        up = float(f(probe))
        flat[i] = original - step
        down = float(f(probe))
        flat[i] = original
        grad.reshape(-1)[i] = (up - down) / (2 * step)
    return grad


def _flattened_calls(f, x, h=None):
    flat_f = lambda v: f(v)  # noqa: E731
    return ref.numerical_gradient(flat_f, x.reshape(-1), h).reshape(x.shape)


BUGS = {
    "linear": Bug({"linear_backward": _linear_db_first_axis_only}, "gradient of params['b']: expected",
                  "db summed over the first batch axis only"),
    "mlp": Bug({"mlp_backward": _mlp_no_relu_mask}, "gradient of x differs from jax.vjp of the oracle",
               "the ReLU mask is never applied"),
    "numerical_gradient": Bug({"numerical_gradient": _forward_difference},
                              "numerical gradient differs from jax.grad", "a forward difference"),
}

MORE_BUGS = [
    ("linear", Bug({"linear_backward": _linear_db_mean}, "x the expected ones", "db = mean, not sum")),
    ("linear", Bug({"linear_backward": _linear_float64}, "expected dtype float32", "float32 promoted")),
    ("linear", Bug({"linear_backward": _linear_dW_transposed_where_it_fits}, "[square]",
                   "dW transposed wherever its shape fits: only a square layer shows it")),
    ("linear", Bug({"linear_backward": _linear_dW_reshaped}, "gradient of params['W'] differs",
                   "dW = (dout^T x).reshape(W.shape)")),
    ("linear", Bug({"linear_backward": _linear_backward_reshapes_cache}, "modified its cache in place",
                   "x.shape = ... on the cached input")),
    ("mlp", Bug({"mlp_backward": _mlp_dx_transposed_where_it_fits}, "square batch",
                "dx transposed wherever its shape fits: only a square batch shows it")),
    ("mlp", Bug({"mlp_backward": _mlp_float64_mask}, "expected dtype float32", "a float64 ReLU mask")),
    ("mlp", Bug({"mlp_backward": _mlp_grads_reversed}, "gradient of params[0]['W']: expected shape",
                "dparams in reverse order")),
    ("mlp", Bug({"mlp_backward": _mlp_reuses_dout}, "modified dout in place", "dout overwritten")),
    ("numerical_gradient", Bug({"numerical_gradient": _in_place_and_back}, "left x modified",
                               "x perturbed in place and not restored exactly")),
    ("numerical_gradient", Bug({"numerical_gradient": _unscaled_step}, "|x| ~ 1e4", "step not scaled by |x_i|")),
    ("numerical_gradient", Bug({"numerical_gradient": _float64_step}, "float32", "float64's step on float32")),
    ("numerical_gradient", Bug({"numerical_gradient": _ignores_h}, "h given", "the h argument ignored")),
    ("numerical_gradient", Bug({"numerical_gradient": _h_scaled_by_x}, "h given", "a given h scaled by |x_i|")),
    ("numerical_gradient", Bug({"numerical_gradient": _flattened_calls}, "must call f with an array shaped like x",
                               "f called with a flattened x")),
]


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def _without_square(cases):
    """The cases with no square matrix: no square W, no batch of as many rows as its layer has inputs."""
    def square(case):
        x, params = case.args
        layers = params if isinstance(params, list) else [params]
        rows = int(np.prod(x.shape[:-1]))
        return any(layer["W"].shape[0] in (layer["W"].shape[1], rows) for layer in layers)

    return lambda rng: [c for c in cases(rng) if not square(c)]


@pytest.mark.parametrize("exercise,backward,cases,bug", [
    ("linear", "linear_backward", "linear_cases", _linear_dW_transposed_where_it_fits),
    ("mlp", "mlp_backward", "mlp_cases", _mlp_dx_transposed_where_it_fits),
])
def test_a_transpose_that_fits_only_the_square_cases_catch(exercise, backward, cases, bug):
    from fdl.check import Status, run_check, vjp_check
    from tracks.t05_mlp_forward import checks as cases05
    from tracks.t06_backprop import checks

    oracle = getattr(cases05, f"{exercise}_oracle")
    tol = checks.LINEAR if exercise == "linear" else checks.MLP
    oblong = vjp_check(f"{exercise}_forward", backward, oracle, _without_square(getattr(cases05, cases)),
                       names=["x", "params"], tol=tol, numeric_tol=checks.NUMERIC)
    impl = reference_with(TOPIC, **{backward: bug})
    assert run_check(oblong, impl, exercise=exercise).status is Status.PASS  # right wherever it is not square
    assert "square" in assert_bug_caught(TOPIC, exercise, Bug({backward: bug})).message


def test_backward_float32_end_to_end():
    from tracks.t05_mlp_forward.reference import init_mlp

    rng = np.random.default_rng(0)
    params = init_mlp([784, 64, 32, 10], rng)
    x = rng.standard_normal((2, 16, 784)).astype(np.float32)
    logits, cache = ref.mlp_forward(x, params)
    dout = rng.standard_normal(logits.shape).astype(np.float32)
    kept = dout.copy()
    dx, grads = ref.mlp_backward(dout, cache)
    assert np.array_equal(dout, kept)
    assert dx.shape == x.shape and dx.dtype == np.float32
    for g, p in zip(grads, params):
        assert g.keys() == p.keys()
        for key in p:
            assert g[key].shape == p[key].shape and g[key].dtype == np.float32


def test_numerical_gradient_leaves_x_alone_and_keeps_dtype():
    x = np.random.default_rng(1).standard_normal((3, 2)).astype(np.float32)
    before = x.copy()
    grad = ref.numerical_gradient(lambda v: np.sum(v**2), x)
    assert np.array_equal(x, before) and grad.dtype == np.float32
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(ref.numerical_gradient(lambda v: float(v**3), np.array(2.0)), 12.0, rtol=1e-9)


def test_smoke_run(tmp_path, capsys):
    code = main(["topic06", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    metrics = report["run"]["metrics"]
    assert metrics["max_rel_error_jax"] < 1e-12
    assert metrics["max_rel_error_numeric"] < 1e-6
    assert metrics["max_rel_error_without_relu_mask"] > 1e-2  # the planted bug shows
    assert report["run"]["targets"] and all(t["met"] for t in report["run"]["targets"])
    plots = report["run"]["plots"]
    assert plots and all(Path(p).is_file() for p in plots)
    assert (tmp_path / "t06_backprop" / "gradient_check.png").is_file()


def test_jax_version_gradients():
    import jax
    import jax.numpy as jnp

    from tracks.t06_backprop import jax_version as J

    with jax.enable_x64(True):
        from tracks.t05_mlp_forward.reference import init_mlp

        rng = np.random.default_rng(1)
        params = jax.tree_util.tree_map(jnp.asarray, init_mlp([6, 9, 7, 3], rng, dtype=np.float64))
        x = jnp.asarray(rng.standard_normal((2, 5, 6)))
        y = jnp.asarray(rng.standard_normal((2, 5, 3)))

        # the custom_vjp rules give the gradients JAX derives on its own, over extra batch axes too
        def loss(apply):
            return lambda p, x_: jnp.sum(jnp.sin(apply(p, x_) - y))

        ours = jax.jit(jax.grad(loss(J.mlp_apply_with_rules), argnums=(0, 1)))(params, x)
        theirs = jax.jit(jax.grad(loss(J.mlp_apply), argnums=(0, 1)))(params, x)
        for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)

        # mlp_vjp and loss_and_grads agree with the NumPy backward
        np_params = [{k: np.asarray(v) for k, v in p.items()} for p in params]
        dout = rng.standard_normal((2, 5, 3))
        logits, cache = ref.mlp_forward(np.asarray(x), np_params)
        dx, grads = ref.mlp_backward(dout, cache)
        jdx, jgrads = J.mlp_vjp(params, x, jnp.asarray(dout))
        np.testing.assert_allclose(np.asarray(jdx), dx, rtol=1e-12, atol=1e-12)
        for g, jg in zip(grads, jgrads):
            for key in g:
                np.testing.assert_allclose(np.asarray(jg[key]), g[key], rtol=1e-12, atol=1e-12)
        x2, y2 = x.reshape(10, 6), y.reshape(10, 3)
        value, lgrads = J.loss_and_grads(params, x2, y2)
        logits2, cache2 = ref.mlp_forward(np.asarray(x2), np_params)
        np.testing.assert_allclose(float(value), 0.5 * np.sum((logits2 - np.asarray(y2)) ** 2) / 10, rtol=1e-12)
        _, grads2 = ref.mlp_backward((logits2 - np.asarray(y2)) / 10, cache2)
        for g, jg in zip(grads2, lgrads):
            np.testing.assert_allclose(np.asarray(jg["W"]), g["W"], rtol=1e-10, atol=1e-12)
