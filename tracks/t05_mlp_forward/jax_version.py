"""Topic 05 in JAX: the MLP as pure functions over a parameter pytree.

The same model as the NumPy reference, the same pytree (a list of
``{"W", "b"}`` dicts), so parameters move between the two with
``jax.tree_util.tree_map(jnp.asarray, params)`` and back with ``np.asarray``.
Randomness comes from an explicit key; ``mlp_apply`` is pure, so
``jax.jit`` compiles the whole network into one program and ``jax.vmap``
maps it over examples (which is what a batch axis already does).
"""

from __future__ import annotations

import math
from typing import Sequence

import chex
import jax
import jax.numpy as jnp

__all__ = ["init_mlp", "linear", "mlp_apply", "param_count"]


def init_mlp(key: jax.Array, sizes: Sequence[int], dtype=jnp.float32) -> list[dict]:
    """He-initialised ``[{"W": (d_{l-1}, d_l), "b": (d_l,)}]``: W ~ N(0, 2 / fan_in), b = 0.

    ``sizes`` is static (Python ints); one key per layer, split from ``key``.
    """
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"W": jax.random.normal(k, (fan_in, fan_out), dtype) * math.sqrt(2.0 / fan_in),
         "b": jnp.zeros((fan_out,), dtype)}
        for k, fan_in, fan_out in zip(keys, sizes[:-1], sizes[1:])
    ]


def linear(params: dict, x: jax.Array) -> jax.Array:
    """x: (*batch, d_in) -> (*batch, d_out)."""
    chex.assert_shape(params["W"], (x.shape[-1], None))  # W: (d_in, d_out)
    chex.assert_shape(params["b"], (params["W"].shape[1],))
    chex.assert_type([x, params["W"], params["b"]], x.dtype)  # a float64 x with float32 W would promote
    return x @ params["W"] + params["b"]


def mlp_apply(params: list[dict], x: jax.Array) -> jax.Array:
    """x: (*batch, d_0) -> logits (*batch, d_L); ReLU after every layer but the last.

    The Python loop runs at trace time: under ``jax.jit`` it unrolls into one
    program with a matmul, an add and a max per layer.
    """
    *hidden, last = params
    for layer in hidden:
        x = jax.nn.relu(linear(layer, x))
    return linear(last, x)


def param_count(params) -> int:
    """The number of scalars in a parameter pytree."""
    return sum(leaf.size for leaf in jax.tree_util.tree_leaves(params))
