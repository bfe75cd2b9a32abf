"""EchoServer (tcpframe.examples.echo), in process and as ``python -m``."""

import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
import typing
from collections.abc import AsyncIterator

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from tcpframe.examples import EchoServer

# The systems must work on uvloop too, when it is installed.
pytestmark = pytest.mark.all_event_loops


log = logging.getLogger("test_examples_echo")


@contextlib.asynccontextmanager
async def running_server(**kwargs: typing.Any) -> AsyncIterator[EchoServer]:
    server = EchoServer(port=0, log=log, **kwargs)
    try:
        await asyncio.wait_for(server.start_task, STD_TIMEOUT)
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def connected_client(port: int, **kwargs: typing.Any) -> AsyncIterator[tcpframe.Client]:
    client = tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=port, log=log, **kwargs)
    try:
        await asyncio.wait_for(client.start_task, STD_TIMEOUT)
        yield client
    finally:
        await client.close()


async def assert_echoes(client: tcpframe.Client, lines: list[str]) -> None:
    for line in lines:
        await client.write_str(line)
        assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == line


async def test_echo_server_is_a_one_client_server() -> None:
    async with running_server() as server:
        assert isinstance(server, tcpframe.OneClientServer)
        assert server.port != 0


async def test_lines_are_echoed() -> None:
    async with running_server() as server, connected_client(server.port) as client:
        await assert_echoes(client, ["hello", "", "with spaces and \u00b0C", "x" * 10_000])
        # Several lines in one write come back in order, each whole.
        await client.write(b"one\r\ntwo\r\nthree\r\n")
        assert [await asyncio.wait_for(client.read_str(), STD_TIMEOUT) for _ in range(3)] == ["one", "two", "three"]


async def test_custom_terminator() -> None:
    async with running_server(terminator=b"\n") as server:
        async with connected_client(server.port, terminator=b"\n") as client:
            await client.write(b"a\r\nb\n")
            assert await asyncio.wait_for(client.readuntil(b"\n"), STD_TIMEOUT) == b"a\r\n"
            assert await asyncio.wait_for(client.readuntil(b"\n"), STD_TIMEOUT) == b"b\n"


async def test_next_client_is_served_after_the_first_leaves() -> None:
    async with running_server() as server:
        async with connected_client(server.port) as client:
            await assert_echoes(client, ["first"])
        async with connected_client(server.port) as client:
            await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
            await assert_echoes(client, ["second"])


async def test_second_client_is_rejected_while_first_is_served() -> None:
    async with running_server() as server, connected_client(server.port) as first:
        await asyncio.wait_for(server.connected_task, STD_TIMEOUT)
        async with connected_client(server.port) as second:
            await asyncio.wait_for(second.done_task, STD_TIMEOUT)
            assert not second.connected
        await assert_echoes(first, ["still here"])


async def test_close_stops_the_read_loop() -> None:
    async with running_server() as server, connected_client(server.port) as client:
        await assert_echoes(client, ["ping"])
        read_loop_task = server.read_loop_task
        await server.close()
        await asyncio.wait_for(asyncio.wait([read_loop_task]), STD_TIMEOUT)
        await asyncio.wait_for(client.done_task, STD_TIMEOUT)


async def test_runs_as_a_module() -> None:
    """``python -m tcpframe.examples.echo --port 0`` prints its port, echoes,
    and exits cleanly on Ctrl-C (SIGINT)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tcpframe.examples.echo",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # PYTHONPATH and TCPFRAME_PURE_PYTHON pass through; faulthandler
        # prints every thread's stack on SIGABRT (see below).
        env=dict(os.environ, PYTHONFAULTHANDLER="1"),
        # Ctrl-C reaches it as in a terminal, even when this suite runs in
        # a shell's background job, whose children inherit SIGINT ignored
        # (as a server started with `&` would: Python then keeps ignoring it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        first_line = await asyncio.wait_for(process.stdout.readline(), STD_TIMEOUT * 2)
        match = re.search(rb"port (\d+)", first_line)
        assert match is not None, first_line
        port = int(match[1])
        async with connected_client(port) as client:
            await assert_echoes(client, ["hello from the test", "again"])
        process.send_signal(signal.SIGINT)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), 2 * STD_TIMEOUT)
        except TimeoutError:
            # Say where it stuck.
            process.send_signal(signal.SIGABRT)
            _, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT)
            pytest.fail(f"the server did not stop within {2 * STD_TIMEOUT} s of SIGINT; its stacks:\n{stderr.decode()}")
        assert process.returncode == 0, stderr.decode()
        assert b"stopped" in stdout
        assert b"Traceback" not in stderr and b"Warning" not in stderr, stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), STD_TIMEOUT)


async def run_module(*args: str) -> tuple[int, bytes]:
    """Run ``python -m tcpframe.examples.echo *args``; return its exit code
    and stderr. For runs that end by themselves."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tcpframe.examples.echo",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), STD_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, stderr


@pytest.mark.parametrize("port", ["-1", "65536", "not-a-number"])
async def test_module_rejects_a_bad_port(port: str) -> None:
    returncode, stderr = await run_module("--port", port)
    assert returncode == 2
    assert b"--port" in stderr and b"Traceback" not in stderr


async def test_module_reports_a_port_in_use() -> None:
    async with running_server() as server:
        returncode, stderr = await run_module("--port", str(server.port))
    assert returncode == 1
    assert f"could not listen on {tcpframe.LOCAL_HOST}:{server.port}".encode() in stderr
    assert b"Traceback" not in stderr
