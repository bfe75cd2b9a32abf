"""A TCP/IP server that serves one client at a time (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["OneClientServer"]

import asyncio
import logging
import typing

from ..constants import DEFAULT_ENCODING, DEFAULT_MONITOR_CONNECTION_INTERVAL, DEFAULT_TERMINATOR
from ..stream.protocol import FrameProtocol
from ..stream.reader import DEFAULT_LIMIT
from ..stream.writer import FrameWriter
from .base_client_or_server import BaseClientOrServer, ConnectCallbackType, cancel_and_wait
from .utils import set_socket_options

# How long a turned-away client may go on sending after the server has
# half-closed its connection, before the server closes it anyway (s).
TURN_AWAY_LINGER = 1.0


class OneClientServer(BaseClientOrServer):
    """A TCP/IP server that serves one client at a time.

    A client that connects while another is connected is disconnected at
    once and its data ignored; the first client keeps working.

    Parameters
    ----------
    host : `str` or None
        Address to listen on; None for all interfaces.
    port : `int` or None
        Port to listen on; 0 picks a free port (then `port` is updated,
        if the server has a single socket).
    log : `logging.Logger`
        Logger.
    connect_callback : coroutine function or None, optional
        Called with this server when a client connects or disconnects.
    monitor_connection_interval : `float`, optional
        If > 0 (the default, 0.1, is lsst.ts.tcpip's), monitor the
        connection: close it and call ``connect_callback`` as soon as it
        is lost, even if nothing reads. The monitor waits for the
        connection's state to change, so an idle connection costs no CPU;
        the interval (s) only bounds how late it notices that the last
        unread byte of a peer that closed was read. <= 0 for no monitor.
    name : `str`, optional
        Name used in log messages.
    encoding : `str`, optional
        Encoding of the str and JSON methods.
    terminator : `bytes`, optional
        Terminator of the str and JSON methods.
    **kwargs
        ``json_codec`` chooses the codec of the JSON methods and
        ``busy_poll_us`` turns on busy polling (see
        `BaseClientOrServer`); the rest are passed to
        `asyncio.loop.create_server` (``limit`` sets each reader's line
        limit, as for `asyncio.start_server`).

    Attributes
    ----------
    host : `str` or None
        The ``host`` argument.
    port : `int` or None
        The port; updated by `start` when ``port`` was 0.
    connected_task : `asyncio.Future`
        Done when a client connects; replaced when it disconnects.
    """

    def __init__(
        self,
        host: str | None,
        port: int | None,
        log: logging.Logger,
        connect_callback: ConnectCallbackType | None = None,
        monitor_connection_interval: float = DEFAULT_MONITOR_CONNECTION_INTERVAL,
        name: str = "",
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        **kwargs: typing.Any,
    ) -> None:
        # lsst.ts.tcpip 2.2's parameters in its order (tests/test_lsst_signatures.py):
        # callers pass the base's by position too, so they are named here.
        self.host = host
        self.port = port
        self.connected_task: asyncio.Future[None] = asyncio.Future()
        self._server: asyncio.Server | None = None
        self._client_lock = asyncio.Lock()
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._turned_away: set[FrameWriter] = set()
        # Set by close(); from then on arriving clients are turned away and
        # a start() still in progress stops listening again.
        self._closing = False
        super().__init__(
            log=log,
            connect_callback=connect_callback,
            monitor_connection_interval=monitor_connection_interval,
            name=name,
            encoding=encoding,
            terminator=terminator,
            **kwargs,
        )

    async def start(self, **kwargs: typing.Any) -> None:
        """Start listening. Called by the constructor.

        Parameters
        ----------
        **kwargs
            Passed to `asyncio.loop.create_server`.

        Raises
        ------
        RuntimeError
            If the server was already started.
        """
        if self._server is not None:
            raise RuntimeError("Start already called")
        limit = kwargs.pop("limit", DEFAULT_LIMIT)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: FrameProtocol(limit, on_connection_made=self._client_arrived),
            host=self.host,
            port=self.port,
            **kwargs,
        )
        if self._closing:
            # close() was called while listening was being set up. (Not
            # cancelled instead: a cancelled create_server can leave its
            # server listening.)
            self._server.close()
            await self._server.wait_closed()
            return
        sockets = self._server.sockets
        if self.port == 0 and len(sockets) == 1:
            self.port = sockets[0].getsockname()[1]
        self.log.info("%s listening on %s:%s", self.name, self.host, self.port)
        if not isinstance(self.start_task, asyncio.Task) and not self.start_task.done():
            # Constructed with do_start=False and started by hand: start_task
            # is a plain future that nothing else will set.
            self.start_task.set_result(None)

    def _client_arrived(self, protocol: FrameProtocol) -> None:
        task = asyncio.create_task(self._admit_or_turn_away(protocol))
        self._client_tasks.add(task)
        task.add_done_callback(self._client_tasks.discard)

    async def _admit_or_turn_away(self, protocol: FrameProtocol) -> None:
        async with self._client_lock:
            rejected = self.connected or self._closing
            if not rejected:
                await self._attach(protocol)
        if rejected:
            await self._turn_away(protocol)

    async def _attach(self, protocol: FrameProtocol) -> None:
        """Make the client of ``protocol`` the connected one."""
        if self._writer is not None and not self._writer.is_closing():
            # The previous client is gone but not yet closed here.
            await self.basic_close_client()
        else:
            # Its close may still be under way: report it first.
            await self.call_connect_callback()
        assert protocol.writer is not None  # set by connection_made
        self._reader = protocol.reader
        self._reader.busy_poll_us = self._busy_poll_us
        self._writer = protocol.writer
        await set_socket_options(protocol.writer)
        self.should_be_connected = True
        if not self.connected_task.done():
            self.connected_task.set_result(None)
        self.log.info("%s client connected", self.name)
        await self.call_connect_callback()
        self.start_monitoring_connection()

    async def _turn_away(self, protocol: FrameProtocol) -> None:
        """Disconnect a client that arrived while another is connected (or
        while the server closes), ignoring what it sends.

        A socket closed with unread bytes resets the connection, so whether
        the client saw EOF or ECONNRESET would depend on how soon it sent.
        Instead the server half-closes (the client reads EOF) and discards
        what arrives until the client closes too, for at most
        `TURN_AWAY_LINGER` s.
        """
        reason = "the server is closing" if self._closing else "one is already connected"
        self.log.error("%s rejected a client: %s", self.name, reason)
        reader, writer = protocol.reader, protocol.writer
        assert reader is not None and writer is not None
        self._turned_away.add(writer)
        try:
            if writer.can_write_eof() and not self._closing:
                writer.write_eof()
                async with asyncio.timeout(TURN_AWAY_LINGER):
                    while await reader.read(DEFAULT_LIMIT):
                        pass
        except (TimeoutError, ConnectionError):
            pass  # the client kept sending, or reset the connection
        finally:
            self._turned_away.discard(writer)
            await self._close_writer(writer)

    async def basic_close_client(self) -> None:
        """Close the client socket, if any, and reset `connected_task`.

        Calls ``connect_callback`` if a client was connected. Unlike
        `close_client`, leaves `should_be_connected` alone. Always safe to
        call.
        """
        writer = self._writer
        try:
            await self._close_writer(writer)
        finally:
            # Unless the next client arrived while this one was closing.
            if self._writer is writer and self.connected_task.done():
                self.connected_task = asyncio.Future()
            await self.call_connect_callback()

    async def close_client(self) -> None:
        """Close the client socket, if any, and clear
        `should_be_connected`. Always safe to call."""
        self.should_be_connected = False
        await cancel_and_wait(self._monitor_connection_task)
        await self.basic_close_client()

    async def close(self) -> None:
        """Close the client socket and the server, and set `done_task`
        done. Always safe to call."""
        self._closing = True
        try:
            if self._server is not None:
                self._server.close()
            for writer in self._turned_away:
                writer.close()  # ends the wait for the client to close
            # Let clients that arrived meanwhile be attached or turned away
            # (cancelling them could leave their sockets open).
            current = asyncio.current_task()
            arriving = [task for task in self._client_tasks if task is not current]
            if arriving:
                await asyncio.gather(*arriving, return_exceptions=True)
            await self.close_client()
            if self._server is not None:
                await self._server.wait_closed()
        finally:
            if not self.done_task.done():
                self.done_task.set_result(None)

    async def close_connection(self) -> None:
        """Close the client connection after it was lost."""
        await self.basic_close_client()
