"""Helpers for unit tests of servers and clients (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["BaseOneClientServerTestCase", "TestOneClientReadLoopServer"]

import asyncio
import contextlib
import functools
import logging
import typing
import unittest
from collections.abc import AsyncGenerator

from ..constants import DEFAULT_LOCALHOST, HEARTBEAT_TEXT
from .base_client_or_server import BaseClientOrServer
from .client import Client
from .one_client_read_loop_server import OneClientReadLoopServer
from .one_client_server import OneClientServer

if typing.TYPE_CHECKING:
    from typing_extensions import TypeVar

    # The server type of a test case: Any unless a subclass names one
    # (BaseOneClientServerTestCase[MyServer]), so that lsst.ts.tcpip-style
    # test cases type-check as they are.
    ServerT = TypeVar("ServerT", bound=OneClientServer, default=typing.Any)
else:
    ServerT = typing.TypeVar("ServerT", bound=OneClientServer)

# How long test helpers wait for a connection or a callback (s), as in
# lsst.ts.tcpip.
STD_TIMEOUT = 2


class TestOneClientReadLoopServer(OneClientReadLoopServer):
    """A `OneClientReadLoopServer` that queues each string it reads.

    Heartbeat lines go to `handle_received_heartbeat` instead of the queue.
    Its parameters are those of `OneClientReadLoopServer`.

    Attributes
    ----------
    fail_next_read : `bool`
        Make the next `read_and_dispatch` raise `ConnectionError` before it
        reads (to test how a server handles a lost connection); cleared
        when used.
    """

    __test__ = False  # not a pytest test class

    # No __init__: the constructor is OneClientReadLoopServer's, whose
    # signature lsst.ts.tcpip 2.2 gives this class too.
    fail_next_read = False

    @functools.cached_property
    def data_queue(self) -> asyncio.Queue[str]:
        """Strings read, in order (`asyncio.Queue` [`str`])."""
        return asyncio.Queue()

    async def read_and_dispatch(self) -> None:
        """Read a string; queue it, or handle it if it is a heartbeat."""
        if self.fail_next_read:
            self.fail_next_read = False
            raise ConnectionError("Failing as requested by fail_next_read")
        data = await self.read_str()
        if data == HEARTBEAT_TEXT:
            await self.handle_received_heartbeat()
        else:
            await self.data_queue.put(data)

    async def get_next_data(self, timeout: float | None = None) -> str:
        """Return the next string read.

        Parameters
        ----------
        timeout : `float` or None, optional
            Longest wait (s); None to wait until a string arrives.

        Returns
        -------
        data : `str`
            The oldest string not yet returned.

        Raises
        ------
        TimeoutError
            If no string arrives within ``timeout`` s.
        """
        return await asyncio.wait_for(self.data_queue.get(), timeout=timeout)


class BaseOneClientServerTestCase(unittest.IsolatedAsyncioTestCase, typing.Generic[ServerT]):
    """Base class for unit tests of `OneClientServer` subclasses.

    Set the class attribute `server_class`; use `create_server` and
    `create_client` as async context managers. To check connect callbacks
    with `assert_next_connected`, pass
    ``connect_callback=self.connect_callback`` to `create_server` or to
    `create_client` (preferably not both: each queues its own entries).

    For type checkers, ``BaseOneClientServerTestCase[MyServer]`` makes
    `create_server` give a ``MyServer``; unsubscripted, it gives `typing.Any`.

    Attributes
    ----------
    server_class : `type` [`OneClientServer`] or None
        The server class under test; subclasses must set it.
    log : `logging.Logger`
        A logger named for the test class; made in `run`, so it exists even
        when a subclass's ``asyncSetUp`` does not call ``super()``.
    connect_queue : `asyncio.Queue` [`bool`] or None
        ``connected`` at each call of `connect_callback`; None until
        `create_server` makes a fresh one.
    """

    server_class: type[ServerT] | None = None

    def run(self, result: unittest.TestResult | None = None) -> unittest.TestResult | None:
        """Make `log` and clear `connect_queue`, then run the test.

        Unlike ``setUp``, a subclass cannot forget to call this.
        """
        self.log = logging.getLogger(type(self).__name__)
        self.connect_queue: asyncio.Queue[bool] | None = None
        return super().run(result)

    def _connect_queue_or_raise(self) -> asyncio.Queue[bool]:
        if self.connect_queue is None:
            raise RuntimeError("call create_server first: connect_queue is None")
        return self.connect_queue

    async def connect_callback(self, server: BaseClientOrServer) -> None:
        """Queue ``server.connected`` in `connect_queue`.

        Parameters
        ----------
        server : `BaseClientOrServer`
            The server or client whose state changed (named ``server`` as
            in lsst.ts.tcpip).

        Raises
        ------
        RuntimeError
            If `create_server` has not been called.
        """
        self._connect_queue_or_raise().put_nowait(server.connected)

    async def assert_next_connected(self, connected: bool, timeout: float = STD_TIMEOUT) -> None:
        """Assert that the oldest queued connect callback saw ``connected``.

        Parameters
        ----------
        connected : `bool`
            The expected ``connected`` state.
        timeout : `float`, optional
            Longest wait for a callback (s).

        Raises
        ------
        AssertionError
            If the queued state is not ``connected``.
        TimeoutError
            If no callback is queued within ``timeout`` s.
        RuntimeError
            If `create_server` has not been called.
        """
        queue = self._connect_queue_or_raise()
        next_connected = await asyncio.wait_for(queue.get(), timeout=timeout)
        self.assertEqual(next_connected, connected)

    @contextlib.asynccontextmanager
    async def create_server(self, **kwargs: typing.Any) -> AsyncGenerator[ServerT, None]:
        """Start a `server_class` on a free port; close it on exit.

        Makes a fresh `connect_queue`. The server gets ``port=0``, `log`
        and ``kwargs``, nothing else: in particular no connect callback
        unless ``kwargs`` has one. ``host`` defaults to localhost for
        `OneClientServer` itself (the read-loop servers have their own
        default).

        Parameters
        ----------
        **kwargs
            Keyword arguments for the server, other than ``port`` and
            ``log``.

        Raises
        ------
        RuntimeError
            If `server_class` is not set.
        """
        if self.server_class is None:
            raise RuntimeError("set the class attribute server_class to OneClientServer or a subclass")
        if self.server_class is OneClientServer:
            kwargs.setdefault("host", DEFAULT_LOCALHOST)
        self.connect_queue = asyncio.Queue()
        async with self.server_class(port=0, log=self.log, **kwargs) as server:
            yield server

    @contextlib.asynccontextmanager
    async def create_client(
        self, server: OneClientServer, *, wait_connected: bool = True, **kwargs: typing.Any
    ) -> AsyncGenerator[Client, None]:
        """Connect a `Client` to ``server``; close it on exit.

        Parameters
        ----------
        server : `OneClientServer`
            The server to connect to (its ``host``, or localhost when it
            listens on all interfaces, and its ``port``).
        wait_connected : `bool`, optional
            Wait until the server sees the client?
        **kwargs
            Keyword arguments for the client, other than ``host``, ``port``
            and ``log``.
        """
        host = DEFAULT_LOCALHOST if server.host is None else server.host
        async with Client(host=host, port=server.port, log=self.log, **kwargs) as client:
            if wait_connected:
                await asyncio.wait_for(server.connected_task, timeout=STD_TIMEOUT)
            yield client
