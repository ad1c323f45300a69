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


@pytest.mark.parametrize("bug", [
    Bug({"preprocess": _preprocess_by_256}, "preprocess result", "scaled by 1/256"),
    Bug({"iterate_minibatches": _batches_always_dropping_the_rest}, "batch sizes", "the last batch lost"),
])
def test_more_pipeline_bugs_fail(bug):
    assert_bug_caught(TOPIC, "data_pipeline", bug)


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


def test_smoke_run_learns_and_reports(capsys, idx_dir, tmp_path, progress_file):
    code, report = run_json(capsys, "--smoke", "--data", str(idx_dir), "--out", str(tmp_path / "runs"))
    assert code == 0, report.get("error")
    metrics = report["run"]["metrics"]
    assert metrics["test_accuracy"] >= 0.9 and metrics["epochs"] == 2 and metrics["train_examples"] == 1200
    assert report["run"]["targets"][0]["met"]
    assert all(Path(p).is_file() for p in report["run"]["plots"])
    deps = report["run"]["dependencies"]
    assert set(deps) == {"t03", "t05", "t06", "t07", "t08", "t09"}
    from fdl.progress import Progress

    assert Progress.load(progress_file).milestone("first_neural_network") is None  # smoke never counts


def test_smoke_run_is_deterministic(capsys, idx_dir, tmp_path):
    first = run_json(capsys, "--smoke", "--data", str(idx_dir), "--out", str(tmp_path))[1]["run"]["metrics"]
    second = run_json(capsys, "--smoke", "--data", str(idx_dir), "--out", str(tmp_path))[1]["run"]["metrics"]
    assert first["test_loss"] == second["test_loss"]


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
    for i in range(40):
        key, sub = jax.random.split(key)
        batch = slice((i % 4) * 128, (i % 4 + 1) * 128)
        params, state, loss = train_step(params, state, sub, x[batch], y[batch])
        first = float(loss) if first is None else first
    assert float(loss) < 0.3 * first
    assert train_step._cache_size() == 1  # compiled once, reused every step
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
