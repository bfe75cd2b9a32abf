"""The baseline: a streams client that costs per call what lsst.ts.tcpip 2.2's does.

`StreamsClient` does, call for call, the work that ``lsst.ts.tcpip.Client``
(version 2.2) does on top of `asyncio.StreamReader` and
`asyncio.StreamWriter`, so that "tcpframe is Nx the baseline" means "Nx
lsst.ts.tcpip". Written here from its documented behaviour and a reading
of its source; nothing of it is imported or copied. What it reproduces:

- **Every read and write checks** `StreamsClient.connected` (a property
  that tests both streams for None, ``at_eof()`` and ``is_closing()``),
  raising `ConnectionError` if not connected, and then asserts that the
  stream it uses is not None.
- **Reads** run inside ``try``; an `asyncio.IncompleteReadError` or
  `ConnectionError` closes the writer and is raised again.
- ``read_into`` awaits a second coroutine, a module-level `read_into`
  called with keyword arguments, which awaits ``readexactly(sizeof)``,
  checks that the data is not empty and copies it with ``ctypes.memmove``.
- ``read_str`` awaits ``self.readuntil(terminator)`` (another layer), then
  slices the terminator off and decodes with ``errors="strict"``.
- ``read_json`` awaits ``read_str``, then ``json.loads`` inside ``try``
  (a decode error is raised again with the bad text in its message).
- ``write`` is ``write`` + ``await drain()``; ``write_str`` encodes with
  ``errors="strict"``, appends the terminator and awaits ``self.write``;
  ``write_from`` awaits a module-level `write_from` that writes
  ``bytes(struct)`` for each struct and then drains.
- **On connecting** it enables TCP keepalive with the same settings and
  runs the same background monitor: a task that checks ``connected``
  every 0.1 s and closes the writer once the connection is gone.

lsst.ts.tcpip 2.2 takes no lock on any of these paths, and neither does
this client. ``tests/test_benchmark_runner.py`` checks the reads'
behaviour over loopback; ``benchmarks/README.md`` says how the baseline's
cost was compared with the real client's.
"""

from __future__ import annotations

__all__ = ["MONITOR_INTERVAL", "StreamsClient", "read_into", "write_from"]

import asyncio
import contextlib
import ctypes
import json
import socket
import typing

# What lsst.ts.tcpip 2.2 uses by default: seconds between checks of the
# connection by the monitor task, and the keepalive settings.
MONITOR_INTERVAL = 0.1
KEEPALIVE_IDLE_SECONDS = 60
KEEPALIVE_PROBES = 4
KEEPALIVE_INTERVAL_SECONDS = 15

_LOST_CONNECTION_ERRORS = (asyncio.IncompleteReadError, ConnectionError)


async def read_into(reader: asyncio.StreamReader, struct: ctypes.Structure) -> None:
    """Fill ``struct`` from ``reader``: ``readexactly`` then ``memmove``.

    Raises
    ------
    asyncio.IncompleteReadError
        If the stream ends first.
    ConnectionError
        If no data arrive.
    """
    size = ctypes.sizeof(struct)
    data = await reader.readexactly(size)
    if not data:
        raise ConnectionError()
    ctypes.memmove(ctypes.addressof(struct), data, size)


async def write_from(writer: asyncio.StreamWriter, *structs: ctypes.Structure) -> None:
    """Write the bytes of each struct, then drain."""
    for struct in structs:
        writer.write(bytes(struct))
    await writer.drain()


def _enable_keepalive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if hasattr(socket, "TCP_KEEPIDLE"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_SECONDS)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_SECONDS)


class StreamsClient:
    """A streams client with the lsst.ts.tcpip read/write API and its costs.

    Use `connect` to make one.

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
        _enable_keepalive(writer)
        self._monitor_task = asyncio.create_task(self._monitor_connection())

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
        assert self._reader is not None
        try:
            return await self._reader.readexactly(n)
        except _LOST_CONNECTION_ERRORS:
            await self._close_writer()
            raise

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        """Read through ``separator``, which is included."""
        if not self.connected:
            raise ConnectionError("Not connected")
        assert self._reader is not None
        try:
            return await self._reader.readuntil(separator)
        except _LOST_CONNECTION_ERRORS:
            await self._close_writer()
            raise

    async def read_into(self, struct: ctypes.Structure) -> None:
        """Fill a `ctypes.Structure` from the stream."""
        if not self.connected:
            raise ConnectionError("Not connected")
        assert self._reader is not None
        try:
            await read_into(reader=self._reader, struct=struct)
        except _LOST_CONNECTION_ERRORS:
            await self._close_writer()
            raise

    async def read_str(self) -> str:
        """Read a line ending in `terminator`; return it decoded, without it."""
        data = await self.readuntil(self.terminator)
        return data[0 : -len(self.terminator)].decode(encoding=self.encoding, errors="strict")

    async def read_json(self) -> typing.Any:
        """Read a line with `read_str` and decode it as JSON.

        Raises
        ------
        json.JSONDecodeError
            If the line is not JSON; its message holds the line.
        """
        data = await self.read_str()
        try:
            return json.loads(data)
        except json.JSONDecodeError as error:
            raise json.JSONDecodeError(f"{data=!r} is not valid json", error.doc, error.pos) from None

    async def write(self, data: bytes) -> None:
        """Write ``data`` and drain."""
        if not self.connected:
            raise ConnectionError("Not connected")
        assert self._writer is not None
        self._writer.write(data)
        await self._writer.drain()

    async def write_from(self, *structs: ctypes.Structure) -> None:
        """Write the bytes of each struct, then drain."""
        if not self.connected:
            raise ConnectionError("Not connected")
        assert self._writer is not None
        await write_from(self._writer, *structs)

    async def write_str(self, line: str) -> None:
        """Encode ``line``, append `terminator`, write and drain."""
        await self.write(line.encode(encoding=self.encoding, errors="strict") + self.terminator)

    async def close(self) -> None:
        """Stop the monitor and close the connection. Safe to call more than once."""
        self._monitor_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._monitor_task
        await self._close_writer()
        self._reader = None

    async def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _monitor_connection(self) -> None:
        while self.connected:
            await asyncio.sleep(MONITOR_INTERVAL)
        await self._close_writer()
