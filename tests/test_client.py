"""Client (and the BaseClientOrServer methods it shares with the servers).

Every test connects a real `tcpframe.Client` to a `tcpframe.OneClientServer`
over loopback (see the ``connect_pair`` fixture) and runs on asyncio's
event loop and on uvloop.
"""

import asyncio
import contextlib
import ctypes
import json
import logging
import socket
import struct
import typing
from collections.abc import Iterator

import pytest

import tcpframe
from conftest import STD_TIMEOUT

pytestmark = pytest.mark.all_event_loops


class TelemetryStruct(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("timestamp", ctypes.c_double),
        ("positions", ctypes.c_int64 * 3),
        ("status", ctypes.c_uint8),
    ]


def struct_fields(data: TelemetryStruct) -> tuple:
    return (data.timestamp, tuple(data.positions), data.status)


async def within_timeout(awaitable: typing.Awaitable) -> typing.Any:
    return await asyncio.wait_for(awaitable, STD_TIMEOUT)


# --- Every read and write method, both ways, IPv4 and IPv6 ----------------


async def exchange_read_exactly(sender: typing.Any, receiver: typing.Any) -> None:
    await sender.write(b"bin\x00\xff\r\nary")
    assert await receiver.readexactly(10) == b"bin\x00\xff\r\nary"


async def exchange_read(sender: typing.Any, receiver: typing.Any) -> None:
    await sender.write(b"abc")
    assert await receiver.read(100) == b"abc"


async def exchange_readline(sender: typing.Any, receiver: typing.Any) -> None:
    await sender.writelines([b"one ", bytearray(b"line"), b"\n"])
    assert await receiver.readline() == b"one line\n"


async def exchange_readuntil(sender: typing.Any, receiver: typing.Any) -> None:
    await sender.write(b"a\nb\r\nXYZZYafter")
    assert await receiver.readuntil(b"XYZZY") == b"a\nb\r\nXYZZY"
    await sender.write(b"line\n")
    assert await receiver.readuntil() == b"afterline\n"


async def exchange_structs(sender: typing.Any, receiver: typing.Any) -> None:
    sent = [
        TelemetryStruct(timestamp=1.25, positions=(1, -2, 3), status=7),
        TelemetryStruct(timestamp=-8e9, positions=(2**40, 0, -(2**62)), status=255),
    ]
    await sender.write_from(*sent)
    for expected in sent:
        received = TelemetryStruct()
        await receiver.read_into(received)
        assert struct_fields(received) == struct_fields(expected)


async def exchange_str(sender: typing.Any, receiver: typing.Any) -> None:
    await sender.write_str("héllo wörld ☃")
    await sender.write_str("")
    assert await receiver.read_str() == "héllo wörld ☃"
    assert await receiver.read_str() == ""


async def exchange_json(sender: typing.Any, receiver: typing.Any) -> None:
    data = {"command": "move", "parameters": {"position": [1.5, -2, None], "name": "☃"}}
    await sender.write_json(data)
    await sender.write_json([1, "two"])
    assert await receiver.read_json() == data
    assert await receiver.read_json() == [1, "two"]


EXCHANGES = {
    "write-readexactly": exchange_read_exactly,
    "write-read": exchange_read,
    "writelines-readline": exchange_readline,
    "write-readuntil": exchange_readuntil,
    "write_from-read_into": exchange_structs,
    "write_str-read_str": exchange_str,
    "write_json-read_json": exchange_json,
}


@pytest.mark.parametrize("exchange", sorted(EXCHANGES))
@pytest.mark.parametrize("direction", ["client_to_server", "server_to_client"])
async def test_each_write_method_is_read_back_by_its_read_method(
    connect_pair: typing.Callable, localhost: str, direction: str, exchange: str
) -> None:
    server, client = await connect_pair(host=localhost)
    sender, receiver = (client, server) if direction == "client_to_server" else (server, client)
    await within_timeout(EXCHANGES[exchange](sender, receiver))
    assert client.connected and server.connected


ENCODINGS = ["utf-8", "utf-16", "utf-32"]
TERMINATORS = [b"\r\n", b"\n", b"\n\r", b"XYZZY"]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("terminator", TERMINATORS, ids=repr)
async def test_encoding_and_terminator_changed_at_run_time_apply_to_the_next_str_and_json_calls(
    connect_pair: typing.Callable, encoding: str, terminator: bytes
) -> None:
    server, client = await connect_pair()
    await client.write_str("before")
    assert await within_timeout(server.read_str()) == "before"

    for end in (client, server):
        end.encoding = encoding
        end.terminator = terminator
    text = "naïve café ☃ ok"
    await client.write_str(text)
    await client.write_json({"text": text})
    await server.write_str(text)
    await server.write_json([text, 1])
    assert await within_timeout(server.read_str()) == text
    assert await within_timeout(server.read_json()) == {"text": text}
    assert await within_timeout(client.read_str()) == text
    assert await within_timeout(client.read_json()) == [text, 1]
    # The bytes on the wire are the encoded text and the terminator.
    await client.write_str(text)
    assert await within_timeout(server.readuntil(terminator)) == text.encode(encoding) + terminator


async def test_read_str_strips_only_the_terminator(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    await server.write(b"  padded\n\r\n")
    assert await within_timeout(client.read_str()) == "  padded\n"


async def test_read_json_error_message_contains_the_bad_text(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    await server.write_str("{'not': json")
    with pytest.raises(json.JSONDecodeError) as excinfo:
        await within_timeout(client.read_json())
    assert "{'not': json" in str(excinfo.value)
    await server.write_json({"still": "working"})
    assert await within_timeout(client.read_json()) == {"still": "working"}


async def test_read_str_of_undecodable_bytes_raises_unicode_error(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    await server.write(b"\xff\xfe\xfa\r\nnext\r\n")
    with pytest.raises(UnicodeError):
        await within_timeout(client.read_str())
    assert await within_timeout(client.read_str()) == "next"


async def test_buffered_lines_are_read_with_the_encoding_and_terminator_set_before_each_read(
    connect_pair: typing.Callable, until: typing.Callable
) -> None:
    server, client = await connect_pair()
    wire = "café\r\n".encode() + "café\n".encode("latin-1") + b"x|"
    await server.write(wire)
    await until(lambda: client.reader.buffered == len(wire))
    assert await within_timeout(client.read_str()) == "café"
    client.encoding, client.terminator = "latin-1", b"\n"
    assert await within_timeout(client.read_str()) == "café"
    client.terminator = b"|"
    assert await within_timeout(client.read_str()) == "x"


async def test_a_servers_next_client_is_read_with_the_servers_encoding_and_terminator(
    log: logging.Logger, until: typing.Callable
) -> None:
    server = tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log)
    try:
        await within_timeout(server.start_task)
        first = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
        await within_timeout(server.connected_task)
        await within_timeout(first.close())
        server.encoding, server.terminator = "latin-1", b"|"
        await within_timeout(server.close_client())
        second = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
        await within_timeout(second.start_task)
        await until(lambda: server.connected)
        await second.write("café|".encode("latin-1"))
        assert await within_timeout(server.read_str()) == "café"
        await within_timeout(second.close())
    finally:
        await within_timeout(server.close())


async def test_write_str_of_unencodable_text_raises_unicode_error(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    client.encoding = "ascii"
    with pytest.raises(UnicodeError):
        await client.write_str("café")
    await client.write_str("cafe")
    assert await within_timeout(server.read_str()) == "cafe"


async def test_write_json_of_unserializable_data_raises_type_error(connect_pair: typing.Callable) -> None:
    _server, client = await connect_pair()
    with pytest.raises(TypeError):
        await client.write_json({"a": object()})


async def test_limit_keyword_sets_the_line_limit_and_overrun_keeps_the_data(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair(client_kwargs=dict(limit=16))
    line = b"x" * 40 + b"\r\n"
    await server.write(line)
    with pytest.raises(asyncio.LimitOverrunError):
        await within_timeout(client.read_str())
    assert client.connected
    assert await within_timeout(client.readexactly(len(line))) == line


# --- Construction ----------------------------------------------------------


def not_a_coroutine_function(client: tcpframe.BaseClientOrServer) -> None:
    pass


async def test_a_synchronous_connect_callback_is_a_type_error(log: logging.Logger) -> None:
    with pytest.raises(TypeError):
        tcpframe.Client(host="127.0.0.1", port=0, log=log, connect_callback=not_a_coroutine_function)


@pytest.mark.parametrize("terminator", ["\r\n", b"", None, bytearray(b"\n")], ids=repr)
async def test_a_bad_terminator_is_a_value_error(log: logging.Logger, terminator: typing.Any) -> None:
    with pytest.raises(ValueError):
        tcpframe.Client(host="", port=0, log=log, terminator=terminator)


async def test_an_unknown_encoding_is_a_value_error(log: logging.Logger) -> None:
    with pytest.raises(ValueError):
        tcpframe.Client(host="", port=0, log=log, encoding="no-such-codec")


async def test_setting_a_bad_terminator_or_encoding_at_run_time_is_a_value_error(
    connect_pair: typing.Callable,
) -> None:
    server, client = await connect_pair()
    with pytest.raises(ValueError):
        client.terminator = "\n"
    with pytest.raises(ValueError):
        client.terminator = b""
    with pytest.raises(ValueError):
        client.encoding = "no-such-codec"
    assert (client.terminator, client.encoding) == (b"\r\n", "utf-8")
    await client.write_str("unchanged")
    assert await within_timeout(server.read_str()) == "unchanged"


async def test_host_empty_makes_an_already_closed_client(log: logging.Logger, make_recorder: type) -> None:
    recorder = make_recorder()
    client = tcpframe.Client(host="", port=0, log=log, connect_callback=recorder.callback)
    assert client.start_task.done()
    assert client.done_task.done()
    await client.start_task
    await client.done_task
    assert not client.connected
    assert not client.should_be_connected
    assert client.reader is None and client.writer is None
    await client.close()
    await client.basic_close()
    assert not client.should_be_connected
    assert recorder.states == []
    with pytest.raises(ConnectionError, match="Not connected"):
        await client.write_str("nowhere")


async def test_client_attributes_hold_the_constructor_arguments(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair(client_kwargs=dict(name="telemetry client"))
    assert client.host == "127.0.0.1"
    assert client.port == server.port
    assert client.name == "telemetry client"
    assert client.encoding == tcpframe.DEFAULT_ENCODING
    assert client.terminator == tcpframe.DEFAULT_TERMINATOR
    assert isinstance(client.log, logging.Logger)
    assert client.reader is client._reader and client.writer is client._writer
    assert isinstance(client.reader, tcpframe.FrameReader)
    assert isinstance(client.writer, tcpframe.FrameWriter)


# --- Life cycle --------------------------------------------------------------


async def test_start_task_done_task_and_should_be_connected_follow_the_connection(
    log: logging.Logger,
) -> None:
    server = tcpframe.OneClientServer(host="127.0.0.1", port=0, log=log)
    await within_timeout(server.start_task)
    client = tcpframe.Client(host="127.0.0.1", port=server.port, log=log)
    try:
        assert not client.start_task.done()
        assert not client.should_be_connected
        assert not client.connected
        await within_timeout(client.start_task)
        assert client.should_be_connected and client.connected
        assert not client.done_task.done()

        await client.basic_close()
        assert client.done_task.done()
        assert not client.connected
        assert client.should_be_connected  # basic_close leaves it set

        await client.close()
        assert not client.should_be_connected
    finally:
        await client.close()
        await server.close()


async def test_client_start_twice_is_a_runtime_error(connect_pair: typing.Callable) -> None:
    _server, client = await connect_pair()
    with pytest.raises(RuntimeError):
        await client.start()
    assert client.connected


@contextlib.contextmanager
def port_without_listener() -> Iterator[int]:
    """Yield a loopback port that is bound but not listening: connections
    to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_connecting_to_a_port_without_a_server_fails_start_task(log: logging.Logger) -> None:
    with port_without_listener() as port:
        client = tcpframe.Client(host="127.0.0.1", port=port, log=log)
        with pytest.raises(ConnectionRefusedError):
            await within_timeout(client.start_task)
        assert not client.connected
        await client.close()
        assert client.done_task.done()


async def test_closing_a_client_while_it_is_connecting_leaves_it_closed(log: logging.Logger) -> None:
    server = tcpframe.OneClientServer(host="127.0.0.1", port=0, log=log)
    try:
        await within_timeout(server.start_task)
        client = tcpframe.Client(host="127.0.0.1", port=server.port, log=log)
        await client.close()  # start() has not finished connecting
        await asyncio.sleep(0.05)  # time enough to connect, if it still tried
        assert client.start_task.done()
        assert client.done_task.done()
        assert not client.connected
        assert not client.should_be_connected
        assert client.writer is None or client.writer.is_closing()
        await client.close()
    finally:
        await server.close()


async def test_client_is_an_async_context_manager(log: logging.Logger) -> None:
    async with tcpframe.OneClientServer(host="127.0.0.1", port=0, log=log) as server:
        async with tcpframe.Client(host="127.0.0.1", port=server.port, log=log) as client:
            assert client.connected
            await within_timeout(server.connected_task)
            await client.write_str("inside")
            assert await within_timeout(server.read_str()) == "inside"
        assert not client.connected
        assert not client.should_be_connected
        assert client.done_task.done()
    assert server.done_task.done()


async def test_close_and_basic_close_are_idempotent(connect_pair: typing.Callable, make_recorder: type) -> None:
    recorder = make_recorder()
    _server, client = await connect_pair(client_kwargs=dict(connect_callback=recorder.callback))
    await client.basic_close()
    await client.basic_close()
    await client.close()
    await client.close()
    await client.basic_close()
    assert recorder.states == [True, False]
    assert client.done_task.done()


# --- connect_callback -------------------------------------------------------


async def test_connect_callback_is_called_on_connect_and_on_local_close(
    connect_pair: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    _server, client = await connect_pair(client_kwargs=dict(connect_callback=recorder.callback))
    assert recorder.states == [True]  # before start_task finished
    await client.close()
    assert recorder.states == [True, False]


async def test_connect_callback_is_called_once_when_the_server_closes_the_connection(
    connect_pair: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(
        client_kwargs=dict(connect_callback=recorder.callback, monitor_connection_interval=0.01)
    )
    assert await recorder.next() is True
    await server.close_client()
    assert await recorder.next() is False
    await within_timeout(client.done_task)
    assert not client.connected
    assert client.should_be_connected  # lost, not closed on purpose
    await asyncio.sleep(0.05)  # several more monitor intervals
    await client.close()
    assert recorder.states == [True, False]


async def test_connect_callback_exceptions_are_logged_and_not_raised(
    connect_pair: typing.Callable, make_recorder: type, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = make_recorder(fail=True)
    with caplog.at_level(logging.ERROR):
        _server, client = await connect_pair(client_kwargs=dict(connect_callback=recorder.callback))
        assert client.connected
        await client.close()
    assert recorder.states == [True, False]
    failures = [record for record in caplog.records if record.exc_info is not None]
    assert len(failures) == 2
    assert all("failed on purpose" in str(record.exc_info[1]) for record in failures)


async def test_call_connect_callback_calls_only_when_the_state_changed(
    connect_pair: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    _server, client = await connect_pair(client_kwargs=dict(connect_callback=recorder.callback))
    await client.call_connect_callback()
    await client.call_connect_callback()
    assert recorder.states == [True]


# --- The connection ending --------------------------------------------------


READS_THAT_RAISE_AT_EOF = {
    "readexactly": lambda client: client.readexactly(10),
    "readuntil": lambda client: client.readuntil(b"\r\n"),
    "read_into": lambda client: client.read_into(TelemetryStruct()),
    "read_str": lambda client: client.read_str(),
    "read_json": lambda client: client.read_json(),
}


@pytest.mark.parametrize("method", sorted(READS_THAT_RAISE_AT_EOF))
async def test_a_read_that_hits_eof_closes_the_client_and_calls_back_before_raising(
    connect_pair: typing.Callable, make_recorder: type, method: str
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(
        client_kwargs=dict(connect_callback=recorder.callback, monitor_connection_interval=0)
    )
    read_task = asyncio.create_task(READS_THAT_RAISE_AT_EOF[method](client))
    await server.write(b"part")
    await asyncio.sleep(0.01)
    await server.close_client()
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await within_timeout(read_task)
    assert excinfo.value.partial == b"part"
    assert recorder.states == [True, False]
    assert not client.connected
    assert client.done_task.done()
    with pytest.raises(ConnectionError, match="Not connected"):
        await READS_THAT_RAISE_AT_EOF[method](client)


@pytest.mark.parametrize("method", ["read", "readline"])
async def test_read_and_readline_return_the_rest_at_eof_and_close_the_client(
    connect_pair: typing.Callable, make_recorder: type, method: str
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(
        client_kwargs=dict(connect_callback=recorder.callback, monitor_connection_interval=0)
    )
    await server.write(b"rest")
    await server.close_client()
    read = client.read(-1) if method == "read" else client.readline()
    assert await within_timeout(read) == b"rest"
    assert recorder.states == [True, False]
    assert not client.connected
    assert client.done_task.done()


async def test_the_client_notices_the_server_going_away_without_reading(
    connect_pair: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(
        client_kwargs=dict(connect_callback=recorder.callback, monitor_connection_interval=0.01)
    )
    await server.close()
    assert await recorder.next() is True
    assert await recorder.next() is False
    await within_timeout(client.done_task)


CLIENT_CALLS = {
    "read": lambda c: c.read(1),
    "readexactly": lambda c: c.readexactly(1),
    "readline": lambda c: c.readline(),
    "readuntil": lambda c: c.readuntil(),
    "read_into": lambda c: c.read_into(TelemetryStruct()),
    "read_str": lambda c: c.read_str(),
    "read_json": lambda c: c.read_json(),
    "write": lambda c: c.write(b"x"),
    "writelines": lambda c: c.writelines([b"x"]),
    "write_from": lambda c: c.write_from(TelemetryStruct()),
    "write_str": lambda c: c.write_str("x"),
    "write_json": lambda c: c.write_json({"x": 1}),
}


@pytest.mark.parametrize("method", sorted(CLIENT_CALLS))
async def test_every_read_and_write_on_a_closed_client_raises_not_connected(
    connect_pair: typing.Callable, method: str
) -> None:
    server, client = await connect_pair()
    await server.write(b"unread data\r\n")
    await client.close()
    with pytest.raises(ConnectionError, match=r"^Not connected$"):
        await within_timeout(CLIENT_CALLS[method](client))


@pytest.mark.parametrize("method", sorted(CLIENT_CALLS))
async def test_every_read_and_write_after_the_server_left_raises_not_connected(
    connect_pair: typing.Callable, make_recorder: type, method: str
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(
        client_kwargs=dict(connect_callback=recorder.callback, monitor_connection_interval=0)
    )
    await server.close_client()
    await within_timeout(until_eof(client))
    with pytest.raises(ConnectionError, match=r"^Not connected$"):
        await within_timeout(CLIENT_CALLS[method](client))
    # Refusing reported the lost connection, once.
    assert recorder.states == [True, False]


async def until_eof(client: tcpframe.Client) -> None:
    while client.connected:
        await asyncio.sleep(0.001)


async def test_writing_to_a_reset_connection_raises_connection_error_and_closes(
    connect_pair: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server, client = await connect_pair(
        client_kwargs=dict(connect_callback=recorder.callback, monitor_connection_interval=0)
    )
    server.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.writer.transport.abort()
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(STD_TIMEOUT):
            while True:
                await client.write(b"x" * 1000)
                await asyncio.sleep(0.001)
    assert not client.connected
    assert recorder.states == [True, False]


# --- Flow control and coalescing --------------------------------------------


async def test_client_write_waits_while_the_server_does_not_read(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    client.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    server.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.writer.transport.set_write_buffer_limits(high=65536)
    data = bytes(range(256)) * (8 * 4096)  # 8 MiB
    write_task = asyncio.create_task(client.write(data))
    await asyncio.sleep(0.1)
    assert not write_task.done(), "write returned while the transport was above its high-water mark"
    assert await within_timeout(server.readexactly(len(data))) == data
    await within_timeout(write_task)


class CountingTransport:
    """Wrap a transport, counting calls to ``write``."""

    def __init__(self, transport: typing.Any) -> None:
        self.transport = transport
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.transport.write(data)

    def __getattr__(self, name: str) -> typing.Any:
        return getattr(self.transport, name)


async def test_a_burst_of_client_writes_costs_few_transport_writes(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair()
    counting = CountingTransport(client.writer.transport)
    client.writer._transport = counting
    for i in range(1000):
        await client.write_str(f"message {i}")
    async with asyncio.timeout(STD_TIMEOUT):
        received = [await server.read_str() for _ in range(1000)]
    assert received == [f"message {i}" for i in range(1000)]
    assert counting.writes <= 5, f"{counting.writes} transport writes for 1000 write_str calls"


# --- Heartbeats -------------------------------------------------------------


async def test_heartbeat_task_sends_heartbeat_plus_terminator_repeatedly(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair(
        client_kwargs=dict(run_heartbeat_send_task=True, heartbeat_send_sleep=0.01, terminator=b"\n")
    )
    for _ in range(3):
        assert await within_timeout(server.readuntil(b"\n")) == tcpframe.HEARTBEAT + b"\n"
    await client.close()
    # No more heartbeats after close: the server sees EOF.
    rest = await within_timeout(server.reader.read(-1))
    assert set(rest.split(b"\n")) <= {tcpframe.HEARTBEAT, b""}


async def test_no_heartbeats_are_sent_by_default(connect_pair: typing.Callable) -> None:
    server, client = await connect_pair(client_kwargs=dict(heartbeat_send_sleep=0.01))
    await asyncio.sleep(0.05)
    await client.write_str("only this")
    assert await within_timeout(server.read_str()) == "only this"
