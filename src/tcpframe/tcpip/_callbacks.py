"""The rule for the callbacks tcpframe awaits: each is a coroutine function."""

__all__ = ["check_connect_callback", "require_coroutine_function"]

import inspect


def require_coroutine_function(function: object, name: str) -> None:
    """Raise `TypeError` unless ``function`` is a coroutine function.

    The rule is `inspect.iscoroutinefunction`'s, as lsst.ts.tcpip's: it
    accepts an ``async def`` function or bound method, a `functools.partial`
    of one, and (Python 3.12+) a function marked with
    ``inspect.markcoroutinefunction``. It rejects a plain function, even one
    that returns an awaitable, and an object whose ``__call__`` is
    ``async def``. (`asyncio.iscoroutinefunction`, deprecated in Python
    3.14, also accepted the long-gone ``@asyncio.coroutine`` marker.)

    Parameters
    ----------
    function : `object`
        The callback to check.
    name : `str`
        What the callback is called, for the error message, e.g.
        ``"connect_callback"``.

    Raises
    ------
    TypeError
        If ``function`` is not a coroutine function.
    """
    if not inspect.iscoroutinefunction(function):
        raise TypeError(f"{name}={function!r} must be a coroutine function")


def check_connect_callback(connect_callback: object) -> None:
    """Raise `TypeError` unless ``connect_callback`` is None or a coroutine
    function (by the rule of `require_coroutine_function`)."""
    if connect_callback is not None:
        require_coroutine_function(connect_callback, "connect_callback")
