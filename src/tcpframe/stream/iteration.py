"""Asynchronous iteration over the messages of a stream, until it ends."""

from __future__ import annotations

__all__ = ["ReadIterator", "struct_reader"]

import asyncio
import typing
from collections.abc import Awaitable, Callable

T = typing.TypeVar("T")


class ReadIterator(typing.Generic[T]):
    """Asynchronous iterator that reads one message per step until EOF.

    Each step awaits ``read()``. The iteration ends (`StopAsyncIteration`)
    when the stream ends between messages: ``read`` raises
    `asyncio.IncompleteReadError` with no partial bytes, or, if
    ``ended_cleanly`` is given, raises `ConnectionError` while
    ``ended_cleanly()`` is true. Anything else ``read`` raises propagates,
    including `asyncio.IncompleteReadError` for a message cut short by EOF.

    Parameters
    ----------
    read : coroutine function
        Reads and returns the next message.
    ended_cleanly : callable or None, optional
        Tells whether the stream ended without an error (e.g. the peer
        closed); consulted when ``read`` raises `ConnectionError`.
    """

    __slots__ = ("_ended_cleanly", "_read")

    def __init__(
        self, read: Callable[[], Awaitable[T]], ended_cleanly: Callable[[], bool] | None = None
    ) -> None:
        self._read = read
        self._ended_cleanly = ended_cleanly

    def __aiter__(self) -> ReadIterator[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._read()
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise
        except ConnectionError:
            if self._ended_cleanly is None or not self._ended_cleanly():
                raise
        raise StopAsyncIteration


def struct_reader(
    read_into: Callable[[typing.Any], Awaitable[None]], struct: typing.Any
) -> Callable[[], Awaitable[typing.Any]]:
    """Return a coroutine function that reads a struct and returns it.

    Parameters
    ----------
    read_into : coroutine function
        Fills the struct it is given, e.g. `FrameReader.read_into`.
    struct : type or writable buffer
        A type (e.g. a `ctypes.Structure` subclass): each read fills and
        returns a new instance. An instance: each read fills it again and
        returns it.
    """
    if isinstance(struct, type):

        async def read_new() -> typing.Any:
            instance = struct()
            await read_into(instance)
            return instance

        return read_new

    async def read_again() -> typing.Any:
        await read_into(struct)
        return struct

    return read_again
