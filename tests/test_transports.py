"""Everything tcpframe promises, over TCP, TLS and Unix sockets (SPEC §6).

Each test takes the ``transport`` fixture and runs once per transport, on
the stdlib loop and on uvloop, in both kernel modes. TLS uses a
certificate that `trustme` makes for the run (tests/transports.py);
Unix sockets live in a temporary folder.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import socket
import ssl
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.stream.reader import DEFAULT_HIGH_WATER
from transports import LOCALHOST, TlsCertificates, Transport

pytestmark = pytest.mark.all_event_loops

MiB = 2**20


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


SAMPLE_DTYPE = np.dtype([("sequence", "<u4"), ("value", "<f8")])
SHORT_PREFIX = tcpframe.LengthPrefix(size=2, byteorder="little")


def samples(count: int, start: int = 0) -> np.ndarray:
    records = np.zeros(count, dtype=SAMPLE_DTYPE)
    records["sequence"] = np.arange(start, start + count)
    records["value"] = records["sequence"] * 0.25
    return records


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What was logged at WARNING or above (asyncio's TLS layer included)."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
async def pair(
    connect_pair: typing.Callable, transport: Transport
) -> tuple[tcpframe.OneClientServer, tcpframe.Client]:
    """A OneClientServer and a Client connected to it over ``transport``."""
    return await connect_pair(transport=transport)


def ends(pair: tuple, direction: str) -> tuple[tcpframe.BaseClientOrServer, tcpframe.BaseClientOrServer]:
    """(sender, receiver) for ``direction``."""
    server, client = pair
    return (client, server) if direction == "client_to_server" else (server, client)


DIRECTIONS = ["client_to_server", "server_to_client"]


# --- Every read and write method ---------------------------------------------------


async def write_every_way(end: tcpframe.BaseClientOrServer) -> None:
    await end.write(b"raw:")
    await end.writelines([b"line one\n", b"until|"])
    await end.write_from(Sample(1, 0.5), Sample(2, 1.5))
    await end.write_str("text ✓")
    await end.write_json({"setpoint": [21.5, None]})
    await end.write_records(samples(3))
    await end.write_frame(b"frame payload")
    await end.write_frame(b"short", SHORT_PREFIX)
    await end.write_checksummed(b"GPGGA,1,2")
    for sequence in range(2):
        await end.write_str(f"iterated {sequence}")
        await end.write_json({"iterated": sequence})
        await end.write_from(Sample(sequence, 0))
        await end.write_frame(b"iterated %d" % sequence)
        await end.write_checksummed(b"ITER,%d" % sequence)
    await end.write(b"tail")


async def take(iterator: typing.AsyncIterator, count: int) -> list:
    items = []
    async for item in iterator:
        items.append(item)
        if len(items) == count:
            break
    return items


async def read_every_way(end: tcpframe.BaseClientOrServer) -> None:
    assert await end.readexactly(4) == b"raw:"
    assert await end.readline() == b"line one\n"
    assert await end.readuntil(b"|") == b"until|"
    first = Sample()
    await end.read_into(first)
    assert (first.sequence, first.value) == (1, 0.5)
    second = await end.read_records(Sample, 1)
    assert (second[0].sequence, second[0].value) == (2, 1.5)
    assert await end.read_str() == "text ✓"
    assert await end.read_json() == {"setpoint": [21.5, None]}
    records = np.empty(3, dtype=SAMPLE_DTYPE)
    await end.read_many_into(records)
    assert records.tobytes() == samples(3).tobytes()
    assert await end.read_frame() == b"frame payload"
    assert await end.read_frame(SHORT_PREFIX) == b"short"
    assert await end.read_checksummed() == b"GPGGA,1,2"
    for sequence in range(2):
        assert await take(end.iter_lines(), 1) == [f"iterated {sequence}"]
        assert await take(end.iter_json(), 1) == [{"iterated": sequence}]
        [struct] = await take(end.iter_structs(Sample), 1)
        assert struct.sequence == sequence
        assert await take(end.iter_frames(), 1) == [b"iterated %d" % sequence]
        assert await take(end.iter_checksummed(), 1) == [b"ITER,%d" % sequence]
    tail = b""
    while len(tail) < 4:
        tail += await end.read(4 - len(tail))
    assert tail == b"tail"


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_every_read_and_write_method_works_both_ways(pair: tuple, direction: str) -> None:
    sender, receiver = ends(pair, direction)
    async with asyncio.timeout(STD_TIMEOUT):
        await asyncio.gather(write_every_way(sender), read_every_way(receiver))
    assert sender.connected and receiver.connected


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_structs_and_frames_of_several_mib_arrive_intact(pair: tuple, direction: str) -> None:
    sender, receiver = ends(pair, direction)
    records = samples(6 * MiB // SAMPLE_DTYPE.itemsize, start=7)
    payload = bytes(range(251)) * (5 * MiB // 251)

    async def send() -> None:
        await sender.write_records(records)
        await sender.write_frame(payload)
        await sender.write_str("after")

    async def receive() -> None:
        received = np.empty_like(records)
        await receiver.read_many_into(received)
        assert received.tobytes() == records.tobytes()
        assert await receiver.read_frame() == payload
        assert await receiver.read_str() == "after"

    async with asyncio.timeout(4 * STD_TIMEOUT):
        await asyncio.gather(send(), receive())


# --- Bounded memory ----------------------------------------------------------------


async def test_a_fast_sender_against_a_reader_that_does_not_read_stays_bounded_and_loses_nothing(
    pair: tuple, transport: Transport
) -> None:
    """The server does not read: its receive buffer pauses the socket at
    the high-water mark (plus one receive), the client's writes wait in
    drain, and once the server reads, every byte is there."""
    server, client = pair
    chunk = bytes(range(256)) * 256  # 64 KiB
    written = 0

    async def write_fast() -> None:
        nonlocal written
        for _ in range(2000):  # bounded: 128 MiB, far more than any buffers hold
            written += len(chunk)  # cancelled or not, a write's bytes are handed on
            await client.write(chunk)

    write_task = asyncio.create_task(write_fast())
    most_buffered = 0
    for _ in range(300):  # 0.3 s in which the server reads nothing
        await asyncio.sleep(0.001)
        most_buffered = max(most_buffered, server.reader.buffered)
    assert not write_task.done(), "the sender was not held back"
    assert DEFAULT_HIGH_WATER <= most_buffered <= DEFAULT_HIGH_WATER + transport.most_one_receive
    write_task.cancel()
    await asyncio.gather(write_task, return_exceptions=True)
    async with asyncio.timeout(4 * STD_TIMEOUT):
        end_task = asyncio.create_task(client.write_str("end"))  # waits in drain until the server reads
        received = await server.readexactly(written)
        assert await server.read_str() == "end"
        await end_task
    assert received == chunk * (written // len(chunk))


# --- Cancelled reads -----------------------------------------------------------------


CANCELLED_READS: dict[str, tuple[typing.Callable, bytes, typing.Any]] = {
    "readexactly": (lambda end: end.readexactly(12), b"twelve bytes", b"twelve bytes"),
    "read_into": (lambda end: end.read_records(Sample, 1), bytes(Sample(5, 2.5)), bytes(Sample(5, 2.5))),
    "read_str": (lambda end: end.read_str(), "température ✓\r\n".encode(), "température ✓"),
    "read_frame": (lambda end: end.read_frame(), b"\x00\x00\x00\x05frame", b"frame"),
}


@pytest.mark.parametrize("kind", sorted(CANCELLED_READS))
async def test_a_read_cancelled_mid_message_loses_nothing(pair: tuple, kind: str) -> None:
    server, client = pair
    read, message, expected = CANCELLED_READS[kind]
    await server.write(message[:5])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(read(client), 0.05)
    await server.write(message[5:] + message)
    for _ in range(2):
        result = await asyncio.wait_for(read(client), STD_TIMEOUT)
        assert (bytes(result[0]) if kind == "read_into" else result) == expected
    assert client.connected


async def test_a_read_started_after_data_woke_another_read_is_not_left_waiting(pair: tuple) -> None:
    """The second read starts after the first read's bytes woke it, before
    it ran: each read gets its own bytes, and the second is woken by its own."""
    server, client = pair
    first = asyncio.create_task(client.readexactly(3))
    await asyncio.sleep(0.01)
    await server.write(b"abc")
    async with asyncio.timeout(STD_TIMEOUT):
        while client.reader.buffered < 3:
            await asyncio.sleep(0)
    assert not first.done()  # woken by its bytes, not run yet
    later = asyncio.create_task(server.write(b"defg"))
    async with asyncio.timeout(STD_TIMEOUT):
        assert await client.readexactly(4) == b"defg"
        assert await first == b"abc"
        await later


# --- Closing --------------------------------------------------------------------------


CLOSES = {
    "client.close": lambda server, client: client.close(),
    "server.close_client": lambda server, client: server.close_client(),
    "server.close": lambda server, client: server.close(),
}


@pytest.mark.parametrize("close", sorted(CLOSES))
async def test_a_clean_close_from_either_end_raises_nothing_and_logs_nothing_alarming(
    connect_pair: typing.Callable,
    transport: Transport,
    make_recorder: type,
    caplog: pytest.LogCaptureFixture,
    close: str,
) -> None:
    """One end closes, the other notices (its connect_callback says so) and
    closes too, after the peer has closed: nothing raises, and nothing at
    WARNING or above is logged, by tcpframe or by asyncio's TLS layer."""
    caplog.set_level(logging.DEBUG)
    client_recorder, server_recorder = make_recorder(), make_recorder()
    server, client = await connect_pair(
        transport=transport,
        server_kwargs={"connect_callback": server_recorder.callback},
        client_kwargs={"connect_callback": client_recorder.callback},
    )
    await client.write_str("hello")
    assert await server.read_str() == "hello"
    await server.write_str("hi")
    assert await client.read_str() == "hi"
    assert await client_recorder.next() is True
    assert await server_recorder.next() is True
    await asyncio.wait_for(CLOSES[close](server, client), STD_TIMEOUT)
    other_recorder = server_recorder if close == "client.close" else client_recorder
    assert await other_recorder.next() is False
    await asyncio.wait_for(client.close(), STD_TIMEOUT)
    await asyncio.wait_for(server.close(), STD_TIMEOUT)
    await asyncio.sleep(0.05)  # let the TLS shutdowns finish
    assert client_recorder.states == [True, False]
    assert server_recorder.states == [True, False]
    assert warnings_logged(caplog) == []


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_what_the_peer_sent_just_before_it_closed_is_all_readable(
    pair: tuple, direction: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Lines written just before the sender closes: the receiver stays
    connected (past its monitor interval) until it has read them all, as
    over TCP; then iteration ends and the receiver closes."""
    caplog.set_level(logging.DEBUG)
    sender, receiver = ends(pair, direction)
    lines = [f"line {i}" for i in range(3)]
    for line in lines:
        await sender.write_str(line)
    close = sender.close_client if isinstance(sender, tcpframe.OneClientServer) else sender.close
    await asyncio.wait_for(close(), STD_TIMEOUT)
    async with asyncio.timeout(STD_TIMEOUT):
        while not receiver.reader.eof_received:
            await asyncio.sleep(0.001)
    await asyncio.sleep(3 * receiver.monitor_connection_interval)
    assert receiver.connected
    assert await asyncio.wait_for(receiver.read_str(), STD_TIMEOUT) == lines[0]
    assert [line async for line in receiver.iter_lines()] == lines[1:]
    assert not receiver.connected
    with pytest.raises(ConnectionError, match="Not connected"):
        await receiver.read_str()
    assert warnings_logged(caplog) == []


@pytest.mark.parametrize("transport", ["tls"], indirect=True)
async def test_a_write_after_a_tls_peer_closed_raises_connection_error_and_its_bytes_stay_readable(
    pair: tuple,
) -> None:
    """TLS has no half-close: after the peer's close_notify nothing written
    can reach it, so writes raise, and nothing is lost by trying. (Over TCP
    and Unix sockets the write goes out, and the peer's reset may discard
    unread bytes: that is the kernel's doing.)"""
    server, client = pair
    await server.write_str("last words")
    await server.close_client()
    async with asyncio.timeout(STD_TIMEOUT):
        while not client.reader.eof_received:
            await asyncio.sleep(0.001)
    assert client.connected
    with pytest.raises(ConnectionError, match="the peer closed the connection"):
        await client.write_str("reply")
    assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "last words"
    assert not client.connected


@pytest.mark.parametrize("closing_end", ["client", "server"])
async def test_closing_while_the_peer_is_still_sending_raises_nothing(
    pair: tuple, closing_end: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The peer sends without pause; this end reads a little, then closes.
    Its close raises nothing (over TLS the shutdown is not clean, which
    close never raises for), the peer's writes end with ConnectionError, and
    nothing fatal is logged."""
    caplog.set_level(logging.DEBUG)
    server, client = pair
    closer, sender = (client, server) if closing_end == "client" else (server, client)

    async def send_forever() -> None:
        for _ in range(100_000):
            await sender.write(b"x" * 10_000)
            # A producer that lets the loop run: a loop that never yields
            # cannot learn that the connection is gone (nor can one on
            # asyncio streams), as writes that need no drain never wait.
            await asyncio.sleep(0)

    send_task = asyncio.create_task(send_forever())
    assert await asyncio.wait_for(closer.readexactly(50_000), STD_TIMEOUT) == b"x" * 50_000
    close = closer.close_client if closing_end == "server" else closer.close
    await asyncio.wait_for(close(), STD_TIMEOUT)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(send_task, STD_TIMEOUT)
    await asyncio.wait_for(sender.close(), STD_TIMEOUT)
    await asyncio.sleep(0.05)
    assert warnings_logged(caplog) == []


async def test_writes_after_the_connection_is_lost_are_dropped_on_every_loop_and_drain_raises(pair: tuple) -> None:
    """uvloop's transports raise RuntimeError on a write after the loss,
    the stdlib loop's drop it: a FrameWriter drops it on both, with what
    was pending, and drain says the connection is gone."""
    _, client = pair
    writer = client.writer
    writer.write(b"sent")
    writer.write(b"pending")  # coalesced: waits for the next flush point
    writer.transport.abort()
    await asyncio.wait_for(writer.wait_closed(), STD_TIMEOUT)
    writer.write(b"late")
    writer.write(b"x" * 2 * tcpframe.stream.writer.FLUSH_SIZE)
    writer.write_structs([Sample(1, 1.0)])
    writer.flush()
    with pytest.raises(ConnectionError):
        await writer.drain()


# --- Socket options and certificates -----------------------------------------------------


async def test_keepalive_is_set_on_tcp_sockets_and_no_tcp_option_on_unix_sockets(
    pair: tuple, transport: Transport
) -> None:
    server, client = pair
    for end in (server, client):
        sock = end.writer.get_extra_info("socket")
        await tcpframe.set_socket_options(end.writer)  # again: never raises
        keepalive = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        assert keepalive == (0 if transport.name == "unix" else 1)
        if transport.name != "unix":
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == tcpframe.KEEPALIVE_INTERVAL


@pytest.mark.parametrize(
    "client_context, match",
    [
        (lambda certificates: ssl.create_default_context(), "certificate verify failed"),
        (lambda certificates: TlsCertificates().context(server_side=False), "certificate verify failed"),
        (lambda certificates: certificates.context(server_side=False), "Hostname mismatch|doesn't match"),
    ],
    ids=["system-trust", "another-authority", "wrong-hostname"],
)
async def test_a_certificate_the_client_rejects_fails_start_clearly_and_the_server_serves_the_next(
    log: logging.Logger, tls_certificates: TlsCertificates, client_context: typing.Callable, match: str
) -> None:
    server = tcpframe.OneClientServer(LOCALHOST, 0, log, ssl=tls_certificates.context(server_side=True))
    try:
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        hostname = "wrong.example" if "Hostname" in match else None
        rejecting = tcpframe.Client(
            LOCALHOST, server.port, log, ssl=client_context(tls_certificates), server_hostname=hostname
        )
        with pytest.raises(ssl.SSLCertVerificationError, match=match):
            await asyncio.wait_for(rejecting.start_task, STD_TIMEOUT)
        assert not rejecting.connected
        await rejecting.close()
        async with tcpframe.Client(
            LOCALHOST, server.port, log, ssl=tls_certificates.context(server_side=False)
        ) as client:
            await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
            await client.write_str("trusted")
            assert await asyncio.wait_for(server.read_str(), STD_TIMEOUT) == "trusted"
    finally:
        await server.close()
