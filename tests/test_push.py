"""The push API (tcpframe.stream.push, the clients' and servers' push_*
methods) over TCP, TLS and Unix sockets, on both loops, in both kernel
modes (the suite runs in each): delivery, back-pressure, callback errors,
the end of the connection, and switching to ordinary reads and back."""

from __future__ import annotations

import asyncio
import ctypes
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT, ConnectRecorder, wait_until
from tcpframe.stream import push as stream_push
from transports import Transport

pytestmark = pytest.mark.all_event_loops


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


SAMPLE_DTYPE = np.dtype([("sequence", "<u4"), ("value", "<f8")])
FRAMING = tcpframe.NMEA


def sample_bytes(count: int, start: int = 0) -> bytes:
    return b"".join(bytes(Sample(i, i / 2)) for i in range(start, start + count))


# What each kind of push sends for message i, and what its callback records.
KINDS: dict[str, tuple[typing.Callable[[int], bytes], str, typing.Callable[[typing.Any], list[int]]]] = {
    "structs": (lambda i: bytes(Sample(i, i / 2)), "push_structs", lambda s: [s.sequence]),
    "numpy structs": (lambda i: bytes(Sample(i, i / 2)), "push_structs", lambda s: [int(s["sequence"])]),
    "records": (lambda i: bytes(Sample(i, i / 2)), "push_records", lambda a: [int(x) for x in a["sequence"]]),
    "ctypes records": (lambda i: bytes(Sample(i, i / 2)), "push_records", lambda a: [r.sequence for r in a]),
    "lines": (lambda i: b"line %d\r\n" % i, "push_lines", lambda line: [int(line.split()[1])]),
    "frames": (
        lambda i: tcpframe.DEFAULT_LENGTH_PREFIX.encode(4) + i.to_bytes(4, "big"),
        "push_frames",
        lambda p: [int.from_bytes(p, "big")],
    ),
    "checksummed": (lambda i: FRAMING.encode(b"GP%d" % i), "push_checksummed", lambda body: [int(body[2:])]),
}


def start_push(client: tcpframe.BaseClientOrServer, kind: str, callback: typing.Callable) -> stream_push.Push:
    _, method, _ = KINDS[kind]
    if kind in ("structs", "ctypes records"):
        return getattr(client, method)(Sample, callback)
    if kind in ("numpy structs", "records"):
        return getattr(client, method)(SAMPLE_DTYPE, callback)
    return getattr(client, method)(callback)


def stream_of(kind: str, count: int, start: int = 0) -> bytes:
    encode, _, _ = KINDS[kind]
    return b"".join(encode(i) for i in range(start, start + count))


async def connect(
    connect_pair: typing.Callable, transport: Transport, recorder: ConnectRecorder | None = None
) -> tuple[tcpframe.OneClientServer, tcpframe.Client]:
    client_kwargs = {"connect_callback": recorder.callback} if recorder is not None else {}
    server, client = await connect_pair(transport=transport, client_kwargs=client_kwargs)
    if recorder is not None:
        assert await recorder.next() is True
    return server, client


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_each_message_reaches_the_callback_in_order_and_eof_ends_the_push(
    connect_pair: typing.Callable, transport: Transport, kind: str
) -> None:
    recorder = ConnectRecorder()
    server, client = await connect(connect_pair, transport, recorder)
    _, _, record = KINDS[kind]
    seen: list[int] = []
    pushed = start_push(client, kind, lambda message: seen.extend(record(message)))
    count = 3000
    await server.write(stream_of(kind, count))
    await server.close_connection()
    assert await asyncio.wait_for(pushed.done, STD_TIMEOUT) is None
    assert seen == list(range(count))
    assert pushed.delivered == count and not pushed.active
    # The push ended with the connection: the client closed it, as a read at EOF does.
    assert await recorder.next() is False
    assert not client.connected


async def test_an_async_callback_holds_back_the_peer_with_bounded_memory(
    connect_pair: typing.Callable, transport: Transport
) -> None:
    server, client = await connect_pair(transport=transport)
    release = asyncio.Event()
    seen: list[int] = []

    def slow(sample: Sample) -> typing.Awaitable[typing.Any] | None:
        seen.append(sample.sequence)
        # Only the first message makes delivery wait (an async def callback
        # would make each one wait for a task of its own).
        return release.wait() if sample.sequence == 0 else None

    pushed = client.push_structs(Sample, slow)
    count = 400_000  # 4.8 MB, far more than the socket buffers hold
    writing = asyncio.create_task(server.write(sample_bytes(count)))
    assert server.writer is not None
    # Wait until the peer is held back (its writes paused) or, over TLS,
    # whose layer in asyncio buffers what the application writes, has
    # written everything.
    await wait_until(lambda: writing.done() or not server.writer.ready)  # type: ignore[union-attr]
    await asyncio.sleep(0.05)  # let more arrive, if the push let it in (no timing is asserted)
    assert seen == [0]
    assert client.reader is not None
    assert len(client.reader.receive_buffer) <= transport.most_one_receive + ctypes.sizeof(Sample)
    if not transport.tls:
        assert not writing.done()
    release.set()
    await asyncio.wait_for(writing, STD_TIMEOUT)
    await wait_until(lambda: pushed.delivered == count)
    assert seen == list(range(count))
    pushed.stop()
    assert await pushed.done is None


async def test_a_callback_exception_ends_the_push_and_fails_the_connection(
    connect_pair: typing.Callable, transport: Transport
) -> None:
    recorder = ConnectRecorder()
    server, client = await connect(connect_pair, transport, recorder)
    seen: list[str] = []
    error = ValueError("bad line")

    def callback(line: str) -> None:
        seen.append(line)
        if line == "line 5":
            raise error

    pushed = client.push_lines(callback)
    await server.write(stream_of("lines", 10))
    with pytest.raises(ValueError) as raised:
        await asyncio.wait_for(pushed.done, STD_TIMEOUT)
    assert raised.value is error
    assert seen == [f"line {i}" for i in range(6)]  # nothing after the failing line
    assert client.reader is not None and client.reader.exception() is error
    assert await recorder.next() is False
    with pytest.raises(ConnectionError):
        await client.read_str()


async def test_an_awaitable_that_raises_and_a_bad_result_end_the_push(
    connect_pair: typing.Callable, transport: Transport
) -> None:
    server, client = await connect_pair(transport=transport)

    async def failing(sample: Sample) -> None:
        raise KeyError(sample.sequence)

    pushed = client.push_structs(Sample, failing)
    await server.write(sample_bytes(3))
    with pytest.raises(KeyError):
        await asyncio.wait_for(pushed.done, STD_TIMEOUT)
    assert pushed.delivered == 1

    server2, client2 = await connect_pair(transport=transport)
    pushed = client2.push_lines(lambda line: line)  # returns the line: not None, not awaitable
    await server2.write(b"a\r\nb\r\n")
    with pytest.raises(TypeError, match="None or an awaitable"):
        await asyncio.wait_for(pushed.done, STD_TIMEOUT)


@pytest.mark.parametrize("kind", ["structs", "lines", "frames", "records"])
async def test_switching_between_push_and_reads_loses_and_reorders_nothing(
    connect_pair: typing.Callable, transport: Transport, kind: str
) -> None:
    server, client = await connect_pair(transport=transport)
    _, _, record = KINDS[kind]
    seen: list[int] = []
    pushed: stream_push.Push | None = None

    def callback(message: typing.Any) -> None:
        seen.extend(record(message))
        if seen[-1] >= 99:
            assert pushed is not None
            pushed.stop()

    async def read_one() -> int:
        if kind == "structs" or kind == "records":
            sample = Sample()
            await client.read_into(sample)
            return sample.sequence
        if kind == "lines":
            return int((await client.read_str()).split()[1])
        return int.from_bytes(await client.read_frame(), "big")

    # All of it in one write: the push stops inside a receive, with more buffered.
    await server.write(stream_of(kind, 300))
    pushed = start_push(client, kind, callback)
    await asyncio.wait_for(pushed.done, STD_TIMEOUT)
    if kind == "records":
        # A batch holds every complete record of a receive: it stops after the batch.
        assert seen[:100] == list(range(100))
    else:
        assert seen == list(range(100))
    await server.write(stream_of(kind, 300, 300))
    read = [await asyncio.wait_for(read_one(), STD_TIMEOUT) for _ in range(50)]
    assert read == list(range(len(seen), len(seen) + 50))
    done_reading = seen[-1] + 51
    seen.clear()
    pushed = start_push(client, kind, lambda message: seen.extend(record(message)))
    await wait_until(lambda: len(seen) == 600 - done_reading)
    assert seen == list(range(done_reading, 600))
    pushed.stop()
    assert await pushed.done is None
    await server.write(stream_of(kind, 1, 600))
    assert await asyncio.wait_for(read_one(), STD_TIMEOUT) == 600


async def test_reads_refuse_to_run_while_a_push_is_attached(
    connect_pair: typing.Callable, transport: Transport
) -> None:
    _, client = await connect_pair(transport=transport)
    pushed = client.push_lines(lambda line: None)
    with pytest.raises(RuntimeError, match="push"):
        await client.read_str()
    with pytest.raises(RuntimeError, match="already attached"):
        client.push_lines(lambda line: None)
    pushed.stop()
    assert await pushed.done is None


@pytest.mark.parametrize("kind", ["structs", "lines", "frames"])
async def test_a_message_cut_by_eof_is_an_incomplete_read_with_its_bytes(
    connect_pair: typing.Callable, transport: Transport, kind: str
) -> None:
    server, client = await connect_pair(transport=transport)
    _, _, record = KINDS[kind]
    seen: list[int] = []
    pushed = start_push(client, kind, lambda message: seen.extend(record(message)))
    whole = stream_of(kind, 3)
    cut = stream_of(kind, 1, 3)[:-2]
    await server.write(whole + cut)
    await server.close_connection()
    with pytest.raises(asyncio.IncompleteReadError) as raised:
        await asyncio.wait_for(pushed.done, STD_TIMEOUT)
    assert seen == [0, 1, 2]
    assert raised.value.partial == cut
    expected = {"structs": ctypes.sizeof(Sample), "lines": None, "frames": len(stream_of(kind, 1, 3))}[kind]
    assert raised.value.expected == expected


async def test_the_cut_bytes_stay_for_a_reader_of_a_stream_connection(transport: Transport) -> None:
    async def send(reader: tcpframe.FrameReader, writer: tcpframe.FrameWriter) -> None:
        writer.write(sample_bytes(2) + b"half")
        await writer.drain()
        writer.close()

    server = await tcpframe.start_server(send, **transport.server_kwargs())
    try:
        reader, writer = await tcpframe.open_connection(**transport.client_kwargs(server))
        seen: list[int] = []
        pushed = stream_push.push_structs(reader, Sample, lambda s: seen.append(s.sequence))
        with pytest.raises(asyncio.IncompleteReadError) as raised:
            await asyncio.wait_for(pushed.done, STD_TIMEOUT)
        assert seen == [0, 1] and raised.value.partial == b"half"
        assert await reader.read() == b"half"
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


async def test_a_connection_closed_here_ends_the_push(connect_pair: typing.Callable, transport: Transport) -> None:
    _, client = await connect_pair(transport=transport)
    pushed = client.push_structs(Sample, lambda s: None)
    await client.close()
    assert await asyncio.wait_for(pushed.done, STD_TIMEOUT) is None


async def test_records_are_views_valid_during_the_callback(connect_pair: typing.Callable, transport: Transport) -> None:
    server, client = await connect_pair(transport=transport)
    kept: list[np.ndarray] = []
    pushed = client.push_records(SAMPLE_DTYPE, lambda records: kept.append(records.copy()))
    await server.write(sample_bytes(1000))
    await wait_until(lambda: pushed.delivered == 1000)
    together = np.concatenate(kept)
    assert together["sequence"].tolist() == list(range(1000))
    assert together["value"].tolist() == [i / 2 for i in range(1000)]
    pushed.stop()


async def test_a_server_pushes_what_its_client_sends(connect_pair: typing.Callable, transport: Transport) -> None:
    server, client = await connect_pair(transport=transport)
    seen: list[bytes] = []
    pushed = server.push_checksummed(seen.append)
    for i in range(20):
        await client.write_checksummed(b"GP%d" % i)
    await wait_until(lambda: len(seen) == 20)
    assert seen == [b"GP%d" % i for i in range(20)]
    pushed.stop()
    await pushed.done


async def test_push_needs_a_connection(connect_pair: typing.Callable, transport: Transport) -> None:
    _, client = await connect_pair(transport=transport)
    await client.close()
    with pytest.raises(ConnectionError):
        client.push_lines(print)
