"""Topic 10 · End-to-end MNIST: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic10                            # MNIST (downloaded once)
    python -m fdl.run topic10 --dataset fashion_mnist    # works offline with Debian's package

The layers, the loss, dropout and the optimizer come from your earlier
topics; here you write the glue. A *model* is any object with

    model.forward(x, params)          -> (logits, cache)
    model.backward(dlogits, cache)    -> (dx, dparams)
    model.loss_forward(logits, y)     -> (loss, cache)      # mean over the batch
    model.loss_backward(dloss, cache) -> dlogits

and an optimizer is topic 03's ``Optimizer(init, update)``.
"""

import numpy as np

from fdl.given import apply_updates  # given code (not an exercise): params + updates


def preprocess(images):
    """uint8 images (n, *pixel_dims) -> float32 (n, prod(pixel_dims)) scaled to [0, 1].

    Raise ValueError for anything but uint8 (floats are not raw pixels).
    """
    raise NotImplementedError("topic 10 · data_pipeline")


def iterate_minibatches(x, y, batch_size, rng=None, *, shuffle=True, drop_last=False):
    """Yield (x_batch, y_batch) pairs covering every example once.

    x: (n, d), y: (n,). With shuffle, the order is rng.permutation(n) (x and y
    shuffled together!). The last batch is smaller unless drop_last.
    """
    raise NotImplementedError("topic 10 · data_pipeline")


def train_step(params, opt_state, x, y, model, optimizer):
    """One step: forward, loss, backward (start from dL/dL = 1), optimizer update.

    Returns (new_params, new_opt_state, loss). Do not modify params in place.
    """
    raise NotImplementedError("topic 10 · training_loop")


def evaluate(params, x, y, model, batch_size=1000):
    """(mean loss, accuracy) over all of x, computed batch by batch.

    Hint: weight each batch's mean loss by the batch's size; the last batch may be smaller.
    """
    raise NotImplementedError("topic 10 · evaluation")
