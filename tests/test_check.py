"""The checker itself: comparisons, tolerances, failure messages, and the harness."""

from __future__ import annotations

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fdl.check import (
    Case,
    CheckFailure,
    Status,
    Tolerance,
    central_difference_vjp,
    check_function,
    check_vjp,
    compare,
    run_check,
    vjp_check,
)
from fdl.check.tolerance import machine_epsilon

TIGHT = Tolerance(4, 4)


# --------------------------------------------------------------------------- tolerances
def test_tolerance_follows_the_dtype():
    r64, a64 = Tolerance(16, 16).bounds(np.float64)
    r32, a32 = Tolerance(16, 16).bounds(np.float32)
    assert r64 == pytest.approx(16 * np.finfo(np.float64).eps)
    assert r32 == pytest.approx(16 * np.finfo(np.float32).eps)
    assert r32 / r64 > 1e8
    assert Tolerance(16, 16).bounds(np.int32) == (0.0, 0.0)


def test_central_tolerance_scales_as_eps_to_two_thirds():
    rtol, _ = Tolerance.central(100).bounds(np.float64)
    assert rtol == pytest.approx(100 * machine_epsilon(np.float64) ** (2 / 3))


def test_tolerance_rejects_nonsense():
    with pytest.raises(ValueError):
        Tolerance(-1, 1)
    with pytest.raises(ValueError):
        Tolerance(1, 1, power=2)


# --------------------------------------------------------------------------- compare
def test_compare_passes_within_a_few_eps():
    x = np.linspace(-1, 1, 7)
    c = compare(x * (1 + 2 * np.finfo(float).eps), x, TIGHT, what="out")
    assert c.ratio <= 1 and c.max_abs > 0


@pytest.mark.parametrize(
    "got,expected,needle",
    [
        (np.zeros((4, 3)), np.zeros((3, 4)), "a transpose missing"),
        (np.zeros((2, 6)), np.zeros((3, 4)), "same number of elements"),
        (np.zeros(3), np.zeros((3, 1)), "keepdims=True, or a reshape, keeps it"),
        (np.zeros((3, 1)), np.zeros(3), "keepdims=True where it should be False"),
        (np.zeros((2, 3, 4)), np.zeros((3, 4)), "broadcast axis not summed"),
        (np.zeros(3, np.float32), np.zeros(3), "expected dtype float64"),
        (np.zeros(3, np.int64), np.zeros(3), "expected floating values"),
        (np.array([1.0, np.nan]), np.array([1.0, 2.0]), "got nan at index (1,)"),
        (np.array([1.0, np.inf]), np.array([1.0, 2.0]), "overflow"),
        (None, np.zeros(2), "got None"),
        ([1.0, 2.0], np.zeros(2), "got list"),
        ({"W": np.zeros(2)}, {"W": np.zeros(2), "b": np.zeros(1)}, "missing ['b']"),
        ((np.zeros(2),), (np.zeros(2), np.zeros(2)), "a tuple of 2"),
        (jnp.zeros(2), np.zeros(2), "JAX array"),
        (np.array([1, 3]), np.array([1, 2]), "exact match required"),
    ],
)
def test_compare_explains_what_is_wrong(got, expected, needle):
    with pytest.raises(CheckFailure) as info:
        compare(got, expected, TIGHT, what="gradient of x")
    assert needle in str(info.value)
    assert "gradient of x" in str(info.value)


def test_compare_failure_names_index_values_and_tolerance():
    exp = np.arange(12.0).reshape(3, 4)
    got = exp.copy()
    got[2, 1] += 0.5
    with pytest.raises(CheckFailure) as info:
        compare(got, exp, TIGHT, what="forward output", against="the JAX oracle")
    msg = str(info.value)
    for piece in ("index (2, 1)", "expected 9", "got 9.5", "1 of 12 values", "tolerance", "the JAX oracle"):
        assert piece in msg, piece


@pytest.mark.parametrize("factor,needle", [(-1.0, "sign flipped"), (2.0, "2 x the expected"),
                                           (0.0, "every value you returned is zero")])
def test_compare_recognises_common_slips(factor, needle):
    exp = np.random.default_rng(0).standard_normal((3, 4))
    with pytest.raises(CheckFailure) as info:
        compare(exp * factor, exp, TIGHT, what="g")
    assert needle in str(info.value)


@pytest.mark.parametrize("got,needle", [(-2.5, "sign flipped"), (20.0, "8 x the expected one"),
                                        (0.625, "1/4 of the expected one"), (0.0, "every value you returned")])
def test_a_single_value_off_by_a_whole_factor_is_named(got, needle):
    # a loss summed where it is averaged over 8 rows, or divided once too often
    with pytest.raises(CheckFailure) as info:
        compare(np.float64(got), np.float64(2.5), TIGHT, what="loss")
    assert needle in str(info.value)


def test_a_single_value_off_by_an_arbitrary_amount_gets_no_factor_hint():
    with pytest.raises(CheckFailure) as info:
        compare(np.float64(2.6), np.float64(2.5), TIGHT, what="loss")
    assert "hint" not in str(info.value)


def test_compare_accepts_python_scalars_for_0d():
    assert compare(1.5, np.float64(1.5), TIGHT, what="loss").ratio == 0
    assert compare(3, 3, TIGHT, what="count").ratio == 0


def test_compare_requires_matching_infinities():
    exp = np.array([-np.inf, 1.0])
    compare(np.array([-np.inf, 1.0]), exp, TIGHT, what="masked")
    with pytest.raises(CheckFailure) as info:
        compare(np.array([-1e30, 1.0]), exp, TIGHT, what="masked")
    assert "1 of 2 values finite where the expected ones are nan or inf" in str(info.value)
    with pytest.raises(CheckFailure) as info:
        compare(np.array([-np.inf, np.nan]), exp, TIGHT, what="masked")
    assert "1 of 2 values non-finite where the expected ones are not" in str(info.value)


# --------------------------------------------------------------------------- check_vjp (notebook use)
def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, out):
    return dout * (1 - out * out)


def test_check_vjp_passes_a_correct_pair():
    result = check_vjp(tanh_forward, tanh_backward, jnp.tanh, shapes=[(3, 4), (5,), (2, 3, 2)],
                       tol=Tolerance(64, 64))
    assert result.status is Status.PASS, str(result)
    assert result.cases == 3 + 2 and result.worst is not None  # and two float32 copies


def test_check_vjp_fails_a_wrong_backward_with_details():
    def tanh_backward(dout, out):
        return dout * (1 - out)

    result = check_vjp(tanh_forward, tanh_backward, jnp.tanh, shapes=[(3, 4)])
    assert result.status is Status.FAIL
    assert "gradient of a" in result.message and "jax.vjp of the oracle" in result.message
    assert "case 1: tanh_forward(a: float64 (3, 4))" in result.message


def test_central_differences_catch_what_a_wrong_oracle_would_hide():
    """Neither oracle hides an error alone: a backward matching a wrong jax.vjp still FAILs."""

    @jax.custom_vjp
    def bad_oracle(x):
        return jnp.sin(x)

    bad_oracle.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (2 * g * jnp.cos(x),))

    def sin_forward(x):
        return np.sin(x), x

    def sin_backward(dout, x):
        return 2 * dout * np.cos(x)  # agrees with the wrong oracle

    result = check_vjp(sin_forward, sin_backward, bad_oracle, shapes=[(4,)])
    assert result.status is Status.FAIL
    assert "central differences" in result.message


def test_central_difference_vjp_is_accurate():
    x = np.random.default_rng(1).standard_normal((3, 2))
    dout = np.random.default_rng(2).standard_normal((3, 2))
    (grad,) = central_difference_vjp(lambda a: np.sin(a) * a, (x.copy(),), [0], dout)
    exact = dout * (np.cos(x) * x + np.sin(x))
    np.testing.assert_allclose(grad, exact, rtol=1e-8, atol=1e-9)


def test_in_place_modification_is_caught():
    def relu_forward(x):
        np.maximum(x, 0, out=x)
        return x, x > 0

    def relu_backward(dout, mask):
        return dout * mask

    result = check_vjp(relu_forward, relu_backward, jax.nn.relu, shapes=[(5,)])
    assert result.status is Status.FAIL and "in place" in result.message


def test_backward_returning_too_few_gradients():
    def mul_forward(a, b):
        return a * b, (a, b)

    def mul_backward(dout, cache):
        a, b = cache
        return dout * b  # only one of the two

    result = check_vjp(mul_forward, mul_backward, jnp.multiply, shapes=[((3,), (3,))])
    assert result.status is Status.FAIL and "one gradient per input, (da, db)" in result.message


def test_forward_not_returning_a_pair():
    def f_forward(x):
        return np.exp(x)

    def f_backward(dout, cache):
        return dout

    result = check_vjp(f_forward, f_backward, jnp.exp, shapes=[(3,)])
    assert result.status is Status.FAIL and "must return (out, cache)" in result.message


def test_non_differentiated_arguments_and_pytrees():
    def linear_forward(x, params, scale):
        return scale * (x @ params["W"] + params["b"]), (x, params, scale)

    def linear_backward(dout, cache):
        x, params, scale = cache
        d = dout * scale
        return d @ params["W"].T, {"W": x.T @ d, "b": d.sum(axis=0)}

    def oracle(x, params, scale):
        return scale * (x @ params["W"] + params["b"])

    rng = np.random.default_rng(0)
    cases = [Case((rng.standard_normal((4, 3)), {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)},
                   2.5), diff=(0, 1))]
    result = check_vjp(linear_forward, linear_backward, oracle, cases, tol=Tolerance(64, 64))
    assert result.status is Status.PASS, str(result)

    def linear_backward_missing_b(dout, cache):
        dx, grads = linear_backward(dout, cache)
        return dx, {"W": grads["W"]}

    bad = check_vjp(linear_forward, linear_backward_missing_b, oracle, cases)
    assert bad.status is Status.FAIL and "missing ['b']" in bad.message


# --------------------------------------------------------------------------- function checks
def test_function_check_expects_raises():
    def broadcast_shape(*shapes):
        return shapes[0]

    cases = [Case(((3,), (4,)), raises=ValueError)]
    result = check_function(broadcast_shape, jnp.broadcast_shapes, cases)
    assert result.status is Status.FAIL and "should raise ValueError" in result.message


# --------------------------------------------------------------------------- the harness
def _module(tmp_path, source: str):
    import importlib.util

    path = tmp_path / "learner.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location("learner_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, str(path)


def _exp_check():
    rng = np.random.default_rng(0)
    return vjp_check("exp_forward", "exp_backward", jnp.exp, [Case((rng.standard_normal(3),))])


def test_learner_exception_is_a_fail_with_file_and_line(tmp_path):
    module, path = _module(tmp_path, """
        import numpy as np
        def exp_forward(x):
            out = np.exp(x)
            return out, out[10]
        def exp_backward(dout, out):
            return dout * out
    """)
    result = run_check(_exp_check(), module, exercise="exp", source=path)
    assert result.status is Status.FAIL
    assert "your code raised IndexError" in result.message
    assert "learner.py:5 in exp_forward" in result.message


def test_not_implemented_and_missing_functions_are_todo(tmp_path):
    module, path = _module(tmp_path, """
        def exp_forward(x):
            raise NotImplementedError("topic 01 · exp")
        def exp_backward(dout, cache):
            raise NotImplementedError("topic 01 · exp")
    """)
    result = run_check(_exp_check(), module, exercise="exp", source=path)
    assert result.status is Status.TODO and "topic 01 · exp" in result.message
    module, path = _module(tmp_path, "x = 1\n")
    result = run_check(_exp_check(), module, exercise="exp", source=path)
    assert result.status is Status.TODO and "exp_forward is not defined" in result.message


def test_an_infinite_loop_hits_the_time_limit(tmp_path):
    module, path = _module(tmp_path, """
        def exp_forward(x):
            while True:
                pass
        def exp_backward(dout, out):
            return dout
    """)
    result = run_check(_exp_check(), module, exercise="exp", source=path, time_limit=0.5)
    assert result.status is Status.FAIL and "did not finish within" in result.message


def test_deep_recursion_is_a_fail_with_a_hint(tmp_path):
    module, path = _module(tmp_path, """
        def exp_forward(x):
            def down(n):
                return down(n + 1)
            return down(0)
        def exp_backward(dout, out):
            return dout
    """)
    result = run_check(_exp_check(), module, exercise="exp", source=path)
    assert result.status is Status.FAIL and "iterative traversal" in result.message


def test_numpy_warnings_are_reported_with_a_fail(tmp_path):
    module, path = _module(tmp_path, """
        import numpy as np
        def exp_forward(x):
            out = np.log(x - 100)
            return out, out
        def exp_backward(dout, out):
            return dout * out
    """)
    result = run_check(_exp_check(), module, exercise="exp", source=path)
    assert result.status is Status.FAIL and "NumPy warned" in result.message and "log" in result.message


def test_a_check_that_runs_no_case_cannot_pass():
    result = run_check(lambda ctx: None, object(), exercise="nothing")
    assert result.status is Status.FAIL and "ran no case" in result.message


def test_checks_run_in_float64_with_highest_precision():
    seen = {}

    def check(ctx):
        ctx.case("probe")
        seen["dtype"] = jnp.ones(2).dtype
        seen["precision"] = jax.config.jax_default_matmul_precision

    run_check(check, object(), exercise="probe")
    assert seen["dtype"] == jnp.float64
    assert str(seen["precision"]).lower().endswith("highest")
    assert jnp.ones(2).dtype == jnp.float32  # restored afterwards


def test_results_serialise_to_json():
    import json

    result = check_vjp(tanh_forward, tanh_backward, jnp.tanh, shapes=[(3,)], tol=Tolerance(64, 64))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == "PASS" and data["cases"] == 2 and data["worst_abs_error"] is not None


def test_forward_check_compares_only_the_output():
    from types import SimpleNamespace

    from fdl.check import forward_check

    rng = np.random.default_rng(0)
    cases = [Case((rng.standard_normal((2, 3)), {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}))]
    check = forward_check("linear_forward", lambda x, p: x @ p["W"] + p["b"], cases, names=["x", "params"],
                          tol=Tolerance(32, 32))
    good = SimpleNamespace(linear_forward=lambda x, p: (x @ p["W"] + p["b"], ("anything", "the learner needs")))
    assert run_check(check, good, exercise="linear").status is Status.PASS
    bad = SimpleNamespace(linear_forward=lambda x, p: (x @ p["W"], None))
    result = run_check(check, bad, exercise="linear")
    assert result.status is Status.FAIL and "linear_forward output" in result.message
    no_cache = SimpleNamespace(linear_forward=lambda x, p: x @ p["W"] + p["b"])
    assert "must return (out, cache)" in run_check(check, no_cache, exercise="linear").message


def test_parameter_lists_are_pytrees_in_vjp_checks():
    """An MLP's params are a list of dicts; checks differentiate and name them like any pytree."""

    def mlp_forward(x, params):
        h = x @ params[0]["W"] + params[0]["b"]
        return np.tanh(h) @ params[1]["W"], (x, params, h)

    def mlp_backward(dout, cache):
        x, params, h = cache
        dW1 = np.tanh(h).T @ dout
        dh = (dout @ params[1]["W"].T) * (1 - np.tanh(h) ** 2)
        return dh @ params[0]["W"].T, [{"W": x.T @ dh, "b": dh.sum(0)}, {"W": dW1}]

    def oracle(x, params):
        return jnp.tanh(x @ params[0]["W"] + params[0]["b"]) @ params[1]["W"]

    rng = np.random.default_rng(0)
    params = [{"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}, {"W": rng.standard_normal((4, 2))}]
    cases = [Case((rng.standard_normal((5, 3)), params))]
    assert check_vjp(mlp_forward, mlp_backward, oracle, cases, tol=Tolerance(64, 64)).status is Status.PASS

    def mlp_backward_swapped(dout, cache):
        dx, grads = mlp_backward(dout, cache)
        return dx, grads[::-1]

    mlp_backward_swapped.__name__ = "mlp_backward"
    result = check_vjp(mlp_forward, mlp_backward_swapped, oracle, cases)
    assert result.status is Status.FAIL and "gradient of b[0]" in result.message
    assert "b: [{W: float64 (3, 4), b: float64 (4,)}, {W: float64 (4, 2)}]" in result.message


def test_numpy_float64_scalar_is_not_a_float32_result():
    with pytest.raises(CheckFailure, match="expected dtype float32"):
        compare(np.float64(1.5), np.float32(1.5), TIGHT, what="loss")
    assert compare(1.5, np.float32(1.5), TIGHT, what="loss").ratio == 0  # a plain float takes the dtype


def test_zero_dimensional_integers_and_bools_must_match():
    with pytest.raises(CheckFailure, match="expected False, got True"):
        compare(np.bool_(True), np.bool_(False), TIGHT, what="stop")
    with pytest.raises(CheckFailure, match="expected 3, got 4"):
        compare(np.int64(4), np.int64(3), TIGHT, what="best epoch")


def test_array_keywords_are_traced_not_baked_into_the_compiled_oracle():
    """Two masks with the same shape (and the same abbreviated repr) must each be used."""

    def drop_forward(x, mask):
        return x * mask, mask

    def drop_backward(dout, mask):
        return dout * mask

    def oracle(x, mask):
        return x * mask

    x = np.ones(2000)
    first = np.zeros(2000)
    first[-1] = 1.0
    second = np.zeros(2000)
    second[-2] = 1.0  # same shape, same repr prefix and suffix
    cases = [Case((x.copy(),), {"mask": first}, numeric=False), Case((x.copy(),), {"mask": second}, numeric=False)]
    assert check_vjp(drop_forward, drop_backward, oracle, cases).status is Status.PASS

    def drop_forward_fixed(x, mask):  # ignores its mask: must fail on the second case
        return x * first, first

    drop_forward_fixed.__name__ = "drop_forward"
    result = check_vjp(drop_forward_fixed, drop_backward, oracle, cases)
    assert result.status is Status.FAIL and "case 2" in result.message
    assert "mask=float64 (2000,)" in result.message  # arrays described, not printed
