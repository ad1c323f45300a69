"""Topic 05 reference: the linear layer and the multi-layer perceptron, forward.

A **linear layer** (dense, fully connected) maps each input vector ``x`` of
``d_in`` features to ``d_out`` features::

    out = x W + b            x: (*batch, d_in)   W: (d_in, d_out)   b: (d_out,)

``W`` is stored ``(d_in, d_out)`` so that a row of inputs multiplies it from
the left; ``b`` is broadcast over every batch axis. **Batching** costs
nothing to write: all batch axes are flattened into one, ``n = prod(batch)``,
and the whole batch is a single ``(n, d_in) @ (d_in, d_out)`` matrix product,
which a BLAS library runs tens of times faster than ``n`` separate ones.

An **MLP** composes ``L`` linear layers with a ReLU between them::

    h_0 = x
    z_l = h_{l-1} W_l + b_l          l = 1 .. L
    h_l = relu(z_l) = max(z_l, 0)    l = 1 .. L-1
    logits = z_L                      (no ReLU on the output: logits may be negative)

**Parameters** are a pytree: a list with one ``{"W", "b"}`` dict per layer,
the structure optax and the JAX version use, and the structure gradients
come back in (topic 06).

**He initialisation.** With independent zero-mean weights,
``Var(z_l) = fan_in * Var(W_l) * E[h_{l-1}^2]``, and a ReLU of a symmetric
``z`` keeps half of its second moment: ``E[h^2] = Var(z) / 2``. So
``Var(W_l) = 2 / fan_in`` gives ``Var(z_l) = Var(z_{l-1})``: the scale of the
pre-activations neither explodes nor vanishes with depth. Biases start at 0.

**Caches** hold what topic 06's backward passes need, and nothing more::

    linear: (x, W)     dW = x^T dout needs x, dx = dout W^T needs W; db = sum(dout) needs neither
    mlp:    [linear cache of each layer]

The ReLU's derivative is the mask ``z_l > 0``, which equals ``h_l > 0``, and
``h_l`` is already cached as the input of layer ``l + 1``: the mask costs no
extra memory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_forward", "init_mlp", "mlp_forward"]


def linear_forward(x: np.ndarray, params: dict) -> tuple[np.ndarray, tuple]:
    """out = x @ W + b over any number of batch axes.

    x: (*batch, d_in), params: {"W": (d_in, d_out), "b": (d_out,)}
    -> out: (*batch, d_out), cache: (x, W)
    """
    W, b = params["W"], params["b"]
    d_in, d_out = W.shape
    if x.shape[-1:] != (d_in,):
        raise ValueError(f"x has shape {x.shape}, but W is {W.shape}: x's last axis must be d_in = {d_in}")
    rows = x.reshape(-1, d_in)  # (n, d_in), a view: the batch axes flattened into one
    out = rows @ W  # (n, d_out): one matrix product for the whole batch
    out += b  # b broadcast over the rows, in place: out is a fresh array
    return out.reshape(*x.shape[:-1], d_out), (x, W)


def init_mlp(sizes, rng: np.random.Generator, dtype=np.float32) -> list[dict]:
    """He-initialised parameters for layer sizes ``(d_0, d_1, ..., d_L)``.

    Layer l maps d_{l-1} -> d_l: {"W": (d_{l-1}, d_l) ~ N(0, 2 / d_{l-1}), "b": zeros (d_l,)}.
    Draws only from ``rng`` (same generator state, same parameters); every
    array has ``dtype``.
    """
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        std = np.sqrt(2.0 / fan_in)  # Var(W) = 2 / fan_in keeps Var(z) constant through ReLU layers
        # drawn in float64 then rounded: float32 and float64 parameters agree to float32 precision
        W = (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)
        params.append({"W": W, "b": np.zeros(fan_out, dtype=dtype)})
    return params


def mlp_forward(x: np.ndarray, params: list[dict]) -> tuple[np.ndarray, list]:
    """Linear layers with a ReLU after every one but the last.

    x: (*batch, d_0), params: [{"W": (d_{l-1}, d_l), "b": (d_l,)} for l = 1..L]
    -> logits: (*batch, d_L), cache: [linear cache of layer l for l = 1..L]
    """
    caches = []
    h = x
    last = len(params) - 1
    for l, layer in enumerate(params):
        z, cache = linear_forward(h, layer)  # z_l = h_{l-1} W_l + b_l
        caches.append(cache)
        # h_l = max(z_l, 0), written over z_l (a fresh array nobody else holds); none on the last layer
        h = np.maximum(z, 0, out=z) if l < last else z
    return h, caches
