"""Asynchronous iteration over lines, JSON, structs and frames.

Every iterator ends cleanly (``StopAsyncIteration``) when the stream ends
between messages, and raises `asyncio.IncompleteReadError` for a message
cut short by EOF.
"""

import asyncio
import ctypes
import socket
import struct
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe import LengthPrefix

pytestmark = pytest.mark.all_event_loops


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


def fed_reader(*chunks: bytes) -> tcpframe.FrameReader:
    reader = tcpframe.FrameReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    return reader


async def collect(iterator: typing.AsyncIterator) -> list:
    async with asyncio.timeout(STD_TIMEOUT):
        return [item async for item in iterator]


# --- FrameReader ------------------------------------------------------------


async def test_iterating_over_the_reader_itself_still_yields_lines_as_stream_reader_does() -> None:
    assert await collect(fed_reader(b"one\ntwo\ntail")) == [b"one\n", b"two\n", b"tail"]


async def test_iter_lines_yields_lines_with_their_separator_and_ends_at_eof() -> None:
    reader = fed_reader(b"one\r\ntwo\r\n")
    assert await collect(reader.iter_lines(b"\r\n")) == [b"one\r\n", b"two\r\n"]
    assert await collect(fed_reader(b"a\nb\n").iter_lines()) == [b"a\n", b"b\n"]
    assert await collect(fed_reader().iter_lines()) == []


async def test_iter_lines_raises_incomplete_read_error_for_a_trailing_partial_line() -> None:
    iterator = fed_reader(b"one\ntail").iter_lines()
    assert await anext(iterator) == b"one\n"
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await anext(iterator)
    assert caught.value.partial == b"tail"
    with pytest.raises(StopAsyncIteration):
        await anext(iterator)


async def test_iter_structs_of_a_type_yields_new_instances() -> None:
    reader = fed_reader(bytes(Sample(1, 0.5)) + bytes(Sample(2, 1.5)))
    samples = await collect(reader.iter_structs(Sample))
    assert [(s.sequence, s.value) for s in samples] == [(1, 0.5), (2, 1.5)]
    assert samples[0] is not samples[1]


async def test_iter_structs_of_an_instance_refills_and_yields_it() -> None:
    records = np.zeros(2, "<u2")
    reader = fed_reader(np.arange(6, dtype="<u2").tobytes())
    seen = [(batch is records, batch.tolist()) async for batch in reader.iter_structs(records)]
    assert seen == [(True, [0, 1]), (True, [2, 3]), (True, [4, 5])]


async def test_iter_structs_raises_incomplete_read_error_for_a_trailing_partial_struct() -> None:
    iterator = fed_reader(bytes(Sample(1, 0.5)) + b"abc").iter_structs(Sample)
    assert (await anext(iterator)).sequence == 1
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await anext(iterator)
    assert (caught.value.partial, caught.value.expected) == (b"abc", ctypes.sizeof(Sample))


async def test_iter_frames_yields_payloads_and_ends_at_eof() -> None:
    prefix = LengthPrefix(2, "little")
    payloads = [b"a", b"", b"ccc"]
    reader = fed_reader(*(prefix.encode(len(p)) + p for p in payloads))
    assert await collect(reader.iter_frames(prefix)) == payloads


async def test_iter_frames_raises_for_a_truncated_frame_and_for_an_oversize_one() -> None:
    iterator = fed_reader(b"\x00\x00\x00\x01x\x00\x00\x00\x05ab").iter_frames()
    assert await anext(iterator) == b"x"
    with pytest.raises(asyncio.IncompleteReadError):
        await anext(iterator)
    with pytest.raises(tcpframe.FrameError):
        await anext(fed_reader(b"\xff\xff\xff\xff").iter_frames())


async def test_iter_checksummed_continues_after_a_bad_frame() -> None:
    reader = fed_reader(b"$A*41\r\n", b"$B*00\r\n", b"$C*43\r\n")
    iterator = reader.iter_checksummed()
    assert await anext(iterator) == b"A"
    with pytest.raises(tcpframe.ChecksumMismatchError):
        await anext(iterator)
    assert await collect(iterator) == [b"C"]


async def test_iteration_waits_for_data_that_arrives_later() -> None:
    reader = tcpframe.FrameReader()

    async def feed() -> None:
        for index in range(3):
            await asyncio.sleep(0.001)
            reader.feed_data(LengthPrefix().encode(1) + bytes([index]))
        reader.feed_eof()

    feeder = asyncio.create_task(feed())
    assert await collect(reader.iter_frames()) == [b"\x00", b"\x01", b"\x02"]
    await feeder


def reader_iterators(reader: tcpframe.FrameReader) -> dict[str, typing.AsyncIterator]:
    return {
        "async for": aiter(reader),
        "iter_lines": reader.iter_lines(),
        "iter_structs": reader.iter_structs(Sample),
        "iter_frames": reader.iter_frames(),
        "iter_checksummed": reader.iter_checksummed(),
    }


async def test_a_readers_iterations_are_compiled_with_the_compiled_kernels() -> None:
    """With the compiled kernels each step takes a buffered message without
    a coroutine; the twins iterate with Python coroutines."""
    for name, iterator in reader_iterators(tcpframe.FrameReader()).items():
        compiled = type(iterator).__name__ == "ReadSteps"
        assert compiled == tcpframe.ACCELERATED, name


class UpperReader(tcpframe.FrameReader):
    """Overrides the reads that iterations repeat."""

    async def readline(self) -> bytes:
        return (await super().readline()).upper()

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        return (await super().readuntil(separator)).upper()


async def test_a_reader_subclass_override_is_what_iteration_reads() -> None:
    reader = UpperReader()
    reader.feed_data(b"one\ntwo\n")
    iterator = reader.iter_lines()
    assert await anext(iterator) == b"ONE\n"
    reader.feed_eof()
    assert await collect(reader) == [b"TWO\n"]


async def test_a_readers_iterations_take_buffered_messages_then_wait_then_end() -> None:
    """Messages buffered before the stream ends (the compiled steps' fast
    path), one that arrives while a step waits, then the end."""
    prefix = LengthPrefix()
    messages = {
        "async for": [b"a\n", b"b\n", b"c\n"],
        "iter_lines": [b"a\n", b"b\n", b"c\n"],
        "iter_structs": [bytes(Sample(n, n / 2)) for n in range(3)],
        "iter_frames": [prefix.encode(1) + bytes([n]) for n in range(3)],
        "iter_checksummed": [b"$A*41\r\n", b"$B*42\r\n", b"$C*43\r\n"],
    }
    for name, wire in messages.items():
        reader = tcpframe.FrameReader()
        iterator = reader_iterators(reader)[name]
        reader.feed_data(wire[0] + wire[1])
        taken = [await anext(iterator), await anext(iterator)]
        waiting = asyncio.ensure_future(anext(iterator))
        await asyncio.sleep(0)
        assert not waiting.done(), name
        reader.feed_data(wire[2])
        taken.append(await asyncio.wait_for(waiting, STD_TIMEOUT))
        reader.feed_eof()
        assert await collect(iterator) == [], name
        as_bytes = [bytes(item) if isinstance(item, Sample) else item for item in taken]
        expected = {
            "iter_frames": [bytes([n]) for n in range(3)],
            "iter_checksummed": [b"A", b"B", b"C"],
        }.get(name, wire)
        assert as_bytes == expected, name


# --- Over loopback: clients and servers -------------------------------------------


async def test_client_iterators_yield_each_kind_of_message_until_the_peer_closes(
    connect_pair: typing.Callable,
) -> None:
    kinds = {
        "lines": (lambda c: c.iter_lines(), lambda s: s.write_str("line"), "line"),
        "json": (lambda c: c.iter_json(), lambda s: s.write_json({"a": [1]}), {"a": [1]}),
        "structs": (lambda c: c.iter_structs(Sample), lambda s: s.write_from(Sample(5, 2.0)), (5, 2.0)),
        "frames": (lambda c: c.iter_frames(), lambda s: s.write_frame(b"payload"), b"payload"),
        "checksummed": (lambda c: c.iter_checksummed(), lambda s: s.write_checksummed(b"GPGGA"), b"GPGGA"),
    }
    for name, (iterate, write, expected) in kinds.items():
        server, client = await connect_pair()
        for _ in range(3):
            await write(server)
        await server.close_client()
        items = await collect(iterate(client))
        if name == "structs":
            items = [(item.sequence, item.value) for item in items]
        assert items == [expected] * 3, name
        assert not client.connected


async def test_client_iteration_end_calls_the_connect_callback(
    connect_pair: typing.Callable, make_recorder: typing.Any
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(client_kwargs={"connect_callback": recorder.callback})
    assert await recorder.next() is True
    await server.write_json({"n": 1})
    await server.close_client()
    assert await collect(client.iter_json()) == [{"n": 1}]
    assert await recorder.next() is False


async def test_client_iteration_raises_incomplete_read_error_for_a_truncated_message(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair()
    await server.write_json({"n": 1})
    await server.write(b'{"n": ')
    await server.close_client()
    iterator = client.iter_json()
    assert await anext(iterator) == {"n": 1}
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await asyncio.wait_for(anext(iterator), STD_TIMEOUT)
    assert caught.value.partial == b'{"n": '


async def test_server_iteration_over_a_live_stream_sees_every_frame(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    count = 5000

    async def produce() -> None:
        for index in range(count):
            await client.write_frame(index.to_bytes(4, "little"), LengthPrefix(1))
        await client.close()

    producer = asyncio.create_task(produce())
    received = [int.from_bytes(p, "little") async for p in server.iter_frames(LengthPrefix(1))]
    await producer
    assert received == list(range(count))


async def test_client_iteration_on_a_never_connected_client_raises_not_connected(log: typing.Any) -> None:
    client = tcpframe.Client(host="", port=0, log=log)
    with pytest.raises(ConnectionError, match="Not connected"):
        await anext(client.iter_lines())


async def test_server_iteration_raises_when_the_peer_resets_the_connection(
    log: typing.Any, until: typing.Callable
) -> None:
    server = tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log)
    try:
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        with socket.create_connection((tcpframe.LOCALHOST_IPV4, server.port)) as peer:
            await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
            peer.sendall(b"$A*41\r\n")
            # Received before the reset, which would discard it otherwise.
            await until(lambda: server.reader.buffered == 7)
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        iterator = server.iter_checksummed()
        assert await asyncio.wait_for(anext(iterator), STD_TIMEOUT) == b"A"
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(anext(iterator), STD_TIMEOUT)
    finally:
        await server.close()
