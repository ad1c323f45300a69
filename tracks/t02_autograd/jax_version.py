"""Topic 02 in JAX: what the engine does, done by JAX's own autodiff.

The engine records a graph *while the NumPy code runs* and walks it back.
JAX instead *traces* a pure function once into a jaxpr (a small, typed
program of primitives: the graph) and transforms that program:
``jax.vjp`` turns it into a forward pass plus a pullback (the engine's
backward functions, chained), and ``jax.grad`` is the pullback seeded with
1, exactly ``loss.backward()``. :func:`graph` shows the recorded program;
:func:`gradient_graph` shows the program ``jax.grad`` derives from it.

The MLP and loss are the run's, written with ``jnp`` on a params dict, so
the tests can check the engine's gradients against these.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

__all__ = ["logits", "loss", "grads", "value_and_grad", "sgd_momentum_step", "graph", "gradient_graph"]


def logits(params: dict, x: jax.Array) -> jax.Array:
    """x: (n, 2) -> (n, classes); params ``{"W1", "b1", ..., "WL", "bL"}`` as in run.py."""
    chex.assert_rank(x, 2)
    layers = len(params) // 2
    chex.assert_shape(params["W1"], (x.shape[1], None))
    h = x
    for i in range(1, layers):
        h = jnp.tanh(h @ params[f"W{i}"] + params[f"b{i}"])  # (n, hidden_i)
    return h @ params[f"W{layers}"] + params[f"b{layers}"]


def loss(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy; ``jax.nn.log_softmax`` does the max-shift the engine does by hand."""
    log_probs = jax.nn.log_softmax(logits(params, x), axis=1)  # (n, classes)
    return -jnp.take_along_axis(log_probs, y[:, None], axis=1).mean()


value_and_grad = jax.jit(jax.value_and_grad(loss))
_grad = jax.jit(jax.grad(loss))


def grads(params: dict, x, y) -> dict:
    """``dloss/dparams`` by ``jax.grad``: the same dict structure as ``params``, as NumPy arrays."""
    import numpy as np

    with jax.enable_x64(any(np.asarray(v).dtype == np.float64 for v in params.values())):
        g = _grad({k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(x), jnp.asarray(y))
        return {k: np.asarray(v) for k, v in g.items()}


@jax.jit
def sgd_momentum_step(params: dict, velocity: dict, x, y, lr: float = 0.1, momentum: float = 0.9):
    """One step of run.py's training, pure: ``(params, velocity, x, y) -> (params, velocity, loss)``."""
    value, g = jax.value_and_grad(loss)(params, x, y)
    velocity = jax.tree_util.tree_map(lambda v, d: momentum * v + d, velocity, g)
    params = jax.tree_util.tree_map(lambda p, v: p - lr * v, params, velocity)
    return params, velocity, value


def graph(fn, *args) -> str:
    """The jaxpr JAX records for ``fn(*args)``: the computational graph, as text."""
    return str(jax.make_jaxpr(fn)(*args))


def gradient_graph(fn, *args) -> str:
    """The jaxpr of ``jax.grad(fn)``: forward primitives, then their transposes in reverse order."""
    return str(jax.make_jaxpr(jax.grad(fn))(*args))
