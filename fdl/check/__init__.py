"""The oracle checker: NumPy code against JAX, with messages a learner can act on.

From a notebook::

    import jax.numpy as jnp
    from fdl.check import check_vjp

    def tanh_forward(x):
        out = np.tanh(x)
        return out, out

    def tanh_backward(dout, out):
        return dout * (1 - out ** 2)

    check_vjp(tanh_forward, tanh_backward, jnp.tanh, shapes=[(3, 4), (1,), (2, 3, 5)])

prints ``tanh_forward: PASS (3 cases, worst error ...)`` or a FAIL naming the
value, index, expected and actual numbers. Topics build their checks from
:func:`vjp_check` and :func:`function_check`, or write a ``check(ctx)`` of
their own using :class:`CheckContext`.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Callable, Sequence

import numpy as np

from .compare import CheckFailure, Comparison, Todo, compare, describe
from .harness import (
    DEFAULT_TIME_LIMIT,
    CheckContext,
    ExerciseResult,
    Status,
    deep_copy,
    oracle_mode,
    run_check,
)
from . import pytree, sample
from .tolerance import CENTRAL, ELEMENTWISE, MATMUL, REDUCTION, Tolerance, machine_epsilon
from .trajectory import compare_trajectories, first_divergence
from .vjp import (
    FAST_COMPILE, Case, central_difference_vjp, compile_fast, forward_check, function_check, noise_floor, vjp_check,
)

__all__ = [
    "Case",
    "CheckContext",
    "CheckFailure",
    "Comparison",
    "ExerciseResult",
    "Status",
    "Todo",
    "Tolerance",
    "ELEMENTWISE",
    "REDUCTION",
    "MATMUL",
    "CENTRAL",
    "DEFAULT_TIME_LIMIT",
    "FAST_COMPILE",
    "central_difference_vjp",
    "compare_trajectories",
    "first_divergence",
    "noise_floor",
    "pytree",
    "sample",
    "compile_fast",
    "check_function",
    "check_vjp",
    "compare",
    "deep_copy",
    "describe",
    "forward_check",
    "function_check",
    "machine_epsilon",
    "oracle_mode",
    "run_check",
    "vjp_check",
]


def _cases_from_shapes(shapes: Sequence, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for entry in shapes:
        # one shape for a one-argument function, or a tuple of shapes
        per_arg = [entry] if all(isinstance(d, int) for d in entry) else list(entry)
        cases.append(Case(tuple(rng.standard_normal(tuple(s)) for s in per_arg)))
    return cases


def _source(fn) -> str | None:
    try:
        return inspect.getsourcefile(fn)
    except TypeError:
        return None


def check_vjp(
    forward: Callable,
    backward: Callable,
    oracle: Callable,
    cases: Sequence[Case] | Callable | None = None,
    *,
    shapes: Sequence | None = None,
    tol: Tolerance = ELEMENTWISE,
    numeric: bool = True,
    seed: int = 0,
) -> ExerciseResult:
    """Check a forward/backward pair against a JAX oracle right now.

    Give ``cases`` (:class:`Case` objects, or ``rng -> cases``) or ``shapes``
    (one shape per case for a one-argument function, or a tuple of shapes),
    from which standard-normal float64 inputs are drawn.
    """
    if cases is None:
        if shapes is None:
            raise ValueError("check_vjp needs cases=[Case(...), ...] or shapes=[(3, 4), ...]")
        cases = _cases_from_shapes(shapes, seed)
    names = (forward.__name__, backward.__name__)
    impl = SimpleNamespace(**{names[0]: forward, names[1]: backward})
    check = vjp_check(names[0], names[1], oracle, cases, tol=tol, numeric=numeric)
    return run_check(check, impl, exercise=names[0], seed=seed, source=_source(forward))


def check_function(
    function: Callable,
    oracle: Callable,
    cases: Sequence[Case] | Callable,
    *,
    tol: Tolerance = ELEMENTWISE,
    seed: int = 0,
) -> ExerciseResult:
    """Check a function without a backward against an oracle right now."""
    impl = SimpleNamespace(**{function.__name__: function})
    check = function_check(function.__name__, oracle, cases, tol=tol)
    return run_check(check, impl, exercise=function.__name__, seed=seed, source=_source(function))
