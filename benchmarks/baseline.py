"""The baseline: a client on asyncio streams, used the way lsst.ts.tcpip does.

Every call checks `StreamsClient.connected` first, as lsst.ts.tcpip's
client does, then goes to `asyncio.StreamReader` / `asyncio.StreamWriter`:
``readexactly`` + ``ctypes.memmove`` to fill a struct, ``readuntil`` +
decode + strip for a line, ``json.loads`` of that line for JSON, and
``write`` + ``drain`` for every write call.
"""

from __future__ import annotations

__all__ = ["StreamsClient", "read_into", "write_from"]

import asyncio
import ctypes
import json
import typing

_LOST_CONNECTION_ERRORS = (asyncio.IncompleteReadError, ConnectionError)


async def read_into(reader: asyncio.StreamReader, struct: ctypes.Structure) -> None:
    """Fill ``struct`` from ``reader``: ``readexactly`` then ``memmove``."""
    data = await reader.readexactly(ctypes.sizeof(struct))
    ctypes.memmove(ctypes.addressof(struct), data, len(data))


async def write_from(writer: asyncio.StreamWriter, *structs: ctypes.Structure) -> None:
    """Write the bytes of each struct, then drain."""
    for struct in structs:
        writer.write(bytes(struct))
    await writer.drain()


class StreamsClient:
    """A minimal streams-based client with the lsst.ts.tcpip read/write API.

    Parameters
    ----------
    reader : `asyncio.StreamReader`
        Reading half of the connection.
    writer : `asyncio.StreamWriter`
        Writing half of the connection.
    encoding : `str`, optional
        Encoding of `read_str` and `write_str`.
    terminator : `bytes`, optional
        Terminator of `read_str` and `write_str`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        encoding: str = "utf-8",
        terminator: bytes = b"\r\n",
    ) -> None:
        self._reader: asyncio.StreamReader | None = reader
        self._writer: asyncio.StreamWriter | None = writer
        self.encoding = encoding
        self.terminator = terminator

    @classmethod
    async def connect(cls, host: str, port: int) -> StreamsClient:
        """Open a connection with `asyncio.open_connection`."""
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    @property
    def connected(self) -> bool:
        """True while the connection is open, not at EOF and not closing."""
        return not (
            self._reader is None
            or self._writer is None
            or self._reader.at_eof()
            or self._writer.is_closing()
        )

    async def readexactly(self, n: int) -> bytes:
        """Read exactly ``n`` bytes."""
        if not self.connected:
            raise ConnectionError("Not connected")
        try:
            return await self._reader.readexactly(n)  # type: ignore[union-attr]
        except _LOST_CONNECTION_ERRORS:
            await self.close()
            raise

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read through ``separator``, which is included."""
        if not self.connected:
            raise ConnectionError("Not connected")
        try:
            return await self._reader.readuntil(separator)  # type: ignore[union-attr]
        except _LOST_CONNECTION_ERRORS:
            await self.close()
            raise

    async def read_into(self, struct: ctypes.Structure) -> None:
        """Fill a `ctypes.Structure` from the stream."""
        if not self.connected:
            raise ConnectionError("Not connected")
        try:
            await read_into(self._reader, struct)  # type: ignore[arg-type]
        except _LOST_CONNECTION_ERRORS:
            await self.close()
            raise

    async def read_str(self) -> str:
        """Read a line ending in `terminator`; return it decoded and stripped."""
        data = await self.readuntil(self.terminator)
        return data.decode(self.encoding).strip()

    async def read_json(self) -> typing.Any:
        """Read a line with `read_str` and decode it as JSON."""
        return json.loads(await self.read_str())

    async def write(self, data: bytes) -> None:
        """Write ``data`` and drain."""
        if not self.connected:
            raise ConnectionError("Not connected")
        self._writer.write(data)  # type: ignore[union-attr]
        await self._writer.drain()  # type: ignore[union-attr]

    async def write_from(self, *structs: ctypes.Structure) -> None:
        """Write the bytes of each struct, then drain."""
        if not self.connected:
            raise ConnectionError("Not connected")
        await write_from(self._writer, *structs)  # type: ignore[arg-type]

    async def write_str(self, line: str) -> None:
        """Encode ``line``, append `terminator`, write and drain."""
        await self.write(line.encode(self.encoding) + self.terminator)

    async def close(self) -> None:
        """Close the connection. Safe to call more than once."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
