"""Topic 03: each check catches a planted bug for the planted reason; the run and the JAX version work."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fdl.check import Status
from fdl.curriculum import find_topic
from tracks.t03_optimizers import reference as ref

from helpers import Bug, assert_bug_caught, check_exercise, reference_source_with, reference_with

TOPIC = find_topic(3)


# --------------------------------------------------------------------------- planted bugs
def _sgd_schedule_one_ahead(learning_rate):
    """The schedule called with count + 1: the first update already uses the second rate."""

    def update(grads, state, params=None):
        lr = learning_rate(state.count + 1) if callable(learning_rate) else learning_rate
        return ref.tree_map(lambda g: -lr * g, grads), ref.SgdState(state.count + 1)

    return ref.Optimizer(lambda params: ref.SgdState(0), update)


def _momentum_damped(learning_rate, beta=0.9):
    """m = (1 - beta) g + beta m: an average of the gradients, not optax's sum."""

    def update(grads, state, params=None):
        trace = ref.tree_map(lambda g, m: (1 - beta) * g + beta * m, grads, state.trace)
        return ref.tree_map(lambda m: -learning_rate * m, trace), ref.MomentumState(state.count + 1, trace)

    return ref.Optimizer(ref.momentum(learning_rate, beta).init, update)


def _adamw_as_l2(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    """weight_decay * p added to the gradient before Adam (L2), not after it."""
    inner = ref.adam(learning_rate, b1, b2, eps)

    def update(grads, state, params=None):
        return inner.update(ref.tree_map(lambda g, p: g + weight_decay * p, grads, params), state, params)

    return ref.Optimizer(inner.init, update)


def _clip_always(max_norm):
    """Rescales to max_norm even when the norm is already below it."""

    def update(grads, state, params=None):
        norm = np.sqrt(sum(np.sum(g * g) for g in ref.tree_leaves(grads)))
        return ref.tree_map(lambda g: g / norm * max_norm, grads), state

    return ref.Optimizer(lambda params: ref.ClipState(), update)


def _chain_reversed(*transformations):
    return ref.chain(*reversed(transformations))


def _cosine_without_warmup(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0):
    return ref.warmup_cosine_schedule(init_value, peak_value, 0, decay_steps, end_value)


def _planted(*edits):
    """The reference with source edits (for a bug inside a helper several optimizers share)."""
    return reference_source_with(TOPIC, *edits)


_NO_BIAS_CORRECTION = _planted(
    ("correction1 = 1 - b1 ** t  # m_0 = 0 biases m_t toward 0 by this factor", "correction1 = 1.0"),
    ("root_correction2 = math.sqrt(1 - b2 ** t)", "root_correction2 = 1.0"),
)
_EPS_OUTSIDE_ROOT = _planted(
    ("-lr * (g / np.sqrt(v + eps))", "-lr * (g / (np.sqrt(v) + eps))"),
)
_STEP_AFTER_BOUNDARY = _planted(
    ("if step >= boundary:  # the scale applies from the boundary step itself", "if step > boundary:"),
)
_ADAGRAD_FROM_ZERO = _planted(
    ("np.full_like(p, initial_accumulator_value)", "np.zeros_like(p)"),
)

BUGS = {
    "sgd": Bug({"sgd": _sgd_schedule_one_ahead}, "the first step where the runs part: 0 of 60",
               "the schedule is called with count + 1"),
    "momentum": Bug({"momentum": _momentum_damped}, "0.1 x the expected ones", "(1 - beta) damping of the trace"),
    "nesterov": Bug({"nesterov": ref.momentum}, "updates['dense']['w'] at step 0", "plain momentum, no look-ahead"),
    "adagrad": Bug({"adagrad": _ADAGRAD_FROM_ZERO.adagrad}, "updates['dense']['w'] at step 0",
                   "accumulator starts at 0, not 0.1"),
    "rmsprop": Bug({"rmsprop": _EPS_OUTSIDE_ROOT.rmsprop}, "differs from optax.rmsprop", "eps outside the square root"),
    "adam": Bug({"adam": _NO_BIAS_CORRECTION.adam}, "updates['dense']['w'] at step 0", "no bias correction"),
    "adamw": Bug({"adamw": _adamw_as_l2}, "differs from optax.adamw", "weight decay as L2 on the gradient"),
    "clip_by_global_norm": Bug({"clip_by_global_norm": _clip_always}, "every step below max_norm",
                               "rescales below the threshold too"),
    "chain": Bug({"chain": _chain_reversed}, "updates['dense']['w'] at step 0", "transformations applied in reverse order"),
    "step_schedule": Bug({"step_schedule": _STEP_AFTER_BOUNDARY.step_schedule}, "boundaries at steps 30 and 60",
                         "a scale applies one step after its boundary"),
    "warmup_cosine_schedule": Bug({"warmup_cosine_schedule": _cosine_without_warmup}, "warmup over steps 0..9",
                                  "cosine decay without the warmup"),
}


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


# --------------------------------------------------------------------------- more bugs, more precisely
def _adamw_decay_not_scaled(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    inner = ref.adam(learning_rate, b1, b2, eps)

    def update(grads, state, params=None):
        updates, state = inner.update(grads, state, params)
        return ref.tree_map(lambda u, p: u - weight_decay * p, updates, params), state

    return ref.Optimizer(inner.init, update)


def _nesterov_old_trace(learning_rate, beta=0.9):
    def update(grads, state, params=None):
        trace = ref.tree_map(lambda g, m: g + beta * m, grads, state.trace)
        updates = ref.tree_map(lambda g, m: -learning_rate * (g + beta * m), grads, state.trace)
        return updates, ref.MomentumState(state.count + 1, trace)

    return ref.Optimizer(ref.nesterov(learning_rate, beta).init, update)


def _clip_per_leaf(max_norm):
    def update(grads, state, params=None):
        def clip(g):
            norm = np.sqrt(np.sum(g * g))
            return g if norm < max_norm else g / norm * max_norm

        return ref.tree_map(clip, grads), state

    return ref.Optimizer(lambda params: ref.ClipState(), update)


def _chain_without_params(*transformations):
    inner = ref.chain(*transformations)
    return ref.Optimizer(inner.init, lambda grads, state, params=None: inner.update(grads, state, None))


def _adam_count_frozen(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    inner = ref.adam(learning_rate, b1, b2, eps)

    def update(grads, state, params=None):
        updates, new_state = inner.update(grads, state, params)
        return updates, new_state._replace(count=state.count)  # t stays 1: bias correction never fades

    return ref.Optimizer(inner.init, update)


MORE_BUGS = [
    ("adamw", Bug({"adamw": _adamw_decay_not_scaled}, "differs from optax.adamw", "decay not multiplied by lr")),
    ("nesterov", Bug({"nesterov": _nesterov_old_trace}, "0.526316 x the expected",
                     "looks ahead with the old momentum")),
    ("clip_by_global_norm", Bug({"clip_by_global_norm": _clip_per_leaf}, "every step above max_norm",
                                "each leaf clipped on its own")),
    ("chain", Bug({"chain": _chain_without_params}, "chain must pass params", "params not passed on")),
    ("adam", Bug({"adam": _adam_count_frozen}, "the first step where the runs part: 1 of 60",
                 "the count is not incremented")),
]


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


# --------------------------------------------------------------------------- each kind of check, on a bug of its kind
def _sgd_float64(learning_rate):
    """The learning rate as a NumPy float64: float32 gradients times it give float64 updates."""
    return ref.sgd(np.float64(learning_rate))


def _momentum_float64_state(learning_rate, beta=0.9):
    """np.zeros(p.shape) for the trace: float64 whatever the params are."""
    inner = ref.momentum(learning_rate, beta)
    return ref.Optimizer(lambda params: ref.MomentumState(0, ref.tree_map(lambda p: np.zeros(np.shape(p)), params)),
                         inner.update)


def _momentum_beta_fixed(learning_rate, beta=0.9):
    """The default written into the formula: right only for beta = 0.9."""
    return ref.momentum(learning_rate, 0.9)


def _adam_b2_fixed(learning_rate, b1=0.9, b2=0.999, eps=1e-8):
    return ref.adam(learning_rate, b1, 0.999, eps)


def _adamw_decay_inside_scaling(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    """u = -lr (m^ + wd p) / (sqrt(v^) + eps): the decay divided by Adam's denominator too."""
    inner = ref.adam(1.0, b1, b2, eps)

    def update(grads, state, params=None):
        lr = learning_rate(state.count) if callable(learning_rate) else learning_rate
        direction, new_state = inner.update(grads, state, params)  # -m^ / (sqrt(v^) + eps)
        t = state.count + 1
        mu_hat = ref.tree_map(lambda m: m / (1 - b1 ** t), new_state.mu)
        nu_hat = ref.tree_map(lambda v: v / (1 - b2 ** t), new_state.nu)
        updates = ref.tree_map(lambda m, v, p: -lr * (m + weight_decay * p) / (np.sqrt(v) + eps), mu_hat, nu_hat,
                               params)
        return updates, new_state

    return ref.Optimizer(inner.init, update)


def _clip_nan_at_norm_0(max_norm):
    """g / norm * min(norm, max_norm): the same number, but 0 / 0 when every gradient is 0."""

    def update(grads, state, params=None):
        norm = np.sqrt(sum(np.sum(g * g) for g in ref.tree_leaves(grads)))
        return ref.tree_map(lambda g: g / norm * min(norm, max_norm), grads), state

    return ref.Optimizer(lambda params: ref.ClipState(), update)


def _clip_with_eps(max_norm):
    """max_norm / (norm + 1e-6): a safe division that makes every clipped step a little short."""

    def update(grads, state, params=None):
        norm = math.sqrt(sum(float(np.sum(g * g)) for g in ref.tree_leaves(grads)))
        if norm < max_norm:
            return grads, state
        return ref.tree_map(lambda g: g * (max_norm / (norm + 1e-6)), grads), state

    return ref.Optimizer(lambda params: ref.ClipState(), update)


def _momentum_init_views(learning_rate, beta=0.9):
    """init keeps views of the params as the trace (update ignores the trace at count 0): the values are
    right, but the state changes whenever the caller changes its params in place."""
    inner = ref.momentum(learning_rate, beta)

    def update(grads, state, params=None):
        if state.count == 0:
            state = state._replace(trace=ref.tree_map(np.zeros_like, state.trace))
        return inner.update(grads, state, params)

    return ref.Optimizer(lambda params: ref.MomentumState(0, ref.tree_map(lambda p: p[...], params)), update)


def _momentum_trace_is_grads(learning_rate, beta=0.9):
    """m_1 = g_1 taken literally: the first trace is the grads array itself."""
    inner = ref.momentum(learning_rate, beta)

    def update(grads, state, params=None):
        if state.count == 0:
            return ref.tree_map(lambda g: -learning_rate * g, grads), ref.MomentumState(1, grads)
        return inner.update(grads, state, params)

    return ref.Optimizer(inner.init, update)


def _momentum_in_place_from_step_1(learning_rate, beta=0.9):
    """New arrays at step 0, then the trace it returned is overwritten in place on the next call."""
    inner = ref.momentum(learning_rate, beta)

    def update(grads, state, params=None):
        if state.count == 0:
            return inner.update(grads, state, params)
        trace = ref.tree_map(lambda g, m: np.add(g, beta * m, out=m), grads, state.trace)
        return ref.tree_map(lambda m: -learning_rate * m, trace), ref.MomentumState(state.count + 1, trace)

    return ref.Optimizer(inner.init, update)


def _momentum_in_a_closure(learning_rate, beta=0.9):
    """The trace kept in the factory's closure, not in the state: right while each step is called once."""
    box = {}

    def init(params):
        box["trace"] = ref.tree_map(np.zeros_like, params)
        return ref.MomentumState(0, ref.tree_map(np.zeros_like, params))

    def update(grads, state, params=None):
        box["trace"] = ref.tree_map(lambda g, m: g + beta * m, grads, box["trace"])
        updates = ref.tree_map(lambda m: -learning_rate * m, box["trace"])
        return updates, ref.MomentumState(state.count + 1, ref.tree_map(np.copy, box["trace"]))

    return ref.Optimizer(init, update)


def _cosine_with_numpy(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0):
    """The same formulas through np.cos and np.float64: values right, but NumPy float64s, not Python floats."""
    inner = ref.warmup_cosine_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value)
    return lambda step: np.float64(inner(step)) * np.cos(0.0)


def _cosine_warmup_inclusive(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0):
    """step <= warmup_steps in the warmup branch: the same value at the boundary, 0 / 0 with no warmup."""
    inner = ref.warmup_cosine_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value)

    def schedule(step):
        if step <= warmup_steps:
            return float((init_value - peak_value) * (1 - step / warmup_steps) + peak_value)
        return inner(step)

    return schedule


_ADAM_CORRECTION_ONE_AHEAD = _planted(
    ("correction1 = 1 - b1 ** t  # m_0 = 0 biases m_t toward 0 by this factor", "correction1 = 1 - b1 ** (t + 1)"),
    ("root_correction2 = math.sqrt(1 - b2 ** t)", "root_correction2 = math.sqrt(1 - b2 ** (t + 1))"),
)
_ADAM_CORRECTION_OF_COUNT_0 = _planted(
    ("correction1 = 1 - b1 ** t  # m_0 = 0 biases m_t toward 0 by this factor", "correction1 = 1 - b1"),
    ("root_correction2 = math.sqrt(1 - b2 ** t)", "root_correction2 = math.sqrt(1 - b2)"),
)
_ADAM_FLOAT64_CORRECTION = _planted(
    ("correction1 = 1 - b1 ** t  # m_0 = 0 biases m_t toward 0 by this factor", "correction1 = np.float64(1 - b1 ** t)"),
)

CLASS_BUGS = [
    ("sgd", Bug({"sgd": _sgd_float64}, "expected dtype float32", "float32 updates upcast to float64")),
    ("adam", Bug({"adam": _ADAM_FLOAT64_CORRECTION.adam}, "expected dtype float32",
                 "a float64 bias correction upcasts float32 updates")),
    ("momentum", Bug({"momentum": _momentum_float64_state}, "is float64 for float32 params",
                     "a float64 trace for float32 params")),
    ("adam", Bug({"adam": _ADAM_CORRECTION_ONE_AHEAD.adam}, "the first step where the runs part: 0 of 60",
                 "bias correction one step ahead")),
    ("adam", Bug({"adam": _ADAM_CORRECTION_OF_COUNT_0.adam}, "the first step where the runs part: 1 of 60",
                 "bias correction right only at count 0")),
    ("momentum", Bug({"momentum": _momentum_beta_fixed}, "beta=", "beta fixed at 0.9")),
    ("adam", Bug({"adam": _adam_b2_fixed}, "b2=", "b2 fixed at 0.999")),
    ("adamw", Bug({"adamw": _adamw_decay_inside_scaling}, "differs from optax.adamw",
                  "weight decay applied before Adam's scaling")),
    ("clip_by_global_norm", Bug({"clip_by_global_norm": _clip_nan_at_norm_0}, "non-finite",
                                "0 / 0 at norm 0")),
    ("clip_by_global_norm", Bug({"clip_by_global_norm": _clip_with_eps}, "every step above max_norm",
                                "an eps added to the norm")),
    ("momentum", Bug({"momentum": _momentum_init_views}, "init returned a state that shares memory with the params",
                     "init keeps views of params")),
    ("momentum", Bug({"momentum": _momentum_trace_is_grads}, "shares memory with the grads",
                     "the state is the grads array")),
    ("momentum", Bug({"momentum": _momentum_in_place_from_step_1},
                     "modified its state in place at step 1 (the state the step before returned",
                     "the returned state changed later")),
    ("momentum", Bug({"momentum": _momentum_in_a_closure}, "remembers something outside the state",
                     "the trace kept in a closure")),
    ("warmup_cosine_schedule", Bug({"warmup_cosine_schedule": _cosine_with_numpy}, "makes them float64",
                                   "NumPy float64 values")),
    ("warmup_cosine_schedule", Bug({"warmup_cosine_schedule": _cosine_warmup_inclusive}, "no warmup",
                                   "step <= warmup_steps: 0 / 0 without warmup")),
]


@pytest.mark.parametrize("exercise,bug", CLASS_BUGS, ids=[f"{e}-{b.why}" for e, b in CLASS_BUGS])
def test_each_kind_of_check_fails_on_its_bug(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_a_formula_right_only_for_the_default_fails_on_a_drawn_value():
    result = assert_bug_caught(TOPIC, "momentum", CLASS_BUGS[5][1])
    beta = float(result.message.split("beta=")[1].split(")")[0])
    assert beta != 0.9


# --------------------------------------------------------------------------- wrong answers: a FAIL, never a crash
def _sgd_returning(make_updates, make_state=lambda count: ref.SgdState(count)):
    def factory(learning_rate):
        def update(grads, state, params=None):
            updates = ref.tree_map(lambda g: -learning_rate * g, grads)
            return make_updates(updates), make_state(state.count + 1)

        return ref.Optimizer(lambda params: make_state(0), update)

    return factory


def _leaves_as_list(updates):
    return ref.tree_leaves(updates)


def _missing_leaf(updates):
    if isinstance(updates, dict):
        return {k: v for k, v in updates.items() if k != "extra"}
    return updates


def _momentum_in_place(learning_rate, beta=0.9):
    def update(grads, state, params=None):
        def accumulate(g, m):
            m *= beta  # writes into the caller's state
            m += g
            return m

        trace = ref.tree_map(accumulate, grads, state.trace)
        return ref.tree_map(lambda m: -learning_rate * m, trace), ref.MomentumState(state.count + 1, trace)

    return ref.Optimizer(ref.momentum(learning_rate, beta).init, update)


def _schedule_returning_array(init_value, boundaries_and_scales=None):
    inner = ref.step_schedule(init_value, boundaries_and_scales)
    return lambda step: np.full(3, inner(step))


@pytest.mark.parametrize("exercise,replace,expect", [
    ("sgd", {"sgd": _sgd_returning(_leaves_as_list)}, "expected a dict with keys"),
    ("sgd", {"sgd": _sgd_returning(_missing_leaf)}, "missing ['extra']"),
    ("sgd", {"sgd": _sgd_returning(lambda u: u, make_state=lambda count: None)}, "as a NamedTuple"),
    ("sgd", {"sgd": _sgd_returning(lambda u: (u,))}, "expected a dict with keys"),
    ("sgd", {"sgd": lambda learning_rate: "not an optimizer"}, "must return an Optimizer(init, update)"),
    ("momentum", {"momentum": _momentum_in_place}, "modified its state in place at step 0"),
    ("step_schedule", {"step_schedule": _schedule_returning_array}, "must return a number"),
])
def test_wrong_answers_fail_clearly(exercise, replace, expect):
    assert_bug_caught(TOPIC, exercise, Bug(replace, expect))


def test_update_returning_one_value_fails_clearly():
    def sgd(learning_rate):
        opt = ref.sgd(learning_rate)
        return ref.Optimizer(opt.init, lambda grads, state, params=None: opt.update(grads, state, params)[0])

    assert_bug_caught(TOPIC, "sgd", Bug({"sgd": sgd}, "must return (updates, new_state)"))


def test_fail_message_names_step_leaf_index_and_case():
    result = assert_bug_caught(TOPIC, "momentum", BUGS["momentum"])
    for piece in ("updates['dense']['w'] at step 0 differs from optax.sgd(momentum=beta)", "worst at index",
                  "expected", "got", "tolerance", "in case 1: momentum(0.", "on random gradients",
                  "the first step where the runs part: 0 of 60"):
        assert piece in result.message, piece


def test_a_bug_that_appears_late_is_reported_at_its_step():
    result = assert_bug_caught(TOPIC, "adam", MORE_BUGS[-1][1])
    assert "at step 0 " not in result.message  # step 0 is right: the count only matters from step 1
    assert "steps 0 to 0 agree" in result.message


def test_reference_passes_on_other_seeds():
    for seed in (1,):  # the sweep runs more (python -m fdl.sweep 3)
        for exercise in ("adam", "clip_by_global_norm", "chain"):
            result = check_exercise(TOPIC, exercise, reference_with(TOPIC), seed=seed)
            assert result.status is Status.PASS, str(result)
            assert result.worst.ratio < 0.3, (exercise, seed, result.worst)


# --------------------------------------------------------------------------- the JAX version
def test_jax_version_matches_optax_under_jit():
    import jax
    import jax.numpy as jnp
    import optax

    from tracks.t03_optimizers import jax_version as J

    rng = np.random.default_rng(0)
    steps = 150
    with jax.enable_x64(True):
        params = {"w": jnp.asarray(rng.standard_normal((4, 3))), "b": [jnp.asarray(rng.standard_normal(5)),
                                                                        jnp.asarray(0.7)]}
        noise = jax.tree_util.tree_map(lambda p: jnp.asarray(rng.standard_normal((steps,) + p.shape)), params)
        schedule = J.warmup_cosine_schedule(0.0, 0.05, 10, 120, 0.001)  # the same function for both
        pairs = [
            (J.sgd(0.1), optax.sgd(0.1)),
            (J.momentum(0.02, beta=0.8), optax.sgd(0.02, momentum=0.8)),
            (J.nesterov(schedule, beta=0.9), optax.sgd(schedule, momentum=0.9, nesterov=True)),
            (J.adagrad(0.3, initial_accumulator_value=0.5, eps=1e-6), optax.adagrad(0.3, 0.5, 1e-6)),
            (J.rmsprop(0.01, decay=0.8, eps=1e-3), optax.rmsprop(0.01, decay=0.8, eps=1e-3)),
            (J.adam(schedule, b1=0.8, b2=0.99), optax.adam(schedule, b1=0.8, b2=0.99)),
            (J.adamw(0.02, weight_decay=0.1), optax.adamw(0.02, weight_decay=0.1)),
            (J.chain(J.clip_by_global_norm(2.0), J.adam(0.05)),
             optax.chain(optax.clip_by_global_norm(2.0), optax.adam(0.05))),
        ]

        def trajectory(opt):
            def step(carry, g):
                p, state = carry
                g = jax.tree_util.tree_map(lambda gg, pp: gg + 0.5 * pp, g, p)  # gradients depend on params
                updates, state = opt.update(g, state, p)
                p = optax.apply_updates(p, updates)
                return (p, state), p

            return jax.lax.scan(step, (params, opt.init(params)), noise)[1]

        # one compiled program runs every pair, ours and optax's, through all the steps
        paths = jax.jit(lambda: [(trajectory(ours), trajectory(theirs)) for ours, theirs in pairs])()
        for mine, expected in paths:
            for a, b in zip(jax.tree_util.tree_leaves(mine), jax.tree_util.tree_leaves(expected)):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11, atol=1e-12)

        steps_array = jnp.arange(130)
        for ours, theirs in [
            (J.step_schedule(0.3, {50: 0.1, 10: 2.0}), optax.piecewise_constant_schedule(0.3, {50: 0.1, 10: 2.0})),
            (J.warmup_cosine_schedule(0.1, 1.0, 20, 100, 0.05),
             optax.warmup_cosine_decay_schedule(0.1, 1.0, 20, 100, 0.05)),
        ]:
            np.testing.assert_allclose(jax.jit(jax.vmap(ours))(steps_array), jax.vmap(theirs)(steps_array),
                                       rtol=1e-13, atol=1e-15)


# --------------------------------------------------------------------------- the run, through the runner
def test_smoke_run_uses_topic_02_through_the_escape_hatch(capsys, tmp_path):
    from fdl.run import main

    code = main(["topic03", "--smoke", "--json", "--progress", str(tmp_path / "p.toml"), "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report.get("error")
    run = report["run"]
    metrics = run["metrics"]
    for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "adam_recipe"):
        assert np.isfinite(metrics[f"rosenbrock_{name}"]) and np.isfinite(metrics[f"quadratic_{name}"])
    assert metrics["steps_rosenbrock"] == 300 and metrics["steps_quadratic"] == 60
    assert metrics["rosenbrock_adam_recipe"] < 1.0 < metrics["rosenbrock_sgd"]
    assert [Path(p).name for p in run["plots"]] == ["paths.png", "loss.png", "schedules.png"]
    assert all(Path(p).is_file() for p in run["plots"])
    assert all(t["met"] for t in run["targets"])
    # topic 02's shipped stub passes nothing, so every one of its exercises ran on the reference
    assert set(run["dependencies"]["t02"].values()) == {"reference"}
    assert set(run["dependencies"]["t02"]) == set(find_topic(2).exercise_names)
