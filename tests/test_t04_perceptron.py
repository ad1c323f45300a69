"""Topic 04: each check catches a planted bug for the planted reason; the run; the JAX version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from tracks.t04_perceptron import reference as ref

from helpers import Bug, assert_bug_caught

TOPIC = find_topic(4)


# --------------------------------------------------------------------------- planted bugs
def _perceptron_strict(params, x, y, lr=1.0):
    if y * (params["w"] @ x + params["b"]) < 0:  # a margin of exactly 0 is not treated as a mistake
        return {"w": params["w"] + lr * y * x, "b": params["b"] + lr * y}
    return {"w": params["w"].copy(), "b": params["b"].copy()}


def _perceptron_always(params, x, y, lr=1.0):
    return {"w": params["w"] + lr * y * x, "b": params["b"] + lr * y}  # updates on every sample


def _perceptron_in_place(params, x, y, lr=1.0):
    if y * (params["w"] @ x + params["b"]) <= 0:
        params["w"] += lr * y * x
        params["b"] += lr * y
    return {"w": params["w"], "b": params["b"]}


def _perceptron_no_bias(params, x, y, lr=1.0):
    if y * (params["w"] @ x + params["b"]) <= 0:
        return {"w": params["w"] + lr * y * x, "b": params["b"].copy()}
    return {"w": params["w"].copy(), "b": params["b"].copy()}


def _perceptron_no_lr(params, x, y, lr=1.0):
    return ref.perceptron_step(params, x, y, 1.0)


def _sigmoid_naive(z):
    out = np.exp(z) / (1 + np.exp(z))  # inf / inf = nan for large z
    return out, out


def _sigmoid_backward_no_one_minus(dout, out):
    return dout * out


def _logistic_backward_no_mean(dloss, cache):
    X, residual = cache
    dz = dloss * residual  # the 1/n of the mean forgotten
    return {"w": X.T @ dz, "b": dz.sum()}


def _logistic_backward_flipped(dloss, cache):
    X, residual = cache
    dz = -dloss * residual / residual.shape[0]  # y - s instead of s - y
    return {"w": X.T @ dz, "b": dz.sum()}


def _logistic_backward_tuple(dloss, cache):
    grads = ref.logistic_backward(dloss, cache)
    return grads["w"], grads["b"]


def _logistic_forward_naive(X, y, params):
    z = X @ params["w"] + params["b"]
    s = 1 / (1 + np.exp(-z))
    loss = -np.mean(y * np.log(s) + (1 - y) * np.log(1 - s))  # log(0) once s rounds to 0 or 1
    return loss, (X, s - y)


def _logistic_forward_float64(X, y, params):
    loss, cache = ref.logistic_forward(X.astype(np.float64), y, params)
    return loss, cache


BUGS = {
    "perceptron": Bug({"perceptron_step": _perceptron_strict}, "exactly 0",
                      "< 0 instead of <= 0: training from zeros never starts"),
    "sigmoid": Bug({"sigmoid_forward": _sigmoid_naive}, "non-finite", "exp(z) / (1 + exp(z)) overflows"),
    "logistic_regression": Bug({"logistic_backward": _logistic_backward_no_mean}, "x the expected ones",
                               "gradient of the sum, not of the mean"),
}

MORE_BUGS = [
    ("perceptron", Bug({"perceptron_step": _perceptron_always}, "classified correctly", "updates every step")),
    ("perceptron", Bug({"perceptron_step": _perceptron_in_place}, "modified params in place", "w += ...")),
    ("perceptron", Bug({"perceptron_step": _perceptron_no_bias}, "['b']", "bias never updated")),
    ("perceptron", Bug({"perceptron_step": _perceptron_no_lr}, "lr=", "learning rate ignored")),
    ("sigmoid", Bug({"sigmoid_backward": _sigmoid_backward_no_one_minus}, "gradient of z", "ds/dz = s")),
    ("logistic_regression", Bug({"logistic_forward": _logistic_forward_naive}, "non-finite",
                                "cross-entropy from log(sigmoid)")),
    ("logistic_regression", Bug({"logistic_backward": _logistic_backward_flipped}, "sign flipped", "y - s")),
    ("logistic_regression", Bug({"logistic_backward": _logistic_backward_tuple}, "a dict {'w': ..., 'b': ...}",
                                "gradient not shaped like params")),
    ("logistic_regression", Bug({"logistic_forward": _logistic_forward_float64}, "expected dtype float32",
                                "float32 promoted to float64")),
]


# each kind of check, on a bug of its kind
def _perceptron_lr_on_w_only(params, x, y, lr=1.0):
    if y * (params["w"] @ x + params["b"]) <= 0:
        return {"w": params["w"] + lr * y * x, "b": params["b"] + y}  # the bias moves by y, not lr * y
    return {"w": params["w"].copy(), "b": params["b"].copy()}


def _sigmoid_overflowing(z):
    out = 1 / (1 + np.exp(-z))  # right at z = -1000 (1 / inf = 0), but exp(1000) overflows on the way
    return out, out


def _sigmoid_both_branches(z):
    out = np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))  # np.where computes both
    return out, out


def _sigmoid_clipped(z):
    return ref.sigmoid_forward(np.clip(z, -500, 500))  # no overflow, but sigmoid(-1000) is 7e-218, not 0


def _sigmoid_one_minus(z):
    e = np.exp(-np.abs(z))
    out = np.where(z >= 0, 1 / (1 + e), 1 - 1 / (1 + e))  # 1 - s(-z): all digits lost in the left tail
    return out, out


def _logistic_backward_transposed(dloss, cache):
    X, residual = cache
    dz = dloss * residual / residual.shape[0]
    return {"w": X @ dz, "b": dz.sum()}  # X, not X.T: the right shape only when X is square


CLASS_BUGS = [
    ("perceptron", Bug({"perceptron_step": _perceptron_lr_on_w_only}, "['b']", "lr applied to w only")),
    ("sigmoid", Bug({"sigmoid_forward": _sigmoid_overflowing}, "made NumPy warn", "exp(-z) overflows at -1000")),
    ("sigmoid", Bug({"sigmoid_forward": _sigmoid_both_branches}, "made NumPy warn", "np.where of two unsafe branches")),
    ("sigmoid", Bug({"sigmoid_forward": _sigmoid_clipped}, "must be exactly 0, 1/2 or 1", "z clipped to +-500")),
    ("sigmoid", Bug({"sigmoid_forward": _sigmoid_one_minus}, "the left tail", "1 - s(-z) for z < 0")),
    ("logistic_regression", Bug({"logistic_backward": _logistic_backward_transposed}, "[a square design]",
                                "gradient transposed on a square design")),
]


@pytest.mark.parametrize("exercise,bug", CLASS_BUGS, ids=[b.why for _, b in CLASS_BUGS])
def test_each_kind_of_check_fails_on_its_bug(exercise, bug):
    result = assert_bug_caught(TOPIC, exercise, bug)
    if bug.why.startswith("gradient transposed"):
        assert "gradient of params['w'] differs" in result.message  # a value, not a shape, is wrong


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[b.why for _, b in MORE_BUGS])
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_perceptron_message_names_the_step():
    result = assert_bug_caught(TOPIC, "perceptron", BUGS["perceptron"])
    for piece in ("step 1 (epoch 1", "test <= 0, not < 0", "case 1", "from w = 0, b = 0"):
        assert piece in result.message, piece


# --------------------------------------------------------------------------- the run
def _run(capsys, tmp_path, *extra) -> tuple[int, dict]:
    from fdl.run import main

    code = main(["topic04", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path),
                 *extra])
    return code, json.loads(capsys.readouterr().out)


def test_smoke_run_meets_its_targets(capsys, tmp_path):
    code, report = _run(capsys, tmp_path)
    assert code == 0, report.get("error")
    metrics = report["run"]["metrics"]
    assert metrics["perceptron_mistakes_separable"] <= metrics["novikoff_bound"]
    assert metrics["perceptron_last_epoch_mistakes_overlapping"] > 0  # overlapping blobs: never clean
    assert metrics["logistic_test_accuracy_overlapping"] <= metrics["bayes_accuracy_overlapping"] + 0.05
    targets = report["run"]["targets"]
    assert len(targets) == 3 and all(t["met"] for t in targets)
    plots = [Path(p) for p in report["run"]["plots"]]
    assert [p.name for p in plots] == ["decision_boundaries.png"] and all(p.is_file() for p in plots)


def test_smoke_run_is_deterministic(capsys, tmp_path):
    _, first = _run(capsys, tmp_path)
    _, second = _run(capsys, tmp_path)
    assert first["run"]["metrics"] == second["run"]["metrics"]


# --------------------------------------------------------------------------- the JAX version
def _blobs(rng, n):
    X = np.concatenate([rng.standard_normal((n, 2)) + [2.0, 1.0], rng.standard_normal((n, 2)) - [1.0, 0.5]])
    return X, np.repeat([1.0, -1.0], n)


def test_jax_perceptron_epoch_equals_the_numpy_rule():
    import jax
    import jax.numpy as jnp

    from tracks.t04_perceptron import jax_version as J

    rng = np.random.default_rng(0)
    X, Y = _blobs(rng, 30)
    with jax.enable_x64(True):
        params = J.init(jax.random.key(0), 2, dtype=jnp.float64)
        mine = {"w": np.zeros(2), "b": np.zeros(())}
        for _ in range(3):
            params, mistakes = J.perceptron_epoch(params, jnp.asarray(X), jnp.asarray(Y), lr=0.5)
            count = 0
            for x, y in zip(X, Y):
                count += int(y * (mine["w"] @ x + mine["b"]) <= 0)
                mine = ref.perceptron_step(mine, x, int(y), lr=0.5)
            assert int(mistakes) == count
            np.testing.assert_allclose(params["w"], mine["w"], rtol=1e-12)
            np.testing.assert_allclose(params["b"], mine["b"], rtol=1e-12)
        # vmap over a batch of points gives the per-point predictions
        np.testing.assert_array_equal(jax.vmap(J.predict, in_axes=(None, 0))(params, X), J.predict(params, X))


def test_jax_sigmoid_and_loss_match_jax_nn_optax_and_the_numpy_backward():
    import jax
    import jax.numpy as jnp
    import optax

    from tracks.t04_perceptron import jax_version as J

    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        z = jnp.asarray([-1000.0, -700.0, -40.0, -1.0, 0.0, 0.5, 40.0, 700.0, 1000.0])
        np.testing.assert_allclose(J.sigmoid(z), jax.nn.sigmoid(z), rtol=1e-14, atol=1e-300)
        grad_ours = jax.grad(lambda v: J.sigmoid(v).sum())(z)
        assert np.all(np.isfinite(grad_ours))
        # jax.nn.sigmoid's gradient s (1 - s) is 0 from z = 37 on; ours keeps the tiny true value there
        np.testing.assert_allclose(grad_ours, jax.grad(lambda v: jax.nn.sigmoid(v).sum())(z), rtol=1e-12,
                                   atol=1e-16)

        X = rng.standard_normal((9, 3)) * np.array([1.0, 1.0, 300.0])  # some logits in the hundreds
        y = rng.integers(0, 2, 9).astype(np.float64)
        params = {"w": rng.standard_normal(3), "b": np.array(0.3)}
        expected = optax.sigmoid_binary_cross_entropy(X @ params["w"] + params["b"], y).mean()
        np.testing.assert_allclose(J.loss(params, X, y), expected, rtol=1e-13)
        loss, cache = ref.logistic_forward(X, y, params)
        np.testing.assert_allclose(loss, expected, rtol=1e-13)
        grads = jax.jit(jax.grad(J.loss))(params, X, y)
        numpy_grads = ref.logistic_backward(1.0, cache)
        for k in ("w", "b"):
            np.testing.assert_allclose(grads[k], numpy_grads[k], rtol=1e-10, atol=1e-14)


def test_jax_logistic_training_learns_the_blobs():
    import jax
    import jax.numpy as jnp
    import optax

    from tracks.t04_perceptron import jax_version as J

    X, Y = _blobs(np.random.default_rng(2), 100)
    y01 = jnp.asarray((Y + 1) / 2, jnp.float32)
    params = J.init(jax.random.key(0), 2, scale=0.01)
    params, losses = J.train_logistic(params, jnp.asarray(X, jnp.float32), y01, optimizer=optax.sgd(0.5),
                                      steps=200)
    assert losses.shape == (200,) and losses[-1] < 0.5 * losses[0]
    assert params["w"].dtype == jnp.float32
    assert float(jnp.mean(J.predict(params, jnp.asarray(X, jnp.float32)) == Y)) > 0.9
