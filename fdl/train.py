"""The one training-loop helper every topic's run uses.

A training step is a pure function ``step(state, batch) -> (state, loss)``
(flax's ``train_step`` shape); :func:`fit` runs it over epochs with a progress
bar, evaluates after each epoch, and stops:

- at the end of the last epoch;
- when ``should_stop(history)`` says so (early stopping);
- with :class:`NonFiniteLoss` when a loss is NaN or infinite, naming the
  epoch and step and suggesting a lower learning rate;
- on Ctrl-C, returning what it has so far with ``history.interrupted`` set,
  so the caller can still print and plot the partial figures.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .errors import FdlError

__all__ = ["History", "NonFiniteLoss", "fit", "plot_history"]


class NonFiniteLoss(FdlError, RuntimeError):
    """The loss became NaN or infinite; training stopped."""

    def __init__(self, epoch: int, step: int, loss: float, hint: str = ""):
        self.epoch, self.step, self.loss = epoch, step, loss
        advice = hint or "try a lower learning rate (e.g. 10x smaller), or check the inputs are scaled"
        super().__init__(f"the loss became {loss} at epoch {epoch}, step {step} of training: {advice}")


@dataclass
class History:
    """What happened during training: the loss per step and the figures per epoch."""

    step_loss: list[float] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    interrupted: bool = False
    stopped_early: bool = False
    seconds: float = 0.0

    def series(self, key: str) -> list[float]:
        return [e[key] for e in self.epochs if key in e]

    def best(self, key: str, higher_is_better: bool = True) -> float | None:
        values = self.series(key)
        if not values:
            return None
        return max(values) if higher_is_better else min(values)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "interrupted": self.interrupted, "stopped_early": self.stopped_early,
                "seconds": round(self.seconds, 3), "steps": len(self.step_loss)}


def fit(
    state: Any,
    step: Callable[[Any, Any], tuple[Any, float]],
    batches: Callable[[int], Iterable[Any]],
    *,
    epochs: int,
    steps_per_epoch: int | None = None,
    evaluate: Callable[[Any], dict[str, float]] | None = None,
    should_stop: Callable[[History], bool] | None = None,
    console: Any = None,
    description: str = "training",
    nan_hint: str = "",
) -> tuple[Any, History]:
    """Train for ``epochs``; returns the final state and the :class:`History`.

    ``batches(epoch)`` yields the epoch's batches; ``evaluate(state)`` returns
    figures (``{"val_loss": ..., "val_accuracy": ...}``) recorded with the
    epoch's mean training loss and time.
    """
    history = History()
    start = time.perf_counter()
    progress = _progress(console)
    global_step = 0
    try:
        with progress:
            for epoch in range(1, epochs + 1):
                task = progress.add_task(f"{description} epoch {epoch}/{epochs}", total=steps_per_epoch,
                                         loss="")
                epoch_start = time.perf_counter()
                total, count = 0.0, 0
                for batch in batches(epoch):
                    state, loss = step(state, batch)
                    loss = float(loss)
                    global_step += 1
                    if not math.isfinite(loss):
                        raise NonFiniteLoss(epoch, global_step, loss, nan_hint)
                    history.step_loss.append(loss)
                    total += loss
                    count += 1
                    progress.update(task, advance=1, loss=f"loss {total / count:.4f}")
                record = {"epoch": epoch, "train_loss": total / max(count, 1),
                          "seconds": time.perf_counter() - epoch_start}
                if evaluate is not None:
                    record.update({k: float(v) for k, v in evaluate(state).items()})
                history.epochs.append(record)
                shown = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("epoch", "seconds"))
                progress.update(task, loss=shown)
                if should_stop is not None and should_stop(history):
                    history.stopped_early = True
                    break
    except KeyboardInterrupt:
        history.interrupted = True
        if console is not None:
            console.print(f"[yellow]interrupted after {len(history.epochs)} epoch(s); keeping what was done[/]")
    history.seconds = time.perf_counter() - start
    return state, history


def _progress(console):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[loss]}"), console=console, disable=console is None,
    )


def plot_history(ctx, history: History, filename: str, *, title: str = "", target: float | None = None,
                 accuracy_keys: tuple[str, ...] = ("train_accuracy", "val_accuracy", "test_accuracy")) -> None:
    """Loss (per step, faint, and per epoch) and accuracy per epoch, saved as PNG through ``ctx``."""
    from .plot import figure, line_plot

    fig, (ax_loss, ax_acc) = figure(1, 2, size=(11, 4))
    epochs = [e["epoch"] for e in history.epochs]
    per_epoch = len(history.step_loss) / max(len(epochs), 1)
    steps = [i / per_epoch for i in range(1, len(history.step_loss) + 1)]
    ax_loss.plot(steps, history.step_loss, color="tab:blue", alpha=0.2, linewidth=0.5, label="train loss (per step)")
    series = {"train loss (epoch mean)": (epochs, history.series("train_loss"))}
    for key in ("val_loss", "test_loss"):
        if history.series(key):
            series[key.replace("_", " ")] = (epochs, history.series(key))
    line_plot(ax_loss, series, title=title or "loss", xlabel="epoch", ylabel="loss", logy=True)
    acc = {k.replace("_", " "): (epochs, history.series(k)) for k in accuracy_keys if history.series(k)}
    if target is not None:
        ax_acc.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g}")
    line_plot(ax_acc, acc, title="accuracy", xlabel="epoch", ylabel="accuracy")
    ctx.save_figure(fig, filename)
