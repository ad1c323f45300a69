"""Topic 10 checks: the pipeline by its properties, the training step and the
evaluation against JAX.

``train_step`` and ``evaluate`` receive a model and an optimizer. The checks
hand them topic 06's reference MLP, topic 08's reference cross-entropy and
topic 03's reference Adam and momentum, and compare with a JAX oracle built
from scratch: ``jax.value_and_grad`` of a jnp MLP and optax's optimizers. So
a training step that forgets the new optimizer state, or an evaluation that
averages unequal batches, FAILs here, whatever the learner's other topics do.
"""

from __future__ import annotations

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import Case, Tolerance, function_check
from tracks.t03_optimizers import reference as optimizers_reference
from tracks.t06_backprop import reference as layers_reference
from tracks.t08_losses import reference as losses_reference

# preprocess: one rounding (x * 1/255 or x / 255)
SCALE = Tolerance(2, 2)
# a few training steps through a small MLP: matmuls, log-sum-exp and Adam's division chain
STEP = Tolerance(64, 64)
EVAL = Tolerance(32, 32)


# --------------------------------------------------------------------------- data pipeline
def _images(rng, shape):
    return rng.integers(0, 256, shape).astype(np.uint8)


@jax.jit
def _preprocess_oracle(images):
    return images.reshape(images.shape[0], -1).astype(jnp.float32) / 255.0


def _preprocess_cases(rng):
    return [
        Case((_images(rng, (5, 28, 28)),)),
        Case((_images(rng, (1, 28, 28)),), label="batch 1"),
        Case((_images(rng, (3, 32, 32, 3)),), label="colour images flatten all pixel axes"),
        Case((np.array([[[0, 255], [128, 1]]], dtype=np.uint8),), label="the extremes 0 and 255"),
        Case((rng.random((2, 4, 4)),), raises=ValueError, label="floats are not raw pixels"),
    ]


_preprocess_check = function_check("preprocess", _preprocess_oracle, _preprocess_cases, names=["images"], tol=SCALE)


def _batches_case(ctx, n, batch_size, *, shuffle=True, drop_last=False):
    """Every example exactly once, in batches of the right sizes, with x and y kept together."""
    fn = ctx.fn("iterate_minibatches")
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)  # row i holds 3i, 3i+1, 3i+2
    y = np.arange(n)  # so y says which row each x is
    ctx.case(f"iterate_minibatches(n={n}, batch_size={batch_size}, shuffle={shuffle}, drop_last={drop_last})")
    seed = int(ctx.rng.integers(1 << 30))
    batches = list(ctx.call(fn, x, y, batch_size, np.random.default_rng(seed), shuffle=shuffle,
                            drop_last=drop_last))
    kept = n - n % batch_size if drop_last else n
    sizes = [len(b[1]) for b in batches]
    expected_sizes = [batch_size] * (kept // batch_size) + ([kept % batch_size] if kept % batch_size else [])
    ctx.compare(np.array(sizes), np.array(expected_sizes), SCALE, what="batch sizes",
                against=f"{n} examples in batches of {batch_size}" + (" dropping the remainder" if drop_last else ""))
    if not batches:
        return
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    ctx.compare(xs[:, 0].astype(np.int64) // 3, ys.astype(np.int64), SCALE, what="which example each x row is",
                against="the labels in the same batch (x and y must be shuffled together)")
    if not drop_last:
        ctx.compare(np.sort(ys), y, SCALE, what="the examples seen in one pass, sorted",
                    against="every example exactly once")
    if shuffle:
        again = list(fn(x, y, batch_size, np.random.default_rng(seed), shuffle=True, drop_last=drop_last))
        ctx.compare(np.concatenate([b[1] for b in again]), ys, SCALE, what="the order with the same seed",
                    against="the first pass (a seeded rng must fix the order)")
        if n >= 10:
            ctx.expect(not np.array_equal(ys, np.arange(len(ys))),
                       "shuffle=True returned the examples in their original order")
    else:
        ctx.compare(ys, np.arange(kept), SCALE, what="the order with shuffle=False", against="the original order")


def check_data_pipeline(ctx):
    _preprocess_check(ctx)
    for n, batch_size in [(10, 3), (12, 4), (7, 10), (1, 1), (64, 16)]:
        _batches_case(ctx, n, batch_size)
    _batches_case(ctx, 10, 3, shuffle=False)
    _batches_case(ctx, 10, 3, drop_last=True)
    _batches_case(ctx, 11, 4, shuffle=False, drop_last=True)


# --------------------------------------------------------------------------- the model the checks use
def _check_model():
    """Topic 06's reference MLP and topic 08's reference cross-entropy, as a model."""
    layers, losses = layers_reference, losses_reference
    return SimpleNamespace(
        forward=layers.mlp_forward,
        backward=layers.mlp_backward,
        loss_forward=losses.softmax_cross_entropy_forward,
        loss_backward=losses.softmax_cross_entropy_backward,
    )


def _init(rng, sizes):
    return [{"W": rng.standard_normal((a, b)) * np.sqrt(2.0 / a), "b": rng.standard_normal(b) * 0.1}
            for a, b in zip(sizes[:-1], sizes[1:])]


def _mlp_jnp(params, x):
    h = x
    for i, layer in enumerate(params):
        h = h @ layer["W"] + layer["b"]
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return h


def _loss_jnp(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(_mlp_jnp(params, x), y).mean()


def _to_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


# Oracle steps compiled once per optimizer (and per shape), not primitive by primitive.
_ORACLE_OPTIMIZERS = {"adam": optax.adam(1e-2), "momentum": optax.sgd(0.1, momentum=0.9)}


def _oracle_step(name):
    optimizer = _ORACLE_OPTIMIZERS[name]

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(_loss_jnp)(params, x, y)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return optimizer.init, step


_ORACLE_STEPS = {name: _oracle_step(name) for name in _ORACLE_OPTIMIZERS}


@jax.jit
def _oracle_evaluation(params, x, y):
    logits = _mlp_jnp(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(logits.dtype))


# --------------------------------------------------------------------------- training step
def check_training_loop(ctx):
    fn = ctx.fn("train_step")
    optimizers = optimizers_reference
    model = _check_model()
    settings = [  # (optimizer name in messages, ours, layer sizes, batch)
        ("adam", optimizers.adam(1e-2), (6, 5, 3), 4),
        ("momentum", optimizers.momentum(0.1, 0.9), (4, 7, 2), 1),
        ("adam", optimizers.adam(1e-2), (5, 4), 9),
    ]
    for name, ours, sizes, batch in settings:
        ctx.case(f"train_step with {name}, layer sizes {sizes}, batch {batch}, 4 steps")
        oracle_init, oracle_step = _ORACLE_STEPS[name]
        params = _init(ctx.rng, sizes)
        state = ours.init(params)
        oracle_params = jax.tree_util.tree_map(jnp.asarray, params)
        oracle_state = oracle_init(oracle_params)
        for step in range(1, 5):
            x = ctx.rng.standard_normal((batch, sizes[0]))
            y = ctx.rng.integers(0, sizes[-1], batch)
            given = [dict(layer) for layer in params]
            snapshot = [{k: v.copy() for k, v in layer.items()} for layer in params]
            result = ctx.call(fn, given, state, x, y, model, ours)
            if not (isinstance(result, tuple) and len(result) == 3):
                ctx.fail(f"train_step must return (params, opt_state, loss); it returned {type(result).__name__}")
            ctx.unchanged(snapshot, params, "train_step modified the params it was given in place")
            params, state, loss = result
            oracle_params, oracle_state, oracle_loss = oracle_step(oracle_params, oracle_state, jnp.asarray(x),
                                                                   jnp.asarray(y))
            # the loss is log-sum-exp minus a logit: its rounding error scales with the logits
            ctx.compare(np.asarray(loss, dtype=np.float64), np.asarray(oracle_loss), STEP,
                        what=f"the loss returned at step {step}", against="jax.value_and_grad of the same MLP",
                        scale=1.0 + float(oracle_loss))
            ctx.compare(params, _to_numpy(oracle_params), STEP, what=f"params after step {step}",
                        against=f"jax.grad + optax {name}")


# --------------------------------------------------------------------------- evaluation
def check_evaluation(ctx):
    fn = ctx.fn("evaluate")
    model = _check_model()
    for n, batch_size, sizes in [(23, 5, (4, 6, 3)), (23, 23, (4, 6, 3)), (23, 100, (4, 3)), (1, 4, (3, 5, 2)),
                                 (40, 7, (8, 16, 10))]:
        ctx.case(f"evaluate on {n} examples in batches of {batch_size}, layer sizes {sizes}")
        params = _init(ctx.rng, sizes)
        x = ctx.rng.standard_normal((n, sizes[0]))
        y = ctx.rng.integers(0, sizes[-1], n)
        result = ctx.call(fn, params, x, y, model, batch_size=batch_size)
        if not (isinstance(result, tuple) and len(result) == 2):
            ctx.fail(f"evaluate must return (loss, accuracy); it returned {type(result).__name__}")
        loss, accuracy = result
        expected_loss, expected_acc = _oracle_evaluation(jax.tree_util.tree_map(jnp.asarray, params),
                                                         jnp.asarray(x), jnp.asarray(y))
        ctx.compare(np.asarray(loss, dtype=np.float64), np.asarray(expected_loss), EVAL, what="mean loss",
                    against="the loss over all examples at once", scale=1.0 + float(expected_loss))
        ctx.compare(np.asarray(accuracy, dtype=np.float64), np.asarray(expected_acc, dtype=np.float64), EVAL,
                    what="accuracy",
                    against="the fraction of argmax(logits) == label over all examples")


CHECKS = {
    "data_pipeline": check_data_pipeline,
    "training_loop": check_training_loop,
    "evaluation": check_evaluation,
}
