"""Hardening: safe defaults, and no unbounded buffering a peer controls.

* Servers listen on localhost unless told otherwise:
  `OneClientReadLoopServer` (and `TestOneClientReadLoopServer`) and the
  example servers default to 127.0.0.1; `OneClientServer` has no default
  host at all, so the caller must choose (``tcpframe.LOCALHOST_IPV4`` for
  local use, ``None`` for every interface).
* A peer controls how long a line is, how big a JSON message is and how
  fast it sends. None of these can make tcpframe buffer without bound:
  a line longer than the limit raises `asyncio.LimitOverrunError` (also
  for `read_json`, which reads with `read_str`), and bytes nobody reads
  pause the socket at the reader's high-water mark.
* A peer that stops reading cannot make our writes pile up either: a
  client's or server's ``write`` waits in drain, so what is pending stays
  within `FLUSH_SIZE` plus the transport's high-water mark (plus the one
  write being made).

The tests of peers run over TCP and over TLS (the ``peer_transport`` fixture).
"""

from __future__ import annotations

import asyncio
import ctypes
import inspect
import logging
import socket
import typing

import psutil
import pytest

import tcpframe
from raw_peer import LOCALHOST, RawListener, RawPeer, within_timeout
from tcpframe.examples import EchoServer, MockChiller
from tcpframe.stream.reader import DEFAULT_HIGH_WATER, DEFAULT_LIMIT
from tcpframe.stream.writer import FLUSH_SIZE
from transports import Transport

# A write loop stops after writing this much: enough to fill any socket buffers
# many times over, so a loop that never blocks fails its test instead of hanging it.
MAX_WRITTEN = 64 * 2**20

MiB = 2**20


# --- Default hosts ------------------------------------------------------------------------


def non_localhost_ipv4_addresses() -> list[str]:
    """This machine's IPv4 addresses other than 127.0.0.1 (always 127.0.0.2)."""
    addresses = {"127.0.0.2"}
    for interface_addresses in psutil.net_if_addrs().values():
        for address in interface_addresses:
            if address.family == socket.AF_INET and address.address != LOCALHOST:
                addresses.add(address.address)
    return sorted(addresses)


def connection_refused(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


@pytest.mark.parametrize(
    "make_server",
    [
        lambda log: tcpframe.TestOneClientReadLoopServer(port=0, log=log),
        lambda log: EchoServer(port=0, log=log),
        lambda log: MockChiller(log=log),
    ],
    ids=["OneClientReadLoopServer", "EchoServer", "MockChiller"],
)
async def test_servers_listen_only_on_localhost_by_default(
    log: logging.Logger, make_server: typing.Callable
) -> None:
    server = make_server(log)
    try:
        await within_timeout(server.start_task)
        assert [sock.getsockname()[0] for sock in server._server.sockets] == [LOCALHOST]
        for address in non_localhost_ipv4_addresses():
            assert connection_refused(address, server.port), f"reachable on {address}"
    finally:
        await within_timeout(server.close())


def test_one_client_server_makes_the_caller_choose_the_host(log: logging.Logger) -> None:
    """OneClientServer has no default host: leaving it out is a TypeError
    (before anything listens), as in lsst.ts.tcpip."""
    assert inspect.signature(tcpframe.OneClientServer).parameters["host"].default is inspect.Parameter.empty
    with pytest.raises(TypeError):
        tcpframe.OneClientServer(port=0, log=log)  # type: ignore[call-arg]


# --- Line length and JSON size -------------------------------------------------------------


@pytest.fixture
async def client_and_peer(
    log: logging.Logger, peer_transport: Transport
) -> typing.AsyncIterator[tuple[tcpframe.Client, RawPeer]]:
    listener = RawListener(peer_transport.peer_context(server_side=True))
    client = tcpframe.Client(log=log, **peer_transport.client_kwargs(listener))
    peer = await listener.accept()
    try:
        await within_timeout(client.start_task)
        yield client, peer
    finally:
        # The peer first: a client with unsent bytes for a peer that does
        # not read would wait CLOSE_STALL_TIMEOUT s to close (over TLS, any
        # client would wait for the peer's close_notify).
        peer.close()
        listener.close()
        await within_timeout(client.close())


async def flood_then_watch(
    client: tcpframe.Client, peer: RawPeer, flood: bytes, read: typing.Callable[[], typing.Awaitable]
) -> int:
    """Send ``flood`` (no terminator) while ``read`` waits; return the most
    bytes the client buffered over 0.3 s after ``read`` gave up."""
    read_task = asyncio.create_task(read())
    send_task = asyncio.create_task(peer.send(flood, timeout=60))
    with pytest.raises(asyncio.LimitOverrunError) as error:
        await within_timeout(read_task)
    assert error.value.consumed > DEFAULT_LIMIT - 2
    most_buffered = 0
    for _ in range(300):  # the application does not read any more
        await asyncio.sleep(0.001)
        most_buffered = max(most_buffered, client.reader.buffered)
    assert not send_task.done()  # the peer is held back by TCP
    send_task.cancel()
    await asyncio.gather(send_task, return_exceptions=True)
    return most_buffered


@pytest.mark.all_event_loops
async def test_an_endless_line_raises_limit_overrun_and_buffering_stops_at_the_high_water_mark(
    client_and_peer: tuple, peer_transport: Transport
) -> None:
    client, peer = client_and_peer
    most_buffered = await flood_then_watch(client, peer, b"L" * (256 * MiB), client.read_str)
    assert DEFAULT_HIGH_WATER <= most_buffered <= DEFAULT_HIGH_WATER + peer_transport.most_one_receive
    assert client.reader._buffer.peek(10) == b"L" * 10  # the data is kept, not dropped


async def test_an_endless_json_message_raises_limit_overrun_at_the_same_limit(
    client_and_peer: tuple, peer_transport: Transport
) -> None:
    client, peer = client_and_peer
    flood = b'{"values": [' + b"1234567, " * (16 * MiB)
    most_buffered = await flood_then_watch(client, peer, flood, client.read_json)
    assert most_buffered <= DEFAULT_HIGH_WATER + peer_transport.most_one_receive


async def test_a_smaller_line_limit_bounds_read_str_and_read_json(
    log: logging.Logger, peer_transport: Transport
) -> None:
    """``limit=`` sets the line limit: a 2 kB JSON line overruns limit=1024."""
    listener = RawListener(peer_transport.peer_context(server_side=True))
    client = tcpframe.Client(log=log, limit=1024, **peer_transport.client_kwargs(listener))
    peer = await listener.accept()
    async with client:
        try:
            await peer.send(b'{"pad": "' + b"p" * 2000 + b'"}\r\n{"ok": 1}\r\n')
            with pytest.raises(asyncio.LimitOverrunError):
                await within_timeout(client.read_json())
            await within_timeout(client.readexactly(2013))
            assert await within_timeout(client.read_json()) == {"ok": 1}
        finally:
            peer.close()
    listener.close()


# --- Writes to a peer that does not read -------------------------------------------------------


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("values", ctypes.c_double * 16)]


def write_calls(end: tcpframe.BaseClientOrServer) -> dict[str, tuple[typing.Callable, int]]:
    """Ways to write, each with how many bytes one call writes."""
    return {
        "small writes": (lambda: end.write(b"s" * 100), 100),
        "write_str": (lambda: end.write_str("t" * 10_000), 10_002),
        "big writes": (lambda: end.write(b"b" * (3 * FLUSH_SIZE)), 3 * FLUSH_SIZE),
        "write_from": (lambda: end.write_from(Sample(), Sample(), Sample()), 3 * 128),
    }


async def most_pending_while_the_peer_does_not_read(end: tcpframe.BaseClientOrServer, how: str) -> tuple[int, int]:
    """Write the given way until the writes block for 0.2 s; return the most
    bytes held in the writer and transport after any write, and one write's size."""
    write, size = write_calls(end)[how]
    writer = end.writer
    most_pending = 0

    async def write_forever() -> None:
        nonlocal most_pending
        for _ in range(MAX_WRITTEN // size):  # bounded: if writes never blocked, fail, not hang
            await write()
            most_pending = max(most_pending, writer.transport.get_write_buffer_size() + writer.pending)

    task = asyncio.create_task(write_forever())
    await asyncio.sleep(0.2)
    assert not task.done()  # blocked in drain: the peer does not read
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return most_pending, size


@pytest.mark.all_event_loops
@pytest.mark.parametrize("how", ["small writes", "write_str", "big writes", "write_from"])
async def test_client_writes_to_a_peer_that_does_not_read_stay_within_flush_size_plus_high_water(
    client_and_peer: tuple, how: str
) -> None:
    client, peer = client_and_peer
    peer.shrink_receive_buffer()
    most_pending, size = await most_pending_while_the_peer_does_not_read(client, how)
    high_water = client.writer.transport.get_write_buffer_limits()[1]
    assert 0 < most_pending <= high_water + FLUSH_SIZE + size


async def test_server_writes_to_a_client_that_does_not_read_stay_within_flush_size_plus_high_water(
    log: logging.Logger, peer_transport: Transport
) -> None:
    async with tcpframe.OneClientServer(log=log, **peer_transport.server_kwargs()) as server:
        peer = await RawPeer.connect(server.port, tls=peer_transport.peer_context(server_side=False))
        try:
            await within_timeout(server.connected_task)
            peer.shrink_receive_buffer()
            most_pending, size = await most_pending_while_the_peer_does_not_read(server, "small writes")
            high_water = server.writer.transport.get_write_buffer_limits()[1]
            assert 0 < most_pending <= high_water + FLUSH_SIZE + size
        finally:
            peer.close()


# --- Frame length ------------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [2**24 + 1, 2**31, 2**32 - 1])
async def test_a_length_prefix_over_max_frame_size_raises_frame_error_without_buffering_the_frame(
    client_and_peer: tuple, declared: int
) -> None:
    """A peer declaring a huge frame gets: FrameError naming the size at
    once (the read does not wait for, or buffer, the declared bytes); the
    prefix stays unread, so every later read_frame raises it again."""
    client, peer = client_and_peer
    await peer.send(declared.to_bytes(4, "big") + b"x" * 1000)
    for _ in range(2):
        with pytest.raises(tcpframe.FrameError, match=str(declared)):
            await within_timeout(client.read_frame())
    assert client.reader.buffered <= 4 + 1000


async def test_max_frame_size_bounds_what_a_frame_read_buffers(client_and_peer: tuple) -> None:
    """With ``max_frame_size`` set, a prefix over it gets FrameError, and
    a frame within it is read exactly."""
    client, peer = client_and_peer
    prefix = tcpframe.LengthPrefix(size=2, byteorder="little", max_frame_size=1024)
    await peer.send((1000).to_bytes(2, "little") + b"f" * 1000 + (1025).to_bytes(2, "little"))
    assert await within_timeout(client.read_frame(prefix)) == b"f" * 1000
    with pytest.raises(tcpframe.FrameError):
        await within_timeout(client.read_frame(prefix))


async def test_an_endless_checksummed_frame_raises_limit_overrun_and_buffering_stops_at_the_high_water_mark(
    client_and_peer: tuple, peer_transport: Transport
) -> None:
    client, peer = client_and_peer
    most_buffered = await flood_then_watch(client, peer, b"$GPGGA," + b"9" * (64 * MiB), client.read_checksummed)
    assert most_buffered <= DEFAULT_HIGH_WATER + peer_transport.most_one_receive
