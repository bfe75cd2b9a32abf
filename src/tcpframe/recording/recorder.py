"""Record a TCP session to a file: as a transparent proxy, or as a client.

``python -m tcpframe.record`` runs a `Recorder` from the command line.
"""

from __future__ import annotations

__all__ = ["Recorder", "format_address"]

import asyncio
import contextlib
import logging
import socket
import struct
import types
import typing

from ..constants import LOCALHOST_IPV4
from ..stream.protocol import open_connection, start_server
from ..stream.reader import FrameReader
from ..stream.writer import FrameWriter
from ..tcpip.base_client_or_server import cancel_and_wait
from ..tcpip.utils import close_stream_writer
from .format import Direction, PathType, RecordingWriter, Traffic

# Largest chunk taken from a connection at once (bytes).
READ_SIZE = 2**16


def format_address(address: typing.Any) -> str:
    """Return a socket address as ``"host:port"`` (``"[host]:port"`` for IPv6).

    Parameters
    ----------
    address : `tuple`
        A socket address, as from ``socket.getpeername()``.
    """
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Recorder:
    """Record one TCP session, both directions, to a recording file.

    With ``listen_port`` it is a transparent proxy: it listens on
    ``listen_host:listen_port``; when a client connects, it stops
    listening, connects to the server, and relays the bytes both ways,
    recording each chunk with its direction and timestamp. Without, it
    connects to the server as a client and records what the server sends.
    Either way the recording ends when both directions have closed (a
    sender's EOF is passed on, and recorded), or when `close` is called.

    Chunks are written to the file as they pass (see
    `~tcpframe.recording.RecordingWriter`), so memory stays bounded.
    Writing is synchronous: a disk slower than the network slows the
    relay, and TCP flow control slows the peers.

    An error writing the file (e.g. `OSError` ``ENOSPC`` on a full disk,
    ``EFBIG`` past a file-size limit), in any write or flush including
    the last one when the file is closed, fails the recording at once:
    the connections are reset (the peers see `ConnectionResetError`, not
    an end of stream) and `done_task` fails with the error. `close`
    never raises it; leaving ``async with`` does.

    Parameters
    ----------
    path : `str` or path-like
        The recording file; created, or truncated if it exists.
    server_host : `str`
        Address of the server to record.
    server_port : `int`
        Its port.
    listen_port : `int` or None, optional
        Port to listen on as a proxy; 0 picks a free one (read `port`
        after `start`). None records as a client.
    listen_host : `str`, optional
        Address to listen on as a proxy.
    log : `logging.Logger` or None, optional
        Logger; the module's logger if None.

    Attributes
    ----------
    path, server_host, server_port, log
        The parameters (``log`` resolved).
    host : `str`
        The ``listen_host`` argument.
    port : `int` or None
        The port the proxy listens on (updated by `start` when
        ``listen_port`` is 0); None when recording as a client.
    done_task : `asyncio.Future`
        Done when the recording has ended: the session ended or `close`
        was called. Holds the exception if the recording failed: the
        `OSError` of a write to the file, or (as a proxy) the
        `ConnectionError` if the server could not be reached.
    """

    def __init__(
        self,
        path: PathType,
        server_host: str,
        server_port: int,
        *,
        listen_port: int | None = None,
        listen_host: str = LOCALHOST_IPV4,
        log: logging.Logger | None = None,
    ) -> None:
        self.path = path
        self.server_host = server_host
        self.server_port = server_port
        self.host = listen_host
        self.port = listen_port
        self.log = log if log is not None else logging.getLogger("tcpframe.recording.recorder")
        self.done_task: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._recording: RecordingWriter | None = None
        self._server: asyncio.Server | None = None
        self._writers: list[FrameWriter] = []
        self._session_task: asyncio.Task[None] | None = None
        # The error writing the file that failed the recording, if one did:
        # close() then resets the connections and fails done_task with it.
        self._failure: BaseException | None = None

    async def __aenter__(self) -> typing.Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()
        if exc_type is None:
            self.done_task.result()

    @property
    def is_proxy(self) -> bool:
        """Does this recorder listen for a client (rather than be one)?"""
        return self.port is not None

    @property
    def traffic(self) -> dict[Direction, Traffic]:
        """Bytes and chunks recorded so far in each direction."""
        return self._open_recording().traffic

    def elapsed(self) -> float:
        """Return the seconds since the session started (0 before)."""
        recording = self._open_recording()
        return recording.elapsed_ns() / 1e9 if recording.header is not None else 0.0

    async def start(self) -> None:
        """Open the file, then listen (proxy) or connect (client).

        Raises
        ------
        OSError
            If the file cannot be written, the proxy cannot listen, or (as
            a client) the server cannot be reached.
        RuntimeError
            If already started.
        """
        if self._recording is not None:
            raise RuntimeError("the recorder was already started")
        self._recording = RecordingWriter(self.path)
        try:
            if self.is_proxy:
                self._server = await start_server(self._client_connected, self.host, self.port)
                if self.port == 0:
                    self.port = self._server.sockets[0].getsockname()[1]
                self.log.info("Recorder listening on %s:%s", self.host, self.port)
            else:
                reader, writer = await open_connection(self.server_host, self.server_port)
                self._writers.append(writer)
                self._session_task = asyncio.create_task(self._record(self._record_server(reader, writer)))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Stop recording: end and close the file, then close the connections.

        Always safe to call, and never raises for the way the session
        ended: an error writing the file, even the last write made here,
        is `done_task`'s exception (and the connections are reset).
        """
        if self._session_task is not None and self._session_task is not asyncio.current_task():
            self._session_task.cancel()
            await asyncio.wait({self._session_task})
        if self._server is not None:
            self._server.close()
        if self._recording is not None and not self._recording.closed:
            try:
                if self._recording.header is None:
                    self._recording.start(server=f"{self.server_host}:{self.server_port}")
                self._recording.close()
            except Exception as e:  # e.g. OSError: the last write failed
                self._fail(e)
            else:
                self.log.info("Recording %s complete", self._recording.path)
        for writer in self._writers:
            if self._failure is not None:
                _reset_connection(writer)
            await close_stream_writer(writer)
        if self._server is not None:
            await self._server.wait_closed()
        if not self.done_task.done():
            if self._failure is not None:
                self.done_task.set_exception(self._failure)
            else:
                self.done_task.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        """Note that recording failed with ``exc``, unless it already had
        (the first error is the cause) or the session already ended."""
        if self._failure is None and not self.done_task.done():
            self._failure = exc

    def _open_recording(self) -> RecordingWriter:
        if self._recording is None:
            raise RuntimeError("the recorder has not been started")
        return self._recording

    def _client_connected(self, reader: FrameReader, writer: FrameWriter) -> None:
        self._writers.append(writer)
        if self._session_task is not None or self.done_task.done():
            self.log.warning("Recorder rejected a client: it records one session")
            writer.close()
            return
        assert self._server is not None
        # One session per recording: no more clients.
        self._server.close()
        self._session_task = asyncio.create_task(self._proxy_session(reader, writer))

    async def _proxy_session(self, client_reader: FrameReader, client_writer: FrameWriter) -> None:
        try:
            server_reader, server_writer = await open_connection(self.server_host, self.server_port)
        except OSError as e:
            self.log.error("Recorder could not connect to %s:%s: %s", self.server_host, self.server_port, e)
            if not self.done_task.done():
                self.done_task.set_exception(e)
            await self.close()
            return
        self._writers.append(server_writer)
        await self._record(self._relay_both_ways(client_reader, client_writer, server_reader, server_writer))

    async def _relay_both_ways(
        self,
        client_reader: FrameReader,
        client_writer: FrameWriter,
        server_reader: FrameReader,
        server_writer: FrameWriter,
    ) -> None:
        header = self._open_recording().start(
            server=format_address(server_writer.get_extra_info("peername")),
            client=format_address(client_writer.get_extra_info("peername")),
        )
        self.log.info("Recording the session of %s with %s", header.client, header.server)
        relays = {
            asyncio.create_task(self._relay(Direction.CLIENT_TO_SERVER, client_reader, server_writer)),
            asyncio.create_task(self._relay(Direction.SERVER_TO_CLIENT, server_reader, client_writer)),
        }
        try:
            await asyncio.wait(relays, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # A relay that failed to record stops the other.
            await cancel_and_wait(*relays)
        for relay in relays:
            if not relay.cancelled():
                relay.result()

    async def _record_server(self, reader: FrameReader, writer: FrameWriter) -> None:
        self._open_recording().start(server=format_address(writer.get_extra_info("peername")))
        await self._relay(Direction.SERVER_TO_CLIENT, reader, None)

    async def _record(self, session: typing.Awaitable[None]) -> None:
        """Run ``session`` (from the session task), then close; an error
        from it (writing the file) fails the recording."""
        try:
            await session
        except Exception as e:
            self._fail(e)
        await self.close()

    async def _relay(self, direction: Direction, reader: FrameReader, writer: FrameWriter | None) -> None:
        """Record and pass on each chunk from ``reader`` until it ends.

        A chunk is recorded and handed to ``writer`` in one step, so a
        cancelled relay has passed on exactly what it recorded. The end of
        either connection ends the relay; an error writing the recording
        is raised.
        """
        recording = self._open_recording()
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except OSError as e:  # ConnectionError, or e.g. ENOTCONN from uvloop
                self.log.info("Recorder: %s ended: %s", direction.label, e)
                break
            if not data:
                break
            recording.write_data(direction, data)
            if writer is not None:
                writer.write(data)
                writer.flush()
                try:
                    await writer.drain()
                except OSError as e:
                    self.log.info("Recorder: %s ended: %s", direction.label, e)
                    break
        recording.write_eof(direction)
        if writer is not None and not writer.is_closing() and writer.can_write_eof():
            try:
                writer.write_eof()
            except OSError:
                pass  # the receiver is gone too


def _reset_connection(writer: FrameWriter) -> None:
    """Abort ``writer``'s connection with a reset (TCP RST).

    The peer's reads then fail with `ConnectionResetError`; it does not
    see an end of stream, as it would if this end had closed cleanly.

    Parameters
    ----------
    writer : `FrameWriter`
        The connection's writer.
    """
    sock = writer.get_extra_info("socket")
    if sock is not None:
        # A zero linger time makes closing the socket send a reset.
        with contextlib.suppress(OSError, ValueError):  # closed already: EBADF, or uvloop's fd -1
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
