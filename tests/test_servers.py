"""OneClientServer, OneClientReadLoopServer and the test helpers.

Servers listen on loopback port 0 and are exercised by real clients
(`tcpframe.Client` or plain asyncio streams). The pytest tests run on
asyncio's event loop and on uvloop; the `BaseOneClientServerTestCase`
classes at the end run the way users' unittest suites do.
"""

import asyncio
import functools
import logging
import socket
import sys
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT

pytestmark = pytest.mark.all_event_loops


async def within_timeout(awaitable: typing.Awaitable) -> typing.Any:
    return await asyncio.wait_for(awaitable, STD_TIMEOUT)


def not_a_coroutine_function(server: tcpframe.BaseClientOrServer) -> None:
    pass


@pytest.fixture
async def make_server(log: logging.Logger) -> typing.AsyncIterator[typing.Callable]:
    """Return ``await make_server(server_class=OneClientServer, **kwargs)``:
    a started server on a free loopback port, closed at teardown."""
    servers: list[tcpframe.OneClientServer] = []

    async def make(server_class: type = tcpframe.OneClientServer, **kwargs: typing.Any) -> typing.Any:
        kwargs.setdefault("host", tcpframe.LOCALHOST_IPV4)
        kwargs.setdefault("port", 0)
        server = server_class(log=log, **kwargs)
        servers.append(server)
        await within_timeout(server.start_task)
        return server

    yield make
    for server in servers:
        await within_timeout(server.close())


@pytest.fixture
async def make_client(log: logging.Logger) -> typing.AsyncIterator[typing.Callable]:
    """Return ``await make_client(server, wait_connected=True, **kwargs)``:
    a `tcpframe.Client` connected to ``server``, closed at teardown."""
    clients: list[tcpframe.Client] = []

    async def make(server: tcpframe.OneClientServer, wait_connected: bool = True, **kwargs: typing.Any) -> typing.Any:
        host = tcpframe.LOCALHOST_IPV4 if server.host is None else server.host
        client = tcpframe.Client(host=host, port=server.port, log=log, **kwargs)
        clients.append(client)
        await within_timeout(client.start_task)
        if wait_connected:
            await within_timeout(server.connected_task)
        return client

    yield make
    for client in clients:
        await within_timeout(client.close())


# --- Listening ---------------------------------------------------------------


async def test_port_zero_picks_a_free_port_and_updates_port(
    make_server: typing.Callable, make_client: typing.Callable, localhost: str
) -> None:
    server = await make_server(host=localhost)
    assert server.port > 0
    assert server.host == localhost
    client = await make_client(server)
    await client.write_str("over " + localhost)
    assert await within_timeout(server.read_str()) == "over " + localhost


async def test_host_none_listens_on_all_interfaces(make_server: typing.Callable) -> None:
    # family=AF_INET (passed to create_server) makes a single socket, so
    # that port=0 can be updated.
    server = await make_server(host=None, family=socket.AF_INET)
    localhost_only = await make_server(host=tcpframe.LOCALHOST_IPV4, family=socket.AF_INET)
    assert server.host is None
    assert server.port > 0
    # On Linux every 127.x.y.z reaches the loopback interface, but only a
    # server listening on all interfaces accepts connections to 127.0.0.2.
    other_address = "127.0.0.2" if sys.platform.startswith("linux") else socket.gethostbyname(socket.gethostname())
    with pytest.raises(OSError):
        _, writer = await within_timeout(asyncio.open_connection(other_address, localhost_only.port))
        await tcpframe.close_stream_writer(writer)
    reader, writer = await within_timeout(asyncio.open_connection(other_address, server.port))
    try:
        await within_timeout(server.connected_task)
        await server.write_str("reached")
        assert await within_timeout(reader.readline()) == b"reached\r\n"
    finally:
        await tcpframe.close_stream_writer(writer)


async def test_server_start_twice_is_a_runtime_error(make_server: typing.Callable) -> None:
    server = await make_server()
    with pytest.raises(RuntimeError):
        await server.start()


async def test_a_server_constructed_with_do_start_false_starts_when_start_is_called(log: logging.Logger) -> None:
    server = tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log, do_start=False)
    try:
        await asyncio.sleep(0.01)
        assert not server.start_task.done()
        assert server.port == 0  # not listening yet
        await within_timeout(server.start())
        assert server.start_task.done()
        assert server.port > 0
        async with server:  # enter awaits start_task
            reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
            try:
                await within_timeout(server.connected_task)
                await server.write_str("started by hand")
                assert await within_timeout(reader.readline()) == b"started by hand\r\n"
            finally:
                await tcpframe.close_stream_writer(writer)
    finally:
        await server.close()


async def test_server_is_an_async_context_manager(log: logging.Logger, make_client: typing.Callable) -> None:
    async with tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log) as server:
        client = await make_client(server)
        await server.write_str("hello")
        assert await within_timeout(client.read_str()) == "hello"
    assert server.done_task.done()
    assert not server.connected
    assert not server.should_be_connected


async def test_closing_a_server_while_it_is_starting_leaves_it_not_listening(log: logging.Logger) -> None:
    server = tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log)
    await server.close()  # start() has not finished
    await asyncio.sleep(0.05)  # time enough to listen, if it still tried
    assert server.start_task.done()
    assert server.done_task.done()
    if server.port != 0:
        with pytest.raises(OSError):
            _, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
            await tcpframe.close_stream_writer(writer)
    await server.close()


class AsyncCallable:
    """An object whose ``__call__`` is ``async def``: not a coroutine function."""

    async def __call__(self, server: tcpframe.BaseClientOrServer) -> None:
        pass


def marked_by_asyncio(server: tcpframe.BaseClientOrServer) -> None:
    """A plain function with asyncio's legacy coroutine marker, which
    `asyncio.iscoroutinefunction` accepts and `inspect.iscoroutinefunction`
    (the rule) does not."""


marked_by_asyncio._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]


async def queue_connected(queue: asyncio.Queue[bool], server: tcpframe.BaseClientOrServer) -> None:
    queue.put_nowait(server.connected)


# The read-loop server checks the user's callback itself (it gives the base
# its own), so both servers are held to the one rule.
@pytest.mark.parametrize(
    "server_class", [tcpframe.OneClientServer, tcpframe.TestOneClientReadLoopServer], ids=lambda cls: cls.__name__
)
@pytest.mark.parametrize(
    "callback",
    [not_a_coroutine_function, functools.partial(not_a_coroutine_function), AsyncCallable(), marked_by_asyncio],
    ids=["function", "partial of a function", "object with async __call__", "function marked by asyncio"],
)
async def test_a_connect_callback_that_is_not_a_coroutine_function_is_a_type_error(
    log: logging.Logger, server_class: type, callback: typing.Any
) -> None:
    with pytest.raises(TypeError, match=r"connect_callback=.* must be a coroutine function"):
        server_class(host=tcpframe.LOCALHOST_IPV4, port=0, log=log, connect_callback=callback)


@pytest.mark.parametrize(
    "server_class", [tcpframe.OneClientServer, tcpframe.TestOneClientReadLoopServer], ids=lambda cls: cls.__name__
)
@pytest.mark.parametrize("kind", ["async def", "partial of an async def"])
async def test_an_async_def_or_a_partial_of_one_is_a_connect_callback(
    make_server: typing.Callable, make_client: typing.Callable, server_class: type, kind: str
) -> None:
    queue: asyncio.Queue[bool] = asyncio.Queue()

    async def callback(server: tcpframe.BaseClientOrServer) -> None:
        await queue_connected(queue, server)

    connect_callback = callback if kind == "async def" else functools.partial(queue_connected, queue)
    server = await make_server(server_class, connect_callback=connect_callback)
    client = await make_client(server)
    assert await within_timeout(queue.get()) is True
    await within_timeout(client.close())
    assert await within_timeout(queue.get()) is False


@pytest.mark.parametrize(
    "bad_kwargs",
    [dict(terminator="\n"), dict(terminator=b""), dict(encoding="no-such-codec")],
    ids=["str terminator", "empty terminator", "unknown encoding"],
)
@pytest.mark.parametrize(
    "server_class", [tcpframe.OneClientServer, tcpframe.TestOneClientReadLoopServer], ids=lambda cls: cls.__name__
)
async def test_a_bad_terminator_or_encoding_is_a_value_error(
    log: logging.Logger, server_class: type, bad_kwargs: dict
) -> None:
    with pytest.raises(ValueError):
        server_class(host=tcpframe.LOCALHOST_IPV4, port=0, log=log, **bad_kwargs)


async def test_limit_keyword_sets_the_server_readers_line_limit(
    make_server: typing.Callable, make_client: typing.Callable
) -> None:
    server = await make_server(limit=16)
    client = await make_client(server)
    line = b"y" * 40 + b"\r\n"
    await client.write(line)
    with pytest.raises(asyncio.LimitOverrunError):
        await within_timeout(server.read_str())
    assert server.connected
    assert await within_timeout(server.readexactly(len(line))) == line


# --- One client at a time ------------------------------------------------------


async def test_a_second_client_is_rejected_and_its_data_ignored_while_the_first_keeps_working(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback)
    first = await make_client(server)
    assert await recorder.next() is True

    second_reader, second_writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
    try:
        second_writer.write(b"intruder\r\n")
        await second_writer.drain()
        assert await within_timeout(second_reader.read()) == b""  # EOF: the server hung up
    finally:
        await tcpframe.close_stream_writer(second_writer)

    await first.write_str("first")
    assert await within_timeout(server.read_str()) == "first"
    await server.write_str("to first")
    assert await within_timeout(first.read_str()) == "to first"
    assert first.connected and server.connected
    assert recorder.states == [True]


async def test_a_second_tcpframe_client_sees_the_connection_end(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    server = await make_server()
    first = await make_client(server)
    recorder = make_recorder()
    second = await make_client(
        server, wait_connected=False, connect_callback=recorder.callback, monitor_connection_interval=0.01
    )
    await within_timeout(second.done_task)
    assert recorder.states == [True, False]
    assert not second.connected
    await first.write_str("still here")
    assert await within_timeout(server.read_str()) == "still here"


async def test_server_close_client_disconnects_the_client_and_a_new_client_can_connect(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback)
    first = await make_client(server, monitor_connection_interval=0.01)
    first_connected_task = server.connected_task
    assert first_connected_task.done()

    await server.close_client()
    assert recorder.states == [True, False]
    assert not server.connected
    assert not server.should_be_connected
    assert server.connected_task is not first_connected_task
    assert not server.connected_task.done()
    await within_timeout(first.done_task)

    second = await make_client(server)
    assert server.connected_task.done()
    assert recorder.states == [True, False, True]
    await second.write_str("second")
    assert await within_timeout(server.read_str()) == "second"


async def test_the_server_notices_the_client_leaving(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback, monitor_connection_interval=0.01)
    client = await make_client(server)
    assert await recorder.next() is True
    connected_task = server.connected_task
    await client.close()
    assert await recorder.next() is False
    assert not server.connected
    assert server.should_be_connected  # the client left; the server did not close it
    assert server.connected_task is not connected_task and not server.connected_task.done()
    await asyncio.sleep(0.05)
    assert recorder.states == [True, False]


async def test_a_new_client_replaces_one_that_left_before_the_server_noticed(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    # No monitoring and no reads: the server does not notice the first
    # client leaving until the second one arrives.
    server = await make_server(connect_callback=recorder.callback, monitor_connection_interval=0)
    first = await make_client(server)
    first_reader = server.reader
    await first.close()
    async with asyncio.timeout(STD_TIMEOUT):
        while not first_reader.at_eof():
            await asyncio.sleep(0.001)
    assert recorder.states == [True]
    second = await make_client(server, wait_connected=False)
    async with asyncio.timeout(STD_TIMEOUT):
        while server.reader is first_reader:
            await asyncio.sleep(0.001)
    assert recorder.states == [True, False, True]
    await second.write_str("second")
    assert await within_timeout(server.read_str()) == "second"


async def test_server_read_sees_the_client_leaving_and_calls_back_before_raising(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback, monitor_connection_interval=0)
    client = await make_client(server)
    read_task = asyncio.create_task(server.read_str())
    await client.write(b"half a li")
    await client.close()
    with pytest.raises(asyncio.IncompleteReadError) as excinfo:
        await within_timeout(read_task)
    assert excinfo.value.partial == b"half a li"
    assert recorder.states == [True, False]
    assert not server.connected


async def test_close_client_basic_close_client_and_close_are_idempotent(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(connect_callback=recorder.callback)
    # Safe with no client ever connected.
    await server.basic_close_client()
    await server.close_client()
    assert recorder.states == []

    await make_client(server)
    await server.basic_close_client()
    assert server.should_be_connected  # basic_close_client leaves it
    await server.basic_close_client()
    await server.close_client()
    assert not server.should_be_connected
    await server.close_client()
    await server.close()
    await server.close()
    assert recorder.states == [True, False]
    assert server.done_task.done()


async def test_closing_the_server_while_clients_arrive_closes_every_accepted_connection(
    make_server: typing.Callable,
) -> None:
    server = await make_server()
    streams = [
        await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port)) for _ in range(3)
    ]
    try:
        await server.close()  # before the server has attached the clients
        for reader, _ in streams:
            try:
                assert await within_timeout(reader.read()) == b""
            except ConnectionResetError:
                pass  # also a closed connection
        assert not server.connected
    finally:
        for _, writer in streams:
            await tcpframe.close_stream_writer(writer)


async def test_a_closed_server_refuses_new_connections(make_server: typing.Callable) -> None:
    server = await make_server()
    port = server.port
    await server.close()
    with pytest.raises(OSError):
        _, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, port))
        await tcpframe.close_stream_writer(writer)


SERVER_CALLS = {
    "read": lambda s: s.read(1),
    "readexactly": lambda s: s.readexactly(1),
    "readline": lambda s: s.readline(),
    "readuntil": lambda s: s.readuntil(),
    "read_into": lambda s: s.read_into(bytearray(4)),
    "read_str": lambda s: s.read_str(),
    "read_json": lambda s: s.read_json(),
    "write": lambda s: s.write(b"x"),
    "writelines": lambda s: s.writelines([b"x"]),
    "write_from": lambda s: s.write_from(bytearray(4)),
    "write_str": lambda s: s.write_str("x"),
    "write_json": lambda s: s.write_json([1]),
}


@pytest.mark.parametrize("method", sorted(SERVER_CALLS))
async def test_every_read_and_write_without_a_client_raises_not_connected(
    make_server: typing.Callable, make_client: typing.Callable, method: str
) -> None:
    server = await make_server()
    with pytest.raises(ConnectionError, match=r"^Not connected$"):
        await within_timeout(SERVER_CALLS[method](server))
    await make_client(server)
    await server.close_client()
    with pytest.raises(ConnectionError, match=r"^Not connected$"):
        await within_timeout(SERVER_CALLS[method](server))


async def test_server_connect_callback_exceptions_are_logged_and_not_raised(
    make_server: typing.Callable,
    make_client: typing.Callable,
    make_recorder: type,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder(fail=True)
    with caplog.at_level(logging.ERROR):
        server = await make_server(connect_callback=recorder.callback)
        client = await make_client(server)
        await client.write_str("works anyway")
        assert await within_timeout(server.read_str()) == "works anyway"
        await server.close_client()
    assert recorder.states == [True, False]
    failures = [record for record in caplog.records if record.exc_info is not None]
    assert len(failures) == 2
    assert all("failed on purpose" in str(record.exc_info[1]) for record in failures)


# --- OneClientReadLoopServer, through TestOneClientReadLoopServer -------------------


async def test_read_loop_server_listens_on_localhost_by_default(log: logging.Logger) -> None:
    server = tcpframe.TestOneClientReadLoopServer(port=0, log=log)
    try:
        await within_timeout(server.start_task)
        assert server.host == tcpframe.DEFAULT_LOCALHOST
    finally:
        await server.close()


async def test_read_loop_queues_each_string_in_order(
    make_server: typing.Callable, make_client: typing.Callable, localhost: str
) -> None:
    server = await make_server(tcpframe.TestOneClientReadLoopServer, host=localhost)
    client = await make_client(server)
    for text in ["one", "two", "☃ three"]:
        await client.write_str(text)
    assert [await server.get_next_data() for _ in range(3)] == ["one", "two", "☃ three"]


async def test_read_loop_uses_the_encoding_and_terminator_in_force(
    make_server: typing.Callable, make_client: typing.Callable
) -> None:
    server = await make_server(tcpframe.TestOneClientReadLoopServer, encoding="utf-16", terminator=b"XYZZY")
    client = await make_client(server, encoding="utf-16", terminator=b"XYZZY")
    await client.write_str("ünïcode")
    assert await server.get_next_data() == "ünïcode"


async def test_read_loop_server_connect_callback_sees_connects_and_disconnects(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(tcpframe.TestOneClientReadLoopServer, connect_callback=recorder.callback)
    client = await make_client(server)
    assert await recorder.next() is True
    await client.close()
    assert await recorder.next() is False  # the read loop saw EOF
    assert not server.connected


class FailingReadLoopServer(tcpframe.OneClientReadLoopServer):
    """Reads a line, then raises; the read loop must log it and close."""

    async def read_and_dispatch(self) -> None:
        line = await self.read_str()
        raise RuntimeError(f"cannot handle {line!r}")


async def test_an_exception_in_read_and_dispatch_is_logged_and_closes_the_client(
    make_server: typing.Callable,
    make_client: typing.Callable,
    make_recorder: type,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = make_recorder()
    server = await make_server(FailingReadLoopServer, connect_callback=recorder.callback)
    client = await make_client(server, monitor_connection_interval=0.01)
    assert await recorder.next() is True
    with caplog.at_level(logging.ERROR):
        await client.write_str("boom")
        assert await recorder.next() is False
        await within_timeout(client.done_task)
    assert any(
        record.exc_info is not None and "cannot handle 'boom'" in str(record.exc_info[1]) for record in caplog.records
    )
    assert server.read_loop_task.done()


async def test_fail_next_read_fails_the_next_read_and_dispatch_with_a_connection_error_and_closes_the_client(
    make_server: typing.Callable,
    make_client: typing.Callable,
    make_recorder: type,
) -> None:
    recorder = make_recorder()
    server = await make_server(tcpframe.TestOneClientReadLoopServer, connect_callback=recorder.callback)
    client = await make_client(server, monitor_connection_interval=0.01)
    assert await recorder.next() is True
    await client.write_str("before")
    assert await server.get_next_data(timeout=STD_TIMEOUT) == "before"
    # The read loop is already waiting in the read that the flag does not
    # affect; the call after it fails.
    server.fail_next_read = True
    await client.write_str("read by the waiting read")
    assert await server.get_next_data(timeout=STD_TIMEOUT) == "read by the waiting read"
    assert await recorder.next() is False
    await within_timeout(client.done_task)
    assert not server.fail_next_read
    assert server.data_queue.empty()

    # The server serves the next client, with a fresh read loop.
    second = await make_client(server)
    assert await recorder.next() is True
    await second.write_str("after the failure")
    assert await server.get_next_data(timeout=STD_TIMEOUT) == "after the failure"


async def test_get_next_data_waits_for_data_unless_given_a_timeout(make_server: typing.Callable) -> None:
    server = await make_server(tcpframe.TestOneClientReadLoopServer)
    waiter = asyncio.create_task(server.get_next_data())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    waiter.cancel()
    with pytest.raises(TimeoutError):
        await server.get_next_data(timeout=0.01)


async def test_handle_received_heartbeat_without_monitoring_is_a_runtime_error(make_server: typing.Callable) -> None:
    server = await make_server(tcpframe.TestOneClientReadLoopServer)
    with pytest.raises(RuntimeError):
        await server.handle_received_heartbeat()


async def test_heartbeats_from_the_client_keep_a_monitoring_server_connected(
    make_server: typing.Callable, make_client: typing.Callable, make_recorder: type
) -> None:
    recorder = make_recorder()
    server = await make_server(
        tcpframe.TestOneClientReadLoopServer,
        connect_callback=recorder.callback,
        run_heartbeat_monitor_task=True,
        max_heartbeat_interval=0.1,
    )
    client = await make_client(server, run_heartbeat_send_task=True, heartbeat_send_sleep=0.01)
    await asyncio.sleep(0.4)  # four heartbeat timeouts
    assert client.connected and server.connected
    assert recorder.states == [True]
    await client.write_str("data, not a heartbeat")
    assert await server.get_next_data() == "data, not a heartbeat"
    assert server.data_queue.empty()  # heartbeats were not queued


async def test_a_client_that_sends_no_heartbeats_is_closed_by_a_monitoring_server(
    make_server: typing.Callable,
    make_client: typing.Callable,
    make_recorder: type,
) -> None:
    recorder = make_recorder()
    server = await make_server(
        tcpframe.TestOneClientReadLoopServer,
        connect_callback=recorder.callback,
        run_heartbeat_monitor_task=True,
        max_heartbeat_interval=0.05,
    )
    client = await make_client(server, monitor_connection_interval=0.01)
    assert await recorder.next() is True
    assert await recorder.next() is False
    await within_timeout(client.done_task)
    assert not client.connected
    assert not server.should_be_connected


async def test_heartbeats_stopping_make_a_monitoring_server_close_the_client(
    make_server: typing.Callable,
    make_client: typing.Callable,
    make_recorder: type,
) -> None:
    recorder = make_recorder()
    server = await make_server(
        tcpframe.TestOneClientReadLoopServer,
        connect_callback=recorder.callback,
        run_heartbeat_monitor_task=True,
        max_heartbeat_interval=0.1,
    )
    # A raw stream sending heartbeats by hand, so they can stop while the
    # connection stays open.
    reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
    try:
        assert await recorder.next() is True
        for _ in range(10):
            writer.write(tcpframe.HEARTBEAT + tcpframe.TERMINATOR)
            await writer.drain()
            await asyncio.sleep(0.02)
        assert recorder.states == [True]
        assert await recorder.next() is False
        assert await within_timeout(reader.read()) == b""
    finally:
        await tcpframe.close_stream_writer(writer)


# --- BaseOneClientServerTestCase, used the way users' unittest suites do -----------


class TestReadLoopServerWithTheTestCase(tcpframe.BaseOneClientServerTestCase):
    server_class = tcpframe.TestOneClientReadLoopServer

    async def test_create_server_and_client_exchange_data_and_report_connects(self) -> None:
        async with self.create_server(connect_callback=self.connect_callback) as server:
            self.assertGreater(server.port, 0)
            async with self.create_client(server) as client:
                await self.assert_next_connected(True)
                await client.write_str("hello")
                self.assertEqual(await server.get_next_data(), "hello")
                await server.write_str("reply")
                self.assertEqual(await asyncio.wait_for(client.read_str(), STD_TIMEOUT), "reply")
            await self.assert_next_connected(False)
        self.assertTrue(server.done_task.done())

    async def test_assert_next_connected_fails_on_the_wrong_state(self) -> None:
        async with self.create_server(connect_callback=self.connect_callback) as server:
            async with self.create_client(server):
                with self.assertRaises(AssertionError):
                    await self.assert_next_connected(False)

    async def test_create_server_passes_keyword_arguments_to_the_server(self) -> None:
        async with self.create_server(terminator=b"\n", name="custom") as server:
            self.assertEqual(server.terminator, b"\n")
            self.assertEqual(server.name, "custom")
            async with self.create_client(server, terminator=b"\n") as client:
                await client.write_str("newline terminated")
                self.assertEqual(await server.get_next_data(), "newline terminated")


class TestOneClientServerWithTheTestCase(tcpframe.BaseOneClientServerTestCase):
    server_class = tcpframe.OneClientServer

    async def test_server_listening_on_all_interfaces_serves_a_client(self) -> None:
        server_context = self.create_server(host=None, family=socket.AF_INET, connect_callback=self.connect_callback)
        async with server_context as server:
            async with self.create_client(server) as client:
                await self.assert_next_connected(True)
                await client.write_json({"ok": True})
                self.assertEqual(await asyncio.wait_for(server.read_json(), STD_TIMEOUT), {"ok": True})
            await self.assert_next_connected(False)


async def test_a_turned_away_client_that_keeps_sending_is_closed_after_the_linger(
    make_server: typing.Callable, make_client: typing.Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tcpframe.tcpip.one_client_server, "TURN_AWAY_LINGER", 0.2)
    server = await make_server()
    await make_client(server)
    reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
    try:
        assert await within_timeout(reader.read()) == b""  # half-closed at once
        with pytest.raises(ConnectionError):
            async with asyncio.timeout(STD_TIMEOUT):
                while True:  # the server discards all of this, then closes
                    writer.write(b"still talking\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.01)
    finally:
        writer.close()
    assert server.connected


async def test_closing_the_server_does_not_wait_for_a_turned_away_client(
    make_server: typing.Callable, make_client: typing.Callable
) -> None:
    server = await make_server()
    await make_client(server)
    reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
    try:
        assert await within_timeout(reader.read()) == b""
        async with asyncio.timeout(tcpframe.tcpip.one_client_server.TURN_AWAY_LINGER / 2):
            await server.close()
    finally:
        writer.close()
