"""Topic 04 · Single layer perceptron: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic04

which checks every function against JAX and shows PASS / FAIL / TODO.
Use NumPy only. Parameters are a dict ``{"w": (d,) array, "b": 0-d array}``.
``sigmoid_forward`` and ``logistic_forward`` return ``(out, cache)``; their
backwards take ``(dout, cache)``. Keep the input dtype (float32 in, float32
out) and never modify an input in place.
"""

import numpy as np


# --------------------------------------------------------------------------- perceptron
def perceptron_step(params, x, y, lr=1.0):
    """One step of the perceptron rule on one sample; returns NEW params.

    params: {"w": (d,), "b": ()}, x: (d,), y: -1 or +1 (a Python int), lr: a Python float.

    If y * (w . x + b) <= 0 (a mistake; exactly 0 counts, so training can start
    from w = 0, b = 0):  w <- w + lr * y * x,  b <- b + lr * y.
    Otherwise the params are unchanged (return copies, or new arrays).
    Build new arrays (w + ...); `params["w"] += ...` would change the caller's params.
    """
    raise NotImplementedError("topic 04 · perceptron")


# --------------------------------------------------------------------------- sigmoid
def sigmoid_forward(z):
    """s = 1 / (1 + exp(-z)), elementwise.  z: (*s) -> (out: (*s), cache)

    Must work for |z| up to 1000 without inf or nan: exp(1000) overflows, and
    exp(z) / (1 + exp(z)) then gives inf / inf = nan. Only ever exponentiate
    -|z| (which is <= 0), and pick the formula by the sign of z.
    """
    raise NotImplementedError("topic 04 · sigmoid")


def sigmoid_backward(dout, cache):
    """dz = dout * ds/dz.  dout: (*s) -> (*s).  Hint: ds/dz = s (1 - s)."""
    raise NotImplementedError("topic 04 · sigmoid")


# --------------------------------------------------------------------------- logistic regression
def logistic_forward(X, y, params):
    """Mean binary cross-entropy of sigmoid(X @ w + b) against the labels.

    X: (n, d), y: (n,) of 0.0 / 1.0, params {"w": (d,), "b": ()} -> (loss: a scalar, cache)

    loss = mean_i -[y_i log s_i + (1 - y_i) log(1 - s_i)],  s_i = sigmoid(z_i),  z = X @ w + b.
    Compute it from the logits z, never from log(s): s rounds to exactly 1 for
    z > 37, and log(1 - 1) = -inf. Show that each term equals
        max(z, 0) - y z + log(1 + exp(-|z|))
    (np.log1p is accurate when its argument is tiny).
    """
    raise NotImplementedError("topic 04 · logistic_regression")


def logistic_backward(dloss, cache):
    """Gradient of the loss for the parameters: {"w": (d,), "b": ()}.

    dloss: the upstream gradient (a scalar). Hint: dL/dz_i = (s_i - y_i) / n,
    then z = X @ w + b sends it to w through X^T and to b by a sum.
    """
    raise NotImplementedError("topic 04 · logistic_regression")
