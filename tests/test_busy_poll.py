"""Opt-in busy polling (``busy_poll_us``, issue 22 item 2) over real
loopback connections, on TCP, TLS and Unix sockets and every event loop.

Busy polling changes when a waiting read sleeps, never what it returns:
these tests check that reads give the same results, that the loop's other
tasks run while a read polls (a read that spun without yielding would
hang them: the budgets here are far longer than any test), and that EOF,
errors and cancellation end a polling read as they end a sleeping one.
No test measures time.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
import struct
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from transports import Transport

pytestmark = pytest.mark.all_event_loops

# Longer than any test runs (µs): a polling read ends only because what it
# waits for arrived (or the connection ended, or it was cancelled).
FOREVER_US = 1e12


class Command(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint32), ("value", ctypes.c_double)]


@pytest.fixture
async def pair(connect_pair: typing.Callable, transport: Transport) -> tuple[tcpframe.OneClientServer, tcpframe.Client]:
    """A server and a client, both busy polling 'forever', over ``transport``."""
    return typing.cast(
        tuple[tcpframe.OneClientServer, tcpframe.Client],
        await connect_pair(
            transport=transport,
            server_kwargs={"busy_poll_us": FOREVER_US},
            client_kwargs={"busy_poll_us": FOREVER_US},
        ),
    )


async def test_the_option_reaches_the_connections_reader(pair: tuple) -> None:
    server, client = pair
    assert client.busy_poll_us == server.busy_poll_us == FOREVER_US
    assert client.reader.busy_poll_us == server.reader.busy_poll_us == FOREVER_US
    client.busy_poll_us = 25
    assert client.reader.busy_poll_us == 25
    client.reader.busy_poll_us = 0
    assert client.reader.busy_poll_us == 0


async def test_round_trips_with_the_peer_in_the_same_loop(pair: tuple) -> None:
    """Every reply is written by a task of the same loop: each polling read
    lets it run."""
    server, client = pair

    async def answer(count: int) -> None:
        for _ in range(count):
            command = await server.read_str()
            await server.write_str(command.upper())

    answering = asyncio.create_task(answer(20))
    for index in range(20):
        await client.write_str(f"command {index}")
        assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == f"COMMAND {index}"
    await asyncio.wait_for(answering, STD_TIMEOUT)


READS: dict[str, tuple[typing.Callable[[tcpframe.Client], typing.Awaitable[typing.Any]], bytes, typing.Any]] = {
    "read_str": (lambda client: client.read_str(), b"text\r\n", "text"),
    "read_json": (lambda client: client.read_json(), b'{"a": 1}\r\n', {"a": 1}),
    "readexactly": (lambda client: client.readexactly(5), b"12345", b"12345"),
    "readuntil": (lambda client: client.readuntil(b"!"), b"abc!", b"abc!"),
    "readline": (lambda client: client.readline(), b"line\n", b"line\n"),
    "read": (lambda client: client.read(100), b"s", b"s"),
    "read_frame": (lambda client: client.read_frame(), b"\x00\x00\x00\x03abc", b"abc"),
    "read_checksummed": (lambda client: client.read_checksummed(), b"$GPGGA*56\r\n", b"GPGGA"),
}


@pytest.mark.parametrize("method", sorted(READS))
async def test_every_read_waits_for_data_written_later_by_another_task(pair: tuple, method: str) -> None:
    """The read starts polling with nothing buffered; the data is written
    only after another task has run, in pieces."""
    server, client = pair
    read, data, expected = READS[method]
    reading = asyncio.create_task(read(client))
    go = asyncio.Event()

    async def write_later() -> None:
        await go.wait()
        for index in range(len(data)):
            await server.write(data[index : index + 1])
            await asyncio.sleep(0)

    writing = asyncio.create_task(write_later())
    for _ in range(10):
        await asyncio.sleep(0)
    assert not reading.done()
    go.set()
    assert await asyncio.wait_for(reading, STD_TIMEOUT) == expected
    await writing


async def test_read_into_a_struct_and_a_large_array(pair: tuple) -> None:
    """Small structs come through the buffer; a large array is received
    straight into (the direct receive polls too)."""
    server, client = pair
    command = Command()
    reading = asyncio.create_task(client.read_into(command))
    await asyncio.sleep(0)
    await server.write_from(Command(7, 2.5))
    await asyncio.wait_for(reading, STD_TIMEOUT)
    assert (command.code, command.value) == (7, 2.5)

    big = bytearray(1 << 20)
    data = bytes(range(256)) * 4096
    reading = asyncio.create_task(client.read_into(big))
    await asyncio.sleep(0)
    await server.write(data)
    await asyncio.wait_for(reading, STD_TIMEOUT)
    assert big == data


async def test_eof_ends_a_polling_read(pair: tuple) -> None:
    server, client = pair
    reading = asyncio.create_task(client.readexactly(10))
    await server.write(b"part")
    await asyncio.sleep(0)
    await server.close_client()
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await asyncio.wait_for(reading, STD_TIMEOUT)
    assert excinfo.value.partial == b"part"
    assert not client.connected


async def test_a_reset_ends_a_polling_read(pair: tuple) -> None:
    server, client = pair
    reading = asyncio.create_task(client.read_str())
    await asyncio.sleep(0)
    server.writer.transport.abort()
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reading, STD_TIMEOUT)
    assert not client.connected


def receive_when_it_comes(protocol: typing.Any) -> bool | None:
    """Call ``protocol.receive_now()`` without yielding to the loop until
    it does not report "nothing waiting"; return what it reports.

    Bytes sent over loopback by this thread are in the socket by the time
    the send returns, so this returns at once; the bound only keeps a
    broken test from hanging.
    """
    for _ in range(1_000_000):
        received = protocol.receive_now()
        if received is not False:
            return typing.cast(bool | None, received)
    raise AssertionError("the bytes never reached the socket")


async def test_a_polling_turn_receives_without_the_loop(pair: tuple, transport: Transport) -> None:
    """Over TCP and Unix sockets a turn receives what the socket holds
    straight into the reader; over TLS it leaves receiving to the loop's
    TLS transport, and the read is the same."""
    server, client = pair
    protocol = client.writer.transport.get_protocol()
    server.writer.transport.write(b"straight in\n")
    if transport.tls:
        assert protocol.receive_now() is None
    else:
        assert receive_when_it_comes(protocol) is True
        assert client.reader.buffered == len(b"straight in\n")
        assert protocol.receive_now() is False
    assert await asyncio.wait_for(client.readline(), STD_TIMEOUT) == b"straight in\n"


async def test_a_polling_turn_leaves_eof_to_the_transport(pair: tuple, transport: Transport) -> None:
    server, client = pair
    protocol = client.writer.transport.get_protocol()
    server.writer.transport.write(b"last")
    if transport.tls:
        server.writer.transport.close()
        assert protocol.receive_now() is None
    else:
        # The FIN now (a transport's close or write_eof may wait for a
        # turn of the loop).
        fileno = server.writer.transport.get_extra_info("socket").fileno()
        with socket.socket(fileno=os.dup(fileno)) as same_socket:
            same_socket.shutdown(socket.SHUT_WR)
        assert receive_when_it_comes(protocol) is True
        assert receive_when_it_comes(protocol) is None
        assert client.connected  # the loop has not seen the EOF yet
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await asyncio.wait_for(client.readexactly(10), STD_TIMEOUT)
    assert excinfo.value.partial == b"last"


async def test_a_reset_seen_by_a_polling_turn_fails_the_read_with_it(connect_pair: typing.Callable) -> None:
    """The socket reports a reset once: the turn that takes it fails the
    connection with it, so the read raises ConnectionResetError (not the
    EOF that the transport's next receive would see)."""
    server, client = await connect_pair(client_kwargs={"busy_poll_us": FOREVER_US})
    reading = asyncio.create_task(client.read_str())
    await asyncio.sleep(0)
    sock = server.writer.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.writer.transport.abort()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reading, STD_TIMEOUT)
    assert not client.connected


async def test_a_cancelled_polling_read_loses_nothing(pair: tuple) -> None:
    server, client = pair
    reading = asyncio.create_task(client.read_str())
    for _ in range(5):
        await asyncio.sleep(0)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    await server.write_str("first")
    await server.write_str("second")
    assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "first"
    assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "second"


async def test_wait_for_times_out_a_polling_read_and_the_next_read_gets_the_message(pair: tuple) -> None:
    server, client = pair
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.read_str(), 0.01)
    await server.write_str("late")
    assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "late"


async def test_a_second_read_while_one_polls_is_refused(pair: tuple) -> None:
    """As while a read sleeps: asyncio.StreamReader's RuntimeError."""
    server, client = pair
    reading = asyncio.create_task(client.reader.readuntil(b"\n"))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await client.reader.readuntil(b"\n")
    await server.write(b"x\n")
    assert await asyncio.wait_for(reading, STD_TIMEOUT) == b"x\n"


async def test_a_short_budget_falls_back_to_sleeping(
    connect_pair: typing.Callable, transport: Transport
) -> None:
    """A budget that runs out before the data comes: the read then sleeps
    in the loop and is woken by the data as without busy polling."""
    server, client = await connect_pair(transport=transport, client_kwargs={"busy_poll_us": 1})
    reading = asyncio.create_task(client.read_str())
    go = asyncio.Event()

    async def write_later() -> None:
        await go.wait()
        await server.write_str("eventually")

    writing = asyncio.create_task(write_later())
    async with asyncio.timeout(STD_TIMEOUT):
        while client.reader._waiter is None:
            await asyncio.sleep(0)
    go.set()
    assert await asyncio.wait_for(reading, STD_TIMEOUT) == "eventually"
    await writing


@pytest.mark.parametrize("value", [-1, -0.5, float("nan")])
async def test_a_negative_budget_is_refused(connect_pair: typing.Callable, value: float, log: typing.Any) -> None:
    with pytest.raises(ValueError, match="busy_poll_us"):
        tcpframe.Client("", 0, log, busy_poll_us=value)
    _server, client = await connect_pair()
    with pytest.raises(ValueError, match="busy_poll_us"):
        client.busy_poll_us = value
    with pytest.raises(ValueError, match="busy_poll_us"):
        client.reader.busy_poll_us = value
    assert client.busy_poll_us == client.reader.busy_poll_us == 0
