"""Topic 10: planted bugs, the milestone run on small IDX files, bad input, NaN, Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fdl.curriculum import find_topic
from fdl.run import main
from fdl.track import TRACKS_DIR
from tracks.t10_mnist import reference as ref
from tracks.t10_mnist.run import synthetic_digits

from helpers import Bug, assert_bug_caught, write_idx_dataset

TOPIC = find_topic(10)
FASHION = Path("/usr/share/datasets/fashion-mnist")


# --------------------------------------------------------------------------- planted bugs
def _batches_shuffling_x_and_y_apart(x, y, batch_size, rng=None, *, shuffle=True, drop_last=False):
    order_x, order_y = rng.permutation(len(x)), rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        yield x[order_x[start:start + batch_size]], y[order_y[start:start + batch_size]]


def _train_step_keeps_old_state(params, opt_state, x, y, model, optimizer):
    new_params, _, loss = ref.train_step(params, opt_state, x, y, model, optimizer)
    return new_params, opt_state, loss


def _evaluate_mean_of_batch_means(params, x, y, model, batch_size=1000):
    losses, accuracies = [], []
    for start in range(0, len(x), batch_size):
        logits, _ = model.forward(x[start:start + batch_size], params)
        loss, _ = model.loss_forward(logits, y[start:start + batch_size])
        losses.append(float(loss))
        accuracies.append(np.mean(logits.argmax(-1) == y[start:start + batch_size]))
    return float(np.mean(losses)), float(np.mean(accuracies))


def _preprocess_by_256(images):
    return images.reshape(len(images), -1).astype(np.float32) / 256


def _batches_always_dropping_the_rest(x, y, batch_size, rng=None, *, shuffle=True, drop_last=False):
    yield from ref.iterate_minibatches(x, y, batch_size, rng, shuffle=shuffle, drop_last=True)


def _preprocess_float64(images):
    return images.reshape(len(images), -1) / 255.0  # uint8 / float: float64


def _preprocess_pixels_as_rows(images):
    # the (features, examples) layout of some textbooks: one column per image
    return images.reshape(len(images), -1).T.astype(np.float32) / 255


def _batches_global_rng(x, y, batch_size, rng=None, *, shuffle=True, drop_last=False):
    order = np.random.permutation(len(x)) if shuffle else np.arange(len(x))  # the rng argument ignored
    stop = len(x) - len(x) % batch_size if drop_last else len(x)
    for start in range(0, stop, batch_size):
        yield x[order[start:start + batch_size]], y[order[start:start + batch_size]]


def _train_step_seeded_with(seed):
    """train_step whose backward starts from ``seed(loss, batch)`` instead of dL/dL = 1."""

    def train_step(params, opt_state, x, y, model, optimizer):
        logits, cache = model.forward(x, params)
        loss, loss_cache = model.loss_forward(logits, y)
        dlogits = model.loss_backward(np.asarray(seed(loss, len(x)), logits.dtype), loss_cache)
        _, grads = model.backward(dlogits, cache)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return ref.apply_updates(params, updates), opt_state, float(loss)

    return train_step


def _train_step_forward_twice(params, opt_state, x, y, model, optimizer):
    logits, _ = model.forward(x, params)
    loss, _ = model.loss_forward(logits, y)  # the loss of one forward...
    logits, cache = model.forward(x, params)  # ...the gradient of another (new dropout masks)
    _, loss_cache = model.loss_forward(logits, y)
    _, grads = model.backward(model.loss_backward(np.ones((), logits.dtype), loss_cache), cache)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return ref.apply_updates(params, updates), opt_state, float(loss)


def _train_step_float64_inputs(params, opt_state, x, y, model, optimizer):
    return ref.train_step(params, opt_state, np.asarray(x, dtype=float), y, model, optimizer)  # float32 x upcast


def _train_step_without_params(params, opt_state, x, y, model, optimizer):
    logits, cache = model.forward(x, params)
    loss, loss_cache = model.loss_forward(logits, y)
    _, grads = model.backward(model.loss_backward(np.ones((), logits.dtype), loss_cache), cache)
    updates, opt_state = optimizer.update(grads, opt_state)  # weight decay needs the params
    return ref.apply_updates(params, updates), opt_state, float(loss)


def _train_step_in_place(params, opt_state, x, y, model, optimizer):
    logits, cache = model.forward(x, params)
    loss, loss_cache = model.loss_forward(logits, y)
    _, grads = model.backward(model.loss_backward(np.ones((), logits.dtype), loss_cache), cache)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    for layer, update in zip(params, updates):
        for key in layer:
            layer[key] += update[key]  # the caller's arrays
    return params, opt_state, float(loss)


def _train_step_transposed_weights(params, opt_state, x, y, model, optimizer):
    logits, cache = model.forward(x, params)
    loss, loss_cache = model.loss_forward(logits, y)
    _, grads = model.backward(model.loss_backward(np.ones((), logits.dtype), loss_cache), cache)
    grads = [{"W": g["W"].T if g["W"].shape[0] == g["W"].shape[1] else g["W"], "b": g["b"]} for g in grads]
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return ref.apply_updates(params, updates), opt_state, float(loss)


def _evaluate_all_at_once(params, x, y, model, batch_size=1000):
    return ref.evaluate(params, x, y, model, batch_size=len(x))  # batch_size ignored


def _evaluate_argmax_over_batch(params, x, y, model, batch_size=1000):
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        logits, _ = model.forward(xb, params)
        loss, _ = model.loss_forward(logits, yb)
        total_loss += float(loss) * len(xb)
        correct += int(np.count_nonzero(logits.argmax(axis=0) == yb))  # over the batch, not the classes
    return total_loss / len(x), correct / len(x)


BUGS = {
    "data_pipeline": Bug({"iterate_minibatches": _batches_shuffling_x_and_y_apart}, "which example each x row is",
                         "x and y shuffled with different permutations"),
    "training_loop": Bug({"train_step": _train_step_keeps_old_state}, "params after step 2",
                         "the optimizer state is never advanced"),
    "evaluation": Bug({"evaluate": _evaluate_mean_of_batch_means}, "mean loss",
                      "a short last batch weighs as much as a full one"),
}


@pytest.mark.parametrize("exercise", list(BUGS))
def test_planted_bug_fails(exercise):
    assert_bug_caught(TOPIC, exercise, BUGS[exercise])


MORE_BUGS = [
    ("data_pipeline", Bug({"preprocess": _preprocess_by_256}, "preprocess result", "scaled by 1/256")),
    ("data_pipeline", Bug({"iterate_minibatches": _batches_always_dropping_the_rest}, "batch sizes",
                          "the last batch lost")),
    ("data_pipeline", Bug({"preprocess": _preprocess_float64}, "expected dtype float32", "/ 255.0 gives float64")),
    ("data_pipeline", Bug({"preprocess": _preprocess_pixels_as_rows}, "a square (16, 16) result",
                          "(pixels, n): one column per image")),
    ("data_pipeline", Bug({"iterate_minibatches": _batches_global_rng}, "the order with the same seed",
                          "np.random.permutation instead of rng")),
    ("training_loop", Bug({"train_step": _train_step_seeded_with(lambda loss, n: n)},
                          "x the expected ones", "dloss = batch size")),
    ("training_loop", Bug({"train_step": _train_step_seeded_with(lambda loss, n: loss)},
                          "the gradients train_step passed to optimizer.update", "dloss = the loss")),
    ("training_loop", Bug({"train_step": _train_step_forward_twice}, "model.forward 2 times",
                          "a second forward for the gradient")),
    ("training_loop", Bug({"train_step": _train_step_float64_inputs}, "expected dtype float32",
                          "x upcast to float64")),
    ("training_loop", Bug({"train_step": _train_step_without_params}, "needs the current params",
                          "optimizer.update without params")),
    ("training_loop", Bug({"train_step": _train_step_in_place}, "modified the params it was given in place",
                          "p += u on the caller's arrays")),
    ("training_loop", Bug({"train_step": _train_step_transposed_weights}, "square layers",
                          "dW transposed: the shape fits a square layer")),
    ("evaluation", Bug({"evaluate": _evaluate_all_at_once}, "at most batch_size at a time", "batch_size ignored")),
    ("evaluation", Bug({"evaluate": _evaluate_argmax_over_batch}, "square logits", "argmax(axis=0)")),
]


@pytest.mark.parametrize("exercise,bug", MORE_BUGS, ids=[f"{e}-{b.why}" for e, b in MORE_BUGS])
def test_more_planted_bugs_fail(exercise, bug):
    assert_bug_caught(TOPIC, exercise, bug)


def test_dloss_n_is_caught_in_the_adam_case_too():
    """Adam divides a scale away from its update; the gradients handed to it still show the batch size."""
    result = assert_bug_caught(TOPIC, "training_loop", MORE_BUGS[5][1])
    assert "with adamw" in result.message and "5 x the expected ones" in result.message


# --------------------------------------------------------------------------- the run on files the test makes
def learnable_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Digits-shaped data that is easy to learn (the run's own synthetic stand-in)."""
    data = synthetic_digits(n, 1, seed=seed)
    return data.train_x, data.train_y


@pytest.fixture
def idx_dir(tmp_path):
    return write_idx_dataset(tmp_path / "digits", learnable_images(1200, 0), learnable_images(300, 1))


def run_json(capsys, *args):
    code = main(["topic10", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_smoke_run_on_idx_files_learns_and_never_counts_as_the_milestone(capsys, idx_dir, tmp_path, progress_file):
    """The run on IDX files given with --data (the generic smoke test uses the default data set)."""
    code, report = run_json(capsys, "--smoke", "--data", str(idx_dir), "--out", str(tmp_path / "runs"))
    assert code == 0, report.get("error")
    metrics = report["run"]["metrics"]
    assert metrics["test_accuracy"] >= 0.9 and metrics["epochs"] == 2 and metrics["train_examples"] == 1200
    deps = report["run"]["dependencies"]
    assert set(deps) == {"t03", "t05", "t06", "t07", "t08", "t09"}
    from fdl.progress import Progress

    assert Progress.load(progress_file).milestone("first_neural_network") is None  # smoke never counts


def test_wrong_dataset_name_is_a_usage_error(capsys):
    assert main(["topic10", "--dataset", "cifar100"]) == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("damage,needle", [
    ("missing_dir", "is not a directory"),
    ("truncated", "header says"),
    ("label_range", "label out of range"),
])
def test_bad_data_gets_a_clear_message(capsys, idx_dir, tmp_path, damage, needle):
    target = idx_dir
    if damage == "missing_dir":
        target = tmp_path / "nowhere"
    elif damage == "truncated":
        path = idx_dir / "train-images-idx3-ubyte.gz"
        import gzip

        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    else:
        images = np.zeros((4, 28, 28), np.uint8)
        write_idx_dataset(idx_dir, (images, np.array([1, 2, 10, 3], np.uint8)), (images, np.zeros(4, np.uint8)))
    code = main(["topic10", "--smoke", "--data", str(target), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and needle in err and "Traceback" not in err


def test_offline_without_data_says_what_to_fetch(capsys, tmp_path):
    # the suite is offline and the cache empty; an explicit --dataset never falls back to another
    code = main(["topic10", "--dataset", "mnist", "--epochs", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "train-images-idx3-ubyte.gz" in err and "What to do" in err


def test_smoke_run_without_data_uses_synthetic_digits_and_says_so(capsys, tmp_path, monkeypatch):
    from tracks.t10_mnist import run as t10_run

    monkeypatch.setattr(t10_run, "_available", lambda name, offline: False)  # a machine with no data set at all
    code = main(["topic10", "--smoke", "--json", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["run"]["metrics"]["dataset"] == "synthetic digits"
    assert "the smoke run uses synthetic digits" in " ".join(captured.err.split())


def test_nan_loss_stops_with_the_step_and_advice(capsys, idx_dir, tmp_path, monkeypatch):
    from tracks.t08_losses import reference as losses

    calls = {"n": 0}
    real = losses.softmax_cross_entropy_forward

    def poisoned(logits, labels):
        calls["n"] += 1
        loss, cache = real(logits, labels)
        return (np.float32(np.nan) if calls["n"] == 5 else loss), cache

    monkeypatch.setattr(losses, "softmax_cross_entropy_forward", poisoned)
    code = main(["topic10", "--smoke", "--data", str(idx_dir), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "the loss became nan at epoch 1, step 5" in err and "lower the learning rate" in err


def test_ctrl_c_keeps_and_shows_the_partial_figures(capsys, idx_dir, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = ref.train_step

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 14:  # in epoch 2 of the smoke run (10 steps per epoch)
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(ref, "train_step", interrupted)
    code, report = run_json(capsys, "--smoke", "--data", str(idx_dir), "--out", str(tmp_path))
    assert code == 130
    metrics = report["run"]["metrics"]
    assert metrics["interrupted"] and metrics["epochs"] == 1 and metrics["test_accuracy"] > 0
    assert report["run"]["interrupted"] and Path(report["run"]["plots"][0]).is_file()


# --------------------------------------------------------------------------- the milestone
def test_impl_mine_with_unfinished_topics_says_which(capsys, tmp_path, idx_dir):
    reference_file = TRACKS_DIR / TOPIC.folder / "reference.py"
    code, report = run_json(capsys, "--smoke", "--data", str(idx_dir), "--impl", "mine", "--exercise",
                            str(reference_file), "--out", str(tmp_path))
    assert code == 1
    assert "--impl mine: this run needs your" in report["error"] and "does not pass yet" in report["error"]


@pytest.mark.skipif(not FASHION.is_dir(), reason="needs Debian's dataset-fashion-mnist (CI installs it)")
def test_milestone_recorded_only_for_impl_mine_on_real_data(capsys, tmp_path, monkeypatch, progress_file):
    import fdl.track
    from fdl.progress import Progress
    from tracks.t10_mnist import run as t10_run

    # every topic's "learner file" is its reference: a learner who has finished everything
    monkeypatch.setattr(fdl.track, "default_exercise_path", lambda t: TRACKS_DIR / t.folder / "reference.py")
    monkeypatch.setitem(t10_run.TARGETS, "fashion_mnist", 0.6)  # one epoch is enough for this bar
    args = ["--dataset", "fashion_mnist", "--epochs", "1", "--out", str(tmp_path)]
    assert main(["topic10", *args]) == 0
    assert Progress.load(progress_file).milestone("first_neural_network") is None  # auto: not yours alone
    assert "run again with --impl mine" in " ".join(capsys.readouterr().out.split())  # rich wraps lines
    assert main(["topic10", *args, "--impl", "mine"]) == 0
    entry = Progress.load(progress_file).milestone("first_neural_network")
    assert entry["reached"] and entry["best"] >= 0.6 and entry["dataset"] == "fashion_mnist"


# --------------------------------------------------------------------------- the JAX version
def test_jax_version_trains_and_evaluates():
    import chex
    import jax
    import jax.numpy as jnp

    from tracks.t10_mnist import jax_version as J

    images, labels = learnable_images(512, 0)
    x = jnp.asarray(ref.preprocess(images))
    y = jnp.asarray(labels.astype(np.int32))
    config = J.MLPConfig(sizes=(784, 64, 10), warmup_steps=4, total_steps=40, learning_rate=3e-3)
    params = J.init_mlp(jax.random.PRNGKey(0), config.sizes)
    optimizer = J.make_optimizer(config)
    train_step = J.make_train_step(config, optimizer)
    state = optimizer.init(params)
    key = jax.random.PRNGKey(1)
    first = None
    # traced (and so compiled) once, reused every step: a second trace raises
    chex.clear_trace_counter()
    train_step = jax.jit(chex.assert_max_traces(train_step.__wrapped__, n=1))
    for i in range(40):
        key, sub = jax.random.split(key)
        batch = slice((i % 4) * 128, (i % 4 + 1) * 128)
        params, state, loss = train_step(params, state, sub, x[batch], y[batch])
        first = float(loss) if first is None else first
    assert float(loss) < 0.3 * first
    loss, accuracy = J.evaluate(params, x, y, batch_size=100)  # 512 is not a multiple of 100
    logits = J.apply(params, x)
    expected = float(jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(512), y] * -1))
    # float32 log-sum-exp errs by ~1e-7 per example, however small the loss: an absolute bound
    assert loss == pytest.approx(expected, rel=1e-4, abs=1e-6) and accuracy > 0.9


def test_auto_takes_fashion_mnist_when_mnist_cannot_be_had(monkeypatch):
    from types import SimpleNamespace

    from tracks.t10_mnist import run as t10_run

    printed = []
    ctx = SimpleNamespace(smoke=False, print=printed.append)
    monkeypatch.setattr(t10_run, "_available", lambda name, offline: name == "fashion_mnist")
    assert t10_run._choose_dataset(ctx) == "fashion_mnist" and "Fashion-MNIST is" in printed[0]
    monkeypatch.setattr(t10_run, "_available", lambda name, offline: True)
    assert t10_run._choose_dataset(ctx) == "mnist"
    monkeypatch.setattr(t10_run, "_available", lambda name, offline: False)
    assert t10_run._choose_dataset(ctx) == "mnist"  # whose loader then says what to fetch
