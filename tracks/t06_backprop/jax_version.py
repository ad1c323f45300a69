"""Topic 06 in JAX: gradients by ``jax.grad``, and the hand-written rules given to JAX.

JAX derives the backward pass of ``mlp_apply`` itself: ``jax.grad`` of a
loss returns the gradients as a pytree shaped like ``params``, which is
exactly what ``mlp_backward`` returns in NumPy. ``mlp_vjp`` is the
``jax.vjp`` counterpart of ``mlp_backward(dout, cache)``.

``linear`` below carries topic 06's backward as a ``jax.custom_vjp`` rule
(``dx = dout W^T``, ``dW = x^T dout`` and ``db = sum(dout)`` over every batch
axis); ``mlp_apply_with_rules`` builds the MLP from it, and the tests check
that its gradients equal the ones JAX derives on its own.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from tracks.t05_mlp_forward.jax_version import init_mlp, mlp_apply, param_count

__all__ = ["init_mlp", "mlp_apply", "param_count", "mse_loss", "loss_and_grads", "mlp_vjp", "linear",
           "mlp_apply_with_rules"]


def mse_loss(params: list[dict], x: jax.Array, y: jax.Array) -> jax.Array:
    """0.5 * mean over the batch of ||mlp(x) - y||^2.  x: (n, d_0), y: (n, d_L) -> scalar."""
    diff = mlp_apply(params, x) - y
    return 0.5 * jnp.sum(diff * diff) / x.shape[0]


# (loss, grads) with grads a pytree like params, compiled once per input shape
loss_and_grads = jax.jit(jax.value_and_grad(mse_loss))


@jax.jit
def mlp_vjp(params: list[dict], x: jax.Array, dout: jax.Array) -> tuple[jax.Array, list[dict]]:
    """``(dx, dparams)`` for a cotangent ``dout`` of the logits: what ``mlp_backward`` returns."""
    _, vjp = jax.vjp(lambda x_, p_: mlp_apply(p_, x_), x, params)
    return vjp(dout)


@jax.custom_vjp
def linear(params: dict, x: jax.Array) -> jax.Array:
    """x: (*batch, d_in) -> (*batch, d_out), with the hand-written backward below."""
    return x @ params["W"] + params["b"]


def _linear_fwd(params, x):
    return linear(params, x), (x, params["W"])  # the residuals: topic 05's cache


def _linear_bwd(res, dout):
    x, W = res
    d_in, d_out = W.shape
    rows = dout.reshape(-1, d_out)  # (n, d_out): batch axes flattened
    dx = (rows @ W.T).reshape(x.shape)  # dx = dout W^T
    dW = x.reshape(-1, d_in).T @ rows  # dW = x^T dout, summed over every batch axis
    db = rows.sum(axis=0)  # db = sum of dout over every batch axis
    return {"W": dW, "b": db}, dx


linear.defvjp(_linear_fwd, _linear_bwd)


def mlp_apply_with_rules(params: list[dict], x: jax.Array) -> jax.Array:
    """``mlp_apply`` built from the custom-rule ``linear``; ``jax.nn.relu`` keeps JAX's own rule."""
    *hidden, last = params
    for layer in hidden:
        x = jax.nn.relu(linear(layer, x))
    return linear(last, x)
