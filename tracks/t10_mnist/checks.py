"""Topic 10 checks: the pipeline by its properties, the training step and the
evaluation against JAX.

``train_step`` and ``evaluate`` receive a model and an optimizer. The checks
hand them the milestone's own network, ``fdl.given.MLPStack`` assembled from
topic 06's reference layers, topic 07's ReLU, topic 09's inverted dropout and
topic 08's cross-entropy, and topic 03's reference optimizers: AdamW with a
warmup-cosine schedule (the run's optimizer) and momentum. The oracle is built
from scratch: ``jax.value_and_grad`` of a jnp MLP, fed the very dropout masks
the NumPy step drew, and optax's ``adamw`` with ``warmup_cosine_decay_schedule``
and ``sgd`` with momentum. So a training step that forgets the new optimizer
state, or an evaluation that averages unequal batches, FAILs here, whatever
the learner's other topics do.

- **data_pipeline**: ``preprocess`` against jnp on 28 x 28, colour and tiny
  4 x 4 images (16 of them: a square (16, 16) result, where pixels flattened
  into the wrong axis keep the shape), the extremes 0 and 255, a float input
  that must raise; ``iterate_minibatches`` by its properties: batch sizes,
  every example once, x rows travelling with their labels (compared whole,
  square in one case), a seed fixing the order, drop_last.
- **training_loop**: several steps per case, each compared as it happens: the
  gradients ``train_step`` hands to ``optimizer.update`` (against
  ``jax.grad``: a backward seeded with ``dloss = batch size`` or with the loss
  shows here, in the Adam cases too, where the update itself hides a scale),
  the parameters it hands along with them, the loss it returns and the
  parameters after the step (against optax's step from the same params with
  the same gradients: each step is judged from where the learner's run
  stands, so rounding does not compound and a wrong step shows where it
  happens; the oracle runs in float64, float32 is judged against its values
  rounded to float32). Square layers (d_in == d_out)
  and a square batch, float64 and float32 (float32 stays float32 through the
  step), dropout rates from 0 to 0.9, batch 1 and a model without hidden
  layers; ``model.forward`` and ``model.backward`` once per step (each forward
  draws new dropout masks), ``optimizer.update`` once; the params given are
  left unchanged.
- **evaluation**: mean loss and accuracy against one pass over everything, on
  batch sizes that divide n, do not, exceed it, equal 1, and equal the number
  of classes (square logits, where an argmax over the wrong axis keeps its
  shape); float32; every forward sees at most ``batch_size`` rows and every
  row once; no backward; the params left unchanged.

Tolerances in eps of the values' dtype; 300 seeds of ``python -m fdl.sweep 10``
gave the worst ratios beside them.
"""

from __future__ import annotations


import jax
import jax.numpy as jnp
import numpy as np
import optax

from fdl.check import Case, Tolerance, function_check
from fdl.check.compare import describe
from fdl.check.pytree import snapshot
from fdl.given import MLPStack
from tracks.t03_optimizers import reference as optimizers_reference
from tracks.t06_backprop import reference as layers_reference
from tracks.t07_activations_init import reference as activations_reference
from tracks.t08_losses import reference as losses_reference
from tracks.t09_regularization import reference as dropout_reference

# preprocess: one rounding (x * 1/255 or x / 255)
SCALE = Tolerance(2, 2)  # 300 seeds: worst error/tolerance 0 (exact on uint8 pixels)
# one training step through a small MLP, judged from the learner's params and gradients: the loss
# (log-sum-exp minus a logit) and the optimizer's update (Adam's square root and division)
STEP = Tolerance(16, 16)  # 300 seeds: worst error/tolerance 0.085
# the gradients handed to the optimizer, against the float64 oracle: plus rel * eps * the size of the
# terms each one sums (see _gradient_terms), for the cancellation a plain bound cannot follow
GRADIENT = Tolerance(8, 8)  # 300 seeds: worst error/tolerance 0.11
# the mean loss over all batches: one log-sum-exp per example and a weighted sum
EVAL = Tolerance(8, 8)  # 300 seeds: worst error/tolerance 0.14
EXACT = Tolerance(0, 0)


# --------------------------------------------------------------------------- data pipeline
def _images(rng, shape):
    return rng.integers(0, 256, shape).astype(np.uint8)


@jax.jit
def _preprocess_oracle(images):
    return images.reshape(images.shape[0], -1).astype(jnp.float32) / 255.0


def _preprocess_cases(rng):
    return [
        # first: only here do 16 images of 16 pixels give a result whose transpose has its shape
        Case((_images(rng, (16, 4, 4)),), label="16 images of 4 x 4: a square (16, 16) result"),
        Case((_images(rng, (5, 28, 28)),)),
        Case((_images(rng, (1, 28, 28)),), label="batch 1"),
        Case((_images(rng, (3, 32, 32, 3)),), label="colour images flatten all pixel axes"),
        Case((np.array([[[0, 255], [128, 1]]], dtype=np.uint8),), label="the extremes 0 and 255"),
        Case((rng.random((2, 4, 4)),), raises=ValueError, label="floats are not raw pixels"),
    ]


_preprocess_check = function_check("preprocess", _preprocess_oracle, _preprocess_cases, names=["images"], tol=SCALE)


def _batches_case(ctx, n, batch_size, *, shuffle=True, drop_last=False, features=3):
    """Every example exactly once, in batches of the right sizes, with x and y kept together."""
    fn = ctx.fn("iterate_minibatches")
    x = np.arange(n * features, dtype=np.float32).reshape(n, features)  # row i holds features * i + 0, 1, ...
    y = np.arange(n)  # so y says which row each x is
    ctx.case(f"iterate_minibatches(x: float32 ({n}, {features}), y: ({n},), batch_size={batch_size}, "
             f"shuffle={shuffle}, drop_last={drop_last})")
    seed = int(ctx.rng.integers(1 << 30))
    x_given, y_given = x.copy(), y.copy()
    batches = list(ctx.call(fn, x_given, y_given, batch_size, np.random.default_rng(seed), shuffle=shuffle,
                            drop_last=drop_last))
    ctx.unchanged((x, y), (x_given, y_given), "iterate_minibatches modified x or y in place (shuffle a copy, or "
                                              "index with a permutation)")
    kept = n - n % batch_size if drop_last else n
    sizes = [len(b[1]) for b in batches]
    expected_sizes = [batch_size] * (kept // batch_size) + ([kept % batch_size] if kept % batch_size else [])
    ctx.compare(np.array(sizes), np.array(expected_sizes), SCALE, what="batch sizes",
                against=f"{n} examples in batches of {batch_size}" + (" dropping the remainder" if drop_last else ""))
    if not batches:
        return
    xs = np.concatenate([b[0] for b in batches])
    ys = np.concatenate([b[1] for b in batches])
    ctx.compare(xs[:, 0].astype(np.int64) // features, ys.astype(np.int64), SCALE,
                what="which example each x row is",
                against="the labels in the same batch (x and y must be shuffled together)")
    ctx.compare(xs, x[ys.astype(np.int64)], EXACT, what="the x rows of the batches",
                against="the rows of x the labels name, whole and unchanged")
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
    _batches_case(ctx, 12, 4, features=12)  # 12 rows of 12 features: the x rows compared are a square matrix
    _batches_case(ctx, 10, 3, shuffle=False)
    _batches_case(ctx, 10, 3, drop_last=True)
    _batches_case(ctx, 11, 4, shuffle=False, drop_last=True)


# --------------------------------------------------------------------------- the model the checks use
class _RecordingDropout:
    """Topic 09's reference dropout, remembering every keep-mask it draws (the oracle applies the same)."""

    def __init__(self):
        self.masks: list[np.ndarray] = []

    def dropout_forward(self, x, p, **kwargs):
        out, cache = dropout_reference.dropout_forward(x, p, **kwargs)
        self.masks.append(cache[0])
        return out, cache

    dropout_backward = staticmethod(dropout_reference.dropout_backward)


class _Counted:
    """A model (or optimizer) whose calls are counted and whose arguments are kept, for the messages."""

    def __init__(self, model, names):
        self.calls = {name: 0 for name in names}
        self.seen: dict[str, tuple] = {}
        for name in names:
            setattr(self, name, self._wrap(name, getattr(model, name)))

    def _wrap(self, name, fn):
        def counted(*args, **kwargs):
            self.calls[name] += 1
            self.seen[name] = (snapshot(args), kwargs)
            return fn(*args, **kwargs)

        counted.__name__ = f"model.{name}" if name != "update" else "optimizer.update"
        return counted


def _stack_model(*, train: bool, p: float, rng):
    """The milestone's MLPStack, as a model, and the dropout whose masks it records."""
    dropout = _RecordingDropout()
    stack = MLPStack(layers_reference, activations_reference, losses_reference, dropout=dropout)
    return stack.model(train=train, p=p, rng=rng), dropout


def _init(rng, sizes, dtype=np.float64):
    return [{"W": (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype),
             "b": (rng.standard_normal(b) * 0.1).astype(dtype)}
            for a, b in zip(sizes[:-1], sizes[1:])]


def _mlp_jnp(params, x, masks=None, keep=None):
    """The network in jnp: ReLU and then inverted dropout (the given masks, scaled by 1 / keep) between layers."""
    h = x
    for i, layer in enumerate(params):
        h = h @ layer["W"] + layer["b"]
        if i < len(params) - 1:
            h = jax.nn.relu(h)
            if masks is not None:
                h = h * masks[i] / keep  # as topic 09: x * mask / (1 - p)
    return h


def _loss_jnp(params, x, y, masks=None, keep=None):
    return optax.softmax_cross_entropy_with_integer_labels(_mlp_jnp(params, x, masks, keep), y).mean()


def _to_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


# --------------------------------------------------------------------------- training step
# The run's optimizer: AdamW, the learning rate warmed up linearly from 0 over WARMUP updates, then a cosine down
# to END over the rest of DECAY (the last step of a case runs past it, at END). And momentum, where the size of
# the gradient shows in the update itself (Adam divides it away).
PEAK, END, WARMUP, DECAY, WEIGHT_DECAY = 1e-2, 1e-3, 2, 5, 0.05


def _warmup_cosine(count):
    """optax.warmup_cosine_decay_schedule's rate in float64 (optax's own rounds it to float32)."""
    count = jnp.asarray(count, jnp.float64)
    warm = PEAK * count / WARMUP  # from 0 at the first update to PEAK after WARMUP of them
    k = jnp.clip(count - WARMUP, 0, DECAY - WARMUP)
    cosine = 0.5 * (1 + jnp.cos(jnp.pi * k / (DECAY - WARMUP)))
    return jnp.where(count < WARMUP, warm, END + (PEAK - END) * cosine)


def _optimizers():
    """name: (ours, optax's), both new (their schedules and states start at step 0)."""
    opt = optimizers_reference
    return {
        "adamw": (opt.adamw(opt.warmup_cosine_schedule(0.0, PEAK, WARMUP, DECAY, END), weight_decay=WEIGHT_DECAY),
                  optax.adamw(_warmup_cosine, weight_decay=WEIGHT_DECAY)),
        "momentum": (opt.momentum(0.1, 0.9), optax.sgd(0.1, momentum=0.9)),
    }


def _oracle_update(optimizer):
    @jax.jit
    def update(params, state, grads):
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return update


# Oracle steps compiled once per optimizer (and per shape), not primitive by primitive.
_ORACLES = {name: (theirs, _oracle_update(theirs)) for name, (_, theirs) in _optimizers().items()}


@jax.jit
def _oracle_loss_and_grads(params, x, y, masks, keep):
    return jax.value_and_grad(_loss_jnp)(params, x, y, masks, keep)


@jax.jit
def _gradient_terms(params, x, y, masks, keep):
    """For each gradient element, the size of the terms whose rounding it carries.

    The network run again with every value replaced by the sum of the magnitudes it was added up from
    (forward: ``|h| @ |W| + |b|``, masked like the values; backward from ``(softmax + onehot) / n``, the
    two terms of dL/dlogits, times ``1 + |logits|``'s magnitude, which the softmax's error follows). A
    gradient, or a pre-activation, that cancels to almost nothing keeps the rounding of those terms: each
    gradient element may err by a few eps times its entry here (a heavily dropped layer, a saturated
    softmax), never by more.
    """
    hs, sizes, h, size = [x], [jnp.abs(x)], x, jnp.abs(x)
    for i, layer in enumerate(params[:-1]):
        h = jax.nn.relu(h @ layer["W"] + layer["b"]) * masks[i] / keep
        size = (size @ jnp.abs(layer["W"]) + jnp.abs(layer["b"])) * (h > 0) / keep
        hs.append(h)
        sizes.append(size)
    logits = h @ params[-1]["W"] + params[-1]["b"]
    logit_size = size @ jnp.abs(params[-1]["W"]) + jnp.abs(params[-1]["b"])
    onehot = jax.nn.one_hot(y, logits.shape[-1], dtype=logits.dtype)
    d = (jax.nn.softmax(logits) + onehot) * (1 + logit_size.max(axis=-1, keepdims=True)) / x.shape[0]
    terms = [None] * len(params)
    for i in reversed(range(len(params))):
        terms[i] = {"W": sizes[i].T @ d, "b": d.sum(axis=0)}
        if i > 0:
            d = (d @ jnp.abs(params[i]["W"]).T) * (hs[i] > 0) / keep
    return terms


# (optimizer, layer sizes, batch, dtype, dropout rate drawn from): square layers fed a square batch, in float64
# and float32, with dropout; momentum on a batch of 6 (a gradient scaled by the batch size moves the
# parameters 6 times as far); batch 1; one layer and no hidden layer (nothing to drop)
SETTINGS = [
    ("adamw", (5, 5, 5, 3), 5, np.float64, (0.1, 0.6), "square layers and batch, dropout"),
    ("adamw", (5, 5, 5, 3), 5, np.float32, (0.6, 0.9), "square layers and batch, float32 stays float32, dropout"),
    ("momentum", (4, 6, 6, 2), 6, np.float64, (0.0, 0.0), "square hidden layer, no dropout"),
    ("momentum", (4, 4, 3), 1, np.float32, (0.2, 0.5), "batch 1, float32, dropout"),
    ("adamw", (6, 4), 9, np.float64, (0.0, 0.0), "no hidden layer"),
]
STEPS = 6  # past the end of the schedule's DECAY steps


def _expect_counts(ctx, model, optimizer, step: int) -> None:
    for name, what in (("forward", "model.forward"), ("backward", "model.backward"),
                       ("loss_forward", "model.loss_forward"), ("loss_backward", "model.loss_backward")):
        n = model.calls[name]
        if n != 1:
            why = (" (in training each forward draws new dropout masks: the gradient then belongs to another "
                   "network than the loss)") if name == "forward" and n > 1 else ""
            ctx.fail(f"train_step called {what} {n} times in step {step}; one step calls it once{why}")
    if optimizer.calls["update"] != 1:
        ctx.fail(f"train_step called optimizer.update {optimizer.calls['update']} times in step {step}; "
                 f"one step calls it once, with the gradients of the loss")


def _one_step(ctx, fn, params, state, x, y, model, optimizer, step):
    given = snapshot(params)
    result = ctx.call(fn, given, state, x, y, model, optimizer)
    if not (isinstance(result, tuple) and len(result) == 3):
        ctx.fail(f"train_step must return (params, opt_state, loss); it returned {describe(result)}")
    ctx.unchanged(params, given, "train_step modified the params it was given in place (apply_updates returns "
                                 "new arrays; p += u writes into the caller's)")
    _expect_counts(ctx, model, optimizer, step)
    return result


def check_training_loop(ctx):
    fn = ctx.fn("train_step")
    for name, sizes, batch, dtype, p_range, label in SETTINGS:
        low, high = p_range
        p = float(f"{ctx.rng.uniform(low, high):.2f}") if high > 0 else 0.0
        dtype_name = np.dtype(dtype).name
        ctx.case(f"train_step with {name}{' + warmup-cosine' if name == 'adamw' else ''}, layer sizes {sizes}, "
                 f"batch {batch}, {dtype_name}, dropout p={p}, {STEPS} steps [{label}]")
        ours, _ = _optimizers()[name]
        theirs, oracle_update = _ORACLES[name]
        params = _init(ctx.rng, sizes, dtype)
        state = ours.init(params)
        oracle_state = theirs.init(_cast(params, np.float64))
        seed = int(ctx.rng.integers(1 << 30))
        train_model, dropout = _stack_model(train=True, p=p, rng=np.random.default_rng(seed))
        keep = np.asarray(1 - p, dtype)
        eps = float(np.finfo(dtype).eps)
        for step in range(1, STEPS + 1):
            x = ctx.rng.standard_normal((batch, sizes[0])).astype(dtype)
            y = ctx.rng.integers(0, sizes[-1], batch)
            model = _Counted(train_model, ("forward", "backward", "loss_forward", "loss_backward"))
            optimizer = _Counted(ours, ("update",))
            optimizer.init = ours.init
            dropout.masks.clear()
            before = snapshot(params)
            params, state, loss = _one_step(ctx, fn, params, state, x, y, model, optimizer, step)

            # each step is judged from where the learner's run stands (its params, the gradients it handed
            # on): rounding differences do not compound over the steps, a wrong step shows at once.
            # The masks the step's forward drew (all kept without dropout) make the oracle's network the same.
            # The oracle runs in float64 whatever the case's dtype (XLA's float32 flushes subnormal values to 0
            # and its float32 exp errs by a few ulps more): float32 is judged against the exact values, rounded.
            hidden = [layer["W"].shape[1] for layer in before[:-1]]
            masks = dropout.masks if p > 0 else [np.ones((batch, h), bool) for h in hidden]
            before64 = _cast(before, np.float64)
            args = (jnp.asarray(x, jnp.float64), jnp.asarray(y), [jnp.asarray(m) for m in masks],
                    jnp.asarray(keep, jnp.float64))  # keep: the float32 divisor NumPy uses, exactly
            oracle_loss, oracle_grads = _cast(_oracle_loss_and_grads(before64, *args), dtype)

            # what train_step handed to the optimizer: the gradients of the loss (dL/dL = 1), the params
            passed, _ = optimizer.seen["update"]
            grads_given = passed[0]
            # plus the smallest normal number: XLA flushes subnormal results to 0, NumPy keeps them
            floor = jax.tree_util.tree_map(lambda t: GRADIENT.rel * eps * np.asarray(t) + np.finfo(dtype).tiny,
                                           _gradient_terms(before64, *args))
            ctx.compare(grads_given, oracle_grads, GRADIENT,
                        what=f"the gradients train_step passed to optimizer.update at step {step}",
                        against="jax.grad of the mean loss (seeded with dL/dL = 1)", floor=_to_numpy(floor))
            ctx.compare(passed[2] if len(passed) > 2 else None, before, EXACT,
                        what=f"the params train_step passed to optimizer.update at step {step}",
                        against="the params before the step (weight decay reads them)")
            expected_loss = np.asarray(oracle_loss)
            if np.ndim(loss) != 0 or not np.isrealobj(loss):
                ctx.fail(f"the loss train_step returns must be a number; it returned {describe(loss)}")
            # the loss is log-sum-exp minus a logit: its rounding error scales with the logits
            ctx.compare(np.asarray(loss, dtype=expected_loss.dtype), expected_loss, STEP,
                        what=f"the loss returned at step {step}", against="jax.value_and_grad of the same MLP",
                        scale=1.0 + float(expected_loss))
            # optax's step from the same params with the same (checked) gradients, its state carried along
            expected, oracle_state = oracle_update(before64, oracle_state, _cast(grads_given, np.float64))
            ctx.compare(params, _cast(expected, dtype), STEP, what=f"params after step {step}",
                        against=f"optax {name} from the same params and gradients", scale=_largest(before))


def _cast(tree, dtype):
    """NumPy copies of a tree's floating leaves in ``dtype`` (others as they are)."""
    def one(leaf):
        leaf = np.asarray(leaf)
        return leaf.astype(dtype) if leaf.dtype.kind == "f" else leaf

    return jax.tree_util.tree_map(one, tree)


def _largest(tree) -> float:
    return max(float(np.max(np.abs(leaf))) for leaf in jax.tree_util.tree_leaves(tree))


# --------------------------------------------------------------------------- evaluation
@jax.jit
def _oracle_evaluation(params, x, y):
    logits = _mlp_jnp(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean((jnp.argmax(logits, axis=-1) == y).astype(jnp.float64))  # a count over n, not float32


# (n, batch_size, layer sizes, dtype, label): first 12 examples of 4 classes in batches of 4, square (4, 4)
# logits, where an argmax over the batch axis keeps its shape; then batch sizes that do not divide n, equal
# it, exceed it, are 1; float32 (stays float32 through the network)
EVAL_CASES = [
    (12, 4, (5, 6, 4), np.float64, "square logits: batch 4 of 4 classes"),
    (23, 5, (4, 6, 3), np.float64, "a short last batch"),
    (23, 23, (4, 6, 3), np.float64, "one batch"),
    (23, 100, (4, 3), np.float64, "batch_size larger than n"),
    (1, 4, (3, 5, 2), np.float64, "one example"),
    (5, 1, (3, 4), np.float64, "batches of 1"),
    (40, 7, (8, 16, 10), np.float64, "10 classes"),
    (24, 5, (6, 6, 6, 4), np.float32, "float32"),
    (12, 4, (5, 4, 4), np.float32, "float32, square logits"),
]


def check_evaluation(ctx):
    fn = ctx.fn("evaluate")
    for n, batch_size, sizes, dtype, label in EVAL_CASES:
        ctx.case(f"evaluate on {n} examples in batches of {batch_size}, layer sizes {sizes}, "
                 f"{np.dtype(dtype).name} [{label}]")
        params = _init(ctx.rng, sizes, dtype)
        x = ctx.rng.standard_normal((n, sizes[0])).astype(dtype)
        y = ctx.rng.integers(0, sizes[-1], n)
        eval_model, _ = _stack_model(train=False, p=0.0, rng=None)
        model = _Counted(eval_model, ("forward", "backward", "loss_forward", "loss_backward"))
        rows: list[int] = []
        counted_forward = model.forward

        def forward(xb, prm, counted_forward=counted_forward):
            rows.append(len(xb))
            return counted_forward(xb, prm)

        model.forward = forward
        given = snapshot(params)
        result = ctx.call(fn, given, x, y, model, batch_size=batch_size)
        if not (isinstance(result, tuple) and len(result) == 2):
            ctx.fail(f"evaluate must return (loss, accuracy); it returned {type(result).__name__}")
        ctx.unchanged(params, given, "evaluate modified the params it was given in place")
        if model.calls["backward"]:
            ctx.fail("evaluate called model.backward: evaluation needs no gradients")
        if any(r > batch_size for r in rows) or sum(rows) != n:
            ctx.fail(f"evaluate fed model.forward batches of {rows} rows for {n} examples with batch_size="
                     f"{batch_size}: every example once, at most batch_size at a time (the test set at once "
                     f"may not fit in memory)")
        loss, accuracy = result
        expected_loss, expected_acc = _oracle_evaluation(jax.tree_util.tree_map(jnp.asarray, params),
                                                         jnp.asarray(x), jnp.asarray(y))
        expected_loss = np.asarray(expected_loss)
        for value, what in ((loss, "mean loss"), (accuracy, "accuracy")):
            if np.ndim(value) != 0 or not np.isrealobj(value):
                ctx.fail(f"evaluate's {what} must be a number; it is {describe(value)}")
        ctx.compare(np.asarray(loss, dtype=expected_loss.dtype), expected_loss, EVAL, what="mean loss",
                    against="the loss over all examples at once", scale=1.0 + float(expected_loss))
        ctx.compare(np.asarray(accuracy, dtype=np.float64), np.asarray(expected_acc, dtype=np.float64), EVAL,
                    what="accuracy", against="the fraction of argmax(logits) == label over all examples")


CHECKS = {
    "data_pipeline": check_data_pipeline,
    "training_loop": check_training_loop,
    "evaluation": check_evaluation,
}
