"""The connection monitor (``monitor_connection_interval``) over real
loopback connections: it reports a lost connection through
``connect_callback`` without anyone reading, as in lsst.ts.tcpip, but
waits for the connection's state to change instead of polling, so an idle
connection costs nothing (issue 21, item 3).

No test measures time: "promptly" means with a monitor interval far longer
than the test's timeout, and "costs nothing" means that the monitor does
not look at the connection while the loop runs and nothing happens.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT, ConnectRecorder
from transports import Transport

pytestmark = pytest.mark.all_event_loops

# Longer than any test waits: a monitor that polled at this interval
# would never report anything within a test.
NEVER = 1e6

# Turns of the event loop a test lets pass while the connection is idle.
IDLE_TURNS = 200


class CountingClient(tcpframe.Client):
    """A client that counts how often `connected` is looked at."""

    looks = 0

    @property
    def connected(self) -> bool:
        self.looks += 1
        return super().connected


class CountingServer(tcpframe.OneClientServer):
    """A server that counts how often `connected` is looked at."""

    looks = 0

    @property
    def connected(self) -> bool:
        self.looks += 1
        return super().connected


@pytest.fixture
async def open_pair(
    log: logging.Logger, transport: Transport
) -> typing.AsyncIterator[typing.Callable[..., typing.Awaitable[tuple[CountingServer, CountingClient]]]]:
    """Return ``await open_pair(server_kwargs, client_kwargs)``: a connected
    `CountingServer` and `CountingClient` over the ``transport``; both are
    closed at teardown."""
    opened: list[tcpframe.BaseClientOrServer] = []

    async def open_pair(
        server_kwargs: dict[str, typing.Any], client_kwargs: dict[str, typing.Any]
    ) -> tuple[CountingServer, CountingClient]:
        server = CountingServer(log=log, **transport.server_kwargs("127.0.0.1"), **server_kwargs)
        opened.append(server)
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        client = CountingClient(log=log, **transport.client_kwargs(server), **client_kwargs)
        opened.append(client)
        await asyncio.wait_for(client.start_task, STD_TIMEOUT)
        await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
        return server, client

    yield open_pair

    for end in reversed(opened):
        await asyncio.wait_for(end.close(), STD_TIMEOUT)


async def idle_turns() -> None:
    for _ in range(IDLE_TURNS):
        await asyncio.sleep(0)


async def test_an_idle_connection_is_not_looked_at(open_pair: typing.Callable) -> None:
    """However short the interval, neither end's monitor looks at the
    connection while nothing happens on it."""
    server, client = await open_pair({"monitor_connection_interval": 1e-9}, {"monitor_connection_interval": 1e-9})
    await idle_turns()
    server_looks, client_looks = server.looks, client.looks
    await idle_turns()
    assert (server.looks, client.looks) == (server_looks, client_looks)
    assert not client._monitor_connection_task.done()
    assert not server._monitor_connection_task.done()
    assert client.connected and server.connected


async def test_the_client_reports_the_server_leaving_without_reading(
    open_pair: typing.Callable, make_recorder: type[ConnectRecorder]
) -> None:
    recorder = make_recorder()
    server, client = await open_pair({}, {"connect_callback": recorder.callback, "monitor_connection_interval": NEVER})
    assert await recorder.next() is True
    await server.close_client()
    assert await recorder.next() is False
    await asyncio.wait_for(client.done_task, STD_TIMEOUT)
    assert client.should_be_connected  # lost, not closed on purpose
    assert recorder.states == [True, False]


async def test_the_server_reports_the_client_leaving_without_reading(
    open_pair: typing.Callable, make_recorder: type[ConnectRecorder]
) -> None:
    recorder = make_recorder()
    server, client = await open_pair({"connect_callback": recorder.callback, "monitor_connection_interval": NEVER}, {})
    assert await recorder.next() is True
    await client.close()
    assert await recorder.next() is False
    assert not server.connected
    assert not server.connected_task.done()  # ready for the next client
    assert recorder.states == [True, False]


async def test_the_client_reports_a_reset_without_reading(
    open_pair: typing.Callable, make_recorder: type[ConnectRecorder]
) -> None:
    recorder = make_recorder()
    server, client = await open_pair({}, {"connect_callback": recorder.callback, "monitor_connection_interval": NEVER})
    assert await recorder.next() is True
    server.writer.transport.abort()
    assert await recorder.next() is False
    await asyncio.wait_for(client.done_task, STD_TIMEOUT)
    assert recorder.states == [True, False]


class Pair(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int32), ("b", ctypes.c_int32)]


async def test_bytes_left_by_a_closing_peer_keep_the_connection_until_read(
    open_pair: typing.Callable, make_recorder: type[ConnectRecorder]
) -> None:
    """As in lsst.ts.tcpip: the client stays connected while what the
    server sent before closing is unread, and the monitor reports the loss
    once the last byte is read, even by a read that does not close the
    client itself (read_into)."""
    recorder = make_recorder()
    server, client = await open_pair(
        {}, {"connect_callback": recorder.callback, "monitor_connection_interval": 0.001}
    )
    assert await recorder.next() is True
    await server.write_from(Pair(1, 2), Pair(3, 4))
    await server.close_client()
    async with asyncio.timeout(STD_TIMEOUT):
        while not client.reader.eof_received:
            await asyncio.sleep(0.001)
    await idle_turns()
    assert client.connected
    assert recorder.states == [True]
    pair = Pair()
    await client.read_into(pair)
    assert (pair.a, pair.b) == (1, 2)
    assert client.connected
    await client.read_into(pair)
    assert (pair.a, pair.b) == (3, 4)
    assert await recorder.next() is False
    assert recorder.states == [True, False]


@pytest.mark.parametrize("interval", [0, -1])
async def test_no_monitor_when_the_interval_is_not_positive(
    open_pair: typing.Callable, make_recorder: type[ConnectRecorder], interval: float
) -> None:
    """Without a monitor the loss is reported by the next read (or
    `call_connect_callback`), not before."""
    recorder = make_recorder()
    server, client = await open_pair(
        {"monitor_connection_interval": interval},
        {"connect_callback": recorder.callback, "monitor_connection_interval": interval},
    )
    assert client._monitor_connection_task.done()
    assert server._monitor_connection_task.done()
    assert await recorder.next() is True
    await server.close_client()
    async with asyncio.timeout(STD_TIMEOUT):
        while client.connected:
            await asyncio.sleep(0.001)
    await idle_turns()
    assert recorder.states == [True]
    with pytest.raises(ConnectionError, match="Not connected"):
        await client.read_str()
    assert recorder.states == [True, False]
