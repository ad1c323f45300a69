"""Topic 01 in JAX: the same VJP rules, registered with ``jax.custom_vjp``.

JAX differentiates ``jnp`` code by itself, so why write rules? Because this
is how you give JAX a backward it cannot derive well (a fused kernel, a
numerically stable formula, a memory-saving recomputation: topics 32 and 38
do exactly this). Each op below is a pure function whose gradient is *our*
rule; ``jax.grad`` calls it, ``jax.jit`` compiles it, and the tests check it
against JAX's own derivative.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["custom_unary", "unbroadcast", "add", "mul", "div", "power", "exp", "log", "tanh",
           "sum", "mean", "max", "reshape", "transpose", "matmul"]


def unbroadcast(grad: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Sum ``grad`` back to ``shape``; shapes are static under jit, so this is plain Python."""
    extra = grad.ndim - len(shape)
    out = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and out.shape[i] != 1)
    return out.sum(axis=stretched, keepdims=True) if stretched else out


def _binary(forward, grad_a, grad_b):
    """A broadcasting binary op whose VJP is ``(grad_a, grad_b)(dout, a, b, out)``."""

    @jax.custom_vjp
    def op(a, b):
        return forward(a, b)

    def fwd(a, b):
        out = forward(a, b)
        return out, (a, b, out)

    def bwd(res, dout):
        a, b, out = res
        return unbroadcast(grad_a(dout, a, b, out), a.shape), unbroadcast(grad_b(dout, a, b, out), b.shape)

    op.defvjp(fwd, bwd)
    return op


add = _binary(jnp.add, lambda d, a, b, o: d, lambda d, a, b, o: d)
mul = _binary(jnp.multiply, lambda d, a, b, o: d * b, lambda d, a, b, o: d * a)
div = _binary(jnp.divide, lambda d, a, b, o: d / b, lambda d, a, b, o: -d * a / (b * b))
power = _binary(jnp.power, lambda d, a, b, o: d * b * a ** (b - 1), lambda d, a, b, o: d * o * jnp.log(a))


def custom_unary(forward, grad):
    """An elementwise op whose VJP is ``grad(dout, x, out)`` (later topics build activations with it)."""

    @jax.custom_vjp
    def op(x):
        return forward(x)

    def fwd(x):
        out = forward(x)
        return out, (x, out)

    def bwd(res, dout):
        x, out = res
        return (grad(dout, x, out),)

    op.defvjp(fwd, bwd)
    return op


exp = custom_unary(jnp.exp, lambda d, x, o: d * o)
log = custom_unary(jnp.log, lambda d, x, o: d / x)
tanh = custom_unary(jnp.tanh, lambda d, x, o: d * (1 - o * o))


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else axis
    return tuple(sorted(a % ndim for a in axis))


def _restore(dout, ndim, axis, keepdims):
    return dout if keepdims else jnp.expand_dims(dout, _axes(axis, ndim))


def _reduction(forward, grad):
    """A reduction ``forward(x, axis, keepdims)``; ``axis``/``keepdims`` are static."""

    op = jax.custom_vjp(lambda x, axis, keepdims: forward(x, axis, keepdims), nondiff_argnums=(1, 2))

    def fwd(x, axis, keepdims):
        out = forward(x, axis, keepdims)
        return out, (x, out)

    def bwd(axis, keepdims, res, dout):
        x, out = res
        return (grad(dout, x, out, axis, keepdims),)

    op.defvjp(fwd, bwd)

    def public(x, axis=None, keepdims=False):
        axis = tuple(axis) if isinstance(axis, list) else axis
        return op(x, axis, keepdims)

    return public


def _sum_grad(d, x, o, axis, keepdims):
    return jnp.broadcast_to(_restore(d, x.ndim, axis, keepdims), x.shape)


def _mean_grad(d, x, o, axis, keepdims):
    count = 1
    for a in _axes(axis, x.ndim):
        count *= x.shape[a]
    return jnp.broadcast_to(_restore(d, x.ndim, axis, keepdims) / count, x.shape)


def _max_grad(d, x, o, axis, keepdims):
    winners = (x == _restore(o, x.ndim, axis, keepdims)).astype(x.dtype)
    share = winners / winners.sum(axis=_axes(axis, x.ndim), keepdims=True)
    return share * _restore(d, x.ndim, axis, keepdims)


sum = _reduction(lambda x, a, k: jnp.sum(x, axis=a, keepdims=k), _sum_grad)  # noqa: A001
mean = _reduction(lambda x, a, k: jnp.mean(x, axis=a, keepdims=k), _mean_grad)
max = _reduction(lambda x, a, k: jnp.max(x, axis=a, keepdims=k), _max_grad)  # noqa: A001


def reshape(x, shape):
    """Reshape is linear: JAX's own VJP (a reshape back) is already the rule."""
    return jnp.reshape(x, shape)


def transpose(x, axes=None):
    """Transpose is linear: its VJP is the inverse permutation, which JAX derives."""
    return jnp.transpose(x, axes)


@jax.custom_vjp
def matmul(a, b):
    return jnp.matmul(a, b)


def _matmul_fwd(a, b):
    return jnp.matmul(a, b), (a, b)


def _matmul_bwd(res, dout):
    a, b = res
    da = dout @ jnp.swapaxes(b, -1, -2)
    db = jnp.swapaxes(a, -1, -2) @ dout
    return unbroadcast(da, a.shape), unbroadcast(db, b.shape)


matmul.defvjp(_matmul_fwd, _matmul_bwd)
