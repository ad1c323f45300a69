"""Topic 09 run: the same MLP trained three ways on a training set small enough to memorise.

1. **plain**: SGD with momentum, nothing else. The training loss goes to
   zero; the validation loss falls, reaches a minimum, and climbs again.
2. **weight decay**: ``chain(add_decayed_weights(wd), momentum(lr))``, which
   for SGD is the L2 penalty ``wd / 2 * sum w^2`` (the run shows the two give
   the same step before training).
3. **dropout**: inverted dropout with probability p after every hidden ReLU.

The three runs start from the same weights and see the same batches in the
same order. The plots show train and validation loss per epoch and mark
where :func:`early_stopping` would have stopped each run; the table gives the
final and best validation loss, the accuracy, and the size of the weights
(``l1_forward``/``l2_forward`` with lam = 1).

The network is built from earlier topics: linear layers from topic 06,
ReLU from topic 07, cross-entropy from topic 08, momentum and ``chain`` from
topic 03 (each yours where it passes its checks).

Data: a random subset of Fashion-MNIST's training images (the validation set
is other training images; the test set is left alone), or with
``--dataset synthetic`` (and ``--smoke``) noisy Gaussian classes made here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fdl.given import MLPStack
from fdl.plot import figure
from fdl.train import History, fit


def add_arguments(group) -> None:
    group.add_argument("--dataset", choices=("fashion_mnist", "synthetic"), default=None,
                       help="training data (default fashion_mnist; smoke: synthetic)")
    group.add_argument("--train-size", type=int, default=None,
                       help="training examples: few, so the plain network over-fits (default 1000, smoke 200)")
    group.add_argument("--epochs", type=int, default=None, help="epochs per run (default 40, smoke 25)")
    group.add_argument("--hidden", type=int, default=None, help="units in each of the two hidden layers (default 128)")
    group.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (momentum 0.9; default 0.01)")
    group.add_argument("--weight-decay", type=float, default=0.01, help="weight decay of run 2 (default 0.01)")
    group.add_argument("--dropout", type=float, default=0.5, help="dropout probability of run 3 (default 0.5)")
    group.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs (default 5)")
    group.add_argument("--stop-early", action="store_true",
                       help="really stop each run when early_stopping says so (default: mark it only)")


# --------------------------------------------------------------------------- data
@dataclass
class Data:
    name: str
    train_x: np.ndarray  # (n_train, d) float32
    train_y: np.ndarray  # (n_train,) int64
    val_x: np.ndarray  # (n_val, d) float32
    val_y: np.ndarray  # (n_val,) int64
    classes: int


def _standardise(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift and scale by the training set's mean and spread (never the validation set's)."""
    mean, std = train.mean(axis=0), train.std()
    return ((train - mean) / std).astype(np.float32), ((val - mean) / std).astype(np.float32)


def fashion_mnist(n_train: int, n_val: int, rng: np.random.Generator) -> Data:
    """A random subset of the training split, and other training images for validation."""
    from fdl.data import load_dataset

    ds = load_dataset("fashion_mnist")  # DataError, with instructions, when the files are missing
    order = rng.permutation(len(ds.train_x))
    if n_train + n_val > len(order):
        raise ValueError(f"--train-size {n_train} leaves fewer than {n_val} images for validation")
    train, val = order[:n_train], order[n_train:n_train + n_val]
    images = ds.train_x.reshape(len(ds.train_x), -1).astype(np.float32) / 255  # (60000, 784) in [0, 1]
    train_x, val_x = _standardise(images[train], images[val])
    return Data("Fashion-MNIST", train_x, ds.train_y[train].astype(np.int64), val_x,
                ds.train_y[val].astype(np.int64), ds.num_classes)


def synthetic(n_train: int, n_val: int, rng: np.random.Generator, dim: int = 40, classes: int = 10,
              label_noise: float = 0.1) -> Data:
    """Overlapping Gaussian classes with some wrong labels: easy to memorise, hard to fit well.

    Class means lie in a random 10-dimensional subspace; every point gets
    isotropic noise in all ``dim`` dimensions, and ``label_noise`` of the
    labels are replaced by random ones. Memorising the noise is what a
    network without regularization learns to do.
    """
    basis = np.linalg.qr(rng.standard_normal((dim, 10)))[0]  # (dim, 10), orthonormal columns
    means = 1.6 * rng.standard_normal((classes, 10)) @ basis.T  # (classes, dim)

    def draw(n):
        y = rng.integers(0, classes, n)
        x = means[y] + rng.standard_normal((n, dim))
        flip = rng.random(n) < label_noise
        y = np.where(flip, rng.integers(0, classes, n), y)
        return x, y.astype(np.int64)

    (train_x, train_y), (val_x, val_y) = draw(n_train), draw(n_val)
    train_x, val_x = _standardise(train_x, val_x)
    return Data("synthetic Gaussian classes", train_x, train_y, val_x, val_y, classes)


# --------------------------------------------------------------------------- the network
def _add(params, updates):
    """params + updates, layer by layer (one optimizer step)."""
    return [{k: layer[k] + step[k] for k in layer} for layer, step in zip(params, updates)]


def _copy(params):
    return [{k: v.copy() for k, v in layer.items()} for layer in params]


# --------------------------------------------------------------------------- one training run
@dataclass
class Result:
    label: str
    history: History
    params: list
    stop_epoch: int | None  # 1-based epoch at which early_stopping first says stop (None: never)
    kept_epoch: int | None  # 1-based epoch whose weights early stopping keeps (its best_epoch then)

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the lowest validation loss of the whole run."""
        return int(np.argmin(self.history.series("val_loss"))) + 1


def train_one(ctx, net: MLPStack, data: Data, params0, optimizer, *, label: str, p: float, epochs: int,
              batch: int, patience: int, stop_early: bool) -> Result:
    reg = ctx.impl
    order_rng = ctx.rng_for("batch order")  # the same batches, in the same order, for every run
    drop_rng = ctx.rng_for("dropout")
    n = len(data.train_y)

    def batches(epoch):
        idx = order_rng.permutation(n)
        for start in range(0, n - batch + 1, batch):
            take = idx[start:start + batch]
            yield data.train_x[take], data.train_y[take]

    def step(state, xy):
        params, opt_state = state
        x, y = xy
        logits, caches = net.forward(params, x, p=p, rng=drop_rng, train=True)
        loss, loss_cache = net.losses.softmax_cross_entropy_forward(logits, y)
        _, grads = net.backward(net.losses.softmax_cross_entropy_backward(1.0, loss_cache), caches)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (_add(params, updates), opt_state), loss

    def evaluate(state):
        params = state[0]
        train_loss, train_acc = net.evaluate(params, data.train_x, data.train_y)
        val_loss, val_acc = net.evaluate(params, data.val_x, data.val_y)
        return {"train_eval_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss,
                "val_accuracy": val_acc}

    def should_stop(history: History) -> bool:
        return bool(reg.early_stopping(history.series("val_loss"), patience)[0])

    params = _copy(params0)
    (params, _), history = fit((params, optimizer.init(params)), step, batches, epochs=epochs,
                               steps_per_epoch=n // batch, evaluate=evaluate,
                               should_stop=should_stop if stop_early else None,
                               console=ctx.console, description=label)
    val = history.series("val_loss")
    stop_epoch = kept_epoch = None
    for k in range(1, len(val) + 1):  # where would early stopping have stopped?
        stop, best = reg.early_stopping(val[:k], patience)
        if stop:
            stop_epoch, kept_epoch = k, best + 1
            break
    return Result(label, history, params, stop_epoch, kept_epoch)


# --------------------------------------------------------------------------- L2 = weight decay under SGD
def l2_matches_decay(ctx, net: MLPStack, data: Data, params, wd: float, lr: float) -> float:
    """One step two ways: grads + d(L2)/dw into momentum, and add_decayed_weights before momentum."""
    opt = ctx.use(3)
    x, y = data.train_x[:32], data.train_y[:32]
    logits, caches = net.forward(params, x)
    _, loss_cache = net.losses.softmax_cross_entropy_forward(logits, y)
    _, grads = net.backward(net.losses.softmax_cross_entropy_backward(1.0, loss_cache), caches)
    _, l2_cache = ctx.impl.l2_forward(params, wd)
    penalty_grads = ctx.impl.l2_backward(1.0, l2_cache)
    with_l2 = [{k: g[k] + r[k] for k in g} for g, r in zip(grads, penalty_grads)]
    sgd = opt.momentum(lr, 0.9)
    u_l2, _ = sgd.update(with_l2, sgd.init(params), params)
    decayed = opt.chain(ctx.impl.add_decayed_weights(wd), opt.momentum(lr, 0.9))
    u_wd, _ = decayed.update(grads, decayed.init(params), params)
    return max(float(np.max(np.abs(a[k] - b[k]))) for a, b in zip(u_l2, u_wd) for k in a)


# --------------------------------------------------------------------------- plots and table
COLORS = {"plain": "tab:red", "weight decay": "tab:blue", "dropout": "tab:green"}


def plot_curves(ctx, results: list[Result], data: Data, patience: int) -> None:
    from matplotlib.lines import Line2D

    fig, axes = figure(1, len(results), size=(5.0 * len(results), 4.8), sharey=True)
    top = 0.0
    for ax, r in zip(axes, results):
        epochs = [e["epoch"] for e in r.history.epochs]
        train, val = r.history.series("train_eval_loss"), r.history.series("val_loss")
        top = max(top, *train, *val)
        color = COLORS.get(r.label, None)
        ax.plot(epochs, train, "--", color=color)
        ax.plot(epochs, val, "-", color=color)
        best = val[r.best_epoch - 1]
        ax.plot([r.best_epoch], [best], "o", color="black", markersize=6)
        title = f"{r.label}: lowest val loss {best:.3f} (epoch {r.best_epoch})"
        if r.stop_epoch is not None:
            ax.axvline(r.stop_epoch, color="gray", linestyle=":")
            ax.plot([r.kept_epoch], [val[r.kept_epoch - 1]], "*", color="gold", markeredgecolor="black",
                    markersize=13)
            title += f"\nearly stopping: stops at {r.stop_epoch}, keeps {r.kept_epoch}"
        else:
            title += "\nearly stopping never stops it"
        ax.set_title(title, fontsize="medium")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 1.05 * top)  # shared by every panel
    axes[0].set_ylabel("cross-entropy")
    key = [
        Line2D([], [], color="gray", linestyle="--", label="train loss"),
        Line2D([], [], color="gray", linestyle="-", label="validation loss"),
        Line2D([], [], color="black", marker="o", linestyle="", label="lowest validation loss"),
        Line2D([], [], color="gray", linestyle=":", label=f"early stopping (patience {patience}) stops"),
        Line2D([], [], color="gold", markeredgecolor="black", marker="*", markersize=13, linestyle="",
               label="... and keeps this epoch"),
    ]
    middle = axes[len(axes) // 2]  # one key for every panel, below them
    middle.legend(handles=key, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=3, fontsize="small")
    fig.suptitle(f"{data.name}: {len(data.train_y)} training examples, "
                 f"{len(data.val_y)} validation examples")
    ctx.save_figure(fig, "overfitting.png")


def plot_comparison(ctx, results: list[Result]) -> None:
    fig, (ax_loss, ax_acc) = figure(1, 2, size=(11, 4))
    for r in results:
        epochs = [e["epoch"] for e in r.history.epochs]
        color = COLORS.get(r.label, None)
        ax_loss.plot(epochs, r.history.series("val_loss"), color=color, label=r.label)
        ax_acc.plot(epochs, r.history.series("val_accuracy"), color=color, label=r.label)
    ax_loss.set_title("validation loss")
    ax_acc.set_title("validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    ctx.save_figure(fig, "comparison.png")


def _table(ctx, results: list[Result]) -> None:
    from rich.table import Table

    table = Table(header_style="bold")
    columns = ("run", "train loss", "val loss", "best val (epoch)", "stops (keeps)", "val acc", "sum |w|", "sum w^2/2")
    for col in columns:
        table.add_column(col, justify="left" if col == "run" else "right")
    for r in results:
        last = r.history.epochs[-1]
        best = r.history.epochs[r.best_epoch - 1]["val_loss"]
        stops = f"{r.stop_epoch} ({r.kept_epoch})" if r.stop_epoch else "-"
        l1, _ = ctx.impl.l1_forward(r.params, 1.0)
        l2, _ = ctx.impl.l2_forward(r.params, 1.0)
        table.add_row(r.label, f"{last['train_eval_loss']:.4f}", f"{last['val_loss']:.4f}",
                      f"{best:.4f} ({r.best_epoch})", stops, f"{last['val_accuracy']:.3f}",
                      f"{float(l1):.0f}", f"{float(l2):.1f}")
    ctx.print(table)


# --------------------------------------------------------------------------- the run
def run(ctx) -> dict:
    o = ctx.options
    dataset = o.dataset or ("synthetic" if ctx.smoke else "fashion_mnist")
    n_train = o.train_size or (200 if ctx.smoke else 1000)
    epochs = o.epochs or (25 if ctx.smoke else 40)
    hidden = o.hidden or (64 if ctx.smoke else 128)
    n_val, batch = (1000 if ctx.smoke else 2000), (20 if ctx.smoke else 50)
    if not 0 < o.dropout < 1:
        raise ValueError(f"--dropout must be in (0, 1), got {o.dropout}")

    data = fashion_mnist(n_train, n_val, ctx.rng_for("data")) if dataset == "fashion_mnist" else \
        synthetic(n_train, n_val, ctx.rng_for("data"))
    ctx.print(f"{data.name}: {len(data.train_y)} training and {len(data.val_y)} validation examples, "
              f"{data.train_x.shape[1]} features, {data.classes} classes")

    net = MLPStack(ctx.use(6), ctx.use(7), ctx.use(8), dropout=ctx.impl)
    opt = ctx.use(3)
    sizes = (data.train_x.shape[1], hidden, hidden, data.classes)
    params0 = ctx.use(5).init_mlp(sizes, ctx.rng_for("init"), np.float32)

    diff = l2_matches_decay(ctx, net, data, params0, o.weight_decay, o.lr)
    ctx.print(f"one SGD-momentum step, L2 penalty (lam = {o.weight_decay}) vs add_decayed_weights "
              f"({o.weight_decay}): max |difference| = {diff:.1e}")

    common = dict(epochs=epochs, batch=batch, patience=o.patience, stop_early=o.stop_early)
    runs = [
        ("plain", opt.momentum(o.lr, 0.9), 0.0),
        ("weight decay", opt.chain(ctx.impl.add_decayed_weights(o.weight_decay), opt.momentum(o.lr, 0.9)), 0.0),
        ("dropout", opt.momentum(o.lr, 0.9), o.dropout),
    ]
    results = [train_one(ctx, net, data, params0, optimizer, label=label, p=p, **common)
               for label, optimizer, p in runs]

    _table(ctx, results)
    plot_curves(ctx, results, data, o.patience)
    plot_comparison(ctx, results)

    metrics: dict[str, float | int | str] = {"dataset": dataset, "train_size": n_train,
                                             "l2_vs_decay_max_diff": diff}
    best = {}
    for r, key in zip(results, ("plain", "weight_decay", "dropout")):
        last = r.history.epochs[-1]
        best[key] = r.history.best("val_loss", higher_is_better=False)
        metrics.update({
            f"{key}_final_train_loss": last["train_eval_loss"],
            f"{key}_final_val_loss": last["val_loss"],
            f"{key}_best_val_loss": best[key],
            f"{key}_final_val_accuracy": last["val_accuracy"],
            f"{key}_early_stop_epoch": r.stop_epoch or 0,  # 0: early stopping never fired
            f"{key}_early_stop_val_loss": r.history.epochs[(r.kept_epoch or len(r.history.epochs)) - 1]["val_loss"],
        })
    regularized = min(best["weight_decay"], best["dropout"])
    ctx.target("best validation loss, regularized runs (<= plain run's)", regularized, best["plain"],
               higher_is_better=False)
    return metrics
