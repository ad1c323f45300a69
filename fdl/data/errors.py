"""The one exception type of fdl.data."""

from __future__ import annotations

from ..errors import FdlError


class DataError(FdlError):
    """A problem with a data file that the user can fix.

    The message always says three things: what was expected, what was found,
    and what to do about it (which file, from where, and the exact path to put
    it). ``fdl.run`` prints it as is, without a traceback, so it must read well
    on its own.
    """


class UnknownDatasetError(DataError, ValueError):
    """A dataset name that is not in the registry.

    It is both a DataError (the user typed a name) and a ValueError (a caller
    passed a bad argument), so either ``except`` catches it.
    """
