"""A TCP/IP client (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["Client"]

import asyncio
import logging
import typing

from ..constants import DEFAULT_ENCODING, DEFAULT_MONITOR_CONNECTION_INTERVAL, DEFAULT_TERMINATOR, HEARTBEAT
from ..stream.protocol import open_connection
from .base_client_or_server import BaseClientOrServer, ConnectCallbackType, cancel_and_wait, make_done_future
from .utils import set_socket_options


class Client(BaseClientOrServer):
    """A TCP/IP client that connects once.

    Construct a new instance for each connection. Wait for `start_task`
    before reading or writing.

    Parameters
    ----------
    host : `str` or None
        Server address. ``""`` makes a client that is already closed:
        `start_task` and `done_task` are done, `connected` and
        `should_be_connected` are false and `close` does nothing.
    port : `int` or None
        Server port.
    log : `logging.Logger`
        Logger.
    connect_callback : coroutine function or None, optional
        Called with this client when the connection state changes.
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
    run_heartbeat_send_task : `bool`, optional
        Send ``HEARTBEAT + terminator`` every ``heartbeat_send_sleep`` s?
    heartbeat_send_sleep : `float`, optional
        Interval between heartbeats (s).
    **kwargs
        ``json_codec`` chooses the codec of the JSON methods and
        ``busy_poll_us`` turns on busy polling (see
        `BaseClientOrServer`); the rest are passed to
        `asyncio.loop.create_connection` (``limit`` sets the reader's line
        limit, as for `asyncio.open_connection`).

    Attributes
    ----------
    host : `str` or None
        The ``host`` argument.
    port : `int` or None
        The ``port`` argument.
    heartbeat_send_task : `asyncio.Future`
        The task that sends heartbeats; a done future when none are sent.
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
        run_heartbeat_send_task: bool = False,
        heartbeat_send_sleep: float = 1.0,
        **kwargs: typing.Any,
    ) -> None:
        # lsst.ts.tcpip 2.2's parameters in its order (tests/test_lsst_signatures.py):
        # callers pass the base's by position too, so they are named here.
        self.host = host
        self.port = port
        self.run_heartbeat_send_task = run_heartbeat_send_task
        self.heartbeat_send_sleep = heartbeat_send_sleep
        self._start_called = False
        self.heartbeat_send_task: asyncio.Future[typing.Any] = make_done_future()
        already_closed = host == ""
        super().__init__(
            log=log,
            connect_callback=connect_callback,
            monitor_connection_interval=monitor_connection_interval,
            name=name,
            do_start=not already_closed,
            encoding=encoding,
            terminator=terminator,
            **kwargs,
        )
        if already_closed:
            self.start_task.set_result(None)
            self.done_task.set_result(None)

    async def start(self, **kwargs: typing.Any) -> None:
        """Connect to the server. Called by the constructor.

        Parameters
        ----------
        **kwargs
            Passed to `asyncio.loop.create_connection`.

        Raises
        ------
        RuntimeError
            If called more than once.
        """
        if self._start_called:
            raise RuntimeError("Start already called")
        self._start_called = True
        reader, self._writer = await open_connection(self.host, self.port, **kwargs)
        self._use_reader(reader)
        await set_socket_options(self._writer)
        self.should_be_connected = True
        self.log.info("%s connected to %s:%s", self.name, self.host, self.port)
        await self.call_connect_callback()
        self.start_monitoring_connection()
        if self.run_heartbeat_send_task:
            self.heartbeat_send_task = asyncio.create_task(self._send_heartbeats())

    async def basic_close(self) -> None:
        """Close the socket, if any, and set `done_task` done.

        Unlike `close`, keeps `should_be_connected` and the monitor task.
        Always safe to call.
        """
        try:
            await self._close_writer(self._writer)
        finally:
            await self.call_connect_callback()
            if not self.done_task.done():
                self.done_task.set_result(None)

    async def close(self) -> None:
        """Stop connecting (if `start` has not finished), stop the monitor
        and heartbeat tasks, close the socket, and set `done_task` done.
        Always safe to call."""
        self.should_be_connected = False
        # Cancelling a start that is still connecting keeps a closed client
        # from connecting afterwards; a start that finished is unaffected.
        await cancel_and_wait(self.start_task, self._monitor_connection_task, self.heartbeat_send_task)
        await self.basic_close()

    async def close_connection(self) -> None:
        await self.basic_close()

    async def _send_heartbeats(self) -> None:
        try:
            while self.connected:
                await self.write(HEARTBEAT + self.terminator)
                await asyncio.sleep(self.heartbeat_send_sleep)
        except ConnectionError:
            self.log.info("%s stopped sending heartbeats: connection lost", self.name)
