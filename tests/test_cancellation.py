"""Hardening: cancellation loses no bytes and leaves the connection usable.

A read cancelled while it waits (by `asyncio.wait_for`, `asyncio.timeout`
or `Task.cancel`) consumes nothing: the next read gets every byte, in
order. That holds on a bare `tcpframe.FrameReader` fed by hand, on a
`tcpframe.Client` over loopback (TCP and TLS), and in the narrow window where the data
has arrived and woken the read but the cancelled task has not run yet. A
write cancelled while it waits in ``drain()`` leaves the writer usable:
what it had written is still sent, and later writes arrive intact after it.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import logging
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from raw_peer import RawListener, RawPeer, within_timeout
from transports import Transport

# A write loop stops after this many writes: enough to fill any socket buffers
# many times over, so a loop that never blocks fails its test instead of hanging it.
MAX_WRITES = 1000


class Reading(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("sequence", ctypes.c_uint16), ("value", ctypes.c_double)]


FRAME = bytes(Reading(513, -2.5))  # 10 bytes
assert len(FRAME) == 10


async def let_tasks_run(turns: int = 5) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


def start_read(reader: typing.Any, kind: str) -> asyncio.Task:
    """Start a read of one 10-byte frame (``FRAME``, or a line of 10 bytes
    through ``\\r\\n``) and return its task; read_into tasks return bytes."""

    async def read_into() -> bytes:
        struct = Reading()
        await reader.read_into(struct)
        return bytes(struct)

    coroutines = {
        "readexactly": lambda: reader.readexactly(len(FRAME)),
        "readuntil": lambda: reader.readuntil(b"\r\n"),
        "read_into": read_into,
        "read": lambda: reader.read(100),
    }
    return asyncio.create_task(coroutines[kind]())


def frame_for(kind: str) -> bytes:
    return b"12345678\r\n" if kind == "readuntil" else FRAME


READ_KINDS = ["readexactly", "readuntil", "read_into", "read"]


# --- A bare FrameReader, fed by hand ----------------------------------------------


@pytest.mark.parametrize("kind", READ_KINDS)
async def test_cancelling_a_frame_reader_read_mid_wait_loses_no_bytes(kind: str) -> None:
    """Cancelled with part of the frame buffered: the next read gets it all."""
    reader = tcpframe.FrameReader()
    frame = frame_for(kind)
    task = start_read(reader, kind)
    await let_tasks_run()
    if kind != "read":  # read(n) returns as soon as any byte is there
        reader.feed_data(frame[:4])
        await let_tasks_run()
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reader.feed_data(frame[4:] if kind != "read" else frame)
    assert await within_timeout(start_read(reader, kind)) == frame


@pytest.mark.parametrize("kind", READ_KINDS)
async def test_cancelling_a_read_after_its_data_woke_it_but_before_it_ran_loses_no_bytes(kind: str) -> None:
    """The frame has arrived and woken the read, but the read's task is
    cancelled before it runs: the frame stays buffered for the next read."""
    reader = tcpframe.FrameReader()
    frame = frame_for(kind)
    task = start_read(reader, kind)
    await let_tasks_run()
    reader.feed_data(frame + b"more")
    task.cancel()  # before the woken task gets to run
    with pytest.raises(asyncio.CancelledError):
        await task
    if kind == "read":  # read(100) returns all that is buffered
        assert await within_timeout(start_read(reader, kind)) == frame + b"more"
    else:
        assert await within_timeout(start_read(reader, kind)) == frame
        assert await reader.readexactly(4) == b"more"


@pytest.mark.parametrize("ending", ["data", "eof"])
@pytest.mark.parametrize("kind", READ_KINDS)
async def test_a_read_started_after_data_woke_another_read_is_not_left_waiting(kind: str, ending: str) -> None:
    """A second read starts waiting after the frame woke the first read but
    before the first ran (asyncio.StreamReader then loses the second
    read's waiter, which waits forever): the first gets its frame, and the
    second is woken by its own bytes, or raises at EOF."""
    reader = tcpframe.FrameReader()
    frame = frame_for(kind)
    first = start_read(reader, kind)
    await let_tasks_run()
    reader.feed_data(frame)  # wakes the first read; it has not run yet
    more = b"m" * 20
    loop = asyncio.get_running_loop()
    loop.call_later(0.01, reader.feed_data if ending == "data" else lambda _: reader.feed_eof(), more)
    async with asyncio.timeout(STD_TIMEOUT):
        if ending == "data":
            assert await reader.readexactly(len(more)) == more  # waits: needs more than is buffered
        else:
            with pytest.raises(asyncio.IncompleteReadError) as error:
                await reader.readexactly(len(more))
            assert error.value.partial == b""
        assert await first == frame


async def test_cancelled_reads_do_not_leave_a_waiter_behind() -> None:
    """After many cancelled reads, a new read is not refused as a second
    waiter, and it still gets every byte."""
    reader = tcpframe.FrameReader()
    for kind in READ_KINDS * 5:
        task = start_read(reader, kind)
        await let_tasks_run()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    reader.feed_data(FRAME)
    assert await within_timeout(reader.readexactly(len(FRAME))) == FRAME


# --- A Client over loopback --------------------------------------------------------


@pytest.fixture
async def client_and_peer(
    log: logging.Logger, make_recorder: type, peer_transport: Transport
) -> typing.AsyncIterator[tuple[tcpframe.Client, RawPeer, typing.Any]]:
    """A `tcpframe.Client` connected to a raw peer, and its connect recorder."""
    listener = RawListener(peer_transport.peer_context(server_side=True))
    recorder = make_recorder()
    client = tcpframe.Client(log=log, connect_callback=recorder.callback, **peer_transport.client_kwargs(listener))
    peer = await listener.accept()
    try:
        await within_timeout(client.start_task)
        yield client, peer, recorder
    finally:
        # The peer first: a TLS client's close waits for its peer's close_notify.
        peer.close()
        listener.close()
        await within_timeout(client.close())


CLIENT_READS = {
    "readexactly": (lambda client: client.readexactly(len(FRAME)), FRAME, FRAME),
    "readuntil": (lambda client: client.readuntil(b"\r\n"), b"ab\xffcd\r\n", b"ab\xffcd\r\n"),
    "read_into": (None, FRAME, FRAME),
    "read_str": (lambda client: client.read_str(), "température ✓\r\n".encode(), "température ✓"),
    "read_json": (lambda client: client.read_json(), b'{"setpoint": 21.5}\r\n', {"setpoint": 21.5}),
}


async def client_read(client: tcpframe.Client, kind: str) -> typing.Any:
    read, _, _ = CLIENT_READS[kind]
    if read is None:
        struct = Reading()
        await client.read_into(struct)
        return bytes(struct)
    return await read(client)


@pytest.mark.all_event_loops
@pytest.mark.parametrize("kind", sorted(CLIENT_READS))
async def test_cancelling_a_client_read_mid_frame_loses_no_bytes_and_keeps_the_connection(
    client_and_peer: tuple, kind: str
) -> None:
    """A Client read timed out by wait_for with half a frame received: the
    next read returns the whole frame; the client stays connected and no
    callback reports a change."""
    client, peer, recorder = client_and_peer
    _, sent, expected = CLIENT_READS[kind]
    await peer.send(sent[:5])
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client_read(client, kind), 0.05)
    await peer.send(sent[5:] + sent)
    assert await within_timeout(client_read(client, kind)) == expected
    assert await within_timeout(client_read(client, kind)) == expected
    assert client.connected
    assert recorder.states == [True]


async def test_polling_reads_with_short_timeouts_while_bytes_trickle_in_gets_every_frame(
    client_and_peer: tuple,
) -> None:
    """A read loop that times out every millisecond while the peer sends one
    byte at a time: the frames that come out are exactly those sent."""
    client, peer, _ = client_and_peer
    lines = [f"line {i} ✓".encode() for i in range(4)]
    send_task = asyncio.create_task(peer.send_bytewise(b"".join(line + b"\r\n" for line in lines), delay=0.002))
    received: list[bytes] = []
    timeouts = 0
    async with asyncio.timeout(10):
        while len(received) < len(lines):
            try:
                async with asyncio.timeout(0.001):
                    received.append((await client.read_str()).encode())
            except TimeoutError:
                timeouts += 1
    await within_timeout(send_task)
    assert received == lines
    assert timeouts > 10  # the reads really were cancelled mid-frame, many times


# --- Cancelling drain ------------------------------------------------------------------


def numbered_chunk(number: int, size: int = 2**16) -> bytes:
    return bytes([number % 251]) * size


@pytest.mark.all_event_loops
async def test_cancelling_a_client_write_blocked_in_drain_leaves_the_writer_usable(
    client_and_peer: tuple,
) -> None:
    """A write waiting in drain (the peer stopped reading) is cancelled: its
    bytes and all before are still delivered in order, and a later write
    arrives intact after them once the peer reads."""
    client, peer, recorder = client_and_peer
    client.writer.transport.set_write_buffer_limits(high=2**16)
    started = 0

    async def write_until_blocked() -> None:
        nonlocal started
        for _ in range(MAX_WRITES):  # bounded: if writes never blocked, the test must fail, not hang
            started += 1
            await client.write(numbered_chunk(started))

    write_task = asyncio.create_task(write_until_blocked())
    async with asyncio.timeout(5):
        while client.writer.ready:
            await asyncio.sleep(0.001)
    await asyncio.sleep(0.02)
    assert not write_task.done()
    write_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write_task
    assert client.connected

    later_task = asyncio.create_task(client.write_str("after the cancelled drain"))
    expected = b"".join(numbered_chunk(n) for n in range(1, started + 1)) + b"after the cancelled drain\r\n"
    assert await peer.recv_exactly(len(expected), timeout=10) == expected
    await within_timeout(later_task)
    await client.write(b"and one more")
    assert await peer.recv_exactly(12) == b"and one more"
    assert recorder.states == [True]


async def test_cancelling_frame_writer_drain_leaves_the_writer_usable(peer_transport: Transport) -> None:
    """On `tcpframe.open_connection` streams: drain cancelled while the peer
    is not reading; the writer then drains and sends normally."""
    listener = RawListener(peer_transport.peer_context(server_side=True))
    connecting = asyncio.create_task(tcpframe.open_connection(**peer_transport.client_kwargs(listener)))
    peer = await listener.accept()
    reader, writer = await within_timeout(connecting)
    try:
        writer.transport.set_write_buffer_limits(high=2**16)
        written = bytearray()
        number = 0
        while not writer.transport.get_write_buffer_size() and number < MAX_WRITES:
            number += 1
            writer.write(numbered_chunk(number))
            written += numbered_chunk(number)
            await asyncio.sleep(0)
        for _ in range(20):
            number += 1
            writer.write(numbered_chunk(number))
            written += numbered_chunk(number)
        drain_task = asyncio.create_task(writer.drain())
        await asyncio.sleep(0.02)
        assert not drain_task.done()
        drain_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await drain_task
        writer.write(b"tail")
        second_drain = asyncio.create_task(writer.drain())
        assert await peer.recv_exactly(len(written) + 4, timeout=10) == bytes(written) + b"tail"
        await within_timeout(second_drain)
        assert not writer.is_closing()
        await peer.send(b"reply")
        assert await within_timeout(reader.readexactly(5)) == b"reply"
    finally:
        peer.close()
        listener.close()
        await within_timeout(tcpframe.close_stream_writer(writer))


async def test_many_cancelled_drains_leave_no_waiters_behind(client_and_peer: tuple) -> None:
    """Cancelled drains leave no waiter behind in the writer: the list of
    drain waiters is empty once the peer reads."""
    client, peer, _ = client_and_peer
    client.writer.transport.set_write_buffer_limits(high=2**16)
    total = 0
    async with asyncio.timeout(5):
        while client.writer.ready:
            client.writer.write(numbered_chunk(0))
            total += 2**16
            await asyncio.sleep(0)
    for _ in range(20):
        task = asyncio.create_task(client.writer.drain())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert not client.writer._drain_waiters
    assert await peer.recv_exactly(total, timeout=10) == numbered_chunk(0) * (total // 2**16)
    await within_timeout(client.writer.drain())
    await client.write_json({"still": "usable"})
    assert json.loads(await peer.recv_exactly(len(b'{"still": "usable"}\r\n'))) == {"still": "usable"}
