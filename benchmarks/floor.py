"""The await floor: a client whose every call is a coroutine that returns at once.

Run through the same scenario loops as the real clients, it times what no
client can avoid in asyncio: creating and awaiting one coroutine per call,
plus the loop's own user work (taking a value from each message, setting
a frame counter, computing checksums). A client at 100% of the floor
would add nothing else. Its ``iter_*`` are async generators that yield at
once: the floor of an ``async for``. It has no connection and moves no bytes: its
reads return a fixed message and leave structs as they are.
"""

from __future__ import annotations

__all__ = ["FloorClient"]

import ctypes
import json
import typing
from collections.abc import AsyncIterator

from .scenarios import COMMANDS, LINE_TERMINATOR, SCENARIOS, command_frame, reply_frame

_LINE = SCENARIOS["recv_lines"].message(0).removesuffix(LINE_TERMINATOR).decode()
_JSON = json.loads(SCENARIOS["recv_json"].message(0))
_REPLY = reply_frame(command_frame(COMMANDS[0]))


class FloorClient:
    """A stand-in for a client: each call returns at once, its result fixed."""

    @classmethod
    async def connect(cls, host: str, port: int) -> FloorClient:
        """Return a floor client; nothing is connected."""
        return cls()

    async def read_into(self, struct: ctypes.Structure) -> None:
        """Return at once; ``struct`` is left as it is."""

    async def read_str(self) -> str:
        """Return a fixed line (an NMEA-like sentence)."""
        return _LINE

    async def read_json(self) -> typing.Any:
        """Return a fixed decoded JSON line (the same object every time)."""
        return _JSON

    async def iter_structs(self, struct: ctypes.Structure) -> AsyncIterator[ctypes.Structure]:
        """Yield ``struct``, as it is, for ever (an async generator)."""
        while True:
            yield struct

    async def iter_lines(self) -> AsyncIterator[str]:
        """Yield the fixed line for ever (an async generator)."""
        while True:
            yield _LINE

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Return a fixed checksummed round-trip reply."""
        return _REPLY

    async def write(self, data: bytes) -> None:
        """Return at once."""

    async def write_from(self, *structs: ctypes.Structure) -> None:
        """Return at once."""

    async def write_str(self, line: str) -> None:
        """Return at once."""

    async def close(self) -> None:
        """Return at once."""
