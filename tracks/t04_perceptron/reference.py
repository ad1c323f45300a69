"""Topic 04 reference: the perceptron rule and logistic regression, in NumPy.

Both models score a point the same way, with one linear unit::

    z = w . x + b                  w: (d,), b: a 0-d array, x: (d,)

and predict the class ``sign(z)``. They differ in how they learn.

**The perceptron** (Rosenblatt, 1958) learns only from mistakes. A sample
``(x, y)`` with ``y`` in {-1, +1} is classified correctly when ``y z > 0``;
otherwise it nudges the boundary toward getting it right::

    if y (w . x + b) <= 0:   w <- w + lr y x,   b <- b + lr y

After the update ``y z`` grows by ``lr (|x|^2 + 1) > 0``. On linearly
separable data the rule stops after at most ``(R / gamma)^2`` mistakes
(Novikoff, 1962), ``R`` the largest ``|(x, 1)|`` and ``gamma`` the margin
of any unit-norm separator ``(u, c)``: each mistake raises ``(w, b) . (u, c)``
by at least ``lr gamma`` while ``|(w, b)|^2`` grows by at most
``lr^2 R^2``, and ``(w, b) . (u, c) <= |(w, b)|``.

**Logistic regression** reads ``z`` as log-odds, ``p(y = 1 | x) = sigmoid(z)``,
and minimises the mean binary cross-entropy over ``n`` samples with labels
``y`` in {0, 1}::

    L = (1/n) sum_i  -[ y_i log s_i + (1 - y_i) log(1 - s_i) ],   s_i = sigmoid(z_i)

a smooth, convex loss whose gradient has a famously simple form::

    dL/dz_i = (s_i - y_i) / n          dL/dw = X^T dL/dz        dL/db = sum_i dL/dz_i

Computed naively both formulas break for large ``|z|``: ``exp(z)`` overflows
past ``z = 709`` (float64) or ``z = 88`` (float32), and ``log(s)`` becomes
``log(0) = -inf`` as soon as ``s`` rounds to 0 or 1 (``|z| > 37`` in float64).
The forms below only ever exponentiate ``-|z| <= 0``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "perceptron_step",
    "sigmoid_forward", "sigmoid_backward",
    "logistic_forward", "logistic_backward",
]


# --------------------------------------------------------------------------- perceptron
def perceptron_step(params: dict, x: np.ndarray, y, lr: float = 1.0) -> dict:
    """One step of the perceptron rule on one sample; returns new params.

    params: {"w": (d,), "b": ()}, x: (d,), y: -1 or +1 (a Python int), lr: a Python float.
    A margin of exactly 0 counts as a mistake, so training can start from w = 0, b = 0.
    The input params are never modified.
    """
    w, b = params["w"], params["b"]
    margin = y * (w @ x + b)  # > 0: x is on y's side of the boundary
    if margin > 0:
        return {"w": w.copy(), "b": b.copy()}
    # a mistake: w <- w + lr y x,  b <- b + lr y  (the bias is the weight of a constant input 1)
    step = lr * y
    return {"w": w + step * x, "b": b + step}


# --------------------------------------------------------------------------- sigmoid
def sigmoid_forward(z: np.ndarray):
    """s = 1 / (1 + exp(-z)), elementwise, without overflow.  z: (*s) -> (*s)

    With e = exp(-|z|) in (0, 1]:
        z >= 0:  s = 1 / (1 + e)
        z <  0:  s = e / (1 + e)          (= exp(z) / (1 + exp(z)), multiplied through by exp(-z))
    """
    e = np.exp(-np.abs(z))  # never overflows; underflows harmlessly to 0
    out = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out, out


def sigmoid_backward(dout: np.ndarray, out: np.ndarray) -> np.ndarray:
    # ds/dz = s (1 - s): the forward's output is all the backward needs
    return dout * out * (1.0 - out)


# --------------------------------------------------------------------------- logistic regression
def logistic_forward(X: np.ndarray, y: np.ndarray, params: dict):
    """Mean binary cross-entropy of sigmoid(X w + b) against y, from the logits.

    X: (n, d), y: (n,) of 0.0 / 1.0, params {"w": (d,), "b": ()} -> (loss: (), cache)

    Per sample, with z = logit:
        -log s      = log(1 + exp(-z))  = max(-z, 0) + log(1 + exp(-|z|))
        -log(1 - s) = log(1 + exp(z))   = max(z, 0)  + log(1 + exp(-|z|))
    so  -[y log s + (1 - y) log(1 - s)] = max(z, 0) - y z + log(1 + exp(-|z|)).
    """
    z = X @ params["w"] + params["b"]  # (n,) logits
    per_sample = np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))  # (n,)
    loss = per_sample.mean()
    s, _ = sigmoid_forward(z)
    return loss, (X, s - y)  # (n, d) and the residual (n,): all the backward needs


def logistic_backward(dloss, cache) -> dict:
    """Gradient of the loss with respect to params: {"w": (d,), "b": ()}."""
    X, residual = cache
    n = residual.shape[0]
    dz = dloss * residual / n  # dL/dz_i = (s_i - y_i) / n
    # z = X w + b: w meets every row of X, b is broadcast over the batch
    return {"w": X.T @ dz, "b": dz.sum()}
