"""Inputs for checks: samplers of arrays, and hyper-parameters drawn across their whole range.

Every sampler is ``sampler(rng, shape, dtype=np.float64) -> np.ndarray``
(always an array, also for ``shape=()``), so a case can name its inputs as
``(sampler, shape)`` and be drawn again in float32 with
:func:`as_float32`.

Hyper-parameters: a formula that is right only for the values a check
happens to use (a leaky slope below 1, a smoothing factor near 0) must
fail, so :func:`hyper` draws from the whole valid range and returns its
ends too.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = [
    "normal", "uniform", "positive", "nonzero", "small", "ties", "with_zeros", "as_float32", "hyper",
    "square_and_not",
]

Sampler = Callable[..., np.ndarray]


def normal(rng: np.random.Generator, shape, dtype=np.float64, scale: float = 1.0) -> np.ndarray:
    """Standard-normal values (times ``scale``)."""
    return np.asarray(scale * rng.standard_normal(shape)).astype(dtype)


def uniform(rng: np.random.Generator, shape, dtype=np.float64, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.asarray(rng.uniform(low, high, shape)).astype(dtype)


def positive(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Values in [0.5, 2): safe for log, fractional powers and division."""
    return uniform(rng, shape, dtype, 0.5, 2.0)


def nonzero(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """|x| in [0.5, 2), either sign: safe denominators, and away from kinks at 0."""
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return np.asarray(sign * rng.uniform(0.5, 2.0, shape)).astype(dtype)


def small(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Values in [-1, 1): exp stays below e, tanh' stays well above rounding."""
    return uniform(rng, shape, dtype, -1.0, 1.0)


def ties(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Small integers as floats: many entries share their slice's maximum."""
    return np.asarray(rng.integers(0, 3, shape)).astype(dtype)


def with_zeros(rng: np.random.Generator, shape, dtype=np.float64, fraction: float = 0.4) -> np.ndarray:
    """Nonzero values with some exact zeros (a ReLU's kink, where its derivative is 0)."""
    x = nonzero(rng, shape, np.float64)
    x[rng.random(shape) < fraction] = 0.0
    return x.astype(dtype)


def as_float32(sampler: Sampler) -> Sampler:
    """The same sampler, in float32."""

    def sample32(rng, shape, dtype=np.float32, **kwargs):
        return sampler(rng, shape, np.float32, **kwargs)

    sample32.__name__ = f"{getattr(sampler, '__name__', 'sampler')}_float32"
    return sample32


def hyper(rng: np.random.Generator, low: float, high: float, n: int = 4, *, log: bool = False,
          include_low: bool = True, include_high: bool = True, integer: bool = False) -> list[float]:
    """``n`` values across ``[low, high]``: the ends (where valid) and draws spread between them.

    ``log=True`` spreads them evenly in log-space (learning rates, epsilons);
    ``include_low/high=False`` for an open end (a dropout rate is in [0, 1)).
    The interior draws are stratified: one from each of ``n - ends`` equal
    slices of the range, so no region is missed by chance.
    """
    if not high > low:
        raise ValueError(f"hyper: need low < high, got [{low}, {high}]")
    if log and low <= 0:
        raise ValueError(f"hyper: log spacing needs low > 0, got {low}")
    ends = ([low] if include_low else []) + ([high] if include_high else [])
    inner = max(n - len(ends), 1)
    a, b = (math.log(low), math.log(high)) if log else (low, high)
    edges = np.linspace(a, b, inner + 1)
    draws = [float(rng.uniform(edges[i], edges[i + 1])) for i in range(inner)]
    draws = [math.exp(v) for v in draws] if log else draws
    values = ends[:1] + draws + ends[1:] if include_low else draws + ends
    if integer:
        values = sorted({int(round(v)) for v in values})
    return values


def square_and_not(rng: np.random.Generator, low: int = 1, high: int = 7) -> list[tuple[int, int]]:
    """Matrix shapes for a check: one square, one tall, one wide, sizes in ``[low, high]``.

    A transposed matrix has the right shape only when it is square, and a
    wrong shape is caught before its values are; both kinds of case are
    needed.
    """
    n = int(rng.integers(max(low, 2), high + 1))
    m = int(rng.integers(low, high + 1))
    while m == n:
        m = int(rng.integers(low, high + 1))
    return [(n, n), (max(n, m), min(n, m)), (min(n, m), max(n, m))]
