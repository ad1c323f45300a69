"""Pallas kernels: flash attention (topic 32) and the selective scan (topic 38).

Each kernel lives in one file, in this order: constants; a frozen
``BlockSizes`` dataclass; the kernel; a jitted public wrapper with
``custom_vjp`` that validates its inputs; ``_fwd``/``_bwd``; and a pure-jnp
``*_reference`` at the bottom. An ``interpret=`` flag runs the same kernel on
a CPU, so the tests run everywhere; ``python -m fdl.doctor`` says whether
kernels compile or interpret on this machine.

No kernel is here yet: they arrive with topics 32 and 38.
"""
