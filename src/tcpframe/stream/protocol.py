"""The asyncio protocol behind every tcpframe connection, and ways to open one."""

from __future__ import annotations

__all__ = ["FrameProtocol", "open_connection", "start_server"]

import asyncio
import os
import typing

from .connection import ConnectionState
from .reader import DEFAULT_LIMIT, FrameReader
from .writer import FrameWriter

ConnectionMadeCallback = typing.Callable[["FrameProtocol"], None]


class FrameProtocol(asyncio.BufferedProtocol):
    """A `asyncio.BufferedProtocol` that feeds a `FrameReader` and backs a
    `FrameWriter`.

    The transport receives straight into memory the reader offers
    (`get_buffer` / `buffer_updated`): its receive buffer, or the struct
    or array a read is filling. No intermediate `bytes` are made. What
    the transport reports about the connection goes to the
    `ConnectionState` that the reader and writer share.

    Parameters
    ----------
    limit : `int`, optional
        Line limit of the reader.
    on_connection_made : callable, optional
        Called with this protocol once `reader`, `writer` and `transport`
        are set.

    Attributes
    ----------
    state : `ConnectionState`
        The connection's state.
    reader : `FrameReader`
        The connection's reader.
    writer : `FrameWriter` or None
        The connection's writer, once connected.
    transport : `asyncio.Transport` or None
        The transport, once connected.
    """

    def __init__(
        self,
        limit: int = DEFAULT_LIMIT,
        on_connection_made: ConnectionMadeCallback | None = None,
    ) -> None:
        self.state = ConnectionState()
        self.reader = FrameReader(limit, state=self.state, flow=self)
        self.writer: FrameWriter | None = None
        self.transport: asyncio.Transport | None = None
        self._on_connection_made = on_connection_made
        # Over TLS, asyncio closes the transport at the peer's close_notify
        # whatever eof_received returns (and warns if it returns True).
        self._keep_open_at_eof = True
        # The socket's file descriptor while receives may bypass the
        # event loop (busy polling): plain TCP and Unix sockets only.
        self._direct_fd = -1

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)
        tls = transport.get_extra_info("sslcontext") is not None
        self._keep_open_at_eof = not tls
        self.writer = FrameWriter(self.transport, self.state)
        sock = transport.get_extra_info("socket")
        if not tls and sock is not None:
            # The socket carries the bytes themselves, not TLS records.
            self._direct_fd = sock.fileno()
        if self._on_connection_made is not None:
            self._on_connection_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.reader.get_buffer(sizehint)

    def buffer_updated(self, nbytes: int) -> None:
        self.reader.buffer_updated(nbytes)

    def eof_received(self) -> bool:
        self.state.note_peer_closed()
        # Keep a TCP transport open: the peer may still read what we write.
        return self._keep_open_at_eof

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.note_lost(exc)

    def pause_writing(self) -> None:
        if self.writer is not None:
            self.writer.pause_writing()

    def resume_writing(self) -> None:
        if self.writer is not None:
            self.writer.resume_writing()

    # The reader's ReceiveFlow.

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

    def receive_now(self) -> bool | None:
        """Receive what the socket holds now, straight into the reader, as
        the transport would but without a turn of the event loop.

        Returns
        -------
        received : `bool` or None
            True if bytes were received, False if none were waiting, None
            if nothing can be received here: the transport is TLS (its
            socket carries records, not bytes), paused, closing or gone,
            or the socket reports EOF (which the transport's next receive
            sees too) or an error (the connection then fails with it, as
            the transport would fail it, and is aborted).
        """
        transport = self.transport
        if self._direct_fd < 0 or transport is None or transport.is_closing() or not transport.is_reading():
            return None
        try:
            nbytes = os.readv(self._direct_fd, [self.reader.get_buffer(-1)])
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            self.state.note_failed(exc)
            transport.abort()
            return None
        if nbytes == 0:
            # EOF: the transport's next receive sees it too.
            return None
        self.reader.buffer_updated(nbytes)
        return True

    def flush_writes(self) -> None:
        """Send what the writer has pending: the reader is about to wait."""
        if self.writer is not None:
            self.writer.flush_point()

    async def wait_closed(self) -> None:
        """Wait until the connection is lost."""
        await self.state.wait_closed()


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
