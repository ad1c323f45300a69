"""Topic 05 · MLP forward pass: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topic05

which checks every function against JAX and shows PASS / FAIL / TODO.
Use NumPy only. Each forward returns ``(out, cache)``: the cache is what
your backward pass in topic 06 will need (topic 06 imports these very
functions), so think about what that is, and keep it minimal.

Topic 10 trains an MNIST classifier with these functions, 60,000 images
many times over: no Python loop over the batch or the features, one matrix
product per layer, and float32 in means float32 out.
"""

import numpy as np


def linear_forward(x, params):
    """out = x @ W + b over any number of batch axes.

    x: (*batch, d_in), params: {"W": (d_in, d_out), "b": (d_out,)}
    -> out: (*batch, d_out), cache

    Hint: x.reshape(-1, d_in) is a view with every batch axis flattened into
    one: then the whole batch is a single matrix product. Reshape the result
    back to (*batch, d_out). x may have no batch axis at all: (d_in,).
    """
    raise NotImplementedError("topic 05 · linear")


def init_mlp(sizes, rng, dtype=np.float32):
    """He-initialised parameters for layer sizes [d_0, d_1, ..., d_L].

    sizes: a list of L + 1 ints, rng: a np.random.Generator
    -> a list of L dicts, layer l: {"W": (d_{l-1}, d_l), "b": (d_l,)}, every array of ``dtype``

    W ~ N(0, 2 / fan_in) with fan_in = d_{l-1}; b = 0. Draw only from ``rng``
    (rng.standard_normal): the same generator state must give the same
    parameters, and np.random.seed must not matter.
    """
    raise NotImplementedError("topic 05 · init_mlp")


def mlp_forward(x, params):
    """Linear layers with a ReLU after every layer except the last.

    x: (*batch, d_0), params: the list init_mlp returns
    -> logits: (*batch, d_L), cache

    Use your linear_forward. Hint for the cache: the ReLU's derivative is
    1 where its output is positive, and its output is the next layer's input.
    """
    raise NotImplementedError("topic 05 · mlp")
