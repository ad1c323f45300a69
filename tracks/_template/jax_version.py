"""Topic NN · Title in JAX: pure functions, jit- and vmap-friendly, gradients by jax.grad.

Configs are frozen dataclasses; randomness comes from explicit keys; chex checks shapes and dtypes at the
public boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import chex
import jax

__all__ = ["Config", "square"]


@dataclass(frozen=True)
class Config:
    scale: float = 1.0  # what each default is, and why


@jax.jit
def square(x: jax.Array) -> jax.Array:
    """x: (*shape) -> (*shape)."""
    chex.assert_type(x, float)
    out = x * x
    chex.assert_equal_shape([out, x])
    return out
