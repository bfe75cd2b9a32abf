"""A one-client server that runs a read loop (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["OneClientReadLoopServer"]

import abc
import asyncio
import logging
import typing

from ..constants import (
    DEFAULT_ENCODING,
    DEFAULT_LOCALHOST,
    DEFAULT_MAX_HEARTBEAT_INTERVAL,
    DEFAULT_TERMINATOR,
)
from ._callbacks import check_connect_callback
from .base_client_or_server import BaseClientOrServer, ConnectCallbackType, make_done_future
from .one_client_server import OneClientServer
from .utils import current_tai


class OneClientReadLoopServer(OneClientServer):
    """A `OneClientServer` that reads and handles data in a loop.

    While a client is connected, `read_loop` calls `read_and_dispatch`,
    which subclasses implement. If it raises, the exception is logged and
    the client is closed. Closing the server closes the client's
    connection first, as lsst.ts.tcpip does: a read in `read_and_dispatch`
    sees `asyncio.IncompleteReadError` and the loop ends on its own.

    Parameters
    ----------
    port : `int` or None
        Port to listen on; 0 picks a free port.
    host : `str` or None, optional
        Address to listen on; localhost by default.
    log : `logging.Logger`
        Logger.
    connect_callback : coroutine function or None, optional
        Called with this server when a client connects or disconnects.
    name : `str`, optional
        Name used in log messages.
    encoding : `str`, optional
        Encoding of the str and JSON methods.
    terminator : `bytes`, optional
        Terminator of the str and JSON methods.
    run_heartbeat_monitor_task : `bool`, optional
        Expect heartbeats from the client and close it when none arrives
        for ``max_heartbeat_interval`` s?
    max_heartbeat_interval : `float`, optional
        Longest allowed time between heartbeats (s).
    **kwargs
        Passed to `OneClientServer`: ``monitor_connection_interval``,
        ``json_codec`` (the codec of the JSON methods, see
        `BaseClientOrServer`), ``busy_poll_us`` (busy polling, likewise), and the arguments of
        `asyncio.loop.create_server`.

    Attributes
    ----------
    read_loop_task : `asyncio.Future`
        The task running `read_loop`; a done future when no client is
        connected.
    monitor_heartbeats_task : `asyncio.Future`
        The task running `monitor_received_heartbeats`; a done future when
        heartbeats are not monitored or no client is connected.
    heartbeat_received_tai : `float` or None
        When the current client's last heartbeat arrived (TAI unix
        seconds); None until it sends one.
    monitor_heartbeats_task_start : `float` or None
        When `monitor_received_heartbeats` last started (TAI unix seconds);
        None if it never ran.
    """

    def __init__(
        self,
        *,
        port: int | None,
        host: str | None = DEFAULT_LOCALHOST,
        log: logging.Logger,
        connect_callback: ConnectCallbackType | None = None,
        name: str = "",
        encoding: str = DEFAULT_ENCODING,
        terminator: bytes = DEFAULT_TERMINATOR,
        run_heartbeat_monitor_task: bool = False,
        max_heartbeat_interval: float = DEFAULT_MAX_HEARTBEAT_INTERVAL,
        **kwargs: typing.Any,
    ) -> None:
        # lsst.ts.tcpip 2.2's parameters (tests/test_lsst_signatures.py); other
        # arguments of OneClientServer, e.g. monitor_connection_interval, pass
        # through kwargs. The base checks the callback it is given, which is
        # this server's, so the user's is checked here.
        check_connect_callback(connect_callback)
        self.run_heartbeat_monitor_task = run_heartbeat_monitor_task
        self.max_heartbeat_interval = max_heartbeat_interval
        self._user_connect_callback = connect_callback
        self.read_loop_task: asyncio.Future[typing.Any] = make_done_future()
        self.monitor_heartbeats_task: asyncio.Future[typing.Any] = make_done_future()
        self.heartbeat_received_tai: float | None = None
        self.monitor_heartbeats_task_start: float | None = None
        self._heartbeat_received = asyncio.Event()
        super().__init__(
            host=host,
            port=port,
            log=log,
            connect_callback=self._start_or_stop_read_loop,
            name=name,
            encoding=encoding,
            terminator=terminator,
            **kwargs,
        )

    async def _start_or_stop_read_loop(self, server: BaseClientOrServer) -> None:
        if self.connected:
            # The previous client's tasks are stopped (_admit). Nothing is
            # awaited before the user's callback, so that it sees the state
            # reported.
            self.heartbeat_received_tai = None
            self.read_loop_task = asyncio.create_task(self.read_loop())
            if self.run_heartbeat_monitor_task:
                self.monitor_heartbeats_task = asyncio.create_task(self.monitor_received_heartbeats())
        else:
            await self._cancel_client_tasks(cancel_read_loop_task=True)
        if self._user_connect_callback is not None:
            await self._user_connect_callback(self)

    def _serving_tasks(self) -> list[asyncio.Future[typing.Any]]:
        return [*super()._serving_tasks(), self.read_loop_task, self.monitor_heartbeats_task]

    async def read_loop(self) -> None:
        """Call `read_and_dispatch` while connected; close the client when
        the connection ends or `read_and_dispatch` raises."""
        # The client this loop serves; by the time the loop ends, another
        # client may have connected, and that one must be left alone.
        reader = self._reader
        try:
            while self.connected:
                await self.read_and_dispatch()
            self.log.info("%s read loop ended: client disconnected", self.name)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.log.info("%s read loop ended: connection lost", self.name)
        except Exception:
            self.log.exception("%s read_and_dispatch failed; closing the client", self.name)
        self._end_on_its_own()
        if self._reader is reader:
            await self.close_client(cancel_read_loop_task=False)

    @abc.abstractmethod
    async def read_and_dispatch(self) -> None:
        """Read, parse and handle one item of data.

        Subclasses implement this with the read methods (`read_str`,
        `read_json`, `read_into`, ...).
        """
        raise NotImplementedError()

    async def handle_received_heartbeat(self) -> None:
        """Note that the client sent a heartbeat.

        Raises
        ------
        RuntimeError
            If this server does not monitor heartbeats.
        """
        if not self.run_heartbeat_monitor_task:
            raise RuntimeError("Received a heartbeat but run_heartbeat_monitor_task is False")
        self.heartbeat_received_tai = current_tai()
        self._heartbeat_received.set()

    async def monitor_received_heartbeats(self) -> None:
        """Close the client if no heartbeat arrives for `max_heartbeat_interval` s."""
        self.monitor_heartbeats_task_start = current_tai()
        self._heartbeat_received.clear()
        while self.connected:
            try:
                await asyncio.wait_for(self._heartbeat_received.wait(), timeout=self.max_heartbeat_interval)
            except TimeoutError:
                self.log.warning(
                    "%s received no heartbeat for %s s; closing the client", self.name, self.max_heartbeat_interval
                )
                await self.close_client()
                return
            self._heartbeat_received.clear()

    async def close_client(self, cancel_read_loop_task: bool = True) -> None:
        """Stop the read loop and heartbeat monitor and close the client.

        Parameters
        ----------
        cancel_read_loop_task : `bool`, optional
            Cancel the read loop? False when called from the read loop.
        """
        await self._cancel_client_tasks(cancel_read_loop_task)
        await super().close_client()

    async def _cancel_client_tasks(self, cancel_read_loop_task: bool) -> None:
        """Stop the read loop (if asked) and heartbeat monitor, unless one
        of them is the caller or is ending on its own."""
        tasks = [self.monitor_heartbeats_task]
        if cancel_read_loop_task:
            tasks.append(self.read_loop_task)
        await self._cancel_unless_ending(*tasks)
