"""Topic NN checks: what each exercise is compared with, and why its tolerance is what it is.

``CHECKS`` maps every exercise of the registry (in order) to a check built from ``fdl.check``.
"""

from __future__ import annotations

import jax.numpy as jnp

from fdl.check import Case, Tolerance, vjp_check
from fdl.check.sample import normal, square_and_not


def square_cases(rng):
    """Odd sizes, a 0-d input, batch 1, and one square, one tall and one wide matrix.

    float32 copies of the first cases are added by the checker.
    """
    shapes = [(5,), (), (1, 3), *square_and_not(rng), (2, 3, 4)]
    return [Case((normal(rng, shape),)) for shape in shapes]


# In eps of the case's dtype; the reference's worst ratio over 300 seeds: <measure with python -m fdl.sweep NN>.
SQUARE = Tolerance(8, 8)

CHECKS = {
    "square": vjp_check("square_forward", "square_backward", jnp.square, square_cases, names=["x"], tol=SQUARE,
                        elementwise=True),
}
