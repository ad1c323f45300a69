"""Topic 06 reference: backpropagation through the linear layer and the MLP, and a gradient checker.

The forwards are topic 05's (imported, so forward and backward share one
cache format). Each backward receives ``dout = dL/d out`` for some scalar
``L`` and returns ``dL/d input`` for every input: a vector-Jacobian product.

**Linear layer**, ``out = x W + b`` with the batch axes flattened into rows
(``X: (n, d_in)``, ``D = dout: (n, d_out)``)::

    out_rk = sum_i X_ri W_ik + b_k
    dL/dX_ri = sum_k D_rk W_ik          ->  dX = D W^T          (n, d_in)
    dL/dW_ik = sum_r X_ri D_rk          ->  dW = X^T D          (d_in, d_out)
    dL/db_k  = sum_r D_rk               ->  db = D.sum(axis=0)  (d_out,)

Every row used the same ``W`` and ``b``, so their gradients sum over the
rows: over all batch axes at once, since they are flattened. Each
gradient has the shape of what it differentiates (a check on the algebra:
``X^T D`` is the only product of ``X`` and ``D`` with ``W``'s shape).

**MLP.** The chain rule, last layer first: with ``h_0 = x``,
``z_l = h_{l-1} W_l + b_l`` and ``h_l = relu(z_l)``::

    dz_L = dlogits
    dh_{l-1}, dW_l, db_l = linear backward of dz_l      l = L .. 1
    dz_{l-1} = dh_{l-1} * [z_{l-1} > 0]                  relu' is 0 or 1

and ``dx = dh_0``. The mask ``z_{l-1} > 0`` equals ``h_{l-1} > 0``, and
``h_{l-1}`` is the input cached by layer ``l``. Gradients come back as a list
of ``{"W", "b"}`` dicts, the structure of ``params``.

**Central differences.** For a scalar ``f`` and a step ``h``::

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

has truncation error ``h^2 f''' / 6`` and rounding error ``~ eps |f| / h``,
balanced at ``h ~ eps^(1/3)``, where both are ``~ eps^(2/3)`` (about 4e-11
in float64). A forward difference ``(f(x + h e_i) - f(x)) / h`` errs by
``h f'' / 2``: at best ``~ eps^(1/2)``, a thousand times worse.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tracks.t05_mlp_forward.reference import linear_forward, mlp_forward

__all__ = ["linear_forward", "linear_backward", "mlp_forward", "mlp_backward", "numerical_gradient"]


def linear_backward(dout: np.ndarray, cache: tuple) -> tuple[np.ndarray, dict]:
    """Gradients of ``out = x @ W + b``.

    dout: (*batch, d_out), cache: (x, W) from linear_forward
    -> dx: (*batch, d_in), {"W": (d_in, d_out), "b": (d_out,)}
    """
    x, W = cache
    d_in, d_out = W.shape
    D = dout.reshape(-1, d_out)  # (n, d_out): the batch axes flattened, as in the forward
    dx = (D @ W.T).reshape(x.shape)  # dX = D W^T
    dW = x.reshape(-1, d_in).T @ D  # dW = X^T D: the matmul sums over the n rows
    db = D.sum(axis=0)  # b was broadcast to every row: its gradient sums them
    return dx, {"W": dW, "b": db}


def mlp_backward(dout: np.ndarray, cache: list) -> tuple[np.ndarray, list[dict]]:
    """Gradients of mlp_forward, by the chain rule from the last layer to the first.

    dout: (*batch, d_L), cache: the list of linear caches from mlp_forward
    -> dx: (*batch, d_0), [{"W": (d_{l-1}, d_l), "b": (d_l,)} for l = 1..L]
    """
    grads: list = [None] * len(cache)  # filled last layer first
    dz = dout  # dL/dz_L = dL/dlogits
    for l in reversed(range(len(cache))):
        dh, grads[l] = linear_backward(dz, cache[l])  # dL/dh_{l-1}, dL/dW_l, dL/db_l
        if l > 0:
            h = cache[l][0]  # h_{l-1} = relu(z_{l-1}), the input layer l cached
            dh *= h > 0  # dz_{l-1} = dh_{l-1} * relu'(z_{l-1}); in place: dh is a fresh array
        dz = dh
    return dz, grads


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float | None = None) -> np.ndarray:
    """df/dx by central differences, one element at a time.

    f: a scalar function of an array shaped like x; x: (*s), any float dtype
    -> grad: (*s), x's dtype. x itself is never modified.

    The step for element i is ``h`` when given, else ``eps**(1/3) * max(1, |x_i|)``
    with eps the machine epsilon of x's dtype (relative for large |x_i|, where
    a fixed step would drown in the rounding of x_i + h).
    """
    probe = np.array(x, copy=True)  # perturbed in place; the caller's x is never touched
    flat = probe.reshape(-1)  # a view of probe: writing flat[i] moves one element of probe
    grad = np.zeros_like(probe)
    grad_flat = grad.reshape(-1)
    step0 = float(np.finfo(probe.dtype).eps) ** (1.0 / 3.0)
    for i in range(flat.size):
        original = flat[i]
        step = h if h is not None else step0 * max(1.0, abs(float(original)))
        flat[i] = original + step
        up = float(flat[i])  # x_i + h as stored: rounded to x's dtype
        f_up = float(f(probe))
        flat[i] = original - step
        down = float(flat[i])
        f_down = float(f(probe))
        flat[i] = original
        grad_flat[i] = (f_up - f_down) / (up - down)  # divide by the step actually taken
    return grad
