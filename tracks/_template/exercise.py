"""Topic NN · Title: your code.

Replace each ``raise NotImplementedError`` with your implementation, then run

    python -m fdl.run topicNN

which checks every function against JAX and shows PASS / FAIL / TODO. Use NumPy only
(and ``fdl.given`` and your own earlier exercise files).
"""

import numpy as np


def square_forward(x):
    """out = x ** 2.  x: (*shape) -> (out: (*shape), cache)

    The cache is what your backward needs; keep it small.
    """
    raise NotImplementedError("topic NN · square")


def square_backward(dout, cache):
    """dx = 2 x dout.  dout: (*shape) -> dx: (*shape), dout's dtype."""
    raise NotImplementedError("topic NN · square")
