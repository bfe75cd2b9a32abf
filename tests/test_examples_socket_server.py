"""SocketServer, AbstractCommandHandler and MockCommandHandler (tcpframe.examples),
end to end over loopback with a tcpframe Client."""

import asyncio
import contextlib
import logging
import typing
from collections.abc import AsyncIterator

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.examples import AbstractCommandHandler, MockCommandHandler, ResponseCode, SocketServer
from tcpframe.examples.command_handler import CommandMethod

# The systems must work on uvloop too, when it is installed.
pytestmark = pytest.mark.all_event_loops


log = logging.getLogger("test_examples_socket_server")


@contextlib.asynccontextmanager
async def running_server(with_handler: bool = True, **kwargs: typing.Any) -> AsyncIterator[SocketServer]:
    """A SocketServer on a free port, with a MockCommandHandler."""
    server = SocketServer(name="ess", host=tcpframe.LOCALHOST_IPV4, port=0, log=log, simulation_mode=1, **kwargs)
    try:
        if with_handler:
            server.set_command_handler(MockCommandHandler(callback=server.write_json, simulation_mode=1))
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def connected_client(server: SocketServer, **kwargs: typing.Any) -> AsyncIterator[tcpframe.Client]:
    client = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log, **kwargs)
    try:
        await asyncio.wait_for(client.start_task, STD_TIMEOUT)
        await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
        yield client
    finally:
        await client.close()


@pytest.fixture
async def server() -> AsyncIterator[SocketServer]:
    async with running_server() as server:
        yield server


@pytest.fixture
async def client(server: SocketServer) -> AsyncIterator[tcpframe.Client]:
    async with connected_client(server) as client:
        yield client


async def send_command(client: tcpframe.Client, command: str, **parameters: typing.Any) -> None:
    await client.write_json({"command": command, "parameters": parameters})


async def read_reply(client: tcpframe.Client) -> dict[str, typing.Any]:
    """Read messages, skipping telemetry, until a reply to a command."""
    while True:
        message = await asyncio.wait_for(client.read_json(), STD_TIMEOUT)
        if "response" in message:
            return message
        assert "telemetry" in message


async def run_command(client: tcpframe.Client, command: str, **parameters: typing.Any) -> dict[str, typing.Any]:
    await send_command(client, command, **parameters)
    return await read_reply(client)


async def wait_done(future: asyncio.Future) -> None:
    """Wait for ``future`` to be done, however it ends."""
    await asyncio.wait_for(asyncio.wait([future]), STD_TIMEOUT)


async def wait_until(condition: typing.Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), STD_TIMEOUT)


def telemetry_handler(server: SocketServer) -> MockCommandHandler:
    assert isinstance(server.command_handler, MockCommandHandler)
    return server.command_handler


# Construction.


async def test_constructor_rejects_invalid_simulation_mode() -> None:
    assert SocketServer.valid_simulation_modes == (0, 1)
    for simulation_mode in (-1, 2, "1"):
        with pytest.raises(ValueError, match="simulation_mode"):
            SocketServer(name="ess", host=None, port=0, log=log, simulation_mode=simulation_mode)  # type: ignore[arg-type]


async def test_constructor_rejects_plain_function_connect_callback() -> None:
    with pytest.raises(TypeError):
        SocketServer(name="ess", host=None, port=0, log=log, connect_callback=lambda server: None)


async def test_command_handler_constructor_checks_arguments() -> None:
    async def callback(data: dict) -> None:
        pass

    with pytest.raises(TypeError):
        MockCommandHandler(callback=print)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MockCommandHandler(callback=callback, simulation_mode=3)
    with pytest.raises(TypeError):
        AbstractCommandHandler(callback=callback)  # type: ignore[abstract]

    class PlainMethodHandler(AbstractCommandHandler):
        def make_dispatch_dict(self) -> dict[str, CommandMethod]:
            return {"reset": self.reset}

        def reset(self) -> None:
            pass

    with pytest.raises(TypeError, match="reset"):
        PlainMethodHandler(callback=callback)


# The command handler on its own.


class RecordingHandler(AbstractCommandHandler):
    """Records what its commands are called with."""

    def __init__(self, callback: typing.Any) -> None:
        self.calls: list[tuple[str, dict]] = []
        super().__init__(callback=callback)

    def make_dispatch_dict(self) -> dict[str, CommandMethod]:
        return {"configure": self.configure, "reject": self.reject, "fail": self.fail}

    async def configure(self, command: str, gain: float = 1.0) -> None:
        self.calls.append(("configure", {"command": command, "gain": gain}))

    async def reject(self) -> None:
        raise ValueError("out of range")

    async def fail(self) -> None:
        raise RuntimeError("hardware fault")


async def test_handle_command_replies_with_documented_codes() -> None:
    replies: list[dict] = []

    async def callback(data: dict) -> None:
        replies.append(data)

    handler = RecordingHandler(callback)
    # A parameter may be called "command" without clashing with the name.
    await handler.handle_command("configure", command="reset", gain=2.5)
    await handler.handle_command("configure", gain=1.0)  # missing parameter
    await handler.handle_command("configure", command="x", offset=1)  # unknown parameter
    await handler.handle_command("reject")
    await handler.handle_command("fail")
    await handler.handle_command("no_such_command")
    assert handler.calls == [("configure", {"command": "reset", "gain": 2.5})]
    assert [reply["response"] for reply in replies] == [
        ResponseCode.OK,
        ResponseCode.BAD_PARAMETERS,
        ResponseCode.BAD_PARAMETERS,
        ResponseCode.BAD_PARAMETERS,
        ResponseCode.COMMAND_FAILED,
        ResponseCode.UNKNOWN_COMMAND,
    ]
    assert replies[0] == {"response": 0}
    assert "out of range" in replies[3]["message"]
    assert "hardware fault" in replies[4]["message"]
    assert "no_such_command" in replies[5]["message"]


async def test_handle_command_survives_a_failing_callback() -> None:
    async def callback(data: dict) -> None:
        raise ConnectionError("Not connected")

    handler = RecordingHandler(callback)
    await handler.handle_command("configure", command="reset")
    await handler.handle_command("fail")
    assert len(handler.calls) == 1


# Commands and telemetry over TCP.


async def test_start_replies_ok_then_streams_telemetry_at_rate(server: SocketServer, client: tcpframe.Client) -> None:
    """Every tick carries every sensor, in order, with consecutive sequence
    numbers; ticks are never early: tick n comes no sooner than n intervals
    after the start command. (How much later depends on the machine's
    load, so it is not asserted.)"""
    interval, num_sensors, num_ticks = 0.05, 3, 10
    loop = asyncio.get_running_loop()
    before_start = loop.time()
    await send_command(client, "start", interval=interval, num_sensors=num_sensors)
    assert await asyncio.wait_for(client.read_json(), STD_TIMEOUT) == {"response": 0}
    messages = [await asyncio.wait_for(client.read_json(), STD_TIMEOUT) for _ in range(num_ticks * num_sensors)]
    elapsed = loop.time() - before_start
    telemetry = [message["telemetry"] for message in messages]
    assert [item["name"] for item in telemetry] == [f"sensor{i + 1}" for i in range(num_sensors)] * num_ticks
    assert [item["sequence"] for item in telemetry] == [tick for tick in range(num_ticks) for _ in range(num_sensors)]
    assert all(15 < item["temperature"] < 25 for item in telemetry)
    # The ticks are on a grid that starts when the command is handled.
    assert elapsed >= num_ticks * interval - 0.001  # event loop clock resolution
    assert await run_command(client, "stop") == {"response": 0}


async def test_stop_stops_telemetry(server: SocketServer, client: tcpframe.Client) -> None:
    assert await run_command(client, "start", interval=0.01) == {"response": 0}
    message = await asyncio.wait_for(client.read_json(), STD_TIMEOUT)
    assert "telemetry" in message
    assert await run_command(client, "stop") == {"response": 0}
    assert telemetry_handler(server).telemetry_task.done()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.read_json(), 0.1)
    # Stopping twice is fine; and telemetry can be started again.
    assert await run_command(client, "stop") == {"response": 0}
    assert await run_command(client, "start", interval=0.01) == {"response": 0}
    assert "telemetry" in await asyncio.wait_for(client.read_json(), STD_TIMEOUT)


async def test_unknown_command_gets_nonzero_code_and_loop_goes_on(
    server: SocketServer, client: tcpframe.Client
) -> None:
    reply = await run_command(client, "launch")
    assert reply["response"] == ResponseCode.UNKNOWN_COMMAND != 0
    assert "launch" in reply["message"]
    assert await run_command(client, "stop") == {"response": 0}
    assert server.connected


async def test_bad_parameters_get_nonzero_code_and_loop_goes_on(server: SocketServer, client: tcpframe.Client) -> None:
    for parameters in (
        {"interval": -1},
        {"interval": "fast"},
        {"num_sensors": 0},
        {"num_sensors": 2.5},
        {"rate": 10},  # no such parameter
    ):
        reply = await run_command(client, "start", **parameters)
        assert reply["response"] == ResponseCode.BAD_PARAMETERS, parameters
        assert reply["message"]
    assert telemetry_handler(server).telemetry_task.done()
    assert await run_command(client, "start", interval=0.5) == {"response": 0}


async def test_failed_command_gets_nonzero_code(server: SocketServer, client: tcpframe.Client) -> None:
    assert await run_command(client, "start", interval=0.5) == {"response": 0}
    reply = await run_command(client, "start", interval=0.5)
    assert reply["response"] == ResponseCode.COMMAND_FAILED
    assert "Already sending telemetry" in reply["message"]
    assert await run_command(client, "stop") == {"response": 0}


async def test_malformed_lines_get_invalid_message_reply(server: SocketServer, client: tcpframe.Client) -> None:
    for line, text in (
        (b"not json", "not json"),
        (b'{"command": "start"', '{"command": "start"'),
        (b"[1, 2]", "[1, 2]"),
        (b'{"command": 5}', "command"),
        (b'{"parameters": {}}', "command"),
        (b'{"command": "start", "parameters": [1]}', "[1]"),
        (b"\xff\xfe", "decode"),
        (b"[" * 20000 + b"]" * 20000, "nested too deeply"),
    ):
        await client.write(line + client.terminator)
        reply = await read_reply(client)
        assert reply["response"] == ResponseCode.INVALID_MESSAGE, line
        assert text in reply["message"]
    # "parameters" may be left out.
    await client.write_json({"command": "stop"})
    assert await read_reply(client) == {"response": 0}
    assert server.connected


async def test_command_before_handler_is_set_gets_nonzero_code() -> None:
    async with running_server(with_handler=False) as server, connected_client(server) as client:
        reply = await run_command(client, "start")
        assert reply["response"] == ResponseCode.NO_COMMAND_HANDLER
        server.set_command_handler(MockCommandHandler(callback=server.write_json))
        assert await run_command(client, "stop") == {"response": 0}


# Heartbeats.


async def test_heartbeats_are_monitored() -> None:
    async with running_server(run_heartbeat_monitor_task=True, max_heartbeat_interval=0.3) as server:
        heartbeats = 0
        handle_received_heartbeat = server.handle_received_heartbeat

        async def count_heartbeat() -> None:
            nonlocal heartbeats
            heartbeats += 1
            await handle_received_heartbeat()

        server.handle_received_heartbeat = count_heartbeat  # type: ignore[method-assign]

        # A client that sends heartbeats stays connected and is served.
        # Ten heartbeats span more than max_heartbeat_interval.
        async with connected_client(server, run_heartbeat_send_task=True, heartbeat_send_sleep=0.05) as client:
            async with asyncio.timeout(STD_TIMEOUT):
                while heartbeats < 10:
                    await asyncio.sleep(0.01)
            assert client.connected and server.connected
            assert await run_command(client, "stop") == {"response": 0}

        # A client that sends none is closed by the server.
        async with connected_client(server) as client:
            await wait_done(client.done_task)
            assert not client.connected


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
async def test_heartbeats_are_recognised_in_any_encoding(
    server: SocketServer, client: tcpframe.Client, encoding: str
) -> None:
    server.encoding = client.encoding = encoding
    await client.write_str(tcpframe.HEARTBEAT.decode("ascii"))
    # No reply to the heartbeat: the next message is the reply to "stop".
    assert await asyncio.wait_for(run_command(client, "stop"), STD_TIMEOUT) == {"response": 0}


async def test_heartbeats_are_ignored_when_not_monitoring(server: SocketServer, client: tcpframe.Client) -> None:
    assert not server.run_heartbeat_monitor_task
    for _ in range(3):
        await client.write(tcpframe.HEARTBEAT + client.terminator)
    # No reply to heartbeats: the next message is the reply to "stop".
    assert await asyncio.wait_for(run_command(client, "stop"), STD_TIMEOUT) == {"response": 0}
    await asyncio.sleep(0.1)
    assert server.connected and client.connected


# exit and disconnect.


async def test_exit_shuts_down_the_server(server: SocketServer, client: tcpframe.Client) -> None:
    assert await run_command(client, "start", interval=0.01) == {"response": 0}
    assert await run_command(client, "exit") == {"response": 0}
    await wait_done(server.done_task)
    await wait_done(client.done_task)
    assert not server.connected
    assert telemetry_handler(server).telemetry_task.done()
    with pytest.raises(OSError):
        await asyncio.wait_for(
            asyncio.get_running_loop().create_connection(asyncio.Protocol, tcpframe.LOCALHOST_IPV4, server.port),
            STD_TIMEOUT,
        )


async def test_disconnect_closes_the_client_only(server: SocketServer) -> None:
    async with connected_client(server) as client:
        assert await run_command(client, "start", interval=0.01) == {"response": 0}
        assert await run_command(client, "disconnect") == {"response": 0}
        await wait_done(client.done_task)
        assert not client.connected
    assert telemetry_handler(server).telemetry_task.done()
    assert not server.done_task.done()
    # The server takes the next client.
    async with connected_client(server) as client:
        assert await run_command(client, "start", interval=0.01) == {"response": 0}
        assert "telemetry" in await asyncio.wait_for(client.read_json(), STD_TIMEOUT)


async def test_client_going_away_stops_telemetry(server: SocketServer) -> None:
    async with connected_client(server) as client:
        assert await run_command(client, "start", interval=0.01) == {"response": 0}
    await wait_until(lambda: telemetry_handler(server).telemetry_task.done())
    await wait_until(lambda: not server.connected)


async def test_close_client_stops_telemetry(server: SocketServer, client: tcpframe.Client) -> None:
    assert await run_command(client, "start", interval=0.01) == {"response": 0}
    await server.close_client()
    assert telemetry_handler(server).telemetry_task.done()
    await wait_done(client.done_task)


async def test_connect_callback_sees_connect_and_disconnect() -> None:
    states: asyncio.Queue[bool] = asyncio.Queue()

    async def connect_callback(server: SocketServer) -> None:
        states.put_nowait(server.connected)

    async with running_server(connect_callback=connect_callback) as server:
        async with connected_client(server) as client:
            assert await asyncio.wait_for(states.get(), STD_TIMEOUT) is True
            await run_command(client, "disconnect")
        assert await asyncio.wait_for(states.get(), STD_TIMEOUT) is False
