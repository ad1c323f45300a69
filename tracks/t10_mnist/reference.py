"""Topic 10 reference: the data pipeline, one training step, and evaluation.

Everything here is glue: the layers (topics 05-07), the loss (08), dropout
(09) and the optimizer (03) are passed in. A *model* is any object with

    model.forward(x, params)        -> (logits, cache)      x: (batch, features)
    model.backward(dlogits, cache)  -> (dx, dparams)         dparams like params
    model.loss_forward(logits, y)   -> (loss, cache)         mean over the batch
    model.loss_backward(dloss, cache) -> dlogits

and an *optimizer* is topic 03's ``Optimizer(init, update)``. Keeping them
as arguments makes ``train_step`` checkable against ``jax.grad`` and optax on
its own, whatever state the other topics are in.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from fdl.given import apply_updates

__all__ = ["preprocess", "iterate_minibatches", "train_step", "evaluate"]


def preprocess(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, *pixel_dims)`` -> float32 ``(n, prod(pixel_dims))`` in [0, 1].

    A multiply by 1/255 rather than a divide: the same result to the last bit
    for uint8 inputs in float32, and the cheaper operation.
    """
    if images.dtype != np.uint8:
        raise ValueError(f"expected uint8 images (0..255), got {images.dtype}; scale other inputs yourself")
    flat = images.reshape(len(images), -1)  # (n, 28, 28) -> (n, 784): a view, no copy
    return flat.astype(np.float32) * np.float32(1.0 / 255.0)


def iterate_minibatches(x: np.ndarray, y: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
                        *, shuffle: bool = True, drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x_batch, y_batch)`` covering every example once per pass.

    With ``shuffle`` the order is a permutation drawn from ``rng`` (so a seed
    fixes it); the last batch is smaller unless ``drop_last``.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x has {n} examples but y has {len(y)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if shuffle:
        if rng is None:
            raise ValueError("shuffle=True needs an rng (np.random.default_rng(seed)) so the order is reproducible")
        order = rng.permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        yield x[index], y[index]  # fancy indexing copies: the caller may keep or modify the batch


def train_step(params, opt_state, x, y, model, optimizer):
    """One optimisation step; returns ``(params, opt_state, loss)``.

    forward -> loss -> backward (seeded with dL/dL = 1) -> optimizer -> params + updates
    """
    logits, cache = model.forward(x, params)  # (batch, classes)
    loss, loss_cache = model.loss_forward(logits, y)  # mean over the batch
    dlogits = model.loss_backward(np.ones((), dtype=logits.dtype), loss_cache)
    _, grads = model.backward(dlogits, cache)  # the gradient for x is not needed
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = apply_updates(params, updates)
    return params, opt_state, float(loss)


def evaluate(params, x, y, model, batch_size: int = 1000) -> tuple[float, float]:
    """Mean loss and accuracy over all of ``x``, in batches of ``batch_size``.

    Each batch's mean loss is weighted by its size, so a smaller last batch
    counts for what it holds, and the result equals one pass over everything.
    """
    n = len(x)
    if n == 0:
        raise ValueError("cannot evaluate on an empty data set")
    total_loss, correct = 0.0, 0
    for start in range(0, n, batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        logits, _ = model.forward(xb, params)
        loss, _ = model.loss_forward(logits, yb)
        total_loss += float(loss) * len(xb)
        correct += int(np.count_nonzero(logits.argmax(axis=-1) == yb))
    return total_loss / n, correct / n
