"""Topic 08 reference: loss functions and their gradients, in NumPy.

A loss turns a batch of predictions and targets into one number to
minimise. Every loss here is a **mean over the batch**, returned as a 0-d
array of the predictions' dtype, and every backward returns the gradient
with respect to the predictions (or logits) only: targets and labels are
data, not parameters::

    loss, cache = <name>_forward(pred, target, ...)
    dpred       = <name>_backward(dloss, cache)       # dloss: the upstream gradient, a 0-d array or float

Because the loss is a mean of ``N`` terms, every gradient carries a ``1/N``:
forget it and the learning rate silently depends on the batch size.

**Regression.** With ``e = pred - target`` (any shape, ``N`` elements)::

    MSE    = (1/N) sum e^2                              dMSE/de   = 2 e / N
    Huber  = (1/N) sum { e^2 / 2              |e| <= d   dHuber/de = clip(e, -d, d) / N
                       { d (|e| - d / 2)      |e| >  d

Huber is quadratic near 0 and linear in the tails: its gradient is MSE's
(halved) with the outliers' pull clipped at ``d``.

**Binary cross-entropy from logits.** A logit ``x`` is a log-odds,
``p = sigmoid(x)``, and for a label ``y`` in [0, 1]::

    BCE = -[y log p + (1 - y) log(1 - p)]
        =  y softplus(-x) + (1 - y) softplus(x)          (log p = -softplus(-x), log(1 - p) = -softplus(x))
    softplus(t) = log(1 + e^t) = max(t, 0) + log1p(exp(-|t|))
    dBCE/dx = p - y

Written with ``softplus`` the loss only ever exponentiates ``-|x| <= 0``:
nothing overflows, and no ``log`` sees a 0. The naive ``log(sigmoid(x))``
is ``log(0) = -inf`` once ``sigmoid`` rounds to 0 or 1 (``|x| > 37`` in
float64, ``|x| > 17`` in float32). Both terms are non-negative, so their sum
loses no digits to cancellation either.

**Softmax cross-entropy.** For logits ``z: (n, c)`` and integer labels
``y: (n,)``, ``p = softmax(z)`` and the loss of a row is ``-log p_y``::

    -log p_y = logsumexp(z) - z_y
    logsumexp(z) = m + log sum_j exp(z_j - m),   m = max_j z_j   (every exponent <= 0, one of them = 0)
    dCE/dz = (p - onehot(y)) / n

Subtracting the row maximum changes nothing mathematically (``m`` cancels)
and everything numerically: ``exp(1000)`` is ``inf``, ``exp(0)`` is 1, and the
sum is at least 1, so its log is finite.

**Label smoothing** trains against ``q = (1 - a) onehot(y) + a / c`` instead of
the one-hot target. Since ``sum_j q_j = 1``::

    LS = -sum_j q_j log p_j = (1 - a) (-log p_y) + a mean_j(-log p_j)
    dLS/dz = (p - q) / n

The second term punishes any logit far below the others, so the optimum is
a finite margin ``log(q_y / q_other)`` instead of infinity; ``a = 0`` is plain
cross-entropy.

**KL divergence** of predictions ``p`` from targets ``t`` (distributions over
the last axis; the predictions given as ``log p``)::

    KL(t || p) = sum_j t_j (log t_j - log p_j),   0 log 0 = 0 (the limit of t log t)
    dKL/d(log p) = -t / n

Terms with ``t_j = 0`` contribute nothing, whatever ``p_j`` is.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "mse_forward", "mse_backward",
    "huber_forward", "huber_backward",
    "bce_with_logits_forward", "bce_with_logits_backward",
    "softmax_cross_entropy_forward", "softmax_cross_entropy_backward",
    "label_smoothing_forward", "label_smoothing_backward",
    "kl_divergence_forward", "kl_divergence_backward",
]


def _scalar(value, dtype) -> np.ndarray:
    """A 0-d array of ``dtype``: the loss, or the upstream gradient cast to the predictions' dtype.

    (A float64 ``dloss`` times a float32 array would give float64 in NumPy 2.)
    """
    return np.asarray(value, dtype=dtype)


# --------------------------------------------------------------------------- regression
def mse_forward(pred: np.ndarray, target: np.ndarray):
    """Mean squared error.  pred, target: (*s) -> loss: (), pred's dtype

    loss = mean((pred - target)^2) over all elements.
    """
    err = pred - target  # (*s)
    return _scalar(np.mean(err * err), pred.dtype), err


def mse_backward(dloss, err: np.ndarray) -> np.ndarray:
    """-> dpred: (*s).  d mean(e^2) / de = 2 e / N."""
    return err * _scalar(2 * np.asarray(dloss, dtype=np.float64) / err.size, err.dtype)


def huber_forward(pred: np.ndarray, target: np.ndarray, delta: float = 1.0):
    """Mean Huber loss with threshold ``delta > 0``.  pred, target: (*s) -> loss: ()

    Per element, with e = pred - target:
        e^2 / 2                    if |e| <= delta
        delta * (|e| - delta / 2)  otherwise
    """
    delta = float(delta)  # a Python float keeps float32 inputs float32
    err = pred - target  # (*s)
    abs_err = np.abs(err)
    inside = np.minimum(abs_err, delta)  # the part of |e| in the quadratic zone
    # e^2/2 inside; outside: delta^2/2 + delta (|e| - delta) = delta (|e| - delta/2), continuous at |e| = delta
    per_element = 0.5 * inside * inside + delta * (abs_err - inside)
    return _scalar(np.mean(per_element), pred.dtype), (err, delta)


def huber_backward(dloss, cache) -> np.ndarray:
    """-> dpred: (*s).  d huber / de = clip(e, -delta, delta), divided by N."""
    err, delta = cache
    return np.clip(err, -delta, delta) * _scalar(np.asarray(dloss, dtype=np.float64) / err.size, err.dtype)


# --------------------------------------------------------------------------- binary cross-entropy
def _sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) exponentiating only -|x|: 1/(1 + e) for x >= 0, e/(1 + e) for x < 0, e = exp(-|x|)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def bce_with_logits_forward(logits: np.ndarray, labels: np.ndarray):
    """Mean binary cross-entropy from logits, stable for any |logit|.

    logits: (*s) float, labels: (*s) in [0, 1] (hard 0/1 or soft) -> loss: (), logits' dtype
    Per element: y softplus(-x) + (1 - y) softplus(x).
    """
    labels = labels.astype(logits.dtype, copy=False)
    shared = np.log1p(np.exp(-np.abs(logits)))  # log(1 + e^-|x|), in [0, log 2]: common to both softplus
    # softplus(x) = max(x, 0) + shared; softplus(-x) = max(-x, 0) + shared; every term >= 0
    per_element = shared + labels * np.maximum(-logits, 0) + (1 - labels) * np.maximum(logits, 0)
    return _scalar(np.mean(per_element), logits.dtype), (_sigmoid(logits), labels)


def bce_with_logits_backward(dloss, cache) -> np.ndarray:
    """-> dlogits: (*s) = (sigmoid(x) - y) / N * dloss."""
    probs, labels = cache
    return (probs - labels) * _scalar(np.asarray(dloss, dtype=np.float64) / probs.size, probs.dtype)


# --------------------------------------------------------------------------- softmax cross-entropy
def _check_labels(labels: np.ndarray, n: int, c: int) -> None:
    """Integer labels, one per row, in [0, c): NumPy would silently read label -1 as class c - 1."""
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers of shape ({n},), got {labels.dtype} {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= c):
        raise ValueError(f"labels must be in [0, {c}), got values from {labels.min()} to {labels.max()}")


def _log_softmax_and_softmax(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log softmax, softmax) over the last axis, exponentiating only z - max(z) <= 0.

    log p = (z - m) - log s,  p = exp(z - m) / s,  s = sum_j exp(z_j - m) >= 1 (the maximum gives exp(0) = 1)
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (n, c), every entry <= 0
    exps = np.exp(shifted)  # (n, c), in [0, 1]: no overflow; underflow to 0 is harmless
    total = exps.sum(axis=-1, keepdims=True)  # (n, 1), >= 1
    return shifted - np.log(total), exps / total


def softmax_cross_entropy_forward(logits: np.ndarray, labels: np.ndarray):
    """Mean cross-entropy of integer labels under softmax(logits), stable for any logit size.

    logits: (n, c) float, labels: (n,) integers in [0, c) -> loss: (), logits' dtype
    Per row: logsumexp(z) - z_y = -log softmax(z)_y.
    """
    n, c = logits.shape
    _check_labels(labels, n, c)
    log_probs, probs = _log_softmax_and_softmax(logits)  # (n, c) each
    nll = -log_probs[np.arange(n), labels]  # (n,): -log p_y
    return _scalar(np.mean(nll), logits.dtype), (probs, labels)


def softmax_cross_entropy_backward(dloss, cache) -> np.ndarray:
    """-> dlogits: (n, c) = (softmax(z) - onehot(y)) / n * dloss."""
    probs, labels = cache
    n = probs.shape[0]
    grad = probs.copy()  # the cache may be used again: never modify it
    grad[np.arange(n), labels] -= 1  # p - onehot(y), without building the one-hot matrix
    grad *= _scalar(np.asarray(dloss, dtype=np.float64) / n, grad.dtype)
    return grad


# --------------------------------------------------------------------------- label smoothing
def label_smoothing_forward(logits: np.ndarray, labels: np.ndarray, alpha: float):
    """Mean cross-entropy against smoothed targets q = (1 - alpha) onehot(y) + alpha / c.

    logits: (n, c) float, labels: (n,) integers in [0, c), alpha in [0, 1] -> loss: ()
    Per row: (1 - alpha) (-log p_y) + alpha mean_j(-log p_j).  alpha = 0 is softmax_cross_entropy.
    """
    n, c = logits.shape
    _check_labels(labels, n, c)
    alpha = float(alpha)
    log_probs, probs = _log_softmax_and_softmax(logits)  # (n, c) each
    nll = -log_probs[np.arange(n), labels]  # (n,): cross-entropy with the one-hot target
    uniform = -log_probs.mean(axis=-1)  # (n,): cross-entropy with the uniform target 1/c
    per_row = (1 - alpha) * nll + alpha * uniform
    return _scalar(np.mean(per_row), logits.dtype), (probs, labels, alpha)


def label_smoothing_backward(dloss, cache) -> np.ndarray:
    """-> dlogits: (n, c) = (softmax(z) - q) / n * dloss."""
    probs, labels, alpha = cache
    n, c = probs.shape
    grad = probs - alpha / c  # p - alpha / c everywhere ...
    grad[np.arange(n), labels] -= 1 - alpha  # ... and - (1 - alpha) at the label
    grad *= _scalar(np.asarray(dloss, dtype=np.float64) / n, grad.dtype)
    return grad


# --------------------------------------------------------------------------- KL divergence
def kl_divergence_forward(log_predictions: np.ndarray, targets: np.ndarray):
    """Mean over rows of KL(targets || predictions), each summed over the last axis.

    log_predictions: (n, c) float (log p), targets: (n, c) probabilities t >= 0 -> loss: ()
    Per row: sum_j t_j (log t_j - log p_j), where a target of 0 contributes 0.
    """
    targets = targets.astype(log_predictions.dtype, copy=False)
    # log t where t > 0, and 0 where t = 0 (log 1): then t * (that) is 0 log 0 = 0 with no log(0) taken
    log_targets = np.log(np.where(targets > 0, targets, 1))
    per_row = (targets * (log_targets - log_predictions)).sum(axis=-1)  # (n,)
    return _scalar(np.mean(per_row), log_predictions.dtype), targets


def kl_divergence_backward(dloss, targets: np.ndarray) -> np.ndarray:
    """-> dlog_predictions: (n, c) = -targets / n * dloss."""
    n = targets.shape[0]
    return targets * _scalar(-np.asarray(dloss, dtype=np.float64) / n, targets.dtype)
