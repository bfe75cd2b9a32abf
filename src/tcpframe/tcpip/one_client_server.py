"""A TCP/IP server that serves one client at a time (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["OneClientServer"]

import asyncio
import contextlib
import logging
import typing
from collections.abc import Iterator

from ..constants import DEFAULT_ENCODING, DEFAULT_MONITOR_CONNECTION_INTERVAL, DEFAULT_TERMINATOR
from ..stream.protocol import FrameProtocol
from ..stream.reader import DEFAULT_LIMIT
from ..stream.writer import FrameWriter
from .base_client_or_server import BaseClientOrServer, ConnectCallbackType, cancel_and_wait, is_connected
from .utils import set_socket_options

# How long a turned-away client may go on sending after the server has
# half-closed its connection, before the server closes it anyway (s).
TURN_AWAY_LINGER = 1.0


class OneClientServer(BaseClientOrServer):
    """A TCP/IP server that serves one client at a time.

    A client that connects while another is connected is disconnected at
    once and its data ignored; the first client keeps working. As in
    lsst.ts.tcpip, the newcomer is refused on arrival, never queued: the
    server half-closes the connection (the newcomer reads EOF), discards
    what it sends until it closes too (for at most `TURN_AWAY_LINGER` s),
    then closes it; a refusal is logged as a warning. A newcomer is
    likewise refused while another newcomer is being admitted. One that
    arrives while the previous client's disconnection is being reported
    (``connect_callback`` is running with ``connected`` False) waits for
    that report to end and then becomes the client; any other that
    arrives meanwhile is refused. So ``connect_callback`` sees True,
    False, True, ... strictly in turn. A connection that resets or closes
    at any of these moments is dropped silently (a DEBUG log line at most).

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
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._turned_away: set[FrameWriter] = set()
        # The task admitting a newcomer (at most one at a time), if any.
        self._admission: asyncio.Task[None] | None = None
        # How many changes of the connection (a client being closed, or a
        # connect_callback running) are under way; set when there are none,
        # or when the server closes. A newcomer waits for this before it
        # becomes the client.
        self._changes = 0
        self._settled = asyncio.Event()
        self._settled.set()
        # Tasks that found the connection gone and are closing it and
        # reporting it: they end on their own and are not cancelled.
        self._ending: set[asyncio.Future[typing.Any]] = set()
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
        # Decided on arrival, as lsst.ts.tcpip does: never queued.
        if self._closing or self.connected or self._admission is not None:
            task = asyncio.create_task(self._turn_away(protocol))
        else:
            task = self._admission = asyncio.create_task(self._admit(protocol))
        self._client_tasks.add(task)
        task.add_done_callback(self._client_tasks.discard)

    async def _admit(self, protocol: FrameProtocol) -> None:
        """Make the client of ``protocol`` the connected one once the
        previous client's disconnection has been reported; drop it if it
        went away meanwhile or the server is closing."""
        try:
            while self._changes and not self._closing:
                await self._settled.wait()
            # The previous client's tasks, which could close the next
            # client: none is reporting a change now, so none is cut short.
            await self._stop_serving_tasks(wait_for_ending=True)
            attached = not self._closing and await self._attach(protocol)
        finally:
            self._admission = None
        if not attached:
            self.log.debug("%s dropped a client that left before it was served", self.name)
            await self._close_writer(protocol.writer)

    def _serving_tasks(self) -> list[asyncio.Future[typing.Any]]:
        """The tasks that serve the client: the connection monitor."""
        return [self._monitor_connection_task]

    async def _stop_serving_tasks(self, wait_for_ending: bool = False) -> None:
        """Cancel the `_serving_tasks` and wait until they are done, except
        the caller and those ending on their own (see `_end_on_its_own`),
        which are only waited for, if ``wait_for_ending``."""
        tasks = self._serving_tasks()
        await self._cancel_unless_ending(*tasks)
        current = asyncio.current_task()
        ending = [task for task in tasks if task in self._ending and task is not current]
        if wait_for_ending and ending:
            await asyncio.wait(ending)

    async def _cancel_unless_ending(self, *tasks: asyncio.Future[typing.Any]) -> None:
        """`cancel_and_wait` those of ``tasks`` not ending on their own."""
        await cancel_and_wait(*(task for task in tasks if task not in self._ending))

    def _end_on_its_own(self) -> None:
        """Note that the current task found the connection gone: it closes
        and reports it, then ends; it is not cancelled meanwhile, so that
        the report is not cut short."""
        task = asyncio.current_task()
        if task is not None and task not in self._ending:
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)

    async def _attach(self, protocol: FrameProtocol) -> bool:
        """Make the client of ``protocol`` the connected one, unless its
        connection is already gone or the server is closing.

        Returns
        -------
        attached : `bool`
            True if the client was attached.
        """
        if self._writer is not None and not self._writer.is_closing():
            # The previous client is gone but not yet closed here.
            await self.basic_close_client()
        else:
            # Its close may still be unreported.
            await self.call_connect_callback()
        reader, writer = protocol.reader, protocol.writer
        if self._closing or not is_connected(reader, writer):
            return False
        assert writer is not None  # is_connected
        self._use_reader(reader)
        self._writer = writer
        await set_socket_options(writer)
        self.should_be_connected = True
        if not self.connected_task.done():
            self.connected_task.set_result(None)
        self.log.info("%s client connected", self.name)
        await self.call_connect_callback()
        self.start_monitoring_connection()
        return True

    async def _turn_away(self, protocol: FrameProtocol) -> None:
        """Disconnect a client that arrived while another is connected (or
        being admitted, or while the server closes), ignoring what it sends.

        A socket closed with unread bytes resets the connection, so whether
        the client saw EOF or ECONNRESET would depend on how soon it sent.
        Instead the server half-closes (the client reads EOF) and discards
        what arrives until the client closes too, for at most
        `TURN_AWAY_LINGER` s. A client that is gone already, or resets
        meanwhile, is just closed here.
        """
        if self._closing:
            self.log.info("%s refused a client: the server is closing", self.name)
        else:
            self.log.warning("%s refused a client: one is already connected", self.name)
        reader, writer = protocol.reader, protocol.writer
        assert writer is not None  # set by connection_made
        self._turned_away.add(writer)
        try:
            if writer.can_write_eof() and not writer.is_closing() and not self._closing:
                writer.write_eof()
                async with asyncio.timeout(TURN_AWAY_LINGER):
                    while await reader.read(DEFAULT_LIMIT):
                        pass
        except TimeoutError:
            pass  # the client kept sending
        except OSError as e:
            # It reset the connection, or was gone before the half-close
            # (ENOTCONN).
            self.log.debug("%s: a refused client's connection failed: %r", self.name, e)
        finally:
            self._turned_away.discard(writer)
            await self._close_writer(writer)

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """Count a change of the connection as under way while in this
        context (see ``_settled``)."""
        self._changes += 1
        self._settled.clear()
        try:
            yield
        finally:
            self._changes -= 1
            if not self._changes:
                self._settled.set()

    async def call_connect_callback(self) -> None:
        """Call ``connect_callback`` if the connection state changed.

        Always safe to call: the callback runs only when `connected`
        differs from what it was at the previous call, and an exception it
        raises is logged, not raised. A newcomer does not become the
        client while it runs.
        """
        with self._changing():
            await super().call_connect_callback()

    async def basic_close_client(self) -> None:
        """Close the client socket, if any, and reset `connected_task`.

        Calls ``connect_callback`` if a client was connected. Unlike
        `close_client`, leaves `should_be_connected` alone. Always safe to
        call.
        """
        with self._changing():
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
        await self._cancel_unless_ending(self._monitor_connection_task)
        await self.basic_close_client()

    async def close(self) -> None:
        """Close the client socket and the server, and set `done_task`
        done. Always safe to call.

        In lsst.ts.tcpip's order: first the client's connection (a read in
        progress sees EOF: `asyncio.IncompleteReadError`), then the
        listening server, then what still runs is stopped.
        """
        self._closing = True
        self._settled.set()  # a newcomer waiting to be admitted is dropped
        try:
            # Not the monitor too: it would report the close as the
            # client leaving.
            await self._cancel_unless_ending(self._monitor_connection_task)
            if self.connected:
                await self._close_writer(self._writer)
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
            await self._stop_serving_tasks(wait_for_ending=True)
            if self._server is not None:
                await self._server.wait_closed()
        finally:
            if not self.done_task.done():
                self.done_task.set_result(None)

    async def close_connection(self) -> None:
        """Close the client connection after it was lost.

        The caller (e.g. the connection monitor, or the read loop of
        `OneClientReadLoopServer`) then ends on its own: stopping the
        client's tasks does not cancel it.
        """
        self._end_on_its_own()
        await self.basic_close_client()
