"""A one-client server refuses newcomers on arrival and drops stray
connections silently (issue 19, findings 1, 2, 3 and 8).

Over loopback: bursts of raw connections that reset (``SO_LINGER`` (1, 0))
right after connecting or after sending junk, at `OneClientServer` and
`OneClientReadLoopServer`, with and without a connected client and with
a connect_callback that awaits or not. Nothing may reach the loop's
exception handler or the log at ERROR, no fd or task may be left, and
connect_callback must see True, False, True, ... Then how newcomers are
refused while a connect_callback runs, and the order in which a read-loop
server closes.
"""

import asyncio
import logging
import typing

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from junk_connections import (
    Callback,
    DiscardingReadLoopServer,
    Watch,
    alternates,
    count_fds,
    other_tasks,
    round_trip,
    stray_burst,
    wait_until,
)

pytestmark = pytest.mark.all_event_loops


# Stray connections per test: WAVES bursts of BURST at once.
WAVES = 4
BURST = 25


async def within_timeout(awaitable: typing.Awaitable) -> typing.Any:
    return await asyncio.wait_for(awaitable, STD_TIMEOUT)


async def warm_up(log: logging.Logger) -> None:
    """Have a server refuse a few resetting clients, so that what a loop
    opens on first use (uvloop: a spare fd for accept errors) is open
    before the fds are counted."""
    async with tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log) as server:
        async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log):
            await within_timeout(server.connected_task)
            await within_timeout(stray_burst(server.port, BURST, endings=("rst", "junk_rst")))


SERVER_CLASSES = [tcpframe.OneClientServer, DiscardingReadLoopServer]


@pytest.mark.parametrize("awaiting", [False, True], ids=["plain callback", "awaiting callback"])
@pytest.mark.parametrize("with_client", [False, True], ids=["no client", "a client connected"])
@pytest.mark.parametrize("server_class", SERVER_CLASSES, ids=lambda cls: cls.__name__)
async def test_connect_then_reset_bursts_are_dropped_silently(
    log: logging.Logger, server_class: type, with_client: bool, awaiting: bool
) -> None:
    await warm_up(log)
    callback = Callback(awaiting)
    fds_before = count_fds()
    tasks_before = other_tasks()
    watch = Watch(log)
    server = server_class(host=tcpframe.LOCALHOST_IPV4, port=0, log=log, connect_callback=callback.__call__)
    client = None
    try:
        await within_timeout(server.start_task)
        if with_client:
            client = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
            await within_timeout(client.start_task)
            await within_timeout(server.connected_task)
            await wait_until(lambda: callback.returned == 1)
        fds_connected = count_fds()
        tasks_connected = other_tasks()
        for _ in range(WAVES):
            await within_timeout(stray_burst(server.port, BURST, endings=("rst", "junk_rst")))
        # Every stray connection closed at this end, and its task ended; a
        # stray client that was attached has been noticed and reported.
        await wait_until(lambda: count_fds() <= fds_connected)
        await wait_until(lambda: other_tasks() <= tasks_connected)
        await wait_until(lambda: server.connected is with_client and len(callback.states) % 2 == int(with_client))
        if client is not None:
            assert callback.states == [True]
            await round_trip(server, client, "still here")
        else:
            assert alternates(callback.states), callback.states
    finally:
        if client is not None:
            await within_timeout(client.close())
        await within_timeout(server.close())
        watch.stop()
    assert watch.report() == []
    await wait_until(lambda: other_tasks() <= tasks_before)
    assert count_fds() == fds_before


@pytest.mark.parametrize("server_class", SERVER_CLASSES, ids=lambda cls: cls.__name__)
async def test_a_newcomer_is_refused_while_the_connect_callback_runs(log: logging.Logger, server_class: type) -> None:
    """A second client that arrives while the first one's connect_callback
    is still running sees EOF at once: it is not queued behind it."""
    states: list[bool] = []
    release = asyncio.Event()

    async def slow_callback(server: tcpframe.OneClientServer) -> None:
        states.append(server.connected)
        await release.wait()

    server = server_class(host=tcpframe.LOCALHOST_IPV4, port=0, log=log, connect_callback=slow_callback)
    first = None
    try:
        await within_timeout(server.start_task)
        first = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
        await within_timeout(first.start_task)
        await wait_until(lambda: states == [True])
        reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
        try:
            assert await within_timeout(reader.read()) == b""
            assert not release.is_set()  # refused while the callback still ran
        finally:
            await tcpframe.close_stream_writer(writer)
        release.set()
        await round_trip(server, first, "first")
        assert states == [True]
    finally:
        release.set()
        if first is not None:
            await within_timeout(first.close())
        await within_timeout(server.close())


@pytest.mark.parametrize("server_class", SERVER_CLASSES, ids=lambda cls: cls.__name__)
async def test_one_newcomer_waits_for_the_disconnect_callback_and_others_are_refused(
    log: logging.Logger, server_class: type
) -> None:
    """While the callback reporting a disconnection runs, one newcomer
    waits for it to end (then it is the client); any other is refused."""
    states: list[bool] = []
    release = asyncio.Event()
    release.set()

    async def callback(server: tcpframe.OneClientServer) -> None:
        states.append(server.connected)
        await release.wait()

    server = server_class(
        host=tcpframe.LOCALHOST_IPV4, port=0, log=log, connect_callback=callback, monitor_connection_interval=0.01
    )
    clients: list[tcpframe.Client] = []
    try:
        await within_timeout(server.start_task)
        clients.append(tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log))
        await within_timeout(server.connected_task)
        release.clear()
        await within_timeout(clients[0].close())
        await wait_until(lambda: states == [True, False])
        clients.append(tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log))
        await within_timeout(clients[1].start_task)
        reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
        try:
            assert await within_timeout(reader.read()) == b""
        finally:
            await tcpframe.close_stream_writer(writer)
        assert states == [True, False]
        release.set()
        await within_timeout(server.connected_task)
        await round_trip(server, clients[1], "second")
        assert states == [True, False, True]
    finally:
        release.set()
        for client in clients:
            await within_timeout(client.close())
        await within_timeout(server.close())


@pytest.mark.parametrize("server_class", SERVER_CLASSES, ids=lambda cls: cls.__name__)
async def test_a_newcomer_that_resets_while_waiting_is_dropped_and_the_next_one_served(
    log: logging.Logger, server_class: type, caplog: pytest.LogCaptureFixture
) -> None:
    """A newcomer that resets while it waits for the disconnect callback is
    dropped silently: the server stays without a client, then serves the
    next one."""
    states: list[bool] = []
    release = asyncio.Event()
    release.set()

    async def callback(server: tcpframe.OneClientServer) -> None:
        states.append(server.connected)
        await release.wait()

    watch = Watch(log)
    server = server_class(
        host=tcpframe.LOCALHOST_IPV4, port=0, log=log, connect_callback=callback, monitor_connection_interval=0.01
    )
    clients: list[tcpframe.Client] = []
    try:
        await within_timeout(server.start_task)
        clients.append(tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log))
        await within_timeout(server.connected_task)
        release.clear()
        await within_timeout(clients[0].close())
        await wait_until(lambda: states == [True, False])
        with caplog.at_level(logging.DEBUG, logger=log.name):
            await within_timeout(stray_burst(server.port, 1, endings=("rst",)))
            release.set()
            await wait_until(lambda: any("dropped a client" in record.getMessage() for record in caplog.records))
        assert not server.connected
        clients.append(tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log))
        await within_timeout(server.connected_task)
        await round_trip(server, clients[1], "next")
        assert states == [True, False, True]
    finally:
        release.set()
        for client in clients:
            await within_timeout(client.close())
        await within_timeout(server.close())
        watch.stop()
    assert watch.report() == []


async def test_a_refused_client_is_logged_as_a_warning_not_an_error(
    log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    server = tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log)
    client = None
    try:
        await within_timeout(server.start_task)
        client = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
        await within_timeout(server.connected_task)
        with caplog.at_level(logging.DEBUG, logger=log.name):
            reader, writer = await within_timeout(asyncio.open_connection(tcpframe.LOCALHOST_IPV4, server.port))
            try:
                assert await within_timeout(reader.read()) == b""
            finally:
                await tcpframe.close_stream_writer(writer)
        refusals = [record for record in caplog.records if "refused" in record.getMessage()]
        assert [record.levelno for record in refusals] == [logging.WARNING]
        assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    finally:
        if client is not None:
            await within_timeout(client.close())
        await within_timeout(server.close())


class EofNoticingServer(tcpframe.OneClientReadLoopServer):
    """Notes whether its read_and_dispatch saw the connection end."""

    saw_incomplete_read = False

    def __init__(self, **kwargs: typing.Any) -> None:
        self.reading = asyncio.Event()
        super().__init__(**kwargs)

    async def read_and_dispatch(self) -> None:
        self.reading.set()
        try:
            await self.read_str()
        except asyncio.IncompleteReadError:
            self.saw_incomplete_read = True
            raise


async def test_closing_a_read_loop_server_closes_the_connection_before_cancelling_the_read_loop(
    log: logging.Logger,
) -> None:
    """As lsst.ts.tcpip does: the client's connection is closed first, so
    read_and_dispatch sees IncompleteReadError and the read loop ends on
    its own; the disconnection is reported once."""
    states: list[bool] = []

    async def callback(server: tcpframe.OneClientServer) -> None:
        states.append(server.connected)
        await asyncio.sleep(0.001)  # not interrupted by the close

    server = EofNoticingServer(port=0, log=log, connect_callback=callback)
    client = None
    try:
        await within_timeout(server.start_task)
        client = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log)
        await within_timeout(server.connected_task)
        # The read loop starts a moment after the connection: closing before
        # it reads would end it before read_and_dispatch is ever called.
        await within_timeout(server.reading.wait())
        read_loop_task = server.read_loop_task
        await within_timeout(server.close())
        assert server.saw_incomplete_read
        assert read_loop_task.done() and not read_loop_task.cancelled()
        assert states == [True, False]
        await within_timeout(client.done_task)
    finally:
        if client is not None:
            await within_timeout(client.close())
        await within_timeout(server.close())
