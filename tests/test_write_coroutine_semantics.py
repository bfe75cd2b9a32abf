"""What a client's write returns behaves as a coroutine does.

With the compiled kernels ``write``, ``write_from`` and ``write_str``
return a compiled awaitable that queues the bytes of a ready connection
without a Python coroutine (and drains through the Python method when the
transport is above its high-water mark); with the twins, the ``async
def`` method's coroutine. Each case runs for every write, over real
loopback connections, on every event loop; the suite runs it once with
each implementation.
"""

import asyncio
import collections.abc
import ctypes
import dataclasses
import gc
import inspect
import logging
import sys
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT

pytestmark = pytest.mark.all_event_loops


class Sample(ctypes.Structure):
    _fields_ = [("number", ctypes.c_uint32)]


@dataclasses.dataclass(frozen=True)
class Write:
    """One write method: how to call it to send message ``k``, and the
    bytes that reach the peer."""

    name: str
    call: typing.Callable[[tcpframe.Client, int], typing.Awaitable[None]]
    wire: typing.Callable[[int], bytes]

    def __str__(self) -> str:
        return self.name


WRITES = [
    Write("write", lambda c, k: c.write(b"%d;" % k), lambda k: b"%d;" % k),
    Write(
        "write_from",
        lambda c, k: c.write_from(Sample(k), Sample(k + 1)),
        lambda k: bytes(Sample(k)) + bytes(Sample(k + 1)),
    ),
    Write("write_str", lambda c, k: c.write_str(str(k)), lambda k: b"%d\r\n" % k),
]


@pytest.fixture(params=WRITES, ids=str)
def write(request: pytest.FixtureRequest) -> Write:
    return typing.cast(Write, request.param)


async def received(server: tcpframe.OneClientServer, *wires: bytes) -> bytes:
    """Read as many bytes as ``wires`` hold, together."""
    return typing.cast(bytes, await asyncio.wait_for(server.readexactly(len(b"".join(wires))), STD_TIMEOUT))


def test_the_writes_are_coroutine_functions() -> None:
    for write in WRITES:
        method = getattr(tcpframe.Client, write.name)
        assert asyncio.iscoroutinefunction(method), write.name
        if sys.version_info >= (3, 12):
            assert inspect.iscoroutinefunction(method), write.name


async def test_a_write_returns_a_coroutine_for_asyncio(connect_pair: typing.Callable, write: Write) -> None:
    _server, client = await connect_pair()
    awaitable = typing.cast(collections.abc.Coroutine, write.call(client, 1))
    try:
        assert asyncio.iscoroutine(awaitable)
        if tcpframe.ACCELERATED:
            assert type(awaitable).__name__ == "CallAwaitable"
        assert write.name in repr(awaitable)
    finally:
        awaitable.close()


async def test_await_create_task_and_gather_write_in_order(connect_pair: typing.Callable, write: Write) -> None:
    server, client = await connect_pair()
    await write.call(client, 1)
    await asyncio.create_task(typing.cast(collections.abc.Coroutine, write.call(client, 2)))
    await asyncio.gather(write.call(client, 3), write.call(client, 4))
    wires = [write.wire(k) for k in (1, 2, 3, 4)]
    assert await received(server, *wires) == b"".join(wires)


async def test_a_write_never_awaited_warns_and_sends_nothing(connect_pair: typing.Callable, write: Write) -> None:
    server, client = await connect_pair()
    with pytest.warns(RuntimeWarning, match=rf"coroutine '\w+\.{write.name}' was never awaited"):
        write.call(client, 1)
        gc.collect()
    await write.call(client, 2)
    assert await received(server, write.wire(2)) == write.wire(2)


async def test_awaiting_a_write_twice_raises(connect_pair: typing.Callable, write: Write) -> None:
    server, client = await connect_pair()
    awaitable = write.call(client, 1)
    await awaitable
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        await awaitable
    assert await received(server, write.wire(1)) == write.wire(1)


async def test_a_write_when_not_connected_raises_connection_error(connect_pair: typing.Callable, write: Write) -> None:
    _server, client = await connect_pair()
    await client.close()
    with pytest.raises(ConnectionError):
        await write.call(client, 1)


async def test_a_write_past_the_high_water_mark_waits_for_the_peer_to_read(
    connect_pair: typing.Callable, write: Write
) -> None:
    """A write that leaves the transport above its high-water mark waits
    (drains) until the peer has read enough, and so does a write made
    while it waits; both reach the peer, in order."""
    server, client = await connect_pair()
    big = b"x" * (16 * 2**20)
    first = asyncio.ensure_future(client.write(big))
    await asyncio.sleep(0.05)
    assert not first.done()
    second = asyncio.ensure_future(write.call(client, 1))
    await asyncio.sleep(0.05)
    assert not second.done()
    assert await received(server, big, write.wire(1)) == big + write.wire(1)
    await asyncio.wait_for(asyncio.gather(first, second), STD_TIMEOUT)


class CountingClient(tcpframe.Client):
    """Overrides every write with ``async def``."""

    calls: list[str]

    async def write(self, data: bytes) -> None:
        self.calls.append("write")
        await super().write(data)

    async def write_from(self, *structs: typing.Any) -> None:
        self.calls.append("write_from")
        await super().write_from(*structs)

    async def write_str(self, line: str) -> None:
        self.calls.append("write_str")
        await super().write_str(line)


async def test_a_subclass_override_is_what_a_write_runs(log: logging.Logger, write: Write) -> None:
    server = tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log)
    try:
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        client = CountingClient(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
        client.calls = []
        await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
        await write.call(client, 1)
        assert client.calls == [write.name]
        assert await received(server, write.wire(1)) == write.wire(1)
        await client.close()
    finally:
        await server.close()
