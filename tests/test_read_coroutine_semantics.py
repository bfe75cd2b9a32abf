"""What a client's read returns behaves as a coroutine does (SPEC §9).

With the compiled kernels a read returns a compiled awaitable instead of
a Python coroutine; with the twins, the ``async def`` method's coroutine.
Everything users do with a read's coroutine must give the same result
with both: await (buffered, or waiting), tasks, ``ensure_future``,
``gather``, ``wait_for`` and ``asyncio.timeout`` (a read that timed out
consumed nothing), cancellation while pending (the next read gets the
next message), ``run_coroutine_threadsafe``, awaiting twice raises, an
un-awaited read warns and consumes nothing, the coroutine-function
checks, and a subclass that overrides a read with ``async def``.

Each case runs for every read, over real loopback connections, on every
event loop; the suite runs it once with each implementation.
"""

import asyncio
import collections.abc
import contextlib
import ctypes
import dataclasses
import gc
import inspect
import json
import logging
import struct
import sys
import typing

import pytest

import tcpframe
from tcpframe import NMEA

pytestmark = pytest.mark.all_event_loops

STD_TIMEOUT = 5
# How long a read that is meant to be pending is given before it is cancelled (s).
PENDING = 0.05


class Sample(ctypes.Structure):
    _fields_ = [("number", ctypes.c_uint32)]


@dataclasses.dataclass(frozen=True)
class Read:
    """One read method: how the peer sends message ``k``, how to call the
    read, and which ``k`` its result holds."""

    name: str
    message: typing.Callable[[int], bytes]
    call: typing.Callable[[tcpframe.Client, Sample], typing.Awaitable[typing.Any]]
    number: typing.Callable[[typing.Any, Sample], int]

    def __str__(self) -> str:
        return self.name


def _length_prefixed(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


READS = [
    Read("read_into", lambda k: bytes(Sample(k)), lambda c, s: c.read_into(s), lambda r, s: s.number),
    Read(
        "readexactly",
        lambda k: struct.pack("<I", k),
        lambda c, s: c.readexactly(4),
        lambda r, s: struct.unpack("<I", r)[0],
    ),
    Read("readuntil", lambda k: b"%d;" % k, lambda c, s: c.readuntil(b";"), lambda r, s: int(r[:-1])),
    Read("readline", lambda k: b"%d\n" % k, lambda c, s: c.readline(), lambda r, s: int(r)),
    Read("read_str", lambda k: b"%d\r\n" % k, lambda c, s: c.read_str(), lambda r, s: int(r)),
    Read(
        "read_json",
        lambda k: json.dumps({"k": k}).encode() + b"\r\n",
        lambda c, s: c.read_json(),
        lambda r, s: r["k"],
    ),
    Read("read_frame", lambda k: _length_prefixed(b"%d" % k), lambda c, s: c.read_frame(), lambda r, s: int(r)),
    Read(
        "read_checksummed",
        lambda k: NMEA.encode(b"%d" % k),
        lambda c, s: c.read_checksummed(),
        lambda r, s: int(r),
    ),
]


@pytest.fixture(params=READS, ids=str)
def read(request: pytest.FixtureRequest) -> Read:
    return typing.cast(Read, request.param)


class Pair:
    """A server and a connected client; the server sends numbered messages."""

    def __init__(self, server: tcpframe.OneClientServer, client: tcpframe.Client, read: Read) -> None:
        self.server = server
        self.client = client
        self.read = read
        self.sample = Sample()

    async def send(self, *numbers: int) -> None:
        await self.server.write(b"".join(self.read.message(k) for k in numbers))

    def call(self, client: tcpframe.Client | None = None, sample: Sample | None = None) -> typing.Awaitable[typing.Any]:
        return self.read.call(client or self.client, sample or self.sample)

    def number(self, result: typing.Any, sample: Sample | None = None) -> int:
        return self.read.number(result, sample or self.sample)

    async def next_number(self) -> int:
        """Read the next message with a plain await and return its number."""
        async with asyncio.timeout(STD_TIMEOUT):
            return self.number(await self.call())

    async def buffered(self, *numbers: int) -> None:
        """Send messages and wait until the client has them all buffered."""
        await self.send(*numbers)
        size = sum(len(self.read.message(k)) for k in numbers)
        reader = self.client.reader
        assert reader is not None
        async with asyncio.timeout(STD_TIMEOUT):
            while reader.buffered < size:
                await asyncio.sleep(0.001)


@pytest.fixture
async def pair(connect_pair: typing.Callable, read: Read) -> Pair:
    server, client = await connect_pair()
    return Pair(server, client, read)


def test_the_reads_are_coroutine_functions() -> None:
    client_class = tcpframe.Client
    for read in READS:
        method = getattr(client_class, read.name)
        assert asyncio.iscoroutinefunction(method), read.name
        if sys.version_info >= (3, 12):
            assert inspect.iscoroutinefunction(method), read.name
        python_method = getattr(method, "__wrapped__", method)
        assert inspect.signature(method) == inspect.signature(python_method)
        assert method.__doc__ == python_method.__doc__
        assert method.__name__ == read.name


async def test_the_bound_reads_are_coroutine_functions(pair: Pair) -> None:
    method = getattr(pair.client, pair.read.name)
    assert asyncio.iscoroutinefunction(method)
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(method)


async def test_a_read_returns_a_coroutine_for_asyncio(pair: Pair) -> None:
    awaitable = pair.call()
    try:
        assert asyncio.iscoroutine(awaitable)
        assert isinstance(awaitable, collections.abc.Coroutine)
        assert isinstance(awaitable, collections.abc.Awaitable)
        if tcpframe.ACCELERATED:
            assert type(awaitable).__name__ == "ReadAwaitable"
        assert pair.read.name in repr(awaitable)
    finally:
        typing.cast(collections.abc.Coroutine, awaitable).close()


async def test_await_takes_buffered_messages_in_order(pair: Pair) -> None:
    await pair.buffered(0, 1, 2)
    assert [await pair.next_number() for _ in range(3)] == [0, 1, 2]


async def test_await_waits_for_a_message(pair: Pair) -> None:
    task = asyncio.ensure_future(pair.next_number())
    await asyncio.sleep(PENDING)
    assert not task.done()
    await pair.send(7)
    assert await task == 7


async def test_create_task_and_ensure_future_run_a_read(pair: Pair) -> None:
    await pair.buffered(0)
    assert pair.number(await asyncio.create_task(pair.call())) == 0  # type: ignore[arg-type]
    task = asyncio.ensure_future(pair.call())
    await asyncio.sleep(PENDING)
    await pair.send(1)
    assert pair.number(await asyncio.wait_for(task, STD_TIMEOUT)) == 1


async def test_gather_reads_messages_in_order(pair: Pair) -> None:
    await pair.buffered(0, 1)
    samples = [Sample(), Sample()]  # read_into: each read fills its own
    reads = [pair.call(sample=sample) for sample in samples]
    results = await asyncio.wait_for(asyncio.gather(*reads), STD_TIMEOUT)
    assert [pair.number(result, sample) for result, sample in zip(results, samples, strict=True)] == [0, 1]
    pending = asyncio.gather(pair.call(), return_exceptions=True)
    await asyncio.sleep(PENDING)
    await pair.send(2)
    assert [pair.number(result) for result in await asyncio.wait_for(pending, STD_TIMEOUT)] == [2]


async def test_wait_for_a_buffered_message_and_a_timeout_that_consumes_nothing(pair: Pair) -> None:
    await pair.buffered(0)
    assert pair.number(await asyncio.wait_for(pair.call(), STD_TIMEOUT)) == 0
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pair.call(), PENDING)
    await pair.send(1)
    assert await pair.next_number() == 1


async def test_asyncio_timeout_around_a_read(pair: Pair) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(PENDING):
            await pair.call()
    await pair.buffered(0)
    async with asyncio.timeout(STD_TIMEOUT):
        assert pair.number(await pair.call()) == 0
    assert pair.client.connected


async def test_cancelling_a_pending_read_leaves_the_next_message_to_the_next_read(pair: Pair) -> None:
    task = asyncio.ensure_future(pair.call())
    await asyncio.sleep(PENDING)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await pair.send(0, 1)
    assert [await pair.next_number() for _ in range(2)] == [0, 1]
    assert pair.client.connected


async def test_cancelling_a_task_before_it_starts_reads_nothing(pair: Pair) -> None:
    await pair.buffered(0)
    task = asyncio.ensure_future(pair.call())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pair.next_number() == 0


async def test_run_coroutine_threadsafe_runs_a_read_from_another_thread(pair: Pair) -> None:
    loop = asyncio.get_running_loop()

    def read_from_thread() -> typing.Any:
        future = asyncio.run_coroutine_threadsafe(pair.call(), loop)  # type: ignore[arg-type]
        return future.result(STD_TIMEOUT)

    await pair.buffered(0)
    assert pair.number(await loop.run_in_executor(None, read_from_thread)) == 0
    pending = loop.run_in_executor(None, read_from_thread)
    await asyncio.sleep(PENDING)
    await pair.send(1)
    assert pair.number(await asyncio.wait_for(pending, STD_TIMEOUT)) == 1


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "waiting"])
async def test_awaiting_a_read_twice_raises(pair: Pair, buffered: bool) -> None:
    awaitable = pair.call()
    if buffered:
        await pair.buffered(0)
    else:
        asyncio.get_running_loop().call_later(PENDING, asyncio.ensure_future, pair.send(0))
    async with asyncio.timeout(STD_TIMEOUT):
        assert pair.number(await awaitable) == 0
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        await awaitable


async def test_a_read_never_awaited_warns_and_consumes_nothing(pair: Pair) -> None:
    await pair.buffered(0)
    with pytest.warns(RuntimeWarning, match=rf"coroutine '\w+\.{pair.read.name}' was never awaited"):
        pair.call()
        gc.collect()
    assert await pair.next_number() == 0


async def test_a_read_closed_before_it_starts_consumes_nothing_and_does_not_warn(pair: Pair) -> None:
    await pair.buffered(0)
    awaitable = typing.cast(collections.abc.Coroutine, pair.call())
    awaitable.close()
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        await awaitable
    assert await pair.next_number() == 0


async def test_sending_a_value_into_a_fresh_read_raises_type_error(pair: Pair) -> None:
    await pair.buffered(0)
    awaitable = typing.cast(collections.abc.Coroutine, pair.call())
    with pytest.raises(TypeError, match="can't send non-None value to a just-started coroutine"):
        awaitable.send(1)
    awaitable.close()
    assert await pair.next_number() == 0


async def test_send_none_completes_a_buffered_read_with_stop_iteration(pair: Pair) -> None:
    await pair.buffered(0)
    awaitable = typing.cast(collections.abc.Coroutine, pair.call())
    with pytest.raises(StopIteration) as caught:
        awaitable.send(None)
    assert pair.number(caught.value.value) == 0


async def test_throw_into_a_fresh_read_raises_it_and_consumes_nothing(pair: Pair) -> None:
    await pair.buffered(0)
    awaitable = typing.cast(collections.abc.Coroutine, pair.call())
    with pytest.raises(KeyError):
        awaitable.throw(KeyError("x"))
    assert await pair.next_number() == 0


async def test_a_read_when_not_connected_raises_connection_error(pair: Pair) -> None:
    await pair.buffered(0)
    await pair.client.close()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(pair.call(), STD_TIMEOUT)


@contextlib.asynccontextmanager
async def serving(client_class: type[tcpframe.Client], log: logging.Logger) -> typing.AsyncIterator[tuple]:
    """A `tcpframe.OneClientServer` and a connected ``client_class``."""
    server = tcpframe.OneClientServer(host="127.0.0.1", port=0, log=log)
    client = None
    try:
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        client = client_class(host="127.0.0.1", port=server.port, log=log)
        await asyncio.wait_for(client.start_task, STD_TIMEOUT)
        await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
        yield server, client
    finally:
        if client is not None:
            await asyncio.wait_for(client.close(), STD_TIMEOUT)
        await asyncio.wait_for(server.close(), STD_TIMEOUT)


class OverridingClient(tcpframe.Client):
    """Overrides every read with ``async def``, tagging its result."""

    calls: list[str]

    async def read_into(self, struct: typing.Any) -> None:
        self.calls.append("read_into")
        await super().read_into(struct)

    async def readexactly(self, n: int) -> bytes:
        self.calls.append("readexactly")
        return await super().readexactly(n)

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        self.calls.append("readuntil")
        return await super().readuntil(separator)

    async def readline(self) -> bytes:
        self.calls.append("readline")
        return await super().readline()

    async def read_str(self) -> str:
        self.calls.append("read_str")
        return await super().read_str()

    async def read_json(self) -> typing.Any:
        self.calls.append("read_json")
        return await super().read_json()

    async def read_frame(self, prefix: tcpframe.LengthPrefix = tcpframe.DEFAULT_LENGTH_PREFIX) -> bytes:
        self.calls.append("read_frame")
        return await super().read_frame(prefix)

    async def read_checksummed(self, framing: tcpframe.ChecksumFrame = NMEA) -> bytes:
        self.calls.append("read_checksummed")
        return await super().read_checksummed(framing)


async def test_a_subclass_may_override_a_read_with_async_def(read: Read, log: logging.Logger) -> None:
    async with serving(OverridingClient, log) as (server, client):
        client.calls = []
        pair = Pair(server, client, read)
        assert inspect.iscoroutinefunction(getattr(client, read.name))
        await pair.buffered(0)
        assert await pair.next_number() == 0
        task = asyncio.ensure_future(pair.next_number())
        await asyncio.sleep(PENDING)
        await pair.send(1)
        assert await asyncio.wait_for(task, STD_TIMEOUT) == 1
        # (read_json also calls read_str, when its codec decodes text.)
        assert [name for name in client.calls if name == read.name] == [read.name, read.name]


async def test_a_subclass_override_is_what_iteration_reads(log: logging.Logger) -> None:
    async with serving(OverridingClient, log) as (server, client):
        client.calls = []
        await server.write(b"1\r\n2\r\n")
        lines = client.iter_lines()
        async with asyncio.timeout(STD_TIMEOUT):
            assert [await anext(lines), await anext(lines)] == ["1", "2"]
        assert client.calls == ["read_str", "read_str"]


class LineOverridingClient(tcpframe.Client):
    """Overrides ``read_str`` alone."""

    async def read_str(self) -> str:
        return '{"k": 99}'


async def test_read_json_reads_with_an_overridden_read_str(log: logging.Logger) -> None:
    async with serving(LineOverridingClient, log) as (server, client):
        await server.write(b'{"k": 1}\r\n')
        await asyncio.sleep(PENDING)
        assert await asyncio.wait_for(client.read_json(), STD_TIMEOUT) == {"k": 99}
