"""Reads that fill a caller's buffer receive straight into it (issue 14).

A `read_into`, `read_many_into` or `read_records` that lacks at least
`DIRECT_RECEIVE_MIN` bytes moves what is buffered into the caller's
buffer and lets the transport receive the rest into it: the socket (or
the TLS layer) writes into the user's array, with no second copy. Each
test runs over TCP, TLS and Unix sockets, on both loops and in both
kernel modes; `ReceiveLog` watches the protocol's `get_buffer` to tell
which memory the transport was given.
"""

from __future__ import annotations

import asyncio
import ctypes
import socket
import struct
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.stream.reader import DEFAULT_HIGH_WATER, DIRECT_RECEIVE_MIN
from transports import Transport

pytestmark = pytest.mark.all_event_loops

MiB = 2**20
RECORD = np.dtype([("sequence", "<u4"), ("pad", "<u4"), ("samples", "<f8", (31,))])  # 256 B


def records(count: int, start: int = 0) -> np.ndarray:
    array = np.zeros(count, RECORD)
    array["sequence"] = np.arange(start, start + count)
    array["samples"] = array["sequence"][:, None] * 0.5 + np.arange(31)
    return array


class ReceiveLog:
    """Counts the bytes the transport received into the reader's buffer
    and into memory a read's target owns, by wrapping the reader's
    `get_buffer` and `buffer_updated` (which the protocol calls)."""

    def __init__(self, reader: tcpframe.FrameReader) -> None:
        self.into_targets = 0
        self.into_buffer = 0
        self.targets: list[object] = []
        self._last_was_target = False
        get_buffer, buffer_updated = reader.get_buffer, reader.buffer_updated

        def logged_get_buffer(sizehint: int) -> memoryview:
            view = get_buffer(sizehint)
            self._last_was_target = view.obj is not None and any(view.obj is t for t in self.targets)
            return view

        def logged_buffer_updated(nbytes: int) -> None:
            if self._last_was_target:
                self.into_targets += nbytes
            else:
                self.into_buffer += nbytes
            buffer_updated(nbytes)

        reader.get_buffer = logged_get_buffer  # type: ignore[method-assign]
        reader.buffer_updated = logged_buffer_updated  # type: ignore[method-assign]

    def watch(self, target: object) -> None:
        """Count what is received into ``target``'s memory."""
        self.targets.append(target)


@pytest.fixture
async def pair(connect_pair: typing.Callable, transport: Transport) -> tuple[tcpframe.OneClientServer, tcpframe.Client]:
    return await connect_pair(transport=transport)


async def test_a_large_read_many_into_receives_straight_into_the_array(pair: tuple) -> None:
    server, client = pair
    log = ReceiveLog(client.reader)
    sent = records(16384)  # 4 MiB
    target = np.zeros_like(sent)
    log.watch(target)
    read = asyncio.create_task(client.read_many_into(target))
    await asyncio.sleep(0)
    await server.write_records(sent)
    await asyncio.wait_for(read, STD_TIMEOUT)
    np.testing.assert_array_equal(target, sent)
    # All but what was buffered before the read got there (at most one
    # receive) went straight into the array.
    assert log.into_targets >= sent.nbytes - 2 * MiB
    assert log.into_targets + log.into_buffer == sent.nbytes
    await server.write_str("after")
    assert await client.read_str() == "after"


async def test_read_into_of_a_large_ctypes_array_and_read_records_receive_directly(pair: tuple) -> None:
    server, client = pair
    log = ReceiveLog(client.reader)
    sent = records(4096)  # 1 MiB
    target = (ctypes.c_uint8 * sent.nbytes)()
    log.watch(target)
    read = asyncio.create_task(client.read_into(target))
    await asyncio.sleep(0)
    await server.write_records(sent)
    await asyncio.wait_for(read, STD_TIMEOUT)
    assert bytes(target) == sent.tobytes()
    assert log.into_targets > 0
    read_records = asyncio.create_task(client.read_records(RECORD, 4096))
    await asyncio.sleep(0)
    await server.write_records(sent)
    received = await asyncio.wait_for(read_records, STD_TIMEOUT)
    np.testing.assert_array_equal(received, sent)


async def test_small_structs_are_never_received_directly(pair: tuple) -> None:
    """A struct smaller than DIRECT_RECEIVE_MIN is copied from the receive
    buffer, which takes many of them per receive."""
    server, client = pair
    log = ReceiveLog(client.reader)
    sent = records(64)
    target = np.zeros(1, RECORD)
    log.watch(target)
    read = asyncio.create_task(client.read_many_into(target))
    await asyncio.sleep(0)
    await server.write_records(sent)
    await asyncio.wait_for(read, STD_TIMEOUT)
    for index in range(1, 64):
        await client.read_many_into(target)
        assert target[0]["sequence"] == index
    assert log.into_targets == 0
    assert sent.nbytes < DIRECT_RECEIVE_MIN


async def test_a_cancelled_direct_read_loses_nothing_and_the_next_read_gets_every_record(
    pair: tuple, until: typing.Callable
) -> None:
    server, client = pair
    log = ReceiveLog(client.reader)
    sent = records(8192)  # 2 MiB
    half = sent.nbytes // 2
    target = np.zeros_like(sent)
    log.watch(target)
    read = asyncio.create_task(client.read_many_into(target))
    await asyncio.sleep(0)
    await server.write(sent.tobytes()[:half])
    await until(lambda: log.into_targets >= half - DIRECT_RECEIVE_MIN)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    # The bytes received so far went back to the reader.
    await until(lambda: client.reader.buffered == half)
    # A task: over a Unix socket the write waits in drain until the client reads.
    write = asyncio.create_task(server.write(sent.tobytes()[half:] + b"after\r\n"))
    again = np.zeros_like(sent)
    await asyncio.wait_for(client.read_many_into(again), STD_TIMEOUT)
    await asyncio.wait_for(write, STD_TIMEOUT)
    np.testing.assert_array_equal(again, sent)
    assert await client.read_str() == "after"


async def test_a_direct_read_cancelled_just_as_it_was_filled_puts_its_bytes_back(pair: tuple) -> None:
    """Cancelled in the receive that fills it, before it runs again, the
    read hands back every byte: the next read gets them, then what follows."""
    server, client = pair
    sent = records(4096)
    target = np.zeros_like(sent)
    read = asyncio.create_task(client.read_many_into(target))
    await asyncio.sleep(0)
    write = asyncio.create_task(server.write(sent.tobytes() + b"next\r\n"))
    reader = client.reader
    buffer_updated = reader.buffer_updated
    received = 0

    def cancel_once_filled(nbytes: int) -> None:
        nonlocal received
        buffer_updated(nbytes)
        received += nbytes
        if received >= sent.nbytes and not read.done():
            read.cancel()

    reader.buffer_updated = cancel_once_filled  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(read, STD_TIMEOUT)
    assert received >= sent.nbytes
    again = np.zeros_like(sent)
    await asyncio.wait_for(client.read_many_into(again), STD_TIMEOUT)
    np.testing.assert_array_equal(again, sent)
    assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "next"
    await asyncio.wait_for(write, STD_TIMEOUT)


async def test_eof_in_the_middle_of_a_direct_read_gives_exactly_the_bytes_that_came(pair: tuple) -> None:
    server, client = pair
    sent = records(8192).tobytes()
    part = len(sent) // 2 + 12345
    target = bytearray(len(sent))
    read = asyncio.create_task(client.read_into(target))
    await asyncio.sleep(0)
    await server.write(sent[:part])
    await server.close_client()
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await asyncio.wait_for(read, STD_TIMEOUT)
    assert caught.value.partial == sent[:part]
    assert caught.value.expected == len(sent)
    assert not client.connected


async def test_a_direct_read_after_the_reader_paused_takes_what_is_buffered_then_receives_the_rest(
    pair: tuple, until: typing.Callable
) -> None:
    server, client = pair
    log = ReceiveLog(client.reader)
    sent = records(16384)  # 4 MiB: more than the high-water mark
    write = asyncio.create_task(server.write_records(sent))
    await until(lambda: client.reader._paused)
    buffered = client.reader.buffered
    assert buffered > DEFAULT_HIGH_WATER
    target = np.zeros_like(sent)
    log.watch(target)
    await asyncio.wait_for(client.read_many_into(target), STD_TIMEOUT)
    await asyncio.wait_for(write, STD_TIMEOUT)
    np.testing.assert_array_equal(target, sent)
    assert log.into_targets > 0
    assert not client.reader._paused


async def test_a_second_read_while_one_receives_directly_raises_and_the_first_completes(pair: tuple) -> None:
    server, client = pair
    sent = records(4096)
    target = np.zeros_like(sent)
    read = asyncio.create_task(client.read_many_into(target))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await client.reader.read_into(bytearray(16))
    await server.write_records(sent)
    await asyncio.wait_for(read, STD_TIMEOUT)
    np.testing.assert_array_equal(target, sent)


async def test_a_connection_reset_in_a_direct_read_raises_and_keeps_the_bytes_received(
    connect_pair: typing.Callable, until: typing.Callable
) -> None:
    server, client = await connect_pair()
    log = ReceiveLog(client.reader)
    sent = records(8192).tobytes()
    target = bytearray(len(sent))
    log.watch(target)
    read = asyncio.create_task(client.read_into(target))
    await asyncio.sleep(0)
    await server.write(sent[: MiB])
    await until(lambda: log.into_targets + log.into_buffer == MiB)
    # Closing with a zero linger time sends RST: the client's receive fails.
    server.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.writer.transport.abort()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(read, STD_TIMEOUT)
    # Nothing received was dropped: the reader holds it, as it would have
    # without the direct receive.
    assert client.reader._buffer.peek(MiB) == sent[:MiB]
