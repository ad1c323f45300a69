"""The base of every error fdl reports to a learner as a message, not a traceback.

Its subclasses (``DataError``, ``NonFiniteLoss``, ``ImplementationUnavailable``)
carry messages that say what was expected, what came, and what to do; the
runner prints them and exits 1.
"""


class FdlError(Exception):
    """An error whose message is the whole story: shown as is, without a traceback."""
