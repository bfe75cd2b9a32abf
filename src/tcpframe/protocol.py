"""The asyncio protocol behind every tcpframe connection, and ways to open one."""

from __future__ import annotations

__all__ = ["FrameProtocol", "open_connection", "start_server"]

import asyncio
import collections
import typing

from .reader import DEFAULT_LIMIT, FrameReader
from .writer import FrameWriter, as_connection_error

ConnectionMadeCallback = typing.Callable[["FrameProtocol"], None]


class FrameProtocol(asyncio.BufferedProtocol):
    """A `asyncio.BufferedProtocol` that feeds a `FrameReader` and backs a
    `FrameWriter`.

    The transport receives straight into the reader's receive buffer
    (`get_buffer` / `buffer_updated`); no intermediate `bytes` are made.

    Parameters
    ----------
    limit : `int`, optional
        Line limit of the reader.
    on_connection_made : callable, optional
        Called with this protocol once `reader`, `writer` and `transport`
        are set.
    """

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        on_connection_made: ConnectionMadeCallback | None = None,
    ) -> None:
        self.reader = FrameReader(limit)
        self.reader.set_protocol(self)
        self.writer: FrameWriter | None = None
        self.transport: asyncio.Transport | None = None
        self._receive_buffer = self.reader._buffer
        self._on_connection_made = on_connection_made
        self._loop = asyncio.get_running_loop()
        self._closed = self._loop.create_future()
        self._connection_lost = False
        # True once the peer has ended the connection cleanly (eof_received).
        self.peer_closed = False
        # Over TLS, asyncio closes the transport at the peer's close_notify
        # whatever eof_received returns (and warns if it returns True).
        self._keep_open_at_eof = True
        self.writing_paused = False
        self._drain_waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)
        self._keep_open_at_eof = transport.get_extra_info("sslcontext") is None
        self.writer = FrameWriter(self.transport, self, self.reader)
        if self._on_connection_made is not None:
            self._on_connection_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._receive_buffer.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self._receive_buffer.buffer_updated(nbytes)
        self.reader.data_received()

    def eof_received(self) -> bool:
        self.peer_closed = True
        self.reader.feed_eof()
        self._update_writer_ready()
        # Keep a TCP transport open: the peer may still read what we write.
        return self._keep_open_at_eof

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection_lost = True
        self.reader.note_connection_closing()
        if self.writer is not None:
            self.writer.connection_lost()
        if exc is None:
            self.reader.feed_eof()
            self._closed.set_result(None)
        else:
            self.reader.set_exception(exc)
            self._closed.set_exception(exc)
            # Whoever awaits wait_closed sees exc; nobody else needs to.
            self._closed.exception()
        while self._drain_waiters:
            waiter = self._drain_waiters.popleft()
            if not waiter.done():
                if exc is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(as_connection_error(exc))
        self._update_writer_ready()

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._update_writer_ready()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._update_writer_ready()
        while self._drain_waiters:
            waiter = self._drain_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    # Services for the reader and writer.

    def pause_receiving(self) -> bool:
        """Stop reading from the socket; return False if it cannot be."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.pause_reading()
        return True

    def resume_receiving(self) -> None:
        """Start reading from the socket again."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def flush_writes(self) -> None:
        """Send what the writer has pending: the reader is about to wait."""
        if self.writer is not None:
            self.writer.flush_point()

    def _update_writer_ready(self) -> None:
        if self.writer is not None:
            self.writer.update_ready()

    async def wait_writable(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark.

        Raises
        ------
        ConnectionResetError
            If the connection was lost.
        """
        if self._connection_lost:
            raise ConnectionResetError("Connection lost")
        if not self.writing_paused:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._drain_waiters:
                self._drain_waiters.remove(waiter)

    async def wait_closed(self) -> None:
        """Wait until the connection is lost."""
        await asyncio.shield(self._closed)


async def open_connection(
    host: str | None = None, port: int | None = None, *, limit: int = DEFAULT_LIMIT, **kwargs: typing.Any
) -> tuple[FrameReader, FrameWriter]:
    """Connect to a TCP server; the tcpframe twin of `asyncio.open_connection`.

    Parameters
    ----------
    host, port
        Address of the server.
    limit : `int`, optional
        Line limit of the reader.
    **kwargs
        Passed to `asyncio.loop.create_connection`.

    Returns
    -------
    reader, writer : `FrameReader`, `FrameWriter`
    """
    loop = asyncio.get_running_loop()
    # asyncio takes host and port None (with sock=), which its stubs do not say.
    address: dict[str, typing.Any] = {"host": host, "port": port}
    _, protocol = await loop.create_connection(lambda: FrameProtocol(limit), **address, **kwargs)
    assert protocol.writer is not None
    return protocol.reader, protocol.writer


async def start_server(
    client_connected_cb: typing.Callable[[FrameReader, FrameWriter], typing.Any],
    host: str | None = None,
    port: int | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    **kwargs: typing.Any,
) -> asyncio.Server:
    """Start a TCP server; the tcpframe twin of `asyncio.start_server`.

    Parameters
    ----------
    client_connected_cb : callable
        Called with ``(reader, writer)`` for each client; if it returns a
        coroutine, that is run as a task.
    host, port
        Address to listen on.
    limit : `int`, optional
        Line limit of each reader.
    **kwargs
        Passed to `asyncio.loop.create_server`.
    """
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[typing.Any]] = set()

    def connection_made(protocol: FrameProtocol) -> None:
        assert protocol.writer is not None
        result = client_connected_cb(protocol.reader, protocol.writer)
        if asyncio.iscoroutine(result):
            task = loop.create_task(result)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    return await loop.create_server(
        lambda: FrameProtocol(limit, on_connection_made=connection_made), host, port, **kwargs
    )
