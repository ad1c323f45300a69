"""Topic 08: each loss's check catches a planted bug for the planted reason; the run and the JAX version work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from tracks.t08_losses import reference as ref

from helpers import Bug, assert_bug_caught, check_exercise, reference_with

TOPIC = find_topic(8)


# --------------------------------------------------------------------------- planted bugs
def _mse_backward_no_two(dloss, err):
    return err * (dloss / err.size)  # d e^2 / de written as e


def _huber_backward_unclipped(dloss, cache):
    err, delta = cache
    return err * (dloss / err.size)  # the quadratic zone's slope everywhere: outliers pull unbounded


def _bce_forward_naive(logits, labels):
    p = 1 / (1 + np.exp(-logits))
    per_element = -(labels * np.log(p) + (1 - labels) * np.log(1 - p))  # log(0) once p rounds to 0 or 1
    return np.asarray(per_element.mean(), dtype=logits.dtype), (p, labels)


def _ce_forward_no_max(logits, labels):
    n = logits.shape[0]
    lse = np.log(np.exp(logits).sum(axis=1))  # exp(1000) = inf
    probs = np.exp(logits - lse[:, None])
    return np.asarray(np.mean(lse - logits[np.arange(n), labels]), dtype=logits.dtype), (probs, labels)


def _label_smoothing_forward_other_convention(logits, labels, alpha):
    # 1 - alpha on the label and alpha / (c - 1) on the others: a real convention, but not optax's
    n, c = logits.shape
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    q = np.full((n, c), alpha / max(c - 1, 1))
    q[np.arange(n), labels] = 1 - alpha
    loss = -(q * log_probs).sum(axis=1).mean()
    return np.asarray(loss, dtype=logits.dtype), (np.exp(log_probs), labels, alpha)


def _kl_forward_log_of_zero(log_predictions, targets):
    per_row = (targets * (np.log(targets) - log_predictions)).sum(axis=-1)  # 0 * log(0) = 0 * -inf = NaN
    return np.asarray(per_row.mean(), dtype=log_predictions.dtype), targets


BUGS = {
    "mse": Bug({"mse_backward": _mse_backward_no_two}, "0.5 x the expected", "gradient e / N instead of 2 e / N"),
    "huber": Bug({"huber_backward": _huber_backward_unclipped}, "gradient of pred", "gradient not clipped at delta"),
    "bce_with_logits": Bug({"bce_with_logits_forward": _bce_forward_naive}, "non-finite",
                           "log(sigmoid(x)) computed as written"),
    "softmax_cross_entropy": Bug({"softmax_cross_entropy_forward": _ce_forward_no_max}, "non-finite",
                                 "logsumexp without subtracting the row maximum"),
    "label_smoothing": Bug({"label_smoothing_forward": _label_smoothing_forward_other_convention},
                           "label_smoothing_forward output", "alpha / (c - 1) spread over the other classes"),
    "kl_divergence": Bug({"kl_divergence_forward": _kl_forward_log_of_zero}, "targets exactly 0",
                         "log(0) taken where a target is 0"),
}


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


def test_naive_forms_fail_as_non_finite_on_extreme_logits():
    for exercise in ("bce_with_logits", "softmax_cross_entropy", "kl_divergence"):
        result = assert_bug_caught(TOPIC, exercise, BUGS[exercise])
        assert "non-finite" in result.message, result.message


# --------------------------------------------------------------------------- more slips, each for its reason
def _mse_backward_float64(dloss, err):
    return err * (2 * np.asarray(dloss, dtype=np.float64) / err.size)  # a float64 0-d array: float32 becomes float64


def _mse_backward_per_row(dloss, err):
    return 2 * err * (dloss / err.shape[0])  # divided by the rows, not by every element


def _huber_backward_clip_at_one(dloss, cache):
    err, delta = cache
    return np.clip(err, -1.0, 1.0) * (dloss / err.size)  # delta = 1 written in


def _huber_forward_half(pred, target, delta=1.0):
    err = pred - target
    abs_err = np.abs(err)
    per_element = np.where(abs_err <= delta, 0.5 * err * err, delta * (abs_err - 0.5))  # delta / 2 written as 1/2
    return np.asarray(per_element.mean(), dtype=pred.dtype), (err, float(delta))


def _bce_sum(logits, labels):
    loss, cache = ref.bce_with_logits_forward(logits, labels)
    return loss * logits.dtype.type(logits.size), cache  # the sum over the batch, not its mean


def _bce_backward_sum(dloss, cache):
    probs, labels = cache
    return (probs - labels) * probs.dtype.type(dloss)


def _bce_backward_float64(dloss, cache):
    probs, labels = cache
    return (probs - labels) * (np.asarray(dloss, dtype=np.float64) / probs.size)  # float32 * float64 array


def _bce_backward_into_cache(dloss, cache):
    probs, labels = cache
    probs -= labels  # the cached probabilities overwritten
    return probs * probs.dtype.type(dloss / probs.size)


def _ce_forward_labels_as_rows(logits, labels):
    n = logits.shape[0]
    log_probs, probs = ref._log_softmax_and_softmax(logits)
    nll = -log_probs[labels, np.arange(n)]  # row and column swapped: right shape only when n == c
    return np.asarray(nll.mean(), dtype=logits.dtype), (probs, labels)


def _ce_backward_no_mean(dloss, cache):
    probs, labels = cache
    grad = probs.copy()
    grad[np.arange(len(labels)), labels] -= 1
    return grad * grad.dtype.type(dloss)  # the 1/n of the mean forgotten


def _ce_backward_per_class(dloss, cache):
    probs, labels = cache
    grad = probs.copy()
    grad[np.arange(len(labels)), labels] -= 1
    return grad * grad.dtype.type(dloss / probs.shape[1])  # 1/c in place of 1/n: right only when square


def _ce_backward_into_cache(dloss, cache):
    probs, labels = cache
    grad = probs  # not a copy: the cached softmax is overwritten
    grad[np.arange(len(labels)), labels] -= 1
    grad *= grad.dtype.type(dloss / len(labels))
    return grad


def _ls_backward_alpha_ignored(dloss, cache):
    probs, labels, alpha = cache
    return ref.softmax_cross_entropy_backward(dloss, (probs, labels))  # plain cross-entropy's gradient


def _ls_forward_uniform_sum(logits, labels, alpha):
    n, c = logits.shape
    log_probs, probs = ref._log_softmax_and_softmax(logits)
    nll = -log_probs[np.arange(n), labels]
    per_row = (1 - alpha) * nll + alpha * -log_probs.sum(axis=-1)  # a sum over classes where the mean belongs
    return np.asarray(per_row.mean(), dtype=logits.dtype), (probs, labels, float(alpha))


def _ls_backward_float64_target(dloss, cache):
    probs, labels, alpha = cache
    n, c = probs.shape
    q = np.full((n, c), alpha / c)  # np.full of a Python float: float64
    q[np.arange(n), labels] += 1 - alpha
    return (probs - q) * (dloss / n)


def _kl_mean_over_elements(log_predictions, targets):
    loss, cache = ref.kl_divergence_forward(log_predictions, targets)
    return loss / loss.dtype.type(targets.shape[-1]), cache  # a mean over every element, not over the rows


def _kl_forward_keeping_log_p(log_predictions, targets):
    loss, targets = ref.kl_divergence_forward(log_predictions, targets)
    return loss, (targets, log_predictions)


def _kl_backward_wrt_p(dloss, cache):
    targets, log_p = cache
    return -targets / np.exp(log_p) * (dloss / targets.shape[0])  # d/dp, not d/d(log p): the 1/p stays


MORE_BUGS = [
    ("mse", Bug({"mse_backward": _mse_backward_float64}, "expected dtype float32", "float64 dloss array")),
    ("mse", Bug({"mse_backward": _mse_backward_per_row}, "x the expected ones", "divided by the rows")),
    ("huber", Bug({"huber_backward": _huber_backward_clip_at_one}, "delta=", "clipped at 1, not delta")),
    ("huber", Bug({"huber_forward": _huber_forward_half}, "huber_forward output", "delta / 2 written as 1/2")),
    ("bce_with_logits", Bug({"bce_with_logits_forward": _bce_sum, "bce_with_logits_backward": _bce_backward_sum},
                            "bce_with_logits_forward output differs", "a sum where the mean belongs")),
    ("bce_with_logits", Bug({"bce_with_logits_backward": _bce_backward_float64}, "expected dtype float32",
                            "float32 * float64 array")),
    ("bce_with_logits", Bug({"bce_with_logits_backward": _bce_backward_into_cache}, "modified its cache in place",
                            "probs -= labels")),
    ("softmax_cross_entropy", Bug({"softmax_cross_entropy_forward": _ce_forward_labels_as_rows},
                                  "softmax_cross_entropy_forward output", "log_p[labels, arange(n)]")),
    ("softmax_cross_entropy", Bug({"softmax_cross_entropy_backward": _ce_backward_no_mean},
                                  "x the expected ones (a missing or extra", "the 1/n of the mean forgotten")),
    ("softmax_cross_entropy", Bug({"softmax_cross_entropy_backward": _ce_backward_per_class},
                                  "x the expected ones", "1/c in place of 1/n")),
    ("softmax_cross_entropy", Bug({"softmax_cross_entropy_backward": _ce_backward_into_cache},
                                  "modified its cache in place", "grad = probs without a copy")),
    ("label_smoothing", Bug({"label_smoothing_backward": _ls_backward_alpha_ignored}, "alpha=",
                            "alpha ignored in the backward")),
    ("label_smoothing", Bug({"label_smoothing_forward": _ls_forward_uniform_sum}, "label_smoothing_forward output",
                            "the uniform term summed over classes")),
    ("label_smoothing", Bug({"label_smoothing_backward": _ls_backward_float64_target}, "expected dtype float32",
                            "a float64 smoothed target")),
    ("kl_divergence", Bug({"kl_divergence_forward": _kl_mean_over_elements}, "kl_divergence_forward output differs",
                          "mean over every element")),
    ("kl_divergence", Bug({"kl_divergence_forward": _kl_forward_keeping_log_p,
                           "kl_divergence_backward": _kl_backward_wrt_p},
                          "gradient of log_predictions", "the gradient with respect to p")),
]


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_slips_fail_for_their_reason(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_tolerance_stays_tight_where_the_loss_is_small_next_to_its_logits():
    # the per-case spread loosens the large-offset case by ~1000: still far below a real error
    def forward(logits, labels):
        loss, cache = ref.softmax_cross_entropy_forward(logits, labels)
        return loss * loss.dtype.type(1 + 1e-9), cache

    assert_bug_caught(TOPIC, "softmax_cross_entropy",
                      Bug({"softmax_cross_entropy_forward": forward}, "softmax_cross_entropy_forward output"))


def test_reference_passes_other_seeds():
    for exercise in TOPIC.exercise_names:
        for seed in (1, 7):
            assert check_exercise(TOPIC, exercise, reference_with(TOPIC), seed=seed).passed, (exercise, seed)


# --------------------------------------------------------------------------- the reference itself
def test_stable_forms_never_overflow_or_take_log_of_zero():
    logits = np.array([[-1000.0, 0.0, 1000.0], [700.0, -700.0, 710.0]])
    labels = np.array([0, 1])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        for dtype in (np.float32, np.float64):
            z = logits.astype(dtype)
            targets = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], dtype)
            for forward, backward, args in [
                (ref.bce_with_logits_forward, ref.bce_with_logits_backward, (z, (z > 0).astype(dtype)[::-1])),
                (ref.softmax_cross_entropy_forward, ref.softmax_cross_entropy_backward, (z, labels)),
                (ref.label_smoothing_forward, ref.label_smoothing_backward, (z, labels, 0.1)),
                (ref.kl_divergence_forward, ref.kl_divergence_backward, (z - z.max(axis=1, keepdims=True), targets)),
            ]:
                loss, cache = forward(*args)
                grad = backward(np.asarray(1.0), cache)
                assert np.isfinite(loss) and np.all(np.isfinite(grad)), forward.__name__
                assert loss.dtype == dtype and grad.dtype == dtype and loss.shape == (), forward.__name__


def test_label_smoothing_with_alpha_zero_is_cross_entropy():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((9, 5)).astype(np.float32) * 10
    labels = rng.integers(0, 5, 9)
    ce, ce_cache = ref.softmax_cross_entropy_forward(logits, labels)
    ls, ls_cache = ref.label_smoothing_forward(logits, labels, 0.0)
    assert ls == ce and ls.dtype == np.float32
    np.testing.assert_array_equal(ref.label_smoothing_backward(1.0, ls_cache),
                                  ref.softmax_cross_entropy_backward(1.0, ce_cache))


def test_backward_leaves_the_cache_alone():
    rng = np.random.default_rng(2)
    logits, labels = rng.standard_normal((4, 3)), rng.integers(0, 3, 4)
    for forward, backward, extra in [(ref.softmax_cross_entropy_forward, ref.softmax_cross_entropy_backward, ()),
                                     (ref.label_smoothing_forward, ref.label_smoothing_backward, (0.2,))]:
        _, cache = forward(logits, labels, *extra)
        first = backward(1.0, cache)
        np.testing.assert_array_equal(backward(1.0, cache), first)


def test_bad_labels_are_refused():
    logits = np.zeros((3, 4))
    for labels in (np.array([0, 1, 4]), np.array([0, -1, 2]), np.array([0.0, 1.0, 2.0]), np.array([0, 1])):
        with pytest.raises(ValueError, match="labels"):
            ref.softmax_cross_entropy_forward(logits, labels)


# --------------------------------------------------------------------------- the run
def test_smoke_run_measures_stability_and_the_smoothed_margin(capsys, tmp_path):
    """What the run shows (targets met, plots saved, determinism are tests/test_tracks.py's)."""
    from fdl.run import main

    code = main(["topic08", "--smoke", "--json", "--no-progress", "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    metrics = report["run"]["metrics"]
    assert metrics["stable_max_rel_error_f32"] < 1e-5 and metrics["stable_max_rel_error_f64"] < 1e-12
    assert metrics["naive_first_nonfinite_scale_f32"] == 100  # exp(100) overflows float32
    assert metrics["naive_first_nonfinite_scale_f64"] == 300  # a probability underflows to 0: log 0
    assert metrics["huber_gradient_max"] == pytest.approx(1.0)  # clipped at delta
    assert abs(metrics["ls_best_margin"] - np.log(1 + 0.9 * 10 / 0.1)) <= metrics["grid_step"]
    assert metrics["ls_kl_at_best"] < 1e-3  # softmax = smoothed target at the best margin
    assert {Path(p).name for p in report["run"]["plots"]} == {"loss_curves.png", "stability.png"}


# --------------------------------------------------------------------------- the JAX version
def test_jax_version_matches_optax_values_and_gradients():
    import jax
    import jax.numpy as jnp
    import optax

    from tracks.t08_losses import jax_version as J

    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        pred, target = jnp.asarray(rng.standard_normal((4, 5)) * 3), jnp.asarray(rng.standard_normal((4, 5)))
        logits = jnp.asarray(rng.standard_normal((2, 3, 6)) * 5)  # (batch, seq, classes): leading axes batch
        labels = jnp.asarray(rng.integers(0, 6, (2, 3)))
        soft = jnp.asarray(rng.random((2, 3, 6)))
        targets = jax.nn.softmax(jnp.asarray(rng.standard_normal((2, 3, 6))))
        targets = targets.at[0, 0, :2].set(0.0)  # zeros: 0 log 0 = 0
        log_p = jax.nn.log_softmax(logits)

        def smoothed(z, y, a):
            return optax.softmax_cross_entropy(z, optax.smooth_labels(jax.nn.one_hot(y, 6), a)).mean()

        pairs = [
            (J.mse, lambda p: optax.squared_error(p, target).mean(), pred, (target,)),
            (J.huber, lambda p: optax.huber_loss(p, target, delta=1.5).mean(), pred, (target, 1.5)),
            (J.bce_with_logits, lambda z: optax.sigmoid_binary_cross_entropy(z, soft).mean(), logits, (soft,)),
            (J.softmax_cross_entropy,
             lambda z: optax.softmax_cross_entropy_with_integer_labels(z, labels).mean(), logits, (labels,)),
            (J.label_smoothing, lambda z: smoothed(z, labels, 0.2), logits, (labels, 0.2)),
            (J.kl_divergence, lambda lp: optax.kl_divergence(lp, targets).mean(), log_p, (targets,)),
        ]
        for ours, theirs, x, rest in pairs:
            mine = jax.jit(jax.value_and_grad(lambda x: ours(x, *rest)))
            v1, g1 = mine(x)
            v2, g2 = jax.jit(jax.value_and_grad(theirs))(x)
            np.testing.assert_allclose(v1, v2, rtol=1e-13, err_msg=ours.__name__)
            np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15, err_msg=ours.__name__)
            assert np.all(np.isfinite(jax.jit(jax.grad(lambda x: ours(x * 300, *rest)))(x))), ours.__name__

        # vmap over independent batches, and the NumPy reference on the same numbers
        per_batch = jax.jit(jax.vmap(J.softmax_cross_entropy))(logits, labels)
        for i in range(2):
            loss, _ = ref.softmax_cross_entropy_forward(np.asarray(logits[i]), np.asarray(labels[i]))
            np.testing.assert_allclose(per_batch[i], loss, rtol=1e-14)

    z32 = jnp.asarray(rng.standard_normal((3, 4)) * 100, jnp.float32)
    y = jnp.asarray(rng.integers(0, 4, 3))
    value, grad = jax.jit(jax.value_and_grad(J.softmax_cross_entropy))(z32, y)
    assert value.dtype == jnp.float32 and grad.dtype == jnp.float32 and np.isfinite(value)
