"""What every write gets for each kind of buffer, and what close() does
however the connection died (SPEC §7 and §8, "Nothing is swallowed").

Over real sockets (TCP, TLS, Unix), on the stdlib loop and on uvloop, in
both kernel modes:

- A buffer that is not C-contiguous (a strided memoryview, a view of a
  Fortran-order array) is refused by every write entry with the
  `ValueError` that ``write_from`` gives it, before anything is queued;
  the connection goes on working. (Before, the stdlib loop's transport
  failed the connection with a "Fatal write error" and uvloop raised
  `TypeError`.)
- Views of several dimensions, of items wider than a byte, or of a
  non-native format arrive as the bytes they span, in memory order, even
  when the transport sends them in several parts; empty buffers, strided
  or not, send nothing.
- A bytearray handed to a write may be resized afterwards, or the resize
  raises `BufferError` while the transport still holds it; the peer gets
  the bytes it held at the write either way.
- ``close()`` returns normally however the connection died: the reads
  and writes that met the cause raised it.
"""

from __future__ import annotations

import array
import asyncio
import logging
import socket
import struct
import typing

import numpy as np
import pytest

import tcpframe
from conftest import STD_TIMEOUT
from transports import Transport

pytestmark = pytest.mark.all_event_loops

MiB = 2**20


@pytest.fixture
async def pair(
    connect_pair: typing.Callable, transport: Transport
) -> tuple[tcpframe.OneClientServer, tcpframe.Client]:
    """A OneClientServer and a Client connected to it over ``transport``."""
    return await connect_pair(transport=transport)


def ends(pair: tuple, sender: str) -> tuple[tcpframe.BaseClientOrServer, tcpframe.BaseClientOrServer]:
    """(sender, receiver): the client or the server sends."""
    server, client = pair
    return (client, server) if sender == "client" else (server, client)


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What was logged at ERROR or above (asyncio's "Fatal write error" included)."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]


async def call(write: typing.Callable[[], typing.Any]) -> None:
    """Call ``write()``, awaiting what it returns if it is awaitable."""
    result = write()
    if result is not None:
        await result


# Every public write entry, given the sending end and one buffer.
WRITE_ENTRIES: dict[str, typing.Callable[[tcpframe.BaseClientOrServer, typing.Any], typing.Any]] = {
    "FrameWriter.write": lambda end, data: end.writer.write(data),
    "FrameWriter.writelines": lambda end, data: end.writer.writelines([b"queued?", data]),
    "FrameWriter.write_structs": lambda end, data: end.writer.write_structs([b"queued?", data]),
    "FrameWriter.write_frame": lambda end, data: end.writer.write_frame(data),
    "FrameWriter.write_checksummed": lambda end, data: end.writer.write_checksummed(data),
    "write": lambda end, data: end.write(data),
    "writelines": lambda end, data: end.writelines([b"queued?", data]),
    "write_from": lambda end, data: end.write_from(b"queued?", data),
    "tcpframe.write_from": lambda end, data: tcpframe.write_from(end.writer, b"queued?", data),
    "write_records": lambda end, data: end.write_records(data),
    "write_frame": lambda end, data: end.write_frame(data),
    "write_checksummed": lambda end, data: end.write_checksummed(data),
}

NOT_C_CONTIGUOUS = {
    "strided_view": lambda: memoryview(b"abcdef")[::2],
    "fortran_order_array_view": lambda: memoryview(np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3))),
}


@pytest.mark.parametrize("sender", ["client", "server"])
@pytest.mark.parametrize("buffer", sorted(NOT_C_CONTIGUOUS))
@pytest.mark.parametrize("entry", sorted(WRITE_ENTRIES))
async def test_every_write_refuses_a_buffer_that_is_not_c_contiguous_up_front_and_the_connection_goes_on(
    pair: tuple, sender: str, buffer: str, entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    """ValueError, with write_from's message, and nothing queued: the next
    write is the next thing the peer reads. Nothing is logged at ERROR and
    both ends close without raising."""
    caplog.set_level(logging.DEBUG)
    end, peer = ends(pair, sender)
    data = NOT_C_CONTIGUOUS[buffer]()
    with pytest.raises(ValueError) as write_from_refusal:
        await end.write_from(data)
    with pytest.raises(ValueError) as refusal:
        await call(lambda: WRITE_ENTRIES[entry](end, data))
    assert str(refusal.value) == str(write_from_refusal.value) == "memoryview is not C-contiguous"
    assert end.connected and peer.connected
    await end.write(b"next")
    assert await asyncio.wait_for(peer.readexactly(4), STD_TIMEOUT) == b"next"
    for close in (end.close, peer.close):
        await asyncio.wait_for(close(), STD_TIMEOUT)
    assert errors_logged(caplog) == []


def large_int_array() -> array.array:
    """16 MiB of 4-byte items: more than a socket takes at once."""
    return array.array("i", range(4 * MiB))


# Buffers every write takes, and the bytes the peer gets for each.
ACCEPTED: dict[str, tuple[typing.Callable[[], typing.Any], bytes]] = {
    "two_dimensional_view": (lambda: memoryview(b"abcdef").cast("B", (2, 3)), b"abcdef"),
    "c_order_2d_array_view": (
        lambda: memoryview(np.arange(12, dtype="<u2").reshape(3, 4)),
        np.arange(12, dtype="<u2").tobytes(),
    ),
    "format_i_view_of_16_mib": (lambda: memoryview(large_int_array()), large_int_array().tobytes()),
    "non_native_format_view": (lambda: memoryview(np.arange(5, dtype=">i4")), np.arange(5, dtype=">i4").tobytes()),
    "empty_bytes": (lambda: b"", b""),
    "empty_bytearray": (lambda: bytearray(), b""),
    "empty_strided_view": (lambda: memoryview(b"")[::2], b""),
    "empty_2d_view": (lambda: memoryview(np.zeros((0, 3), dtype=np.uint8)), b""),
}

SENDING_ENTRIES = ["FrameWriter.write", "write", "writelines", "write_from"]


@pytest.mark.parametrize("buffer", sorted(ACCEPTED))
@pytest.mark.parametrize("entry", SENDING_ENTRIES)
async def test_odd_but_contiguous_buffers_arrive_as_the_bytes_they_span(
    pair: tuple, buffer: str, entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each buffer arrives as its bytes in memory order, whole even when
    the transport sends it in parts; empty ones send nothing. The peer
    reads only after the write, so a large one fills the socket first."""
    caplog.set_level(logging.DEBUG)
    server, client = pair
    make, expected = ACCEPTED[buffer]
    data = make()
    write = {
        "FrameWriter.write": lambda: client.writer.write(data),
        "write": lambda: client.write(data),
        "writelines": lambda: client.writelines([data]),
        "write_from": lambda: client.write_from(data),
    }[entry]

    async def send() -> None:
        await call(write)
        await client.write(b"|end")

    async def receive() -> bytes:
        await asyncio.sleep(0.01)  # after the write's first send
        return await server.readexactly(len(expected) + 4)

    async with asyncio.timeout(STD_TIMEOUT):
        _, received = await asyncio.gather(send(), receive())
    assert received == expected + b"|end"
    assert errors_logged(caplog) == []


@pytest.mark.parametrize("size", [100, 16 * MiB], ids=["small", "16_mib"])
async def test_a_bytearray_resized_after_its_write_raises_buffer_error_or_not_and_the_peer_gets_what_it_held(
    pair: tuple, size: int
) -> None:
    """A small bytearray written in a burst is copied: it may be resized
    at once. A large one the transport may keep until it is sent (uvloop
    and asyncio from Python 3.12 do): resizing it then raises BufferError,
    as with asyncio.StreamWriter. Either way the peer gets exactly the
    bytes it held when it was written."""
    server, client = pair
    await client.write(b"first")  # the small one then joins a burst
    data = bytearray(b"a" * size)
    client.writer.write(data)
    try:
        data.clear()
    except BufferError:
        assert size > tcpframe.stream.writer.FLUSH_SIZE
    client.writer.write(b"|end")  # no drain: the peer reads only below
    received = await asyncio.wait_for(server.readexactly(5 + size + 4), STD_TIMEOUT)
    assert received == b"first" + b"a" * size + b"|end"


@pytest.mark.parametrize("entry", ["FrameWriter.write_checksummed", "write_checksummed"])
@pytest.mark.parametrize("body", ["text", 5], ids=["str", "int"])
async def test_write_checksummed_refuses_a_body_that_is_not_a_buffer(pair: tuple, entry: str, body: typing.Any) -> None:
    """TypeError, as write_from gives it, rather than a frame of five zero
    bytes for 5; nothing is queued."""
    server, client = pair
    with pytest.raises(TypeError):
        await call(lambda: WRITE_ENTRIES[entry](client, body))
    await client.write(b"next")
    assert await asyncio.wait_for(server.readexactly(4), STD_TIMEOUT) == b"next"


# --- close() however the connection died ---------------------------------------------


def on_uvloop() -> bool:
    return "uvloop" in type(asyncio.get_running_loop()).__module__


def fail_with_a_fatal_write_error(server: tcpframe.OneClientServer, client: tcpframe.Client) -> None:
    """Hand the transport itself a buffer it cannot send (tcpframe's writes
    refuse it): the stdlib loop's transports fail the connection."""
    client.writer.transport.write(memoryview(b"abcdef")[::2])


def reset_by_peer(server: tcpframe.OneClientServer, client: tcpframe.Client) -> None:
    sock = server.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.writer.transport.abort()


DEATHS: dict[str, typing.Callable[[tcpframe.OneClientServer, tcpframe.Client], None]] = {
    "fatal_write_error": fail_with_a_fatal_write_error,
    "reset_by_peer": reset_by_peer,
    "aborted_here": lambda server, client: client.writer.transport.abort(),
    "transport_closed_here": lambda server, client: client.writer.transport.close(),
    "closed_by_peer": lambda server, client: server.writer.transport.close(),
}


@pytest.mark.parametrize("death", sorted(DEATHS))
async def test_close_returns_normally_however_the_connection_died(pair: tuple, death: str) -> None:
    """A read waiting when the connection dies ends (on a fatal write
    error, with that error: it is not swallowed); afterwards every close
    of both ends returns normally: close_stream_writer, the client's
    basic_close and close, the server's close_client and close."""
    server, client = pair
    read = asyncio.create_task(client.read(10))
    await asyncio.sleep(0)
    try:
        DEATHS[death](server, client)
    except TypeError:
        # uvloop's TCP and Unix transports (not its TLS one) refuse the
        # buffer up front: the connection lives on, and closes as usual.
        assert death == "fatal_write_error" and on_uvloop()
        read.cancel()
        outcome: object = None
    else:
        try:
            outcome = await asyncio.wait_for(read, STD_TIMEOUT)
        except Exception as e:
            outcome = e
    if death == "fatal_write_error":
        assert outcome is None or isinstance(outcome, BufferError), outcome
    else:
        # (Over a Unix socket SO_LINGER does not apply: a "reset" is a close.)
        assert outcome == b"" or isinstance(outcome, (ConnectionError, asyncio.IncompleteReadError)), outcome
    async with asyncio.timeout(STD_TIMEOUT):
        await tcpframe.close_stream_writer(client.writer)
        await client.basic_close()
        await client.close()
        await server.close_client()
        await server.close()
    assert not client.connected
