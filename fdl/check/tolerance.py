"""Tolerances derived from the dtype's machine epsilon.

A check never uses one loose number for everything. Each operation states
how many machine epsilons of error it may accumulate, and the bound follows
from the dtype of the values being compared:

    |got_i - expected_i| <= rtol * |expected_i| + atol * max_j |expected_j|

with ``rtol = rel * eps**power`` and ``atol = abs * eps**power``. The second
term is scaled by the array's largest magnitude because a sum with
cancellation (a reduction, a matmul, a gradient accumulated from many paths)
has an error proportional to the size of its terms, not of its result.

``power`` is 1 for values computed two ways in floating point. Central
differences are different: with step ``h = eps**(1/3)`` their truncation
error (``h**2 f'''``) and rounding error (``eps f / h``) are both of order
``eps**(2/3)``, so :meth:`Tolerance.central` uses ``power = 2/3``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tolerance", "machine_epsilon", "ELEMENTWISE", "REDUCTION", "MATMUL", "CENTRAL"]


def machine_epsilon(dtype) -> float:
    """``np.finfo(dtype).eps`` for floating dtypes; 0 for exact (integer, bool) ones."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.complexfloating):
        return float(np.finfo(dtype).eps)
    return 0.0


@dataclass(frozen=True)
class Tolerance:
    """Allowed error in multiples of ``eps(dtype) ** power``."""

    rel: float = 16.0
    abs: float = 16.0
    power: float = 1.0

    def __post_init__(self):
        if self.rel < 0 or self.abs < 0:
            raise ValueError(f"tolerance multiples must be >= 0, got rel={self.rel}, abs={self.abs}")
        if not 0 < self.power <= 1:
            raise ValueError(f"power must be in (0, 1], got {self.power}")

    def bounds(self, dtype) -> tuple[float, float]:
        """``(rtol, atol)`` for values of ``dtype``."""
        unit = machine_epsilon(dtype) ** self.power if machine_epsilon(dtype) else 0.0
        return self.rel * unit, self.abs * unit

    def scaled(self, factor: float) -> "Tolerance":
        """The same tolerance, ``factor`` times looser (for longer chains of operations)."""
        return Tolerance(self.rel * factor, self.abs * factor, self.power)

    @classmethod
    def central(cls, multiple: float = 100.0) -> "Tolerance":
        """For comparing with central differences of step ``eps**(1/3)``."""
        return cls(multiple, multiple, 2.0 / 3.0)

    def describe(self, dtype) -> str:
        rtol, atol = self.bounds(dtype)
        return f"rtol {rtol:.1e}, atol {atol:.1e} x max|expected| ({np.dtype(dtype).name})"


# Named starting points; topics scale them where an operation chains more steps.
ELEMENTWISE = Tolerance(16, 16)
REDUCTION = Tolerance(32, 32)
MATMUL = Tolerance(64, 64)
CENTRAL = Tolerance.central(100)
