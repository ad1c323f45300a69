"""Topic 06 · Backpropagation: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic06

which checks every function against JAX and shows PASS / FAIL / TODO.
Use NumPy only.

The forwards are the ones you wrote in topic 05, imported below: each
backward here reads the cache your forward returns, so the two must agree
(finish topic 05 first; until then these checks show topic 05's TODO). A
backward returns the gradient of every input, parameters as a pytree of
the same structure: ``(dx, {"W": dW, "b": db})`` for a layer,
``(dx, [{"W": dW_1, "b": db_1}, ...])`` for the MLP.

Topic 10 trains with these: two matrix products per layer, no Python loop
over the batch, float32 in and out.
"""

import numpy as np

from tracks.t05_mlp_forward.exercise import linear_forward, mlp_forward  # noqa: F401  (your topic 05 code)


def linear_backward(dout, cache):
    """Gradients of out = x @ W + b.

    dout: (*batch, d_out), cache: what your linear_forward returned
    -> dx: (*batch, d_in), {"W": (d_in, d_out), "b": (d_out,)}

    With the batch axes flattened into rows (X: (n, d_in), D: (n, d_out)):
    dX = D W^T, dW = X^T D, db = D summed over the rows. W and b were used
    by every example: their gradients sum over all batch axes.
    """
    raise NotImplementedError("topic 06 · linear")


def mlp_backward(dout, cache):
    """Gradients of mlp_forward by the chain rule, last layer first.

    dout: (*batch, d_L) = dL/dlogits, cache: what your mlp_forward returned
    -> dx: (*batch, d_0), [{"W": (d_{l-1}, d_l), "b": (d_l,)} for each layer, in the order of params]

    Between layers, the ReLU's backward: the gradient passes where the
    ReLU's output was positive and is 0 elsewhere (a boolean mask, no loop).
    Never modify dout in place; arrays you created yourself you may.
    """
    raise NotImplementedError("topic 06 · mlp")


def numerical_gradient(f, x, h=None):
    """df/dx by central differences: (f(x + h e_i) - f(x - h e_i)) / (2 h) for every element i.

    f: a function of an array shaped like x, returning a scalar; x: (*s), any float dtype
    -> grad: (*s), x's dtype

    Default step: h_i = eps ** (1/3) * max(1, |x_i|) with eps = np.finfo(x.dtype).eps;
    a given h is used as is for every element. Leave x exactly as it was
    (perturbing a copy is simplest). A loop over the elements is fine here:
    this is the slow, trustworthy way to check a fast gradient.
    """
    raise NotImplementedError("topic 06 · numerical_gradient")
