"""The checker's guarantees by class of learner mistake, each shown on a planted bug.

dtype (float32 copies), state (a backward that writes into its cache or
answers differently when called again), cancellation (no false alarm on a
sum of large terms that cancels, a wrong value still fails), hyper-parameter
ranges, the failing comparison's figures, and trajectories that report the
first step where two runs part.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from fdl.check import Case, CheckContext, Status, Tolerance, check_vjp, compare_trajectories, run_check, vjp_check
from fdl.check.sample import hyper, square_and_not
from fdl.check.vjp import _nudge, noise_floor
from types import SimpleNamespace


def _tanh_forward(x):
    out = np.tanh(x)
    return out, out


def _tanh_backward(dout, out):
    return dout * (1 - out ** 2)


def check_pair(forward, backward, oracle=jnp.tanh, cases=None, **kwargs):
    cases = cases or [Case((np.random.default_rng(0).standard_normal((3, 4)),)),
                      Case((np.random.default_rng(1).standard_normal((4, 4)),))]
    impl = SimpleNamespace(f_forward=forward, f_backward=backward)
    return run_check(vjp_check("f_forward", "f_backward", oracle, cases, **kwargs), impl, exercise="f")


# --------------------------------------------------------------------------- dtype
def test_float32_copies_catch_a_silent_upcast():
    def upcast_forward(x):
        out = np.tanh(x.astype(np.float64))  # right values, wrong dtype in float32
        return out, out

    result = check_pair(upcast_forward, _tanh_backward)
    assert result.status is Status.FAIL and "expected dtype float32" in result.message
    assert "float32 copy" in result.message
    assert check_pair(_tanh_forward, _tanh_backward).status is Status.PASS


def test_float32_copies_are_not_added_when_a_check_has_its_own():
    x32 = np.ones((2, 2), np.float32)
    result = run_check(vjp_check("f_forward", "f_backward", jnp.tanh, [Case((x32,))]),
                       SimpleNamespace(f_forward=_tanh_forward, f_backward=_tanh_backward), exercise="f")
    assert result.status is Status.PASS and result.cases == 1


# --------------------------------------------------------------------------- state
def test_a_backward_that_writes_into_its_cache_fails():
    def backward(dout, out):
        out **= 2  # scratch space in the cache
        return dout * (1 - out)

    result = check_pair(_tanh_forward, backward)
    assert result.status is Status.FAIL and "modified its cache in place" in result.message


def test_a_backward_that_keeps_state_between_calls_fails():
    calls = []

    def backward(dout, out):
        calls.append(1)
        return dout * (1 - out ** 2) * (1 + 1e-3 * (len(calls) % 2 == 0))

    result = check_pair(_tanh_forward, backward)
    assert result.status is Status.FAIL and "different gradient" in result.message


def test_a_backward_returning_a_view_of_its_cache_fails_when_called_again():
    def forward(a, b):
        return a * b, {"a": a, "b": b, "scratch": np.zeros_like(a * b)}

    def backward(dout, cache):
        scratch = cache["scratch"]  # a buffer saved once, filled on every call: both calls return it
        np.multiply(dout, cache["b"], out=scratch)
        return scratch, dout * cache["a"]

    cases = [Case((np.random.default_rng(0).standard_normal((3, 3)), np.random.default_rng(1).standard_normal((3, 3))))]
    result = check_pair(forward, backward, oracle=lambda a, b: a * b, cases=cases)
    assert result.status is Status.FAIL and "cache" in result.message


# --------------------------------------------------------------------------- cancellation
def _sum_forward(x):
    return x.sum(), x.shape


def _sum_backward(dout, shape):
    return np.broadcast_to(dout, shape).copy()


def test_a_sum_that_cancels_passes_and_a_wrong_sum_fails():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(1000) * 1e3
    x[-1] -= x.sum() - 1e-9  # a result near zero from terms near a thousand
    sloppy = lambda x: (np.float64(sum(float(v) for v in x)), x.shape)  # noqa: E731  (left-to-right sum)
    cases = [Case((x,), numeric=False, float32=False)]
    ok = check_pair(sloppy, _sum_backward, oracle=jnp.sum, cases=cases, tol=Tolerance(16, 16))
    assert ok.status is Status.PASS, ok
    wrong = lambda x: (np.float64(x[:-1].sum()), x.shape)  # noqa: E731  (drops a term)
    bad = check_pair(wrong, _sum_backward, oracle=jnp.sum, cases=cases, tol=Tolerance(16, 16))
    assert bad.status is Status.FAIL and "output differs" in bad.message


def test_tanh_derivative_near_one_needs_the_elementwise_floor():
    x = np.array([[7.5, -8.0, 6.9], [7.2, 8.1, -7.7], [6.6, 7.9, 7.1]])  # 1 - tanh^2 of about 1e-6
    cases = [Case((x,), numeric=False, float32=False)]
    strict = check_pair(_tanh_forward, _tanh_backward, cases=cases, tol=Tolerance(1, 1))
    relaxed = check_pair(_tanh_forward, _tanh_backward, cases=cases, tol=Tolerance(1, 1), elementwise=True)
    assert relaxed.status is Status.PASS, relaxed
    assert strict.status is Status.FAIL or strict.worst.ratio > relaxed.worst.ratio
    wrong = check_pair(_tanh_forward, lambda dout, out: dout * (1 - out), cases=cases, elementwise=True)
    assert wrong.status is Status.FAIL


def test_nudges_keep_ties_zeros_and_order():
    x = np.array([0.0, 1.5, 1.5, -2.0, 3.0, np.inf, np.nan])
    for salt in (1, 2):
        y = _nudge(x, salt)
        assert y[0] == 0.0 and y[1] == y[2] and y[1] != 1.5 and np.isinf(y[5]) and np.isnan(y[6])
        assert np.all(np.argsort(y[:5]) == np.argsort(x[:5]))
        assert np.all(np.abs(y[1:5] - x[1:5]) <= 2.5 * np.finfo(np.float64).eps * np.abs(x[1:5]))
    assert _nudge(np.array(2.0), 1).shape == ()
    assert _nudge(np.ones(3, np.float32), 1).dtype == np.float32


def test_the_noise_floor_is_capped_so_a_discontinuity_cannot_hide_a_bug():
    x = np.array([1.0, 2.0])
    step = lambda x: np.where(x > 1.0, 1.0, 0.0)  # noqa: E731  (jumps at x = 1: a nudge moves it by 1)
    floor = noise_floor(step, (x,), step(x), Tolerance(16, 16))
    assert float(np.max(floor)) <= np.sqrt(np.finfo(np.float64).eps) * 2.0  # sqrt(eps) of the largest value


# --------------------------------------------------------------------------- figures of a failure
def test_a_failing_row_carries_the_failing_figures():
    result = check_vjp(_tanh_forward, lambda dout, out: dout * (1 - out), jnp.tanh, shapes=[(3, 4)])
    assert result.status is Status.FAIL
    assert result.worst.max_abs > 1e-3 and result.worst.ratio > 1


# --------------------------------------------------------------------------- hyper-parameters
def test_hyper_spans_the_range_with_its_ends():
    rng = np.random.default_rng(0)
    values = hyper(rng, 0.0, 5.0, n=5)
    assert values[0] == 0.0 and values[-1] == 5.0 and len(values) == 5
    assert any(v > 1 for v in values[1:-1]) and any(v < 2.5 for v in values[1:-1])
    open_end = hyper(rng, 0.0, 1.0, n=4, include_high=False)
    assert max(open_end) < 1.0 and min(open_end) == 0.0
    logs = hyper(rng, 1e-4, 1.0, n=4, log=True)
    assert logs[0] == 1e-4 and logs[-1] == 1.0 and sorted(logs) == logs
    with pytest.raises(ValueError):
        hyper(rng, 1.0, 1.0)


def test_square_and_not_gives_one_square_shape():
    shapes = square_and_not(np.random.default_rng(3))
    assert sum(a == b for a, b in shapes) == 1 and len(set(shapes)) == 3


def test_a_slope_right_only_below_one_fails_across_the_range():
    def leaky_forward(x, alpha):
        return np.maximum(x, alpha * x), (x, alpha)  # right only for alpha < 1

    def leaky_backward(dout, cache):
        x, alpha = cache
        return dout * np.where(x > alpha * x, 1.0, alpha)

    def oracle(x, alpha):
        return jnp.where(x > 0, x, alpha * x)

    def cases(rng):
        x = rng.standard_normal((4, 4)) + 0.1
        return [Case((x,), {"alpha": a}) for a in hyper(rng, 0.0, 3.0, n=4)]

    impl = SimpleNamespace(f_forward=leaky_forward, f_backward=leaky_backward)
    result = run_check(vjp_check("f_forward", "f_backward", oracle, cases), impl, exercise="f")
    assert result.status is Status.FAIL
    alpha = float(result.message.split("alpha=")[1].split(")")[0])
    assert alpha > 1  # the cases below 1 passed: only the range beyond them shows the mistake


# --------------------------------------------------------------------------- trajectories
def test_trajectories_report_the_first_step_where_they_part():
    expected = [{"w": np.array([1.0, 2.0]) * 0.9 ** t} for t in range(10)]
    got = [dict(e) for e in expected]
    got[6] = {"w": expected[6]["w"] * (1 + 1e-6)}
    got[7:] = [{"w": e["w"] * 1.1} for e in expected[7:]]

    def check(ctx: CheckContext):
        ctx.case("ten steps")
        compare_trajectories(ctx, got, expected, Tolerance(16, 16), what="params", against="optax")

    result = run_check(check, None, exercise="traj")
    assert result.status is Status.FAIL
    assert "params['w'] at step 6" in result.message and "steps 0 to 5 agree" in result.message

    def same(ctx: CheckContext):
        ctx.case("ten steps")
        compare_trajectories(ctx, expected, expected, Tolerance(16, 16), what="params", against="optax")

    assert run_check(same, None, exercise="traj").status is Status.PASS
