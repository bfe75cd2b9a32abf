"""Hardening: tcpframe clients and servers against an adversarial peer.

The peer is a raw non-blocking socket (`raw_peer.RawPeer`) on 127.0.0.1,
over plain TCP and over TLS (the ``peer_transport`` fixture), that sends
garbage, overlong lines, one byte at a time, undecodable text and invalid
JSON, closes or resets the connection at the worst moment, half-closes
it, or crowds in as a second and third client. Each test says
what the malformed input gets; in every case no byte is lost, nothing
hangs (every wait is bounded) and the connection, or the next one, is
still usable.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import random
import socket
import ssl
import time
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from raw_peer import LOCALHOST, RawListener, RawPeer, within_timeout
from transports import Transport

# A write loop stops after this many writes: enough to fill any socket buffers
# many times over, so a loop that never blocks fails its test instead of hanging it.
MAX_WRITES = 1000

LIMIT = 2**16  # the default line limit, as for asyncio streams


class Telemetry(ctypes.Structure):
    """A 24-byte packed telemetry struct."""

    _pack_ = 1
    _fields_ = [
        ("sequence", ctypes.c_uint32),
        ("timestamp", ctypes.c_double),
        ("values", ctypes.c_float * 3),
    ]


def telemetry(sequence: int) -> Telemetry:
    return Telemetry(sequence, sequence * 0.25, (sequence, -sequence, 0.5))


assert ctypes.sizeof(Telemetry) == 24


TCP_ONLY = pytest.mark.parametrize("peer_transport", ["tcp"], indirect=True)


@pytest.fixture
async def connect_client(
    log: logging.Logger, make_recorder: type, peer_transport: Transport
) -> typing.AsyncIterator[typing.Callable[..., typing.Awaitable[tuple]]]:
    """Return ``await connect_client(**client_kwargs)``: ``(client, peer, recorder)``.

    ``client`` is a `tcpframe.Client` connected to ``peer``, the server end
    as a `RawPeer`; ``recorder`` records its connect callbacks (the first,
    True, already consumed). Everything is closed at teardown.
    """
    clients: list[tcpframe.Client] = []
    sockets: list[RawListener | RawPeer] = []

    async def connect(**client_kwargs: typing.Any) -> tuple:
        listener = RawListener(peer_transport.peer_context(server_side=True))
        sockets.append(listener)
        recorder = make_recorder()
        client = tcpframe.Client(
            log=log, connect_callback=recorder.callback, **peer_transport.client_kwargs(listener), **client_kwargs
        )
        clients.append(client)
        peer = await listener.accept()
        sockets.append(peer)
        await within_timeout(client.start_task)
        assert await recorder.next() is True
        return client, peer, recorder

    yield connect
    # The peers first: a TLS client's close waits for its peer's close_notify.
    for sock in sockets:
        sock.close()
    for client in clients:
        await within_timeout(client.close())


@pytest.fixture
async def make_server(
    log: logging.Logger, peer_transport: Transport
) -> typing.AsyncIterator[typing.Callable[..., typing.Awaitable]]:
    """Return ``await make_server(server_class=OneClientServer, **kwargs)``:
    a started server on a free port of 127.0.0.1, closed at teardown."""
    servers: list[tcpframe.OneClientServer] = []

    async def make(server_class: type = tcpframe.OneClientServer, **kwargs: typing.Any) -> typing.Any:
        server = server_class(log=log, **peer_transport.server_kwargs(), **kwargs)
        servers.append(server)
        await within_timeout(server.start_task)
        return server

    yield make
    for server in servers:
        await within_timeout(server.close())


@pytest.fixture
async def connect_peer(
    peer_transport: Transport,
) -> typing.AsyncIterator[typing.Callable[..., typing.Awaitable[RawPeer]]]:
    """Return ``await connect_peer(server, wait_connected=True)``: a `RawPeer`
    connected to ``server``; closed at teardown."""
    peers: list[RawPeer] = []

    async def connect(server: tcpframe.OneClientServer, wait_connected: bool = True) -> RawPeer:
        peer = await RawPeer.connect(server.port, tls=peer_transport.peer_context(server_side=False))
        peers.append(peer)
        if wait_connected:
            await within_timeout(server.connected_task)
        return peer

    yield connect
    for peer in peers:
        peer.close()


async def wait_until(predicate: typing.Callable[[], bool], timeout: float = STD_TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


# --- Random garbage -------------------------------------------------------------


async def test_random_garbage_comes_out_of_any_mix_of_client_reads_byte_for_byte(
    connect_client: typing.Callable,
) -> None:
    """Garbage gets: returned intact, in order, whichever reads take it."""
    client, peer, _ = await connect_client()
    rng = random.Random(20240601)
    garbage = rng.randbytes(512 * 1024)
    send_task = asyncio.create_task(peer.send(garbage))
    received = bytearray()
    while len(received) < len(garbage):
        remaining = len(garbage) - len(received)
        kind = rng.randrange(4)
        if kind == 0:
            received += await within_timeout(client.readexactly(min(remaining, rng.randrange(1, 9000))))
        elif kind == 1:
            received += await within_timeout(client.read(rng.randrange(1, 9000)))
        elif kind == 2:
            struct = bytearray(min(remaining, rng.randrange(1, 100)))
            await within_timeout(client.read_into(struct))
            received += struct
        else:
            # A separator known to come within 1000 bytes, so the read cannot wait forever.
            ahead = len(received) + rng.randrange(min(remaining, 1000))
            separator = garbage[ahead : ahead + rng.randrange(1, 4)]
            received += await within_timeout(client.readuntil(separator))
    await within_timeout(send_task)
    assert received == garbage
    assert client.connected


async def test_random_garbage_lines_through_read_str_are_text_decode_errors_or_overruns_and_lose_nothing(
    connect_client: typing.Callable,
) -> None:
    """Random lines get: text; UnicodeDecodeError (the line is consumed and
    the error holds its bytes); or LimitOverrunError (nothing consumed, the
    bytes are read with readexactly). Put together: every byte sent."""
    client, peer, _ = await connect_client()
    rng = random.Random(99)
    # Random bytes, with a terminator now and then; some runs are longer than the limit.
    pieces = []
    for _ in range(60):
        pieces.append(rng.randbytes(rng.choice([0, 1, 10, 300, 5000, LIMIT + 500])))
        pieces.append(b"\r\n")
    garbage = b"".join(pieces)
    send_task = asyncio.create_task(peer.send(garbage))
    received = bytearray()
    outcomes = set()
    while len(received) < len(garbage):
        try:
            text = await within_timeout(client.read_str())
        except UnicodeDecodeError as e:
            outcomes.add("UnicodeDecodeError")
            received += e.object + b"\r\n"
        except asyncio.LimitOverrunError as e:
            outcomes.add("LimitOverrunError")
            received += await within_timeout(client.readexactly(e.consumed))
        else:
            outcomes.add("text")
            received += text.encode() + b"\r\n"
    await within_timeout(send_task)
    assert received == garbage
    assert outcomes == {"text", "UnicodeDecodeError", "LimitOverrunError"}
    assert client.connected


async def test_random_garbage_makes_a_read_loop_server_drop_that_client_and_serve_the_next(
    make_server: typing.Callable, connect_peer: typing.Callable, log: logging.Logger, peer_transport: Transport
) -> None:
    """Garbage gets: the read loop's UnicodeDecodeError is logged and the
    client is disconnected; the server serves the next client."""
    server = await make_server(tcpframe.TestOneClientReadLoopServer)
    peer = await connect_peer(server)
    await peer.send(b"\xff\xfe\x00garbage" + random.Random(1).randbytes(3000) + b"\r\n")
    assert await peer.recv_until_eof() == b""
    await wait_until(lambda: not server.connected)
    async with tcpframe.Client(log=log, **peer_transport.client_kwargs(server)) as client:
        await within_timeout(server.connected_task)
        await client.write_str("hello after garbage")
        assert await server.get_next_data() == "hello after garbage"


# --- Lines over the limit ---------------------------------------------------------


@pytest.mark.all_event_loops
async def test_a_line_over_the_limit_raises_limit_overrun_keeps_the_data_and_the_stream_goes_on(
    connect_client: typing.Callable,
) -> None:
    """An overlong line gets: LimitOverrunError from read_str, nothing
    consumed; readexactly then returns the whole line and read_str the next."""
    client, peer, _ = await connect_client()
    long_line = bytes(range(33, 127)) * 1100 + b"\r\n"  # ~100 kB, over the 64 KiB limit
    send_task = asyncio.create_task(peer.send(long_line + b"next\r\n"))
    with pytest.raises(asyncio.LimitOverrunError):
        await within_timeout(client.read_str())
    assert client.connected
    assert await within_timeout(client.readexactly(len(long_line))) == long_line
    assert await within_timeout(client.read_str()) == "next"
    await within_timeout(send_task)


async def test_an_unterminated_flood_raises_limit_overrun_while_waiting_and_keeps_the_data(
    connect_client: typing.Callable,
) -> None:
    """A line with no terminator yet gets: LimitOverrunError as soon as more
    than the limit is buffered (the read does not wait for the terminator);
    the bytes stay buffered."""
    client, peer, _ = await connect_client()
    read_task = asyncio.create_task(client.read_str())
    await asyncio.sleep(0.01)
    flood = b"z" * (LIMIT + 10)
    await peer.send(flood)
    with pytest.raises(asyncio.LimitOverrunError):
        await within_timeout(read_task)
    await peer.send(b"\r\nafter\r\n")
    assert await within_timeout(client.readexactly(len(flood) + 2)) == flood + b"\r\n"
    assert await within_timeout(client.read_str()) == "after"


async def test_json_over_the_limit_raises_limit_overrun_and_the_document_can_still_be_read(
    connect_client: typing.Callable,
) -> None:
    """An oversized JSON message gets: LimitOverrunError from read_json (the
    same line limit as read_str), nothing consumed."""
    client, peer, _ = await connect_client()
    document = {"values": list(range(20000))}  # ~130 kB of JSON
    line = json.dumps(document).encode() + b"\r\n"
    send_task = asyncio.create_task(peer.send(line + b'{"small": true}\r\n'))
    with pytest.raises(asyncio.LimitOverrunError):
        await within_timeout(client.read_json())
    assert json.loads(await within_timeout(client.readexactly(len(line)))) == document
    assert await within_timeout(client.read_json()) == {"small": True}
    await within_timeout(send_task)


async def test_an_overlong_line_makes_a_read_loop_server_drop_that_client(
    make_server: typing.Callable, connect_peer: typing.Callable
) -> None:
    """An overlong line to a read loop server gets: LimitOverrunError in the
    read loop, logged, and the client is disconnected (so it cannot make the
    server buffer more)."""
    server = await make_server(tcpframe.TestOneClientReadLoopServer)
    peer = await connect_peer(server)
    await peer.send(b"ok\r\n")
    assert await server.get_next_data() == "ok"
    send_task = asyncio.create_task(peer.send(b"y" * (4 * LIMIT)))
    assert await peer.recv_until_eof() == b""
    await wait_until(lambda: not server.connected)
    send_task.cancel()
    await asyncio.gather(send_task, return_exceptions=True)
    assert server.data_queue.empty()


# --- One byte at a time -------------------------------------------------------------


@pytest.mark.all_event_loops
async def test_frames_sent_one_byte_at_a_time_are_read_exactly(connect_client: typing.Callable) -> None:
    """Frames split into 1-byte sends (with delays, multibyte UTF-8
    characters split too) get: exactly the frames from read_into,
    read_str, read_json and readexactly."""
    client, peer, _ = await connect_client()
    stream = bytearray()
    for sequence in range(3):
        stream += bytes(telemetry(sequence))
        stream += f"line {sequence} ✓ é\r\n".encode()
        stream += json.dumps({"sequence": sequence, "unit": "°C"}).encode() + b"\r\n"
        stream += b"TAIL"
    send_task = asyncio.create_task(peer.send_bytewise(bytes(stream), delay=0.0005))
    for sequence in range(3):
        struct = Telemetry()
        await within_timeout(client.read_into(struct))
        assert bytes(struct) == bytes(telemetry(sequence))
        assert await within_timeout(client.read_str()) == f"line {sequence} ✓ é"
        assert await within_timeout(client.read_json()) == {"sequence": sequence, "unit": "°C"}
        assert await within_timeout(client.readexactly(4)) == b"TAIL"
    await within_timeout(send_task)


async def test_a_read_loop_server_reads_lines_sent_one_byte_at_a_time(
    make_server: typing.Callable, connect_peer: typing.Callable
) -> None:
    """1-byte sends to a read loop server get: each line, exactly once."""
    server = await make_server(tcpframe.TestOneClientReadLoopServer)
    peer = await connect_peer(server)
    await peer.send_bytewise("first ✓\r\nsecond\r\n".encode(), delay=0.0005)
    assert await server.get_next_data() == "first ✓"
    assert await server.get_next_data() == "second"


# --- Peer closing mid-frame -----------------------------------------------------------


@pytest.mark.parametrize("read", ["read_into", "readexactly", "read_str"])
async def test_peer_closing_mid_frame_raises_incomplete_read_with_exactly_the_bytes_sent(
    connect_client: typing.Callable, read: str
) -> None:
    """A frame cut short by the peer's close gets: IncompleteReadError whose
    ``partial`` is exactly the bytes sent; the client closes and calls back
    before the error propagates."""
    client, peer, recorder = await connect_client(monitor_connection_interval=0)
    whole = bytes(telemetry(7))
    await peer.send(whole)
    sent = whole[:10]
    await peer.send(sent)
    first = Telemetry()
    await within_timeout(client.read_into(first))
    assert bytes(first) == whole
    read_task = asyncio.create_task(
        {
            "read_into": lambda: client.read_into(Telemetry()),
            "readexactly": lambda: client.readexactly(24),
            "read_str": client.read_str,
        }[read]()
    )
    await asyncio.sleep(0.01)
    assert not read_task.done()
    peer.close()
    with pytest.raises(asyncio.IncompleteReadError) as error:
        await within_timeout(read_task)
    assert error.value.partial == sent
    assert error.value.expected == (None if read == "read_str" else 24)
    assert recorder.states == [True, False]
    assert not client.connected
    await within_timeout(client.done_task)
    with pytest.raises(ConnectionError, match="Not connected"):
        await client.readexactly(1)


async def test_peer_closing_mid_struct_sent_bytewise_gives_the_server_the_partial_struct(
    make_server: typing.Callable, connect_peer: typing.Callable, make_recorder: type
) -> None:
    """A struct cut short, sent 1 byte at a time, gets: IncompleteReadError
    at the server with exactly those bytes; the server calls back, then
    serves the next client."""
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback, monitor_connection_interval=0)
    peer = await connect_peer(server)
    assert await recorder.next() is True
    sent = bytes(telemetry(3))[:17]
    read_task = asyncio.create_task(server.read_into(Telemetry()))
    await peer.send_bytewise(sent)
    peer.close()
    with pytest.raises(asyncio.IncompleteReadError) as error:
        await within_timeout(read_task)
    assert error.value.partial == sent
    assert recorder.states == [True, False]
    second = await connect_peer(server)
    await second.send(bytes(telemetry(4)))
    struct = Telemetry()
    await within_timeout(server.read_into(struct))
    assert bytes(struct) == bytes(telemetry(4))


# --- Peer reset (RST) -------------------------------------------------------------------


@pytest.mark.all_event_loops
async def test_peer_reset_during_a_blocked_read_raises_connection_error_and_calls_back(
    connect_client: typing.Callable,
) -> None:
    """A reset during a blocked read gets: ConnectionError (no hang); the
    client calls back with connected False and refuses further calls."""
    client, peer, recorder = await connect_client()
    read_task = asyncio.create_task(client.read_into(Telemetry()))
    await peer.send(b"0123456789")  # part of a struct
    await asyncio.sleep(0.02)
    assert not read_task.done()
    peer.reset()
    with pytest.raises(ConnectionError):
        await within_timeout(read_task)
    assert await recorder.next() is False
    assert not client.connected
    await within_timeout(client.done_task)
    with pytest.raises(ConnectionError, match="Not connected"):
        await client.write(b"x")


@pytest.mark.all_event_loops
async def test_peer_reset_while_a_write_waits_for_drain_raises_connection_error_and_calls_back(
    connect_client: typing.Callable,
) -> None:
    """A reset while writes are blocked (the peer stopped reading) gets:
    ConnectionError from the waiting write (no hang), and a callback."""
    client, peer, recorder = await connect_client()
    client.writer.transport.set_write_buffer_limits(high=2**16)
    chunk = b"w" * 2**16

    async def write_forever() -> None:
        for _ in range(MAX_WRITES):  # bounded: if writes never blocked, the test must fail, not hang
            await client.write(chunk)

    write_task = asyncio.create_task(write_forever())
    await wait_until(lambda: not client.writer.ready)
    await asyncio.sleep(0.02)
    assert not write_task.done()
    peer.reset()
    with pytest.raises(ConnectionError):
        await within_timeout(write_task)
    assert await recorder.next() is False
    assert not client.connected


@pytest.mark.parametrize("peer_transport", ["tls"], indirect=True)
@pytest.mark.all_event_loops
async def test_a_tls_peer_that_vanishes_without_close_notify_ends_a_blocked_read_as_a_tcp_close_does(
    connect_client: typing.Callable,
) -> None:
    """A TLS peer that closes its socket without close_notify gets what a
    TCP close gets (asyncio's TLS layer reports the end of the stream as
    EOF): IncompleteReadError with exactly the bytes sent, never a hang;
    the client calls back and refuses further calls."""
    client, peer, recorder = await connect_client()
    read_task = asyncio.create_task(client.read_into(Telemetry()))
    await peer.send(b"0123456789")  # part of a struct
    await asyncio.sleep(0.02)
    assert not read_task.done()
    peer.sock.close()  # no close_notify
    with pytest.raises(asyncio.IncompleteReadError) as error:
        await within_timeout(read_task)
    assert error.value.partial == b"0123456789"
    assert await recorder.next() is False
    assert not client.connected
    with pytest.raises(ConnectionError, match="Not connected"):
        await client.write(b"x")


@pytest.mark.parametrize("peer_transport", ["tls"], indirect=True)
@pytest.mark.all_event_loops
async def test_bytes_that_are_not_tls_records_end_a_blocked_read_with_ssl_error_and_call_back(
    connect_client: typing.Callable,
) -> None:
    """Garbage where TLS records should be (under the TLS layer) gets:
    ssl.SSLError from the blocked read, after the client closed and called
    back, as for any lost connection; writes raise ConnectionError."""
    client, peer, recorder = await connect_client()
    read_task = asyncio.create_task(client.read_str())
    await asyncio.sleep(0.02)
    await within_timeout(peer.loop.sock_sendall(peer.sock, random.Random(5).randbytes(2000)))
    with pytest.raises(ssl.SSLError):
        await within_timeout(read_task)
    assert recorder.states == [True, False]
    assert not client.connected
    with pytest.raises(ConnectionError, match="Not connected"):
        await client.write(b"x")


async def test_client_reset_during_a_server_read_and_write_lets_the_server_serve_the_next_client(
    make_server: typing.Callable, connect_peer: typing.Callable, make_recorder: type
) -> None:
    """A client's reset gets: ConnectionError from the server's blocked read
    and from its writes, a callback, and the next client is served."""
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback)
    peer = await connect_peer(server)
    assert await recorder.next() is True
    read_task = asyncio.create_task(server.readexactly(100))
    await peer.send(b"partial")
    await asyncio.sleep(0.02)
    peer.reset()
    with pytest.raises(ConnectionError):
        await within_timeout(read_task)
    assert await recorder.next() is False
    with pytest.raises(ConnectionError):
        await server.write(b"too late")

    peer = await connect_peer(server)
    assert await recorder.next() is True
    server.writer.transport.set_write_buffer_limits(high=2**16)

    async def write_forever() -> None:
        for _ in range(MAX_WRITES):  # bounded: if writes never blocked, the test must fail, not hang
            await server.write(b"s" * 2**16)

    write_task = asyncio.create_task(write_forever())
    await wait_until(lambda: not server.writer.ready)
    peer.reset()
    with pytest.raises(ConnectionError):
        await within_timeout(write_task)
    assert await recorder.next() is False
    third = await connect_peer(server)
    await third.send(b"still serving\r\n")
    assert await within_timeout(server.read_str()) == "still serving"


# --- Half-close -------------------------------------------------------------------------


@TCP_ONLY  # TLS has no half-close
@pytest.mark.all_event_loops
async def test_peer_half_close_gives_reads_eof_while_writes_still_reach_the_peer(
    connect_client: typing.Callable,
) -> None:
    """A peer's shutdown(SHUT_WR) gets: the bytes sent before it, then EOF
    semantics; while unread bytes remain the client stays connected (also
    past its monitor interval) and its writes reach the peer. Reading past
    the last byte closes the client, as lsst.ts.tcpip does."""
    client, peer, recorder = await connect_client(monitor_connection_interval=0.05)
    await peer.send(b"last words\r\nunterminated")
    peer.shutdown_write()
    await wait_until(lambda: client.reader.eof_received)
    await asyncio.sleep(0.15)
    assert client.connected
    await client.write_str("reply")
    assert await peer.recv_exactly(7) == b"reply\r\n"
    assert await within_timeout(client.read_str()) == "last words"
    with pytest.raises(asyncio.IncompleteReadError) as error:
        await within_timeout(client.read_str())
    assert error.value.partial == b"unterminated"
    assert recorder.states == [True, False]
    assert await peer.recv_until_eof() == b""  # the client closed its end


async def test_half_close_on_raw_frame_streams_keeps_the_write_side_open(log: logging.Logger) -> None:
    """On `tcpframe.open_connection` streams a half-close gets: read(-1)
    returns everything then b"", readexactly raises IncompleteReadError with
    an empty partial, and writes still reach the peer."""
    listener = RawListener()
    reader, writer = await within_timeout(tcpframe.open_connection(LOCALHOST, listener.port))
    peer = await listener.accept()
    try:
        await peer.send(b"abc")
        peer.shutdown_write()
        assert await within_timeout(reader.read()) == b"abc"
        assert reader.at_eof()
        assert await reader.read(10) == b""
        with pytest.raises(asyncio.IncompleteReadError) as error:
            await reader.readexactly(1)
        assert error.value.partial == b""
        writer.write(b"still here")
        await within_timeout(writer.drain())
        assert not writer.is_closing()
        assert await peer.recv_exactly(10) == b"still here"
        await within_timeout(tcpframe.close_stream_writer(writer))
        assert await peer.recv_until_eof() == b""
    finally:
        peer.close()
        listener.close()


@TCP_ONLY  # TLS has no half-close
async def test_client_half_close_lets_the_server_reply_before_reading_then_closes(
    make_server: typing.Callable, connect_peer: typing.Callable, make_recorder: type
) -> None:
    """A client's half-close gets, at a OneClientServer: the request; a
    reply written before the server reads to EOF reaches the client; the
    read at EOF closes the client and calls back."""
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback, monitor_connection_interval=0)
    peer = await connect_peer(server)
    assert await recorder.next() is True
    await peer.send(b"request\r\n")
    peer.shutdown_write()
    await wait_until(lambda: server.reader.eof_received)
    await server.write_str("early reply")
    assert await within_timeout(server.read_str()) == "request"
    with pytest.raises(ConnectionError, match="Not connected"):
        await server.read_str()
    assert recorder.states == [True, False]
    assert await peer.recv_until_eof() == b"early reply\r\n"


# --- Undecodable text and invalid JSON --------------------------------------------------


@pytest.mark.parametrize(
    "bad_line",
    [b"\xff", b"caf\xc3", b"\xed\xa0\x80 surrogate", b"trunc \xe2\x82", b"\x80continuation"],
    ids=["ff", "truncated-2-byte", "surrogate", "truncated-3-byte", "lone-continuation"],
)
async def test_invalid_utf8_raises_unicode_decode_error_and_the_next_line_is_readable(
    connect_client: typing.Callable, bad_line: bytes
) -> None:
    """Invalid UTF-8 gets: UnicodeDecodeError holding the line's bytes (the
    line is consumed); the next line reads normally."""
    client, peer, _ = await connect_client()
    await peer.send(bad_line + b"\r\n" + "next ✓\r\n".encode())
    with pytest.raises(UnicodeDecodeError) as error:
        await within_timeout(client.read_str())
    assert error.value.object == bad_line
    assert await within_timeout(client.read_str()) == "next ✓"
    assert client.connected


@pytest.mark.parametrize(
    "bad_json",
    ['{"a": 1,', '{"a": 1} trailing', "", "{'single': 1}", "[1, 2", "tru", '"unterminated'],
)
async def test_invalid_json_raises_json_decode_error_naming_the_text_and_the_next_line_is_readable(
    connect_client: typing.Callable, bad_json: str
) -> None:
    """Invalid JSON gets: json.JSONDecodeError whose message contains the
    text (the line is consumed); the next message decodes normally."""
    client, peer, _ = await connect_client()
    await peer.send(bad_json.encode() + b'\r\n{"ok": true}\r\n')
    with pytest.raises(json.JSONDecodeError) as error:
        await within_timeout(client.read_json())
    assert repr(bad_json) in str(error.value)
    assert await within_timeout(client.read_json()) == {"ok": True}


async def test_json_nested_too_deeply_raises_recursion_error_and_the_next_line_is_readable(
    connect_client: typing.Callable,
) -> None:
    """JSON nested 50,000 deep (within the line limit) gets: RecursionError
    from the json module's nesting guard, not a crash; the line is consumed
    and the next message decodes normally."""
    client, peer, _ = await connect_client()
    await peer.send(b"[" * 50_000 + b'\r\n{"ok": true}\r\n')
    with pytest.raises(RecursionError):
        await within_timeout(client.read_json())
    assert await within_timeout(client.read_json()) == {"ok": True}


# --- More clients than one ----------------------------------------------------------------


@pytest.mark.parametrize("server_class", [tcpframe.OneClientServer, tcpframe.TestOneClientReadLoopServer])
async def test_a_second_and_third_client_are_turned_away_while_the_first_keeps_working(
    make_server: typing.Callable, connect_peer: typing.Callable, make_recorder: type, server_class: type
) -> None:
    """A second and a third client get: disconnected at once (EOF or reset,
    nothing sent to them) and their data ignored; the first client's
    traffic goes on in both directions and no callback reports a change."""
    recorder = make_recorder()
    server = await make_server(server_class, connect_callback=recorder.callback)
    first = await connect_peer(server)
    assert await recorder.next() is True
    second, third = await asyncio.gather(
        connect_peer(server, wait_connected=False), connect_peer(server, wait_connected=False)
    )
    await asyncio.gather(second.send(b"intruder 2\r\n"), third.send(b"intruder 3\r\n"))
    assert await second.recv_until_eof() == b""
    assert await third.recv_until_eof() == b""

    await first.send(b"from first\r\n")
    if server_class is tcpframe.TestOneClientReadLoopServer:
        assert await server.get_next_data() == "from first"
        assert server.data_queue.empty()
    else:
        assert await within_timeout(server.read_str()) == "from first"
    await server.write_str("to first")
    assert await first.recv_exactly(10) == b"to first\r\n"
    assert server.connected
    assert recorder.states == [True]


# --- A peer that stops reading, at close time --------------------------------------------


@pytest.fixture
def short_close_timeouts(monkeypatch: pytest.MonkeyPatch, peer_transport: Transport) -> dict[str, float]:
    """Make closing give up on a stalled peer after SHORT_CLOSE_TIMEOUT s:
    close_stream_writer over TCP (not after 5 s), and the TLS shutdown
    over TLS (not after 30 s) if the returned keyword arguments are passed
    to the client or server."""
    monkeypatch.setattr(tcpframe.utils, "CLOSE_STALL_TIMEOUT", SHORT_CLOSE_TIMEOUT)
    return {"ssl_shutdown_timeout": SHORT_CLOSE_TIMEOUT} if peer_transport.tls else {}


SHORT_CLOSE_TIMEOUT = 0.2


async def write_until_blocked(end: tcpframe.BaseClientOrServer) -> tuple[asyncio.Task, bytearray]:
    """Write numbered 64 KiB chunks until a write waits in drain; return the
    blocked task and every byte handed to the writer."""
    end.writer.transport.set_write_buffer_limits(high=2**16)
    written = bytearray()

    async def write_forever() -> None:
        number = 0
        for _ in range(MAX_WRITES):  # bounded: if writes never blocked, the test must fail, not hang
            number += 1
            chunk = bytes([number % 251]) * 2**16
            written.extend(chunk)
            await end.write(chunk)

    task = asyncio.create_task(write_forever())
    await wait_until(lambda: not end.writer.ready)
    await asyncio.sleep(0.02)
    assert not task.done()
    return task, written


@pytest.mark.all_event_loops
async def test_closing_a_client_whose_peer_stopped_reading_aborts_instead_of_hanging(
    connect_client: typing.Callable, short_close_timeouts: dict
) -> None:
    """A peer that stops reading while we have bytes unsent gets: close()
    still returns (after the peer accepted nothing for CLOSE_STALL_TIMEOUT
    s, or over TLS when the TLS shutdown times out, the connection is
    aborted and the unsent bytes dropped), the callback reports the
    disconnect, and what the peer does get is a prefix of what was written."""
    client, peer, recorder = await connect_client(**short_close_timeouts)
    write_task, written = await write_until_blocked(client)
    await within_timeout(client.close(), timeout=3)
    assert recorder.states == [True, False]
    assert client.writer.transport.is_closing()
    with pytest.raises(ConnectionError):
        await within_timeout(write_task)
    received = await peer.recv_until_eof()
    assert written.startswith(received)


async def test_a_server_closing_a_client_that_stopped_reading_does_not_hang_and_serves_the_next(
    make_server: typing.Callable, connect_peer: typing.Callable, short_close_timeouts: dict
) -> None:
    """A client that stops reading gets: close_client() returns, so the
    server (e.g. its heartbeat monitor) is not stuck and serves the next client."""
    server = await make_server(**short_close_timeouts)
    await connect_peer(server)
    write_task, _ = await write_until_blocked(server)
    await within_timeout(server.close_client(), timeout=3)
    with pytest.raises(ConnectionError):
        await within_timeout(write_task)
    second = await connect_peer(server)
    await second.send(b"next client\r\n")
    assert await within_timeout(server.read_str()) == "next client"


async def test_closing_still_delivers_every_byte_to_a_slow_but_steady_reader(
    connect_client: typing.Callable, short_close_timeouts: dict, peer_transport: Transport
) -> None:
    """A peer that reads slowly but keeps reading gets: every byte written
    before close(), then EOF; close() waits for that instead of aborting."""
    client, peer, _ = await connect_client()
    data = bytes(range(251)) * (128 * 2**16 // 251)  # ~8 MiB
    client.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2**16)
    client.writer.write(data)
    await asyncio.sleep(0.01)
    # Close has bytes to wait for. (asyncio's TLS transport counts only
    # what it has not yet handed to the TCP transport below it.)
    assert client.writer.transport.get_write_buffer_size() > 0 or peer_transport.tls
    close_task = asyncio.create_task(client.close())
    started = time.monotonic()
    received = bytearray()
    async with asyncio.timeout(10):
        while chunk := await peer.recv_some(2**16):
            received += chunk
            await asyncio.sleep(0.005)  # slower than the writer, but steady
    assert received == data
    await within_timeout(close_task)
    # The close outlasted several stall timeouts: progress kept it waiting.
    assert time.monotonic() - started > 2 * SHORT_CLOSE_TIMEOUT


# --- Checksummed frames ------------------------------------------------------------------------


async def test_corrupt_checksummed_frames_raise_and_the_next_good_frame_is_read(
    connect_client: typing.Callable,
) -> None:
    """Corrupt NMEA frames get: ChecksumMismatchError naming the expected and
    received checksums, or FrameError for a frame with no start marker,
    separator or hex digits; each bad frame is consumed and the next good
    frame reads normally."""
    client, peer, _ = await connect_client()

    def nmea(body: bytes) -> bytes:
        return b"$" + body + b"*" + tcpframe.checksums.format_hex2(tcpframe.checksums.xor8(body)).encode() + b"\r\n"

    good = nmea(b"GPGGA,1,2,3")
    wrong_checksum = b"$GPGGA,1,2,3*00\r\n"
    expected_digits = tcpframe.checksums.format_hex2(tcpframe.checksums.xor8(b"GPGGA,1,2,3"))
    await peer.send(wrong_checksum + b"GPGGA,no start*00\r\n" + b"$GPGGA no separator\r\n" + b"$GP*zz\r\n" + good)
    with pytest.raises(tcpframe.ChecksumMismatchError) as error:
        await within_timeout(client.read_checksummed())
    assert expected_digits in str(error.value).lower() and "00" in str(error.value)
    for _ in range(3):
        with pytest.raises(tcpframe.FrameError):
            await within_timeout(client.read_checksummed())
    assert await within_timeout(client.read_checksummed()) == b"GPGGA,1,2,3"
    assert client.connected
