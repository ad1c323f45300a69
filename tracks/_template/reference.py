"""Topic NN · Title: the NumPy reference.

The derivation sits here, beside the code that follows it:

    out = x^2,   d out / d x = 2 x,   so   dx = 2 x * dout      (a vector-Jacobian product)

Every forward returns ``(out, cache)``; every backward takes ``(dout, cache)`` and returns one gradient
per input, each of its input's shape and dtype. NumPy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["square_forward", "square_backward"]


def square_forward(x: np.ndarray):
    """x: (*shape) -> out: (*shape), cache x."""
    return x * x, x  # out_i = x_i^2


def square_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dout: (*shape) -> dx: (*shape)."""
    return 2 * x * dout  # dx_i = 2 x_i dout_i
