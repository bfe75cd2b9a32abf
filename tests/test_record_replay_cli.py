"""``python -m tcpframe.record`` and ``python -m tcpframe.replay`` as subprocesses."""

import asyncio
import contextlib
import json
import logging
import os
import pathlib
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from crafted_recordings import BAD_HEADERS, HEADER_OFFSET, header_file
from seed_servers import socket_server
from tcpframe.examples import ChillerClient, MockChiller, TelemetryProducer
from tcpframe.recording import Direction, RecordingReader, RecordingWriter, RecordKind

# A subprocess starts (imports tcpframe, numpy) in well under this.
START_TIMEOUT = 20
HOST = tcpframe.LOCALHOST_IPV4

log = logging.getLogger("test_record_replay_cli")


@contextlib.asynccontextmanager
async def module(name: str, *args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run ``python -m name *args``; kill it at exit if it is still running."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        name,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(os.environ),  # PYTHONPATH and TCPFRAME_PURE_PYTHON pass through
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.communicate(), STD_TIMEOUT)


async def run_module(name: str, *args: str) -> tuple[int, str, str]:
    """Run ``python -m name *args`` to its end; return exit code, stdout and stderr."""
    async with module(name, *args) as process:
        stdout, stderr = await asyncio.wait_for(process.communicate(), START_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def first_line_port(process: asyncio.subprocess.Process) -> int:
    """Read the first line of the process and return the port it names."""
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
    match = re.search(rb"127\.0\.0\.1:(\d+)", line)
    assert match is not None, line
    return int(match[1])


async def interrupt(process: asyncio.subprocess.Process) -> tuple[str, str]:
    """Send SIGINT (Ctrl-C); return stdout and stderr once it exits, which must be cleanly."""
    process.send_signal(signal.SIGINT)
    stdout, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    assert process.returncode == 0, stderr.decode()
    assert "Traceback" not in stderr.decode(), stderr.decode()
    return stdout.decode(), stderr.decode()


def read_recording(path: pathlib.Path) -> dict[Direction, bytes]:
    """Both recorded streams; raises RecordingError if the file is not complete."""
    streams = {direction: b"" for direction in Direction}
    with RecordingReader(path) as reader:
        for record in reader:
            if record.kind is RecordKind.DATA:
                streams[record.direction] += record.data
    return streams


async def test_record_proxy_prints_progress_and_stops_on_ctrl_c_with_a_complete_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ess.rec"
    async with socket_server(log) as server:
        args = ("--listen", "0", "--to", f"{HOST}:{server.port}", "--out", str(path), "--progress", "0.1")
        async with module("tcpframe.record", *args) as process:
            port = await first_line_port(process)
            assert process.stdout is not None
            async with tcpframe.Client(host=HOST, port=port, log=log) as client:
                await client.write_json({"command": "start", "parameters": {"interval": 0.01}})
                received = [await asyncio.wait_for(client.readuntil(b"\r\n"), STD_TIMEOUT) for _ in range(5)]
                progress = await asyncio.wait_for(process.stdout.readline(), STD_TIMEOUT)
                assert re.search(
                    rb"\d+\.\d s  client->server \d+ B \(.+/s\)  server->client \d+(\.\d)? k?B \(.+/s\)", progress
                ), progress
                # Ctrl-C in the middle of the session, telemetry flowing.
                stdout, _ = await interrupt(process)
                # The proxy closed the connection: reading to EOF ends.
                await asyncio.wait_for(client.reader.read(), STD_TIMEOUT)
    assert "Recording complete" in stdout
    assert re.search(r"server->client: \d+(\.\d)? k?B in \d+ chunks", stdout), stdout
    streams = read_recording(path)  # no RecordingError: complete
    assert streams[Direction.SERVER_TO_CLIENT].startswith(b"".join(received))
    assert json.loads(streams[Direction.CLIENT_TO_SERVER])["command"] == "start"


async def test_record_as_a_client_records_until_ctrl_c(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "telemetry.rec"
    async with TelemetryProducer(rate=1000, log=log) as producer:
        args = ("--connect", f"{HOST}:{producer.port}", "--out", str(path), "--progress", "0")
        async with module("tcpframe.record", *args) as process:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
            assert b"as a client of" in line
            await asyncio.sleep(0.3)
            stdout, _ = await interrupt(process)
    assert "Recording complete" in stdout
    with RecordingReader(path) as reader:
        assert reader.header.client is None
    streams = read_recording(path)
    assert len(streams[Direction.SERVER_TO_CLIENT]) > 0
    assert streams[Direction.CLIENT_TO_SERVER] == b""


async def test_record_ends_by_itself_when_the_session_ends(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "chiller.rec"
    async with MockChiller(log=log) as chiller:
        args = ("--listen", "0", "--to", f"{HOST}:{chiller.port}", "--out", str(path))
        async with module("tcpframe.record", *args) as process:
            port = await first_line_port(process)
            async with ChillerClient(device_id="01", host=HOST, port=port, log=log) as client:
                assert await client.run_command("01WatchDog") == "#01001WatchDog"
            stdout, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    assert process.returncode == 0, stderr
    assert b"Recording complete" in stdout
    assert read_recording(path)[Direction.SERVER_TO_CLIENT].startswith(b"#01001WatchDog")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "0", "--out", "x.rec"], "--listen needs --to"),
        (["--connect", "localhost", "--out", "x.rec"], "--connect"),
        (["--connect", "h:1", "--to", "h:2", "--out", "x.rec"], "--to goes with --listen"),
        (["--listen", "70000", "--to", "h:1", "--out", "x.rec"], "--listen"),
        (["--connect", "h:1"], "--out"),
    ],
)
async def test_record_rejects_bad_arguments(args: list[str], message: str) -> None:
    returncode, _, stderr = await run_module("tcpframe.record", *args)
    assert returncode == 2
    assert message in stderr and "Traceback" not in stderr


async def test_record_reports_an_unreachable_server_and_an_unwritable_file(tmp_path: pathlib.Path) -> None:
    with socket.socket() as unused:
        unused.bind((HOST, 0))
        port = unused.getsockname()[1]
        returncode, _, stderr = await run_module(
            "tcpframe.record", "--connect", f"{HOST}:{port}", "--out", str(tmp_path / "x.rec")
        )
    assert returncode == 1
    assert "Recording failed" in stderr and "Traceback" not in stderr
    returncode, _, stderr = await run_module(
        "tcpframe.record", "--connect", f"{HOST}:{port}", "--out", str(tmp_path / "missing" / "x.rec")
    )
    assert returncode == 1
    assert "No such file or directory" in stderr and "Traceback" not in stderr


def write_command_reply(path: pathlib.Path) -> None:
    ms = 1_000_000
    with RecordingWriter(path) as writer:
        writer.start(server="127.0.0.1:1", client="127.0.0.1:2")
        writer.write_data(Direction.SERVER_TO_CLIENT, b"HELLO\r\n", 1 * ms)
        writer.write_data(Direction.CLIENT_TO_SERVER, b"CMD\r\n", 500 * ms)
        writer.write_data(Direction.SERVER_TO_CLIENT, b"REPLY\r\n", 1000 * ms)
        writer.write_eof(Direction.SERVER_TO_CLIENT, 1500 * ms)
        writer.close(2000 * ms)


async def test_replay_summary(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "command_reply.rec"
    write_command_reply(path)
    returncode, stdout, stderr = await run_module("tcpframe.replay", str(path), "--summary")
    assert returncode == 0, stderr
    assert "client 127.0.0.1:2, server 127.0.0.1:1" in stdout
    assert "duration 2.000 s" in stdout
    assert "client->server: 5 B in 1 chunks, 2 B/s" in stdout
    assert "server->client: 14 B in 2 chunks, 7 B/s; closed at 1.500 s" in stdout


async def test_replay_summary_of_a_truncated_file_names_the_offset(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "truncated.rec"
    write_command_reply(path)
    data = path.read_bytes()
    path.write_bytes(data[:-30])
    returncode, stdout, stderr = await run_module("tcpframe.replay", str(path), "--summary")
    assert returncode == 1
    assert re.search(r"error: .*truncated.*\(at offset \d+\)", stderr), stderr
    assert "server->client: 14 B in 2 chunks" in stdout  # the good records
    path.write_bytes(b"garbage")
    returncode, _, stderr = await run_module("tcpframe.replay", str(path), "--summary")
    assert returncode == 1
    assert "not a tcpframe recording" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("case", ["deeply nested list", "start_time NaN", "start_time Infinity", "start_time 1e300"])
@pytest.mark.parametrize("mode", [["--summary"], ["--port", "0", "--once"]], ids=["summary", "serve"])
async def test_replay_of_a_crafted_header_fails_in_one_line(tmp_path: pathlib.Path, case: str, mode: list[str]) -> None:
    path = header_file(tmp_path / "crafted.rec", BAD_HEADERS[case][0])
    returncode, stdout, stderr = await run_module("tcpframe.replay", str(path), *mode)
    assert returncode == 1
    assert stdout == ""
    assert re.fullmatch(
        rf"Replay failed: {re.escape(str(path))}: bad header: .* \(at offset {HEADER_OFFSET}\)\n", stderr
    ), stderr


async def test_replay_serves_a_paced_checked_replay_once(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "command_reply.rec"
    write_command_reply(path)
    args = (str(path), "--port", "0", "--paced", "--check", "--speed", "inf", "--once")
    async with module("tcpframe.replay", *args) as process:
        port = await first_line_port(process)
        async with tcpframe.Client(host=HOST, port=port, log=log) as client:
            assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "HELLO"
            await client.write_str("CMD")
            assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "REPLY"
            assert await asyncio.wait_for(client.reader.read(), STD_TIMEOUT) == b""
        stdout, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    assert process.returncode == 0, stderr
    assert "sent 14 B in 2 chunks, received 5 B in 1 chunks; replay complete" in stdout.decode()


async def test_replay_reports_a_mismatch(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "command_reply.rec"
    write_command_reply(path)
    args = (str(path), "--port", "0", "--paced", "--check", "--speed", "inf", "--once")
    async with module("tcpframe.replay", *args) as process:
        port = await first_line_port(process)
        async with tcpframe.Client(host=HOST, port=port, log=log) as client:
            await client.write_str("CMX")
            assert await asyncio.wait_for(client.reader.read(), STD_TIMEOUT) == b"HELLO\r\n"
        stdout, stderr = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    assert process.returncode == 1
    assert "replay failed: the client's bytes differ from the recording at byte 2" in stdout.decode()
    assert b"Traceback" not in stderr


async def test_replay_stops_on_ctrl_c(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "command_reply.rec"
    write_command_reply(path)
    async with module("tcpframe.replay", str(path)) as process:
        port = await first_line_port(process)
        async with tcpframe.Client(host=HOST, port=port, log=log) as client:
            assert await asyncio.wait_for(client.read_str(), STD_TIMEOUT) == "HELLO"
            await interrupt(process)


async def test_replay_rejects_bad_arguments(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "command_reply.rec"
    write_command_reply(path)
    returncode, _, stderr = await run_module("tcpframe.replay", str(path), "--speed", "0")
    assert returncode == 2 and "--speed 0.0 must be positive" in stderr
    returncode, _, stderr = await run_module("tcpframe.replay", str(tmp_path / "missing.rec"))
    assert returncode == 1 and "Replay failed" in stderr and "Traceback" not in stderr


async def test_a_session_recorded_and_replayed_by_the_tools_matches_byte_for_byte(tmp_path: pathlib.Path) -> None:
    """Both tools end to end: the replay sends the bytes the original client got."""
    path = tmp_path / "ess.rec"

    async def session(port: int) -> bytes:
        async with tcpframe.Client(host=HOST, port=port, log=log) as client:
            await client.write_json({"command": "start", "parameters": {"interval": 0.02}})
            lines = [await asyncio.wait_for(client.readuntil(b"\r\n"), STD_TIMEOUT) for _ in range(5)]
            await client.write_json({"command": "disconnect", "parameters": {}})
            lines.append(await asyncio.wait_for(client.reader.read(), STD_TIMEOUT))
        return b"".join(lines)

    async with socket_server(log) as server:
        args = ("--listen", "0", "--to", f"{HOST}:{server.port}", "--out", str(path), "--progress", "0")
        async with module("tcpframe.record", *args) as process:
            original = await session(await first_line_port(process))
            await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
        assert process.returncode == 0
    assert read_recording(path)[Direction.SERVER_TO_CLIENT] == original
    args = (str(path), "--port", "0", "--paced", "--check", "--speed", "inf", "--once")
    async with module("tcpframe.replay", *args) as process:
        replayed = await session(await first_line_port(process))
        stdout, _ = await asyncio.wait_for(process.communicate(), STD_TIMEOUT * 2)
    assert process.returncode == 0
    assert b"replay complete" in stdout
    assert replayed == original
