"""Topic 10 in JAX: the same MLP, loss, dropout and optimizer as one jitted step.

Pure functions over a params pytree (a list of {"W", "b"} dicts, the same
structure as the NumPy track), randomness through explicit keys, optax for
the optimizer. ``train_step`` is ``(params, opt_state, key, x, y) ->
(params, opt_state, loss)`` and compiles once; on a GPU or TPU the same code
runs there unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
import chex
import jax
import jax.numpy as jnp
import optax

from tracks.t05_mlp_forward.jax_version import init_mlp  # He init, one key per layer

__all__ = ["MLPConfig", "init_mlp", "apply", "loss_fn", "make_optimizer", "make_train_step", "evaluate"]


@dataclass(frozen=True)
class MLPConfig:
    sizes: tuple[int, ...] = (784, 256, 128, 64, 10)  # the Fashion-MNIST benchmark's 256-128-64 MLP
    dropout: float = 0.2  # after each hidden ReLU; 0 turns it off
    learning_rate: float = 1e-3  # AdamW peak, reached after one epoch of linear warmup
    weight_decay: float = 1e-4  # decoupled, as in topic 03's adamw
    warmup_steps: int = 469  # one epoch of 60,000 / 128
    total_steps: int = 469 * 40


def apply(params: list[dict], x: jax.Array, *, key: jax.Array | None = None, dropout: float = 0.0) -> jax.Array:
    """Logits ``(batch, classes)``; inverted dropout after each hidden ReLU when ``key`` is given."""
    chex.assert_rank(x, 2)  # (batch, features): flatten the images first
    chex.assert_shape(params[0]["W"], (x.shape[1], None))
    h = x
    for i, layer in enumerate(params):
        h = h @ layer["W"] + layer["b"]  # (batch, fan_out)
        if i < len(params) - 1:
            h = jax.nn.relu(h)
            if key is not None and dropout > 0:
                key, sub = jax.random.split(key)
                keep = jax.random.bernoulli(sub, 1.0 - dropout, h.shape)
                h = jnp.where(keep, h / (1.0 - dropout), 0.0)
    return h


def loss_fn(params, x, y, key=None, dropout: float = 0.0) -> jax.Array:
    chex.assert_shape(y, (x.shape[0],))  # one integer label per example
    logits = apply(params, x, key=key, dropout=dropout)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def make_optimizer(config: MLPConfig) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, config.warmup_steps,
                                                  config.total_steps)
    return optax.adamw(schedule, weight_decay=config.weight_decay)


def make_train_step(config: MLPConfig, optimizer: optax.GradientTransformation):
    """A jitted ``(params, opt_state, key, x, y) -> (params, opt_state, loss)``."""

    @jax.jit
    def train_step(params, opt_state, key, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y, key, config.dropout)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return train_step


@jax.jit
def _batch_metrics(params, x, y):
    logits = apply(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).sum()
    return loss, jnp.sum(jnp.argmax(logits, axis=-1) == y)


def evaluate(params, x, y, batch_size: int = 1000) -> tuple[float, float]:
    """Mean loss and accuracy, batch by batch (sums, so a short last batch counts right)."""
    total, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        loss, hits = _batch_metrics(params, x[start:start + batch_size], y[start:start + batch_size])
        total += float(loss)
        correct += int(hits)
    return total / len(x), correct / len(x)
