"""FrameReader and FrameWriter: the asyncio stream API, and tcpframe's hot path.

The first part runs each test over a real loopback connection made either
with ``asyncio.open_connection``/``asyncio.start_server`` (the reference)
or with ``tcpframe.open_connection``/``tcpframe.start_server``, and asserts
the same observable result for both: that is the drop-in promise.

The second part checks tcpframe's own hot-path rules as behaviour (how
often a coroutine suspends, how often the transport is called, when
receiving pauses), never as timing.
"""

import asyncio
import ctypes
import socket
import struct
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tcpframe
from conftest import STD_TIMEOUT
from coroutine_steps import count_suspensions, run_without_suspending
from tcpframe.stream.protocol import FrameProtocol

pytestmark = pytest.mark.all_event_loops


class TelemetryStruct(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("timestamp", ctypes.c_double),
        ("positions", ctypes.c_int64 * 3),
        ("status", ctypes.c_uint8),
    ]


def make_telemetry(seed: int) -> TelemetryStruct:
    return TelemetryStruct(timestamp=seed * 1.5, positions=(seed, -seed, 2 * seed), status=seed % 256)


def struct_fields(data: TelemetryStruct) -> tuple:
    return (data.timestamp, tuple(data.positions), data.status)


async def wait_until_buffered(reader: typing.Any, nbytes: int) -> None:
    """Wait until ``reader`` holds at least ``nbytes`` unread bytes.

    Uses `tcpframe.FrameReader.buffered`, or asyncio.StreamReader's
    private ``_buffer`` (it has no public count), so that a test can read
    from a known state.
    """

    def buffered() -> int:
        return reader.buffered if isinstance(reader, tcpframe.FrameReader) else len(reader._buffer)

    async with asyncio.timeout(STD_TIMEOUT):
        while buffered() < nbytes:
            await asyncio.sleep(0.001)


async def wait_until_eof_received(reader: typing.Any) -> None:
    """Wait until ``reader`` has been told of EOF (``_eof``, in both APIs)."""
    async with asyncio.timeout(STD_TIMEOUT):
        while not reader._eof:
            await asyncio.sleep(0.001)


def ends(pair: typing.Any, direction: str) -> tuple[typing.Any, typing.Any]:
    """Return (writer, reader) of a StreamPair for a direction."""
    if direction == "client_to_server":
        return pair.client_writer, pair.server_reader
    return pair.server_writer, pair.client_reader


DIRECTIONS = ["client_to_server", "server_to_client"]


# --- The asyncio stream API, compared with asyncio's own streams ---------


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_readexactly_returns_exactly_n_bytes_of_data_written_in_pieces(
    stream_api: str, open_stream_pair: typing.Callable, localhost: str, direction: str
) -> None:
    pair = await open_stream_pair(stream_api, host=localhost)
    writer, reader = ends(pair, direction)
    writer.write(b"abc")
    writer.write(b"defgh")
    await writer.drain()
    assert await asyncio.wait_for(reader.readexactly(4), STD_TIMEOUT) == b"abcd"
    assert await asyncio.wait_for(reader.readexactly(4), STD_TIMEOUT) == b"efgh"
    assert await reader.readexactly(0) == b""
    with pytest.raises(ValueError):
        await reader.readexactly(-1)


async def test_read_returns_at_most_n_bytes_then_empty_bytes_at_eof(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"0123456789")
    await pair.client_writer.drain()
    await wait_until_buffered(pair.server_reader, 10)
    assert await pair.server_reader.read(0) == b""
    assert await pair.server_reader.read(4) == b"0123"
    assert await pair.server_reader.read(100) == b"456789"
    assert not pair.server_reader.at_eof()
    pair.client_writer.write_eof()
    assert await asyncio.wait_for(pair.server_reader.read(10), STD_TIMEOUT) == b""
    assert pair.server_reader.at_eof()
    assert await pair.server_reader.read(10) == b""


async def test_read_minus_one_returns_every_byte_until_eof(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    data = bytes(range(256)) * 1000  # more than the 64 KiB limit
    for start in range(0, len(data), 10_000):
        pair.client_writer.write(data[start : start + 10_000])
    await pair.client_writer.drain()
    pair.client_writer.close()
    assert await asyncio.wait_for(pair.server_reader.read(-1), STD_TIMEOUT) == data
    assert await asyncio.wait_for(pair.server_reader.read(), STD_TIMEOUT) == b""
    assert pair.server_reader.at_eof()


async def test_readline_returns_lines_then_the_unterminated_rest_at_eof(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.server_writer.write(b"one\ntwo\nthr")
    pair.server_writer.write_eof()
    reader = pair.client_reader
    lines = [await asyncio.wait_for(reader.readline(), STD_TIMEOUT) for _ in range(4)]
    assert lines == [b"one\n", b"two\n", b"thr", b""]
    assert reader.at_eof()


async def test_async_iteration_yields_lines_until_eof(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.writelines([b"alpha\n", b"beta\n", b"gamma"])
    pair.client_writer.write_eof()
    async with asyncio.timeout(STD_TIMEOUT):
        lines = [line async for line in pair.server_reader]
    assert lines == [b"alpha\n", b"beta\n", b"gamma"]


async def test_readuntil_finds_a_multi_byte_separator_split_across_packets(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    read_task = asyncio.create_task(pair.server_reader.readuntil(b"XYZZY"))
    pair.client_writer.write(b"abcXY")
    await pair.client_writer.drain()
    await wait_until_buffered(pair.server_reader, 5)
    assert not read_task.done()
    pair.client_writer.write(b"ZZYdef")
    await pair.client_writer.drain()
    assert await asyncio.wait_for(read_task, STD_TIMEOUT) == b"abcXYZZY"
    assert await asyncio.wait_for(pair.server_reader.readexactly(3), STD_TIMEOUT) == b"def"


async def test_readuntil_rejects_an_empty_separator(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    with pytest.raises(ValueError):
        await pair.server_reader.readuntil(b"")


async def test_readuntil_separator_beyond_limit_raises_limit_overrun_and_keeps_the_data(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api, limit=16)
    data = b"x" * 40 + b"\r\n" + b"rest"
    pair.client_writer.write(data)
    await pair.client_writer.drain()
    await wait_until_buffered(pair.server_reader, len(data))
    with pytest.raises(asyncio.LimitOverrunError) as excinfo:
        await pair.server_reader.readuntil(b"\r\n")
    assert excinfo.value.consumed == 40
    assert "is found" in str(excinfo.value)
    assert await pair.server_reader.readexactly(len(data)) == data


async def test_readuntil_no_separator_within_limit_raises_limit_overrun_and_keeps_the_data(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api, limit=16)
    data = b"y" * 40
    pair.client_writer.write(data)
    await pair.client_writer.drain()
    await wait_until_buffered(pair.server_reader, len(data))
    with pytest.raises(asyncio.LimitOverrunError) as excinfo:
        await pair.server_reader.readuntil(b"\r\n")
    assert excinfo.value.consumed == len(data) + 1 - 2
    assert "not found" in str(excinfo.value)
    assert await pair.server_reader.readexactly(len(data)) == data


async def test_readuntil_waiting_for_a_separator_raises_limit_overrun_when_data_exceeds_limit(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api, limit=16)
    read_task = asyncio.create_task(pair.server_reader.readuntil(b"\n"))
    await asyncio.sleep(0)
    pair.client_writer.write(b"z" * 100)
    await pair.client_writer.drain()
    with pytest.raises(asyncio.LimitOverrunError):
        await asyncio.wait_for(read_task, STD_TIMEOUT)
    await wait_until_buffered(pair.server_reader, 100)
    assert await pair.server_reader.readexactly(100) == b"z" * 100


async def test_readline_longer_than_limit_raises_value_error_and_discards_that_line(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api, limit=16)
    data = b"z" * 40 + b"\n" + b"next\n"
    pair.client_writer.write(data)
    await pair.client_writer.drain()
    await wait_until_buffered(pair.server_reader, len(data))
    with pytest.raises(ValueError):
        await pair.server_reader.readline()
    assert await pair.server_reader.readline() == b"next\n"


async def test_readline_without_newline_beyond_limit_raises_value_error_and_discards_the_buffer(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api, limit=16)
    pair.client_writer.write(b"w" * 40)
    await pair.client_writer.drain()
    await wait_until_buffered(pair.server_reader, 40)
    with pytest.raises(ValueError):
        await pair.server_reader.readline()
    pair.client_writer.write(b"tail\n")
    await pair.client_writer.drain()
    assert await asyncio.wait_for(pair.server_reader.readline(), STD_TIMEOUT) == b"tail\n"


async def test_readexactly_at_eof_raises_incomplete_read_with_exactly_the_bytes_received(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"partial")
    pair.client_writer.write_eof()
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await asyncio.wait_for(pair.server_reader.readexactly(100), STD_TIMEOUT)
    assert excinfo.value.partial == b"partial"
    assert excinfo.value.expected == 100
    assert pair.server_reader.at_eof()


async def test_readuntil_at_eof_raises_incomplete_read_with_all_unread_bytes(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"first\r\nsecond, unterminated")
    pair.client_writer.write_eof()
    assert await asyncio.wait_for(pair.server_reader.readuntil(b"\r\n"), STD_TIMEOUT) == b"first\r\n"
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await asyncio.wait_for(pair.server_reader.readuntil(b"\r\n"), STD_TIMEOUT)
    assert excinfo.value.partial == b"second, unterminated"
    assert excinfo.value.expected is None
    assert pair.server_reader.at_eof()


async def test_at_eof_stays_false_until_the_last_byte_after_eof_is_read(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write(b"abc")
    pair.client_writer.write_eof()
    await wait_until_eof_received(pair.server_reader)
    assert not pair.server_reader.at_eof()
    assert await pair.server_reader.read(2) == b"ab"
    assert not pair.server_reader.at_eof()
    assert await pair.server_reader.read(2) == b"c"
    assert pair.server_reader.at_eof()


async def test_connection_reset_by_peer_is_reported_by_exception_and_raised_by_reads(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    assert pair.server_reader.exception() is None
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    sock = pair.client_writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    pair.client_writer.transport.abort()
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(pair.server_reader.read(10), STD_TIMEOUT)
    assert isinstance(pair.server_reader.exception(), ConnectionResetError)
    with pytest.raises(ConnectionResetError):
        await pair.server_reader.readexactly(1)
    with pytest.raises(ConnectionResetError):
        await pair.server_writer.drain()


async def test_get_extra_info_gives_the_socket_and_peername(
    stream_api: str, open_stream_pair: typing.Callable, localhost: str
) -> None:
    pair = await open_stream_pair(stream_api, host=localhost)
    client_sock = pair.client_writer.get_extra_info("socket")
    assert client_sock.family == (socket.AF_INET6 if ":" in localhost else socket.AF_INET)
    assert client_sock.getsockname() == pair.server_writer.get_extra_info("peername")
    assert pair.client_writer.get_extra_info("peername") == pair.server_writer.get_extra_info("sockname")
    assert pair.client_writer.get_extra_info("no-such-info", 42) == 42
    assert pair.client_writer.transport.get_extra_info("socket") is not None


async def test_close_then_wait_closed_finishes_and_the_peer_sees_eof(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    assert not pair.client_writer.is_closing()
    pair.client_writer.close()
    assert pair.client_writer.is_closing()
    await asyncio.wait_for(pair.client_writer.wait_closed(), STD_TIMEOUT)
    await asyncio.wait_for(pair.client_writer.wait_closed(), STD_TIMEOUT)  # twice is fine
    assert await asyncio.wait_for(pair.server_reader.read(10), STD_TIMEOUT) == b""
    assert pair.server_reader.at_eof()


async def test_write_eof_half_closes_and_the_peer_can_still_reply(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    assert pair.client_writer.can_write_eof()
    pair.client_writer.write(b"request")
    pair.client_writer.write_eof()
    assert await asyncio.wait_for(pair.server_reader.read(-1), STD_TIMEOUT) == b"request"
    pair.server_writer.write(b"reply")
    await pair.server_writer.drain()
    pair.server_writer.close()
    assert await asyncio.wait_for(pair.client_reader.read(-1), STD_TIMEOUT) == b"reply"


async def test_write_after_write_eof_raises_runtime_error(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    pair.client_writer.write_eof()
    with pytest.raises(RuntimeError):
        pair.client_writer.write(b"too late")


async def test_write_rejects_str(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    with pytest.raises(TypeError):
        pair.client_writer.write("not bytes")


async def test_two_coroutines_waiting_on_one_reader_is_a_runtime_error(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    first = asyncio.create_task(pair.server_reader.readexactly(4))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="already waiting"):
        await pair.server_reader.readline()
    pair.client_writer.write(b"1234")
    assert await asyncio.wait_for(first, STD_TIMEOUT) == b"1234"


async def test_drain_blocks_while_the_peer_does_not_read_then_completes(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    # Small kernel buffers, so that the data cannot all hide in them.
    pair.client_writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    pair.server_writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    transport = pair.client_writer.transport
    transport.set_write_buffer_limits(high=65536)
    data = bytes(range(256)) * (8 * 4096)  # 8 MiB
    pair.client_writer.write(data)
    drain_task = asyncio.create_task(pair.client_writer.drain())
    await asyncio.sleep(0.1)
    assert not drain_task.done(), "drain returned while the transport was above its high-water mark"
    assert transport.get_write_buffer_size() > 65536
    received = await asyncio.wait_for(pair.server_reader.readexactly(len(data)), STD_TIMEOUT)
    await asyncio.wait_for(drain_task, STD_TIMEOUT)
    assert received == data


async def test_close_sends_pending_writes_first(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    chunks = [b"chunk %03d;" % i for i in range(100)]
    for chunk in chunks:
        pair.client_writer.write(chunk)
    pair.client_writer.close()  # no drain, no yield to the loop in between
    await asyncio.wait_for(pair.client_writer.wait_closed(), STD_TIMEOUT)
    assert await asyncio.wait_for(pair.server_reader.read(-1), STD_TIMEOUT) == b"".join(chunks)


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_burst_of_1000_small_writes_arrives_intact_and_in_order(
    stream_api: str, open_stream_pair: typing.Callable, direction: str
) -> None:
    pair = await open_stream_pair(stream_api)
    writer, reader = ends(pair, direction)
    for i in range(1000):
        writer.write(b"%04d\n" % i)
    await writer.drain()
    async with asyncio.timeout(STD_TIMEOUT):
        lines = [await reader.readline() for _ in range(1000)]
    assert lines == [b"%04d\n" % i for i in range(1000)]


async def test_writelines_sends_every_item_in_order(stream_api: str, open_stream_pair: typing.Callable) -> None:
    pair = await open_stream_pair(stream_api)
    pair.server_writer.writelines([b"a", bytearray(b"bc"), memoryview(b"def")])
    await pair.server_writer.drain()
    assert await asyncio.wait_for(pair.client_reader.readexactly(6), STD_TIMEOUT) == b"abcdef"


async def test_big_write_between_small_writes_keeps_byte_order(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    big = bytes(range(256)) * 1024  # 256 KiB: bigger than the coalescing size
    pair.client_writer.write(b"head")
    pair.client_writer.write(big)
    pair.client_writer.write(b"tail")
    await pair.client_writer.drain()
    expected = b"head" + big + b"tail"
    assert await asyncio.wait_for(pair.server_reader.readexactly(len(expected)), STD_TIMEOUT) == expected


async def test_writing_a_bytearray_then_changing_it_sends_the_original_bytes(
    stream_api: str, open_stream_pair: typing.Callable
) -> None:
    pair = await open_stream_pair(stream_api)
    data = bytearray(b"original")
    pair.client_writer.write(data)
    data[:] = b"MUTATED!"
    await pair.client_writer.drain()
    assert await asyncio.wait_for(pair.server_reader.readexactly(8), STD_TIMEOUT) == b"original"


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_read_into_and_write_from_move_ctypes_structs(
    stream_api: str, open_stream_pair: typing.Callable, direction: str
) -> None:
    pair = await open_stream_pair(stream_api)
    writer, reader = ends(pair, direction)
    sent = [make_telemetry(i) for i in range(1, 4)]
    await tcpframe.write_from(writer, *sent)
    for expected in sent:
        received = TelemetryStruct()
        await asyncio.wait_for(tcpframe.read_into(reader, received), STD_TIMEOUT)
        assert struct_fields(received) == struct_fields(expected)


# --- tcpframe's hot path ---------------------------------------------------


@pytest.fixture
def received_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the chunks every FrameProtocol receives, in order."""
    chunks: list[int] = []
    buffer_updated = FrameProtocol.buffer_updated

    def counting_buffer_updated(self: FrameProtocol, nbytes: int) -> None:
        chunks.append(nbytes)
        buffer_updated(self, nbytes)

    monkeypatch.setattr(FrameProtocol, "buffer_updated", counting_buffer_updated)
    return chunks


async def test_reads_of_already_buffered_bytes_complete_without_yielding_to_the_loop(
    open_stream_pair: typing.Callable,
) -> None:
    pair = await open_stream_pair("tcpframe")
    telemetry = make_telemetry(7)
    data = b"line one\n" + b"12345678" + bytes(telemetry) + b"record XYZZY" + b"tail"
    pair.client_writer.write(data)
    await pair.client_writer.drain()
    reader = pair.server_reader
    await wait_until_buffered(reader, len(data))

    other_task_ran: list[bool] = []
    other_task = asyncio.create_task(_append_when_run(other_task_ran))

    assert run_without_suspending(reader.readline()) == b"line one\n"
    assert run_without_suspending(reader.readexactly(8)) == b"12345678"
    received = TelemetryStruct()
    run_without_suspending(reader.read_into(received))
    assert struct_fields(received) == struct_fields(telemetry)
    assert run_without_suspending(reader.readuntil(b"XYZZY")) == b"record XYZZY"
    assert run_without_suspending(reader.read(100)) == b"tail"
    assert other_task_ran == [], "another task ran: a read yielded to the event loop"
    await other_task
    assert other_task_ran == [True]


async def _append_when_run(flags: list) -> None:
    flags.append(True)


async def test_client_and_server_reads_of_buffered_data_complete_without_yielding(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair()
    await client.write_str("hello")
    await client.write_json({"answer": 42})
    await wait_until_buffered(server.reader, len(b'hello\r\n{"answer": 42}\r\n'))
    assert run_without_suspending(server.read_str()) == "hello"
    assert run_without_suspending(server.read_json()) == {"answer": 42}


@pytest.mark.parametrize("method", ["readexactly", "readuntil", "read_into"])
async def test_blocked_read_fed_in_many_small_chunks_is_woken_once(
    open_stream_pair: typing.Callable, received_chunks: list[int], method: str
) -> None:
    pair = await open_stream_pair("tcpframe")
    telemetry_type = ctypes.c_uint8 * 1000
    payload = bytes(i % 200 for i in range(995)) + b"XYZZY"
    reads = {
        "readexactly": lambda: pair.server_reader.readexactly(1000),
        "readuntil": lambda: pair.server_reader.readuntil(b"XYZZY"),
        "read_into": lambda: pair.server_reader.read_into(telemetry_type()),
    }
    suspensions: list = []
    read_task = asyncio.create_task(count_suspensions(reads[method](), suspensions))
    await asyncio.sleep(0)
    assert len(suspensions) == 1  # waiting
    for start in range(0, len(payload), 20):
        pair.client_writer.write(payload[start : start + 20])
        await asyncio.sleep(0.002)  # the writer flushes; the chunk arrives
    result = await asyncio.wait_for(read_task, STD_TIMEOUT)
    assert len(received_chunks) >= 10, "the chunks were not received separately; the test proves nothing"
    assert len(suspensions) == 1, f"woken {len(suspensions)} times for one read"
    if method != "read_into":
        assert result == payload


async def test_receiving_pauses_above_the_high_water_mark_and_resumes_below_the_low_one(
    open_stream_pair: typing.Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, int]] = []
    max_buffered = [0]
    pause_receiving = FrameProtocol.pause_receiving
    resume_receiving = FrameProtocol.resume_receiving
    buffer_updated = FrameProtocol.buffer_updated

    def recording_pause(self: FrameProtocol) -> bool:
        events.append(("pause", self.reader.buffered))
        return pause_receiving(self)

    def recording_resume(self: FrameProtocol) -> None:
        events.append(("resume", self.reader.buffered))
        resume_receiving(self)

    def recording_buffer_updated(self: FrameProtocol, nbytes: int) -> None:
        buffer_updated(self, nbytes)
        max_buffered[0] = max(max_buffered[0], self.reader.buffered)

    monkeypatch.setattr(FrameProtocol, "pause_receiving", recording_pause)
    monkeypatch.setattr(FrameProtocol, "resume_receiving", recording_resume)
    monkeypatch.setattr(FrameProtocol, "buffer_updated", recording_buffer_updated)

    pair = await open_stream_pair("tcpframe")
    reader = pair.server_reader
    high_water, low_water = reader._high_water, reader._low_water
    data = bytes(range(256)) * (8 * 4096)  # 8 MiB, far above the high-water mark
    pair.client_writer.write(data)

    async with asyncio.timeout(STD_TIMEOUT):
        while not reader._paused:
            await asyncio.sleep(0.001)
    assert not pair.server_writer.transport.is_reading()
    await asyncio.sleep(0.05)  # the sender keeps pushing; nothing is received
    assert high_water < reader.buffered <= high_water + 2**20

    received = bytearray()
    was_resumed_while_reading = False
    async with asyncio.timeout(STD_TIMEOUT):
        while len(received) < len(data):
            received += await reader.read(65536)
            if not reader._paused:
                was_resumed_while_reading = True
                assert pair.server_writer.transport.is_reading()
    assert received == data
    assert was_resumed_while_reading
    assert pair.server_writer.transport.is_reading()
    pauses = [nbytes for kind, nbytes in events if kind == "pause"]
    resumes = [nbytes for kind, nbytes in events if kind == "resume"]
    assert pauses and resumes
    assert all(nbytes > high_water for nbytes in pauses)
    assert all(nbytes <= low_water for nbytes in resumes)
    assert max_buffered[0] <= high_water + 2**20


class CountingTransport:
    """Wrap a transport, counting calls to ``write``."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[int] = []

    def write(self, data: bytes) -> None:
        self.writes.append(len(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self.transport, name)


async def test_burst_of_small_writes_is_coalesced_into_few_transport_writes(
    open_stream_pair: typing.Callable,
) -> None:
    pair = await open_stream_pair("tcpframe")
    counting = CountingTransport(pair.client_writer.transport)
    pair.client_writer._transport = counting
    for i in range(1000):
        pair.client_writer.write(b"%04d\n" % i)
    await pair.client_writer.drain()
    async with asyncio.timeout(STD_TIMEOUT):
        lines = [await pair.server_reader.readline() for _ in range(1000)]
    assert lines == [b"%04d\n" % i for i in range(1000)]
    assert sum(counting.writes) == 5000
    assert len(counting.writes) <= 5, f"{len(counting.writes)} transport writes for 1000 small writes"


async def test_pending_writes_are_sent_before_a_read_waits_for_the_reply(
    open_stream_pair: typing.Callable,
) -> None:
    pair = await open_stream_pair("tcpframe")
    counting = CountingTransport(pair.client_writer.transport)
    pair.client_writer._transport = counting
    pair.client_writer.write(b"request\n")
    assert counting.writes == [8], "a write to an idle connection goes out at once"
    pair.client_writer.write(b"part 2\n")
    assert counting.writes == [8], "a write right after another is coalesced"
    reply_coro = pair.client_reader.readline()
    waiter = reply_coro.send(None)  # suspends: no reply is buffered
    assert counting.writes == [8, 7], "the pending write was not sent before the read waited"
    assert await asyncio.wait_for(pair.server_reader.readexactly(15), STD_TIMEOUT) == b"request\npart 2\n"
    pair.server_writer.write(b"reply\n")
    # This test plays the Task's part for reply_coro, so it waits for the
    # future reply_coro yielded as a Task does, with a done callback:
    # awaiting a future that a coroutine has already yielded is an error
    # ("await wasn't used with future") from Python 3.12's wait_for on.
    await asyncio.wait([waiter], timeout=STD_TIMEOUT)
    assert waiter.done()
    with pytest.raises(StopIteration) as stop:
        reply_coro.send(None)
    assert stop.value.value == b"reply\n"


# --- Property: same reads, same chunks, same results as asyncio.StreamReader --

SEPARATORS = [b"\n", b"\r\n", b"XYZZY", b"ab"]

read_operations = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.integers(-1, 40)),
        st.tuples(st.just("readexactly"), st.integers(0, 40)),
        st.tuples(st.just("readline"), st.none()),
        st.tuples(st.just("readuntil"), st.sampled_from(SEPARATORS)),
    ),
    max_size=12,
)
stream_bytes = st.lists(st.sampled_from([b"a", b"b", b"\n", b"\r", b"X", b"XYZZY", b"xxxxxxx", b"ab"])).map(b"".join)


async def run_read_operations(
    reader: typing.Any, data: bytes, chunk_sizes: list[int], operations: list[tuple[str, typing.Any]]
) -> list[tuple]:
    """Feed ``data`` to ``reader`` in chunks while running ``operations``.

    Returns what each read returned or raised. The reading task runs to
    quiescence between chunks, so both readers see the same schedule.
    """
    results: list[tuple] = []

    async def read_all() -> None:
        for name, argument in operations:
            try:
                if name == "readline":
                    results.append(("data", await reader.readline()))
                else:
                    results.append(("data", await getattr(reader, name)(argument)))
            except asyncio.IncompleteReadError as e:
                results.append(("IncompleteReadError", e.partial, e.expected))
            except asyncio.LimitOverrunError as e:
                results.append(("LimitOverrunError", e.consumed))
            except ValueError:
                results.append(("ValueError",))

    task = asyncio.create_task(read_all())
    offset = 0
    for size in chunk_sizes:
        if offset >= len(data):
            break
        for _ in range(3):
            await asyncio.sleep(0)
        reader.feed_data(data[offset : offset + size])
        offset += size
    if offset < len(data):
        reader.feed_data(data[offset:])
    for _ in range(3):
        await asyncio.sleep(0)
    reader.feed_eof()
    await asyncio.wait_for(task, STD_TIMEOUT)
    results.append(("at_eof", reader.at_eof()))
    return results


@settings(max_examples=300, deadline=None)
@given(
    data=stream_bytes,
    chunk_sizes=st.lists(st.integers(1, 30), max_size=20),
    operations=read_operations,
    limit=st.integers(1, 40),
)
def test_frame_reader_matches_stream_reader_for_any_reads_and_chunking(
    data: bytes, chunk_sizes: list[int], operations: list, limit: int
) -> None:
    async def compare() -> tuple[list, list]:
        expected = await run_read_operations(asyncio.StreamReader(limit=limit), data, chunk_sizes, operations)
        actual = await run_read_operations(tcpframe.FrameReader(limit=limit), data, chunk_sizes, operations)
        return expected, actual

    expected, actual = asyncio.run(compare())
    assert actual == expected
