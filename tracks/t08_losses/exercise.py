"""Topic 08 · Loss functions: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic08

which checks every loss and its gradient against optax and shows PASS / FAIL / TODO.
Use NumPy only.

Every loss is the MEAN over the batch (over all elements for MSE, Huber and
BCE; over rows for the others), returned as a 0-d array of the predictions'
dtype: ``np.asarray(value, dtype=pred.dtype)``. Each ``*_forward`` returns
``(loss, cache)``; each ``*_backward(dloss, cache)`` returns the gradient with
respect to the FIRST argument only (targets and labels are data). ``dloss``
is the upstream gradient of the scalar loss, a 0-d array or a float:
multiply by it. Keep the dtype: float32 in, float32 out (a float64 ``dloss``
times a float32 array is float64 in NumPy; cast it first).
"""

import numpy as np


# --------------------------------------------------------------------------- regression
def mse_forward(pred, target):
    """Mean squared error.  pred, target: (*s) -> loss: ()

    loss = mean((pred - target)^2) over all N elements.
    """
    raise NotImplementedError("topic 08 · mse")


def mse_backward(dloss, cache):
    """-> dpred: (*s).  Hint: d/dpred mean(e^2) = 2 e / N."""
    raise NotImplementedError("topic 08 · mse")


def huber_forward(pred, target, delta=1.0):
    """Mean Huber loss.  pred, target: (*s), delta > 0 -> loss: ()

    Per element, e = pred - target:  e^2 / 2 if |e| <= delta, else delta * (|e| - delta / 2).
    """
    raise NotImplementedError("topic 08 · huber")


def huber_backward(dloss, cache):
    """-> dpred: (*s).  Hint: the per-element derivative is clip(e, -delta, delta); then the mean's 1/N."""
    raise NotImplementedError("topic 08 · huber")


# --------------------------------------------------------------------------- binary cross-entropy
def bce_with_logits_forward(logits, labels):
    """Mean binary cross-entropy from logits.  logits: (*s), labels: (*s) in [0, 1] -> loss: ()

    Per element, p = sigmoid(x):  -[y log p + (1 - y) log(1 - p)].
    Must stay finite for |logits| up to 1000: never take log(sigmoid(x)).
    Hint: log p = -softplus(-x), log(1 - p) = -softplus(x),
          softplus(t) = max(t, 0) + log1p(exp(-|t|)).
    """
    raise NotImplementedError("topic 08 · bce_with_logits")


def bce_with_logits_backward(dloss, cache):
    """-> dlogits: (*s) = (sigmoid(logits) - labels) / N * dloss.

    Hint: compute sigmoid without overflow: with e = exp(-|x|), 1/(1 + e) for x >= 0, e/(1 + e) for x < 0.
    """
    raise NotImplementedError("topic 08 · bce_with_logits")


# --------------------------------------------------------------------------- softmax cross-entropy
def softmax_cross_entropy_forward(logits, labels):
    """Mean cross-entropy of integer labels.  logits: (n, c), labels: (n,) ints in [0, c) -> loss: ()

    Per row: -log softmax(z)_y = logsumexp(z) - z_y.
    Must stay finite for logits of size 1000: subtract each row's max before exp.
    Hint: logits[np.arange(n), labels] picks z_y from every row.
    """
    raise NotImplementedError("topic 08 · softmax_cross_entropy")


def softmax_cross_entropy_backward(dloss, cache):
    """-> dlogits: (n, c) = (softmax(logits) - onehot(labels)) / n * dloss.

    Hint: copy the cached probabilities, then subtract 1 at [np.arange(n), labels].
    """
    raise NotImplementedError("topic 08 · softmax_cross_entropy")


# --------------------------------------------------------------------------- label smoothing
def label_smoothing_forward(logits, labels, alpha):
    """Mean cross-entropy against q = (1 - alpha) onehot(labels) + alpha / c.

    logits: (n, c), labels: (n,) ints in [0, c), alpha in [0, 1] -> loss: ()
    Per row: -sum_j q_j log p_j = (1 - alpha) (-log p_y) + alpha mean_j(-log p_j).
    alpha = 0 must give exactly softmax_cross_entropy.
    """
    raise NotImplementedError("topic 08 · label_smoothing")


def label_smoothing_backward(dloss, cache):
    """-> dlogits: (n, c) = (softmax(logits) - q) / n * dloss."""
    raise NotImplementedError("topic 08 · label_smoothing")


# --------------------------------------------------------------------------- KL divergence
def kl_divergence_forward(log_predictions, targets):
    """Mean over rows of KL(targets || predictions).  log_predictions: (n, c), targets: (n, c) -> loss: ()

    Per row: sum_j t_j (log t_j - log p_j), where a target t_j = 0 contributes 0 (0 log 0 = 0).
    Hint: np.log(0) is -inf and 0 * -inf is NaN: take the log of np.where(t > 0, t, 1) instead.
    """
    raise NotImplementedError("topic 08 · kl_divergence")


def kl_divergence_backward(dloss, cache):
    """-> dlog_predictions: (n, c) = -targets / n * dloss."""
    raise NotImplementedError("topic 08 · kl_divergence")
