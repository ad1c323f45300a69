"""Topic 09: each exercise's check catches a planted bug, for the planted reason; the run and the JAX version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from tracks.t09_regularization import reference as ref

from helpers import Bug, assert_bug_caught

TOPIC = find_topic(9)
tree_map = ref.tree_map


# --------------------------------------------------------------------------- l1, l2
def _l1_backward_no_lam(dout, cache):
    params, lam = cache
    return tree_map(lambda w: dout * np.where(w >= 0, 1, -1).astype(w.dtype), params)


def _l1_backward_np_sign(dout, cache):
    params, lam = cache
    return tree_map(lambda w: dout * lam * np.sign(w), params)  # 0 at w == 0, where JAX says +1


def _l2_backward_half(dout, cache):
    params, lam = cache
    return tree_map(lambda w: dout * lam / 2 * w, params)  # the 2 of d(w^2)/dw forgotten


def _l2_forward_flat_dicts_only(params, lam):
    total = sum(np.sum(w * w) for w in params.values())  # nested dicts and lists are not walked
    return np.asarray(lam / 2 * total), (params, lam)


def _l2_forward_float64(params, lam):
    total = np.float64(0.0)
    for w in ref.tree_leaves(params):
        total = total + np.sum(w * w)
    return lam / 2 * total, (params, lam)


def _l1_backward_transposed(dout, cache):
    params, lam = cache
    # .T keeps the shape only where W is square
    return tree_map(lambda w: (dout * lam * np.where(w >= 0, 1, -1).astype(w.dtype)).T, params)


def _l2_backward_transposed(dout, cache):
    params, lam = cache
    return tree_map(lambda w: dout * lam * w.T, params)


def _l2_backward_into_cache(dout, cache):
    params, lam = cache

    def grad(w):
        w *= dout * lam  # the cached parameters scaled in place
        return w

    return tree_map(grad, params)


# --------------------------------------------------------------------------- weight decay
def _decay_wrong_sign(weight_decay):
    def update(updates, state, params=None):
        return tree_map(lambda u, p: u - weight_decay * p, updates, params), state

    return ref.Optimizer(lambda params: ref.DecayState(), update)


def _decay_no_params_check(weight_decay):
    def update(updates, state, params=None):
        return tree_map(lambda u, p: u + weight_decay * p, updates, params), state  # crashes on None

    return ref.Optimizer(lambda params: ref.DecayState(), update)


def _decay_in_place(weight_decay):
    def update(updates, state, params=None):
        if params is None:
            raise ValueError("needs params")

        def add(u, p):
            u += weight_decay * p
            return u

        return tree_map(add, updates, params), state

    return ref.Optimizer(lambda params: ref.DecayState(), update)


def _decay_decays_updates(weight_decay):
    def update(updates, state, params=None):
        if params is None:
            raise ValueError("needs params")
        return tree_map(lambda u: u + weight_decay * u, updates), state

    return ref.Optimizer(lambda params: ref.DecayState(), update)


def _decay_transposed(weight_decay):
    def update(updates, state, params=None):
        if params is None:
            raise ValueError("needs params")
        return tree_map(lambda u, p: u + weight_decay * p.T, updates, params), state

    return ref.Optimizer(lambda params: ref.DecayState(), update)


def _decay_zero_means_default(weight_decay):
    return ref.add_decayed_weights(weight_decay or 1e-4)  # a default in the wrong place: 0 is a valid rate


def _decay_params_from_init(weight_decay):
    kept = {}

    def init(params):
        kept["params"] = ref.tree_map(np.copy, params)
        return ref.DecayState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("needs params")
        return tree_map(lambda u, p: u + weight_decay * p, updates, kept["params"]), state  # the first params

    return ref.Optimizer(init, update)


# --------------------------------------------------------------------------- dropout
def _dropout_not_inverted(x, p, *, mask=None, rng=None, train=True):
    out, cache = ref.dropout_forward(x, p, mask=mask, rng=rng, train=train)
    return (out * (1 - p) if cache[0] is not None else out), cache  # survivors not scaled up


def _dropout_keeps_p(x, p, *, mask=None, rng=None, train=True):
    if mask is None and rng is not None and train:
        mask = rng.random(x.shape) < p  # keeps with probability p: p read as "keep"
    return ref.dropout_forward(x, p, mask=mask, rng=rng, train=train)


def _dropout_global_rng(x, p, *, mask=None, rng=None, train=True):
    if mask is None and train and 0 < p < 1:
        mask = np.random.random(x.shape) >= p  # the rng argument ignored
    return ref.dropout_forward(x, p, mask=mask, rng=rng, train=train)


def _dropout_backward_unscaled(dout, cache):
    mask, p = cache
    return dout if mask is None else dout * mask


def _dropout_drops_in_eval(x, p, *, mask=None, rng=None, train=True):
    return ref.dropout_forward(x, p, mask=mask, rng=rng, train=True)  # train flag ignored


def _dropout_unchecked_p(x, p, *, mask=None, rng=None, train=True):
    if not train or p == 0:
        return x, (None, p)
    mask = rng.random(x.shape) >= p if mask is None else mask
    return x * mask / (1 - p), (mask, p)


def _dropout_scaled_by_p(x, p, *, mask=None, rng=None, train=True):
    out, cache = ref.dropout_forward(x, p, mask=mask, rng=rng, train=train)
    return (out * (1 - p) / p if cache[0] is not None else out), cache  # 1 / p: right only at p = 0.5


def _dropout_lets_nan_through(x, p, *, mask=None, rng=None, train=True):
    if p < 0 or p >= 1:  # False for NaN
        raise ValueError("p must be in [0, 1)")
    if not train or p == 0:
        return x, (None, p)
    mask = rng.random(x.shape) >= p if mask is None else mask
    return x * mask / (1 - p), (mask, p)


def _dropout_caches_another_mask(x, p, *, mask=None, rng=None, train=True):
    out, cache = ref.dropout_forward(x, p, mask=mask, rng=rng, train=train)
    if mask is None and cache[0] is not None:
        cache = (rng.random(x.shape) >= p, p)  # a second draw: the backward's mask is not the forward's
    return out, cache


def _dropout_float64_mask(x, p, *, mask=None, rng=None, train=True):
    out, cache = ref.dropout_forward(x, p, mask=mask, rng=rng, train=train)
    if cache[0] is None:
        return out, cache
    return x * cache[0].astype(float) / (1 - p), cache  # a float64 mask promotes float32 x


# --------------------------------------------------------------------------- early stopping
def _early_stopping_ties_improve(val_losses, patience, min_delta=0.0):
    best, best_epoch = np.inf, None
    for epoch, loss in enumerate(val_losses):
        if loss <= best - min_delta:  # <= lets a tie count as an improvement
            best, best_epoch = loss, epoch
    if best_epoch is None:
        return False, None
    return len(val_losses) - 1 - best_epoch >= patience, best_epoch


def _early_stopping_off_by_one(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    if best is None:
        return stop, best
    return len(val_losses) - 1 - best > patience, best  # waits one epoch too many


def _early_stopping_previous_epoch(val_losses, patience, min_delta=0.0):
    best_epoch = None
    for epoch, loss in enumerate(val_losses):
        if epoch == 0 or loss < val_losses[epoch - 1] - min_delta:  # compared with the previous epoch
            best_epoch = epoch
    if best_epoch is None:
        return False, None
    return len(val_losses) - 1 - best_epoch >= patience, best_epoch


def _early_stopping_int_stop(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    return int(stop), best


def _early_stopping_nan_improves(val_losses, patience, min_delta=0.0):
    best, best_epoch = np.inf, None
    for epoch, loss in enumerate(val_losses):
        if not loss >= best - min_delta:  # the same as < for numbers, but True for NaN
            best, best_epoch = loss, epoch
    if best_epoch is None:
        return False, None
    return len(val_losses) - 1 - best_epoch >= patience, best_epoch


def _early_stopping_argmin(val_losses, patience, min_delta=0.0):
    if not val_losses:
        return False, None
    best_epoch = int(np.argmin(val_losses))  # min_delta ignored, and argmin picks a NaN
    return len(val_losses) - 1 - best_epoch >= patience, best_epoch


def _early_stopping_stops_on_nan(val_losses, patience, min_delta=0.0):
    stop, best = ref.early_stopping(val_losses, patience, min_delta)
    return stop or any(np.isnan(val_losses)), best  # a NaN stops at once: not the lesson's rule


BUGS = {
    "l1": Bug({"l1_backward": _l1_backward_no_lam}, "gradient of params['W'] differs", "lam left out of the gradient"),
    "l2": Bug({"l2_backward": _l2_backward_half}, "0.5 x the expected ones", "lam / 2 * w instead of lam * w"),
    "weight_decay": Bug({"add_decayed_weights": _decay_wrong_sign}, "updates at step 1['W'] differs",
                        "u - wd * p"),
    "dropout": Bug({"dropout_forward": _dropout_not_inverted}, "dropout_forward output differs",
                   "survivors not scaled by 1 / (1 - p)"),
    "early_stopping": Bug({"early_stopping": _early_stopping_ties_improve}, "a tie does not improve",
                          "a tie counts as an improvement"),
}

MORE_BUGS = [
    ("l1", Bug({"l1_backward": _l1_backward_np_sign}, "weights exactly 0", "np.sign gives 0 at 0")),
    ("l2", Bug({"l2_forward": _l2_forward_flat_dicts_only}, "nested dicts", "only a flat dict is walked")),
    ("l2", Bug({"l2_forward": _l2_forward_float64}, "expected dtype float32", "float32 promoted to float64")),
    ("weight_decay", Bug({"add_decayed_weights": _decay_no_params_check}, "should raise ValueError",
                         "crashes on params=None")),
    ("weight_decay", Bug({"add_decayed_weights": _decay_in_place}, "in place", "updates modified in place")),
    ("weight_decay", Bug({"add_decayed_weights": _decay_decays_updates}, "updates at step 1",
                         "decays the updates, not the params")),
    ("dropout", Bug({"dropout_forward": _dropout_keeps_p}, "expected about 1 - p", "p read as keep probability")),
    ("dropout", Bug({"dropout_forward": _dropout_global_rng}, "same seed", "np.random instead of rng")),
    ("dropout", Bug({"dropout_backward": _dropout_backward_unscaled}, "gradient of x", "backward not scaled")),
    ("dropout", Bug({"dropout_forward": _dropout_drops_in_eval}, "train=False", "dropout at evaluation")),
    ("dropout", Bug({"dropout_forward": _dropout_unchecked_p}, "should raise ValueError", "p = 1 accepted")),
    ("early_stopping", Bug({"early_stopping": _early_stopping_off_by_one}, "patience 0 stops at once",
                           "waits patience + 1 epochs")),
    ("early_stopping", Bug({"early_stopping": _early_stopping_previous_epoch}, "best_epoch",
                           "improvement measured from the previous epoch")),
    ("early_stopping", Bug({"early_stopping": _early_stopping_int_stop}, "stop: expected a bool", "stop as 0/1")),
    # square matrices, hyper-parameter edges, NaN, float32, state
    ("l1", Bug({"l1_backward": _l1_backward_transposed}, "[square W]", "sign(w).T: the shape fits a square W")),
    ("l2", Bug({"l2_backward": _l2_backward_transposed}, "[square W]", "lam * w.T")),
    ("l2", Bug({"l2_backward": _l2_backward_into_cache}, "modified its cache in place", "w *= lam * dout")),
    ("weight_decay", Bug({"add_decayed_weights": _decay_transposed}, "square W", "u + wd * p.T")),
    ("weight_decay", Bug({"add_decayed_weights": _decay_zero_means_default}, "weight_decay = 0 changes nothing",
                         "weight_decay or 1e-4: a rate of 0 replaced")),
    ("weight_decay", Bug({"add_decayed_weights": _decay_params_from_init}, "updates at step 2",
                         "the params captured by init, not the ones passed to update")),
    ("dropout", Bug({"dropout_forward": _dropout_scaled_by_p}, "dropout_forward output differs",
                    "survivors scaled by 1 / p, right only at p = 0.5")),
    ("dropout", Bug({"dropout_forward": _dropout_lets_nan_through}, "lets NaN through", "p = nan accepted")),
    ("dropout", Bug({"dropout_forward": _dropout_caches_another_mask}, "the forward's own mask",
                    "the cached mask is a second draw")),
    ("dropout", Bug({"dropout_forward": _dropout_float64_mask}, "expected dtype float32", "mask.astype(float)")),
    ("early_stopping", Bug({"early_stopping": _early_stopping_nan_improves}, "a NaN loss never improves",
                           "not loss >= best: NaN counts as an improvement")),
    ("early_stopping", Bug({"early_stopping": _early_stopping_argmin}, "best_epoch: expected",
                           "np.argmin: min_delta ignored, NaN picked")),
    ("early_stopping", Bug({"early_stopping": _early_stopping_stops_on_nan}, "does not stop training by itself",
                           "a NaN loss stops at once")),
]


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_reference_examples():
    assert ref.early_stopping([0.9, 0.7, 0.8, 0.75], patience=2) == (True, 1)
    assert ref.early_stopping([], patience=3) == (False, None)
    params = [{"W": np.array([[1.0, -2.0]]), "b": np.array([0.0])}]
    assert float(ref.l1_forward(params, 0.5)[0]) == 1.5
    assert float(ref.l2_forward(params, 0.5)[0]) == 1.25
    grads = ref.l1_backward(1.0, ref.l1_forward(params, 0.5)[1])
    np.testing.assert_array_equal(grads[0]["b"], [0.5])  # +1 at w = 0, as JAX


def test_decay_chains_tell_l2_from_decoupled_decay():
    """The chain cases are worth checking only if L2 and decoupled decay part on them: they do, by far."""
    from tracks.t09_regularization import checks

    rng = np.random.default_rng(0)
    start = checks._mlp_like(rng, [3, 3, 4])
    grads = [tree_map(lambda p: rng.standard_normal(p.shape), start) for _ in range(checks.CHAIN_STEPS)]
    finals = []
    for _, ours, _ in checks._chains(ref.add_decayed_weights, 0.3):
        params, state = start, ours.init(start)
        for g in grads:
            updates, state = ours.update(g, state, params)
            params = ref.tree_map(lambda p, u: p + u, params, updates)
        finals.append(params)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(ref.tree_leaves(finals[0]), ref.tree_leaves(finals[1])))
    assert gap > 1e-3


# --------------------------------------------------------------------------- the run
def test_smoke_run_shows_l2_equals_decay_under_sgd_and_over_fitting(tmp_path, capsys):
    """What the generic smoke test does not look at: the figures this topic's run is about."""
    code = main(["topic09", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report.get("error")
    metrics = report["run"]["metrics"]
    assert metrics["dataset"] == "synthetic"
    assert metrics["l2_vs_decay_max_diff"] == 0.0
    assert metrics["plain_final_train_loss"] < metrics["plain_final_val_loss"]  # it over-fits
    assert {Path(p).name for p in report["run"]["plots"]} == {"overfitting.png", "comparison.png"}
    assert set(report["run"]["dependencies"]) == {"t03", "t05", "t06", "t07", "t08"}


def test_missing_data_gives_the_data_error_not_a_traceback(tmp_path, capsys, monkeypatch):
    import fdl.data
    from fdl.data import DataError

    def missing(name, **kwargs):
        raise DataError(f"{name} is not on this machine.\nWhat to do: download it into the cache.")

    monkeypatch.setattr(fdl.data, "load_dataset", missing)
    code = main(["topic09", "--dataset", "fashion_mnist", "--epochs", "1", "--no-progress", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "What to do: download it" in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- the JAX version
jax = pytest.importorskip("jax")
jnp = jax.numpy


def test_jax_penalties_match_the_reference():
    from tracks.t09_regularization import jax_version as J

    rng = np.random.default_rng(0)
    params = [{"W": rng.standard_normal((4, 3)), "b": np.zeros(3)}, {"W": rng.standard_normal((3, 2)),
                                                                      "b": rng.standard_normal(2)}]
    with jax.enable_x64(True):
        for ours, forward, backward in [(J.l1, ref.l1_forward, ref.l1_backward),
                                        (J.l2, ref.l2_forward, ref.l2_backward)]:
            value, grads = jax.jit(jax.value_and_grad(ours), static_argnums=1)(params, 0.3)
            np.testing.assert_allclose(value, forward(params, 0.3)[0], rtol=1e-13)
            expected = backward(1.0, (params, 0.3))  # lam * sign(w) with +1 at 0 (the zero biases), lam * w
            for a, b in zip(jax.tree_util.tree_leaves(grads), ref.tree_leaves(expected)):
                np.testing.assert_allclose(a, b, rtol=1e-13)


def test_jax_dropout_explicit_keys_and_inverted_scaling():
    from tracks.t09_regularization import jax_version as J

    x = jnp.asarray(np.random.default_rng(0).uniform(0.5, 1.5, (200, 500)), jnp.float32)
    drop = jax.jit(lambda v, key: J.dropout(v, 0.3, key=key))
    key = jax.random.key(1)
    out = np.asarray(drop(x, key))
    np.testing.assert_array_equal(out, drop(x, key))  # same key, same mask
    assert not np.array_equal(out, drop(x, jax.random.key(2)))
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 5 * np.sqrt(0.21 / x.size)
    np.testing.assert_allclose(out[kept], np.asarray(x)[kept] / np.float32(0.7), rtol=1e-6)
    assert out.dtype == np.float32
    assert J.dropout(x, 0.3, key=key, train=False) is x
    dx = jax.jit(jax.grad(lambda v, k: jnp.sum(J.dropout(v, 0.3, key=k) * 2.0)))(x, key)
    np.testing.assert_allclose(dx, np.where(kept, 2.0 / np.float32(0.7), 0.0), rtol=1e-6)
    with pytest.raises(ValueError):
        J.dropout(x, 1.0, key=key)


def test_jax_weight_decay_is_l2_before_sgd_and_adamw_after_adam():
    import optax

    from tracks.t09_regularization import jax_version as J

    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        params = {"W": jnp.asarray(rng.standard_normal((4, 3))), "b": jnp.asarray(rng.standard_normal(3))}
        grads = jax.tree_util.tree_map(lambda p: jnp.asarray(rng.standard_normal(p.shape)), params)

        @jax.jit
        def sgd_two_ways(params, grads):
            decayed = J.sgd_with_weight_decay(0.1, 0.01)
            u_wd, _ = decayed.update(grads, decayed.init(params), params)
            l2_grads = jax.tree_util.tree_map(jnp.add, grads, jax.grad(J.l2)(params, 0.01))
            u_l2, _ = optax.sgd(0.1).update(l2_grads, optax.sgd(0.1).init(params), params)
            return u_wd, u_l2

        u_wd, u_l2 = sgd_two_ways(params, grads)
        for a, b in zip(jax.tree_util.tree_leaves(u_wd), jax.tree_util.tree_leaves(u_l2)):
            np.testing.assert_allclose(a, b, rtol=1e-14)

        @jax.jit
        def five_steps(params, grads):
            ours, theirs = J.adam_with_decoupled_weight_decay(1e-2, 0.1), optax.adamw(1e-2, weight_decay=0.1)
            p1 = p2 = params
            s1, s2 = ours.init(p1), theirs.init(p2)
            for _ in range(5):
                u1, s1 = ours.update(grads, s1, p1)
                u2, s2 = theirs.update(grads, s2, p2)
                p1, p2 = optax.apply_updates(p1, u1), optax.apply_updates(p2, u2)
            return p1, p2

        p1, p2 = five_steps(params, grads)
        for a, b in zip(jax.tree_util.tree_leaves(p1), jax.tree_util.tree_leaves(p2)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_jax_early_stopping_state_matches_the_reference():
    from tracks.t09_regularization import jax_version as J

    @jax.jit
    def verdicts(losses, patience, min_delta):  # losses padded to 15 epochs: one compilation
        def body(state, loss):
            state, stop = J.early_stopping_update(state, loss, patience, min_delta)
            return state, (stop, state.best_epoch)

        return jax.lax.scan(body, J.early_stopping_init(), losses)[1]

    rng = np.random.default_rng(2)
    with jax.enable_x64(True):  # float64, as the reference's Python floats: ties break the same way
        for trial in range(40):
            losses = np.round(rng.uniform(0, 1, int(rng.integers(1, 15))), 1)
            patience, min_delta = int(rng.integers(0, 4)), float(rng.choice([0.0, 0.1]))
            stops, bests = verdicts(jnp.asarray(np.pad(losses, (0, 15 - len(losses)))), patience, min_delta)
            for k in range(1, len(losses) + 1):  # the scan is causal: padding never changes earlier verdicts
                stop, best = ref.early_stopping(list(losses[:k]), patience, min_delta)
                assert (bool(stops[k - 1]), int(bests[k - 1])) == (stop, best), (losses, patience, min_delta, k)


def test_jax_training_step_learns_and_compiles_once():
    import chex
    import jax

    from tracks.t09_regularization import jax_version as J

    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    params = J.init_mlp(jax.random.key(0), (8, 16, 2))
    optimizer = J.sgd_with_weight_decay(0.1, 1e-3, momentum=0.9)
    step = J.make_train_step(optimizer, p=0.2, lam=1e-3)
    # traced (and so compiled) once, reused every step: a second trace raises
    chex.clear_trace_counter()
    step = jax.jit(chex.assert_max_traces(step.__wrapped__, n=1))
    opt_state = optimizer.init(params)
    losses = []
    for i in range(20):
        params, opt_state, loss = step(params, opt_state, x, y, jax.random.key(i))
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
