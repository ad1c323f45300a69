"""Compare what the checked code returned with what the oracle says.

:func:`compare` walks two pytrees (dicts, tuples, lists, arrays, numbers)
and either returns a :class:`Comparison` (how close they were) or raises
:class:`CheckFailure` with a message a learner can act on: which value,
expected what, got what, at which index, by how much, against which
tolerance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .pytree import is_jax_array as _is_jax_array
from .pytree import to_numpy
from .tolerance import Tolerance

__all__ = ["CheckFailure", "Todo", "Comparison", "compare", "describe", "describe_args", "shape_hint",
           "to_numpy_tree"]


class CheckFailure(Exception):
    """The checked code gave a wrong answer; the message says what and where."""

    def __init__(self, message: str, comparison: "Comparison | None" = None):
        super().__init__(message)
        self.comparison = comparison


class Todo(Exception):
    """The checked code is not written yet (a stub, a missing function)."""


@dataclass(frozen=True)
class Comparison:
    """How far ``got`` was from ``expected`` in one comparison.

    ``ratio`` is the worst ``|diff| / bound`` over the elements: <= 1 passes.
    ``max_abs`` is the largest absolute difference, ``rel`` the norm-wise
    relative error ``max|diff| / max|expected|`` and ``where`` names the value
    and index of the worst element.
    """

    max_abs: float
    rel: float
    ratio: float
    where: str


_EXACT = Comparison(0.0, 0.0, 0.0, "")


def describe(value, limit: int = 6) -> str:
    """A short description of a value: its type, dtype and shape."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name} array of shape {value.shape}"
    if _is_jax_array(value):
        return f"JAX {value.dtype} array of shape {tuple(value.shape)}"
    if isinstance(value, np.generic):
        return f"NumPy {value.dtype.name} scalar {value!r}"
    if isinstance(value, (bool, int, float, complex)):
        return f"Python {type(value).__name__} {value!r}"
    if isinstance(value, Mapping):
        keys = list(value)
        shown = ", ".join(f"{k!r}: {describe(value[k])}" for k in keys[:limit])
        more = f", ... ({len(keys)} keys)" if len(keys) > limit else ""
        return f"dict {{{shown}{more}}}"
    if isinstance(value, (tuple, list)):
        shown = ", ".join(describe(v) for v in value[:limit])
        more = ", ..." if len(value) > limit else ""
        return f"{type(value).__name__} of {len(value)}: ({shown}{more})"
    return f"{type(value).__name__} object"


def describe_args(names, args, kwargs=None) -> str:
    """``a: float64 (3, 1), b: float64 (4,), axis=1`` for a failure message."""
    parts = []
    for name, value in zip(names, args):
        parts.append(f"{name}: {_brief(value)}")
    for key, value in (kwargs or {}).items():
        parts.append(f"{key}={_brief(value) if isinstance(value, np.ndarray) else repr(value)}")
    return ", ".join(parts)


def _brief(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype.name} {value.shape}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_brief(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, (np.ndarray, Mapping, list, tuple))
                                                          for v in value):
        inner = ", ".join(_brief(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value) if not hasattr(value, "shape") else f"{value.dtype} {tuple(value.shape)}"


def to_numpy_tree(tree):
    """Oracle outputs as NumPy: JAX arrays become ``np.ndarray``, containers are kept."""
    return to_numpy(tree)


def compare(got, expected, tol: Tolerance, *, what: str, against: str = "the oracle",
            scale: float | None = None, floor=None) -> Comparison:
    """Compare two pytrees; return the worst :class:`Comparison` or raise :class:`CheckFailure`.

    ``what`` names the value ("forward output", "gradient of b"); ``against``
    names where ``expected`` came from ("jax.vjp of the oracle"). ``scale``
    is the magnitude of the terms ``expected`` was computed from, when that
    exceeds the result (a loss from log-sum-exp minus a logit): the absolute
    part of the tolerance is relative to ``max(max|expected|, scale)``.
    ``floor`` is a tree like ``expected`` of absolute allowances added element
    by element (None where there is none): the oracle's own noise, see
    :func:`fdl.check.noise_floor`.
    """
    expected = to_numpy_tree(expected)
    return _compare(got, expected, tol, what, against, scale, floor)


def _sub(floor, key):
    """The part of a floor tree under ``key`` (a floor that is not a container applies throughout)."""
    if isinstance(floor, Mapping):
        return floor.get(key)
    if isinstance(floor, (list, tuple)):
        return floor[key] if isinstance(key, int) and key < len(floor) else None
    return floor


def _fail(what: str, against: str, expected_text: str, got) -> CheckFailure:
    return CheckFailure(f"{what}: expected {expected_text} (from {against}), got {describe(got)}")


def _compare(got, expected, tol, what, against, scale=None, floor=None) -> Comparison:
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            raise _fail(what, against, f"a dict with keys {sorted(map(str, expected))}", got)
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            raise CheckFailure(
                f"{what}: expected a dict with keys {sorted(map(str, expected))}, got keys "
                f"{sorted(map(str, got))} (missing {missing}, unexpected {extra}); a gradient "
                f"has the same structure as the parameters it belongs to"
            )
        return _worst(_compare(got[k], expected[k], tol, f"{what}[{k!r}]", against, scale, _sub(floor, k))
                      for k in expected)
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise _fail(what, against, f"a {type(expected).__name__} of {len(expected)}", got)
        return _worst(_compare(g, e, tol, f"{what}[{i}]", against, scale, _sub(floor, i))
                      for i, (g, e) in enumerate(zip(got, expected)))
    if expected is None:
        if got is not None:
            raise _fail(what, against, "None", got)
        return _EXACT
    return _compare_array(got, expected, tol, what, against, scale, floor)


def _worst(comparisons) -> Comparison:
    worst = _EXACT
    for c in comparisons:
        if c.ratio > worst.ratio or worst is _EXACT:
            worst = c
    return worst


def _compare_array(got, expected, tol: Tolerance, what: str, against: str, scale=None, floor=None) -> Comparison:
    exp = np.asarray(expected)
    if _is_jax_array(got):
        raise CheckFailure(
            f"{what}: got a JAX array; the NumPy track returns NumPy arrays (use np.*, not jnp.*)"
        )
    if isinstance(got, (bool, int, float, np.generic)) and exp.ndim == 0:
        got_arr = np.asarray(got)
        # a plain Python float carries no dtype of its own; a NumPy scalar does (np.float64 is
        # also a Python float, so test for np.generic first) and must match like an array
        if isinstance(got, float) and not isinstance(got, np.generic) and exp.dtype.kind == "f":
            got_arr = got_arr.astype(exp.dtype)
    elif isinstance(got, np.ndarray):
        got_arr = got
    else:
        raise _fail(what, against, f"a {exp.dtype.name} array of shape {exp.shape}", got)
    if got_arr.shape != exp.shape:
        raise CheckFailure(
            f"{what}: expected shape {exp.shape} (from {against}), got shape {got_arr.shape}"
            f"{shape_hint(got_arr.shape, exp.shape)}"
        )
    _check_dtype(got_arr, exp, what)
    if exp.dtype.kind in "biu" or got_arr.dtype.kind in "biu":
        differs = np.asarray(got_arr != exp).reshape(-1)  # reshape: argwhere finds nothing in a 0-d array
        if differs.any():
            mismatch = np.flatnonzero(differs)
            idx = tuple(int(i) for i in np.unravel_index(int(mismatch[0]), exp.shape))
            raise CheckFailure(
                f"{what}: {len(mismatch)} of {exp.size} values differ; first at index {idx}: "
                f"expected {_num(exp[idx])}, got {_num(got_arr[idx])} (exact match required)"
            )
        return _EXACT
    return _compare_float(got_arr.astype(exp.dtype, copy=False), exp, tol, what, against, scale, floor)


def shape_hint(got: tuple, expected: tuple) -> str:
    """What a wrong shape most likely means, pointing the right way."""
    got, expected = tuple(got), tuple(expected)
    squeeze = tuple(d for d in got if d != 1), tuple(d for d in expected if d != 1)
    if squeeze[0] == squeeze[1] and len(got) < len(expected):
        return (" (the same values with fewer axes of length 1: an axis your result lacks; "
                "keepdims=True, or a reshape, keeps it)")
    if squeeze[0] == squeeze[1] and len(got) > len(expected):
        return (" (the same values with extra axes of length 1: keepdims=True where it should be False, "
                "or a reshape missing?)")
    if sorted(got) == sorted(expected):
        return " (the same axes in another order: a transpose missing or one too many?)"
    if int(np.prod(got, dtype=np.int64)) == int(np.prod(expected, dtype=np.int64)):
        return " (the same number of elements: a reshape or transpose in the wrong place?)"
    if len(got) > len(expected) and got[len(got) - len(expected):] == expected:
        return " (extra leading axes: a broadcast axis not summed away?)"
    if len(got) == len(expected) and all(g == e or e == 1 for g, e in zip(got, expected)):
        return " (axes of length 1 in the input were broadcast: sum over them with keepdims=True)"
    if len(got) < len(expected):
        return " (fewer axes than expected: summed over too many axes?)"
    return ""


def _check_dtype(got: np.ndarray, exp: np.ndarray, what: str) -> None:
    if exp.dtype.kind == "f":
        if got.dtype.kind != "f":
            raise CheckFailure(f"{what}: expected floating values ({exp.dtype.name}), got {got.dtype.name}")
        if got.dtype != exp.dtype:
            raise CheckFailure(
                f"{what}: expected dtype {exp.dtype.name} (the dtype of the inputs), got {got.dtype.name}; "
                f"keep the input dtype (an .astype or a float literal array may have changed it)"
            )
    elif exp.dtype.kind == "b" and got.dtype.kind != "b":
        raise CheckFailure(f"{what}: expected booleans, got {got.dtype.name}")
    elif exp.dtype.kind in "iu" and got.dtype.kind not in "iu":
        raise CheckFailure(f"{what}: expected integers ({exp.dtype.name}), got {got.dtype.name}")


def _num(x) -> str:
    """A number as a learner reads it: up to 17 significant digits, no type wrapper."""
    x = np.asarray(x).item()
    return f"{x:.17g}" if isinstance(x, float) else repr(x)


def _fmt_index(idx: tuple) -> str:
    return f"index {idx}" if idx else "the scalar"


def _compare_float(got: np.ndarray, exp: np.ndarray, tol: Tolerance, what: str, against: str,
                   terms: float | None = None, floor=None) -> Comparison:
    bad_got = ~np.isfinite(got)
    bad_exp = ~np.isfinite(exp)
    differs = bad_got & ~(bad_exp & (got == exp))
    if np.any(differs | (bad_exp & ~bad_got)):
        idx = tuple(int(i) for i in np.argwhere(differs | (bad_exp & ~bad_got))[0])
        with np.errstate(invalid="ignore", over="ignore"):
            gap = float(np.abs(np.float64(got[idx]) - np.float64(exp[idx])))  # nan or inf: the columns show it
        head = f"{what}: got {_num(got[idx])} at {_fmt_index(idx)} where {against} gives {_num(exp[idx])}"
        if bad_got[idx]:
            count = int(np.count_nonzero(differs))
            advice = (f" ({count} of {got.size} values non-finite where the expected ones are not or differ); "
                      f"look for overflow in exp, a log or division of zero, or an uninitialised array (np.empty)")
        else:
            count = int(np.count_nonzero(bad_exp & ~bad_got))
            advice = (f" ({count} of {got.size} values finite where the expected ones are nan or inf); "
                      f"this input is meant to give a non-finite value: a clip, a nan_to_num or a guard that "
                      f"replaces it hides what the caller must see")
        raise CheckFailure(head + advice, Comparison(gap, gap, float("inf"), f"{what} at {_fmt_index(idx)}"))
    finite = ~bad_exp
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf where both are the same infinity
        diff = np.where(finite, np.abs(got - exp), 0.0)
    mag = np.where(finite, np.abs(exp), 0.0)
    scale = float(mag.max()) if mag.size else 0.0
    rtol, atol = tol.bounds(exp.dtype)
    bound = rtol * mag + atol * max(scale, float(terms or 0.0))
    if floor is not None and not isinstance(floor, (Mapping, list, tuple)):
        extra = np.asarray(floor, dtype=np.float64)
        if extra.size == 1 or extra.shape == exp.shape:
            bound = bound + np.where(finite, np.where(np.isfinite(extra), extra, 0.0), 0.0)
    max_abs = float(diff.max()) if diff.size else 0.0
    rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(diff == 0, 0.0, diff / np.where(bound > 0, bound, np.finfo(np.float64).tiny))
    if ratios.size == 0:
        return _EXACT
    flat = int(np.argmax(ratios))
    idx = tuple(int(i) for i in np.unravel_index(flat, ratios.shape))
    ratio = float(ratios.reshape(-1)[flat])
    where = f"{what} at {_fmt_index(idx)}"
    if ratio <= 1.0:
        return Comparison(max_abs, rel, ratio, where)
    n_bad = int(np.count_nonzero(ratios > 1.0))
    lines = [
        f"{what} differs from {against}",
        f"  worst at {_fmt_index(idx)}: expected {_num(exp[idx])}, got {_num(got[idx])} "
        f"(|diff| {diff[idx]:.3g}, allowed {np.broadcast_to(bound, exp.shape)[idx]:.3g})",
        f"  {n_bad} of {exp.size} values outside tolerance; max |diff| {max_abs:.3g}, "
        f"relative to max|expected| {rel:.3g}; tolerance {tol.describe(exp.dtype)}",
    ]
    hint = _hint(got, exp)
    if hint:
        lines.append(f"  hint: {hint}")
    raise CheckFailure("\n".join(lines), Comparison(max_abs, rel, ratio, where))


def _hint(got: np.ndarray, exp: np.ndarray) -> str:
    """Recognise common slips: a constant factor, a flipped sign, all zeros."""
    g = got.reshape(-1).astype(np.float64)
    e = exp.reshape(-1).astype(np.float64)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(e))):
        return ""
    if not np.any(g) and np.any(e):
        return "every value you returned is zero"
    ee = float(e @ e)
    if ee == 0:
        return ""
    if g.size == 1:  # one value: any wrong number is some factor of it, so name only a whole-number one
        return _scalar_factor_hint(float(g[0]) / float(e[0]))
    factor = float(g @ e) / ee
    if abs(factor) > 1e-12 and not np.isclose(factor, 1.0, rtol=1e-4) and \
            np.allclose(g, factor * e, rtol=1e-6, atol=1e-9 * np.abs(e).max()):
        if np.isclose(factor, -1.0):
            return "your values are the expected ones with the sign flipped"
        return f"your values are {factor:.6g} x the expected ones (a missing or extra scale factor?)"
    return ""


def _scalar_factor_hint(factor: float) -> str:
    """A single value off by -1, by a whole number or by one over it: the mean/sum slip of a loss or a count."""
    if np.isclose(factor, -1.0, rtol=1e-6):
        return "your value is the expected one with the sign flipped"

    def whole(x: float) -> int:
        k = round(x)
        return k if 2 <= abs(k) <= 1 << 16 and abs(x - k) <= 1e-6 * abs(x) else 0

    if whole(factor):
        return (f"your value is {whole(factor)} x the expected one "
                f"(a sum where a mean belongs, or a missing division?)")
    if factor and whole(1.0 / factor):
        return (f"your value is 1/{whole(1.0 / factor)} of the expected one "
                f"(a mean where a sum belongs, or an extra division?)")
    return ""
