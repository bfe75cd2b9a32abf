"""Helpers for unit tests of servers and clients (as in lsst.ts.tcpip)."""

from __future__ import annotations

__all__ = ["BaseOneClientServerTestCase", "TestOneClientReadLoopServer"]

import asyncio
import contextlib
import logging
import typing
import unittest
from collections.abc import AsyncGenerator

from .base_client_or_server import BaseClientOrServer
from .client import Client
from .constants import HEARTBEAT, LOCALHOST_IPV4
from .one_client_read_loop_server import OneClientReadLoopServer
from .one_client_server import OneClientServer

# How long test helpers wait for a connection or a callback (s).
STD_TIMEOUT = 5


class TestOneClientReadLoopServer(OneClientReadLoopServer):
    """A `OneClientReadLoopServer` that queues each string it reads.

    Heartbeat lines go to `handle_received_heartbeat` instead of the queue.

    Parameters
    ----------
    **kwargs
        Passed to `OneClientReadLoopServer`.

    Attributes
    ----------
    data_queue : `asyncio.Queue`
        Strings read, in order.
    fail_next_read : `bool`
        Make the next `read_and_dispatch` raise (to test the read loop's
        error handling); cleared when used.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, **kwargs: typing.Any) -> None:
        self.data_queue: asyncio.Queue[str] = asyncio.Queue()
        self.fail_next_read = False
        super().__init__(**kwargs)

    async def read_and_dispatch(self) -> None:
        """Read a string; queue it, or handle it if it is a heartbeat."""
        data = await self.read_str()
        if self.fail_next_read:
            self.fail_next_read = False
            raise RuntimeError("Failing as requested by fail_next_read")
        # HEARTBEAT is ASCII bytes; compare text, since decoding those
        # bytes with e.g. utf-16 would fail (odd length) or give garbage.
        if data == HEARTBEAT.decode("ascii"):
            await self.handle_received_heartbeat()
        else:
            await self.data_queue.put(data)

    async def get_next_data(self, timeout: float = STD_TIMEOUT) -> str:
        """Return the next string read, waiting at most ``timeout`` s."""
        return await asyncio.wait_for(self.data_queue.get(), timeout=timeout)


class BaseOneClientServerTestCase(unittest.IsolatedAsyncioTestCase):
    """Base class for unit tests of `OneClientServer` subclasses.

    Set the class attribute `server_class`; use `create_server` and
    `create_client` as async context managers, and `assert_next_connected`
    to check the server's connect callbacks.
    """

    server_class: type[OneClientServer]

    async def asyncSetUp(self) -> None:
        self.log = logging.getLogger(type(self).__name__)
        self.connect_queue: asyncio.Queue[bool] = asyncio.Queue()

    async def connect_callback(self, server: BaseClientOrServer) -> None:
        """Record ``server.connected``; used as the server's callback."""
        self.connect_queue.put_nowait(server.connected)

    async def assert_next_connected(self, connected: bool, timeout: float = STD_TIMEOUT) -> None:
        """Assert that the next connect callback saw ``connected``."""
        next_connected = await asyncio.wait_for(self.connect_queue.get(), timeout=timeout)
        self.assertEqual(next_connected, connected)

    @contextlib.asynccontextmanager
    async def create_server(
        self,
        *,
        host: str | None = LOCALHOST_IPV4,
        port: int = 0,
        connect_callback: typing.Any = None,
        **kwargs: typing.Any,
    ) -> AsyncGenerator[OneClientServer, None]:
        """Start a `server_class` on a free port; close it on exit.

        ``connect_callback`` defaults to `connect_callback`; other keyword
        arguments go to the server's constructor.
        """
        server = self.server_class(
            host=host,
            port=port,
            log=self.log,
            connect_callback=connect_callback or self.connect_callback,
            **kwargs,
        )
        try:
            await asyncio.wait_for(server.start_task, timeout=STD_TIMEOUT)
            yield server
        finally:
            await server.close()

    @contextlib.asynccontextmanager
    async def create_client(
        self, server: OneClientServer, wait_connected: bool = True, **kwargs: typing.Any
    ) -> AsyncGenerator[Client, None]:
        """Connect a `Client` to ``server``; close it on exit.

        Waits until the server sees the client unless ``wait_connected``
        is False. Keyword arguments go to the client's constructor.
        """
        host = LOCALHOST_IPV4 if server.host is None else server.host
        client = Client(host=host, port=server.port, log=self.log, **kwargs)
        try:
            await asyncio.wait_for(client.start_task, timeout=STD_TIMEOUT)
            if wait_connected:
                await asyncio.wait_for(server.connected_task, timeout=STD_TIMEOUT)
            yield client
        finally:
            await client.close()
