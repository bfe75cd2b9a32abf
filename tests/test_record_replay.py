"""Recorder and ReplayServer over loopback: sessions of the seed systems
recorded through the proxy and replayed to fresh clients."""

import asyncio
import ctypes
import json
import logging
import math
import pathlib
import socket
import typing
from collections.abc import Awaitable, Callable

import pytest

import tcpframe
from conftest import STD_TIMEOUT
from crafted_recordings import BAD_HEADERS, HEADER_OFFSET, header_file
from seed_servers import socket_server
from tcpframe.examples import (
    ChillerClient,
    MockChiller,
    TelemetryHeader,
    TelemetryPayload,
    TelemetryProducer,
)
from tcpframe.recording import Direction, RecordingError, RecordingReader, RecordingWriter, RecordKind, Traffic

pytestmark = pytest.mark.all_event_loops

HOST = tcpframe.LOCALHOST_IPV4
C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT

log = logging.getLogger("test_record_replay")

# A client session: given a client connected to a port, returns what it saw.
Session = Callable[[int], Awaitable[list[bytes]]]


def recorded_stream(path: pathlib.Path, direction: Direction) -> bytes:
    with RecordingReader(path) as reader:
        return b"".join(r.data for r in reader if r.kind is RecordKind.DATA and r.direction is direction)


async def record_through_proxy(path: pathlib.Path, server_port: int, session: Session) -> list[bytes]:
    """Run ``session`` against the server through a recording proxy; return what it saw."""
    async with tcpframe.Recorder(path, HOST, server_port, listen_port=0, log=log) as recorder:
        assert recorder.port != 0
        seen = await asyncio.wait_for(session(typing.cast(int, recorder.port)), STD_TIMEOUT)
        await asyncio.wait_for(recorder.done_task, STD_TIMEOUT)
    return seen


async def replay(path: pathlib.Path, session: Session, whole: bool = True, **kwargs: typing.Any) -> list[bytes]:
    """Run ``session`` against a ReplayServer of ``path``; return what it saw.

    If ``whole``, check the replay played the whole recorded server side.
    """
    async with tcpframe.ReplayServer(path, log=log, **kwargs) as server:
        seen = await asyncio.wait_for(session(server.port), STD_TIMEOUT)
        complete = await asyncio.wait_for(server.replay_task, STD_TIMEOUT)
        assert complete or not whole
    return seen


# ---------------------------------------------------------------------------
# The seed systems.
# ---------------------------------------------------------------------------


async def socket_server_session(port: int) -> list[bytes]:
    """Start telemetry, read some, stop it, disconnect; every line as received."""
    seen: list[bytes] = []
    async with tcpframe.Client(host=HOST, port=port, log=log) as client:

        async def command(name: str, **parameters: typing.Any) -> None:
            await client.write_json({"command": name, "parameters": parameters})
            while True:
                line = await client.readuntil(b"\r\n")
                seen.append(line)
                if "response" in json.loads(line):
                    return

        await command("start", interval=0.02, num_sensors=2)
        for _ in range(6):
            seen.append(await client.readuntil(b"\r\n"))
        await command("stop")
        await command("disconnect")
        seen.append(await client.reader.read())  # b"": the server closed
    return seen


CHILLER_COMMANDS = ["01WatchDog", "01SetTemp+20.5", "01ReadStatus", "01WatchDog"]


async def chiller_session(port: int) -> list[bytes]:
    """Run chiller commands with ChillerClient; the replies it returned."""
    async with ChillerClient(device_id="01", host=HOST, port=port, log=log) as client:
        return [(await client.run_command(command)).encode() for command in CHILLER_COMMANDS]


TELEMETRY_SAMPLES = 300


async def telemetry_session(port: int) -> list[bytes]:
    """Read header+payload struct pairs, then leave; the bytes of each struct."""
    header, payload = TelemetryHeader(), TelemetryPayload()
    seen = []
    async with tcpframe.Client(host=HOST, port=port, log=log) as client:
        for _ in range(TELEMETRY_SAMPLES):
            await client.read_into(header)
            await client.read_into(payload)
            seen += [bytes(header), bytes(payload)]
    return seen


async def test_socket_server_session_replays_byte_for_byte(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ess.rec"
    async with socket_server(log) as server:
        original = await record_through_proxy(path, server.port, socket_server_session)
    telemetry = [json.loads(line) for line in original if line and "telemetry" in json.loads(line)]
    assert len(telemetry) >= 6
    # The proxy recorded exactly what it passed on, both ways.
    assert recorded_stream(path, S2C) == b"".join(original)
    assert recorded_stream(path, C2S).startswith(b'{"command": "start"')

    for kwargs in ({"paced": True, "check": True, "speed": math.inf}, {"speed": 4.0}):
        replayed = await replay(path, socket_server_session, **kwargs)
        # Timestamps and noise in the telemetry show this is the recorded
        # session, not a new one.
        assert replayed == original, kwargs


async def test_chiller_session_replays_to_a_chiller_client(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "chiller.rec"
    async with MockChiller(log=log) as chiller:
        chiller.uppercase_checksums = True
        original = await record_through_proxy(path, chiller.port, chiller_session)
        assert [command[3:-2] for command in chiller.commands if command] == CHILLER_COMMANDS
    assert original == [b"#010" + command.encode() for command in CHILLER_COMMANDS]
    assert recorded_stream(path, S2C).count(b"\r") == len(CHILLER_COMMANDS)
    assert await replay(path, chiller_session, paced=True, check=True, speed=math.inf) == original


async def test_telemetry_stream_replays_at_its_pace(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "telemetry.rec"
    async with TelemetryProducer(rate=2000, log=log) as producer:
        original = await record_through_proxy(path, producer.port, telemetry_session)
    sequences = [TelemetryHeader.from_buffer_copy(raw).sequence for raw in original[::2]]
    assert sequences == list(range(TELEMETRY_SAMPLES))
    # The producer may have sent more than the client read before it left.
    assert recorded_stream(path, S2C).startswith(b"".join(original))
    # The client leaves while the replay goes on, as it did while recorded.
    assert await replay(path, telemetry_session, whole=False) == original
    assert await replay(path, telemetry_session, whole=False, speed=math.inf) == original


async def raw_replay(path: pathlib.Path, **kwargs: typing.Any) -> bytes:
    """Send the recorded client bytes, then EOF, with a plain asyncio client; return all received."""
    client_stream = recorded_stream(path, C2S)
    async with tcpframe.ReplayServer(path, paced=True, check=True, speed=math.inf, log=log, **kwargs) as server:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        try:
            writer.write(client_stream)
            writer.write_eof()
            received = await asyncio.wait_for(reader.read(), STD_TIMEOUT)
        finally:
            writer.close()
            await writer.wait_closed()
        assert await asyncio.wait_for(server.replay_task, STD_TIMEOUT)
    return received


async def test_every_seed_session_replays_its_server_bytes_exactly(tmp_path: pathlib.Path) -> None:
    """The whole recorded server stream, byte for byte, to an asyncio streams client."""
    paths = {name: tmp_path / f"{name}.rec" for name in ("ess", "chiller")}
    async with socket_server(log) as server:
        await record_through_proxy(paths["ess"], server.port, socket_server_session)
    async with MockChiller(log=log) as chiller:
        await record_through_proxy(paths["chiller"], chiller.port, chiller_session)
    for path in paths.values():
        # Both sessions end with the server closing, which closes the replay.
        assert await raw_replay(path) == recorded_stream(path, S2C)


async def test_recorder_as_a_client_records_a_stream(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "client.rec"
    pair = ctypes.sizeof(TelemetryHeader) + ctypes.sizeof(TelemetryPayload)
    async with TelemetryProducer(rate=2000, log=log) as producer:
        async with tcpframe.Recorder(path, HOST, producer.port, log=log) as recorder:
            assert not recorder.is_proxy and recorder.port is None
            async with asyncio.timeout(STD_TIMEOUT):
                while recorder.traffic[S2C].nbytes < TELEMETRY_SAMPLES * pair:
                    await asyncio.sleep(0.01)
            assert recorder.traffic[C2S] == Traffic()
    with RecordingReader(path) as reader:
        assert reader.header.client is None
        assert reader.header.server == f"{HOST}:{producer.port}"
    original = recorded_stream(path, S2C)
    replayed = await replay(path, telemetry_session, whole=False, speed=math.inf)
    assert b"".join(replayed) == original[: TELEMETRY_SAMPLES * pair]


async def test_recorder_close_mid_session_leaves_a_complete_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stopped.rec"
    async with socket_server(log) as server:
        recorder = tcpframe.Recorder(path, HOST, server.port, listen_port=0, log=log)
        await recorder.start()
        async with tcpframe.Client(host=HOST, port=recorder.port, log=log) as client:
            await client.write_json({"command": "start", "parameters": {"interval": 0.01}})
            for _ in range(3):
                await asyncio.wait_for(client.read_json(), STD_TIMEOUT)
            await recorder.close()
            # The proxy closed the connection: the client reads what was
            # already on its way (as in lsst.ts.tcpip, it counts as
            # connected while that is unread), then its reads fail (EOF, or
            # "Not connected" once all is read), and then it is done.
            with pytest.raises((asyncio.IncompleteReadError, ConnectionError)):
                while True:
                    await asyncio.wait_for(client.read_json(), STD_TIMEOUT)
            await asyncio.wait_for(client.done_task, STD_TIMEOUT)
        assert recorder.done_task.done()
        await recorder.close()  # safe twice
    with RecordingReader(path) as reader:
        records = list(reader)  # no RecordingError: the file is complete
        assert reader.end_timestamp is not None
    assert not any(r.kind is RecordKind.EOF for r in records)
    assert recorded_stream(path, S2C).count(b"\r\n") >= 3


async def test_recorder_records_one_session(tmp_path: pathlib.Path) -> None:
    async with MockChiller(log=log) as chiller:
        async with tcpframe.Recorder(tmp_path / "one.rec", HOST, chiller.port, listen_port=0, log=log) as recorder:
            async with ChillerClient(device_id="01", host=HOST, port=recorder.port, log=log) as client:
                await client.run_command("01WatchDog")
                # The proxy stopped listening when the first client came.
                with pytest.raises(ConnectionRefusedError):
                    await asyncio.open_connection(HOST, recorder.port)
                assert await client.run_command("01WatchDog") == "#01001WatchDog"


async def test_recorder_reports_an_unreachable_server(tmp_path: pathlib.Path) -> None:
    with socket.socket() as unused:
        unused.bind((HOST, 0))
        port = unused.getsockname()[1]  # nothing listens there
        path = tmp_path / "unreachable.rec"
        # done_task has the error, and the with statement raises it at exit.
        with pytest.raises(ConnectionRefusedError):
            async with tcpframe.Recorder(path, HOST, port, listen_port=0, log=log) as recorder:
                reader, writer = await asyncio.open_connection(HOST, recorder.port)
                assert await asyncio.wait_for(reader.read(), STD_TIMEOUT) == b""
                writer.close()
                await writer.wait_closed()
                await asyncio.wait({recorder.done_task}, timeout=STD_TIMEOUT)
                assert isinstance(recorder.done_task.exception(), ConnectionRefusedError)
    with RecordingReader(path) as reader:
        assert list(reader) == []
        assert reader.header.server == f"{HOST}:{port}"


async def test_recorder_as_a_client_raises_for_an_unreachable_server(tmp_path: pathlib.Path) -> None:
    with socket.socket() as unused:
        unused.bind((HOST, 0))
        recorder = tcpframe.Recorder(tmp_path / "x.rec", HOST, unused.getsockname()[1], log=log)
        with pytest.raises(ConnectionRefusedError):
            await recorder.start()
    assert recorder.done_task.done()


async def test_recorder_passes_on_a_half_close(tmp_path: pathlib.Path) -> None:
    """A client that shuts down its sending side still gets the server's reply."""
    path = tmp_path / "half.rec"

    async def reply_at_eof(reader: tcpframe.FrameReader, writer: tcpframe.FrameWriter) -> None:
        request = await reader.read()
        writer.write(b"got " + request)
        await tcpframe.close_stream_writer(writer)

    server = await tcpframe.start_server(reply_at_eof, HOST, 0)
    try:
        port = server.sockets[0].getsockname()[1]
        async with tcpframe.Recorder(path, HOST, port, listen_port=0, log=log) as recorder:
            reader, writer = await asyncio.open_connection(HOST, recorder.port)
            writer.write(b"request")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), STD_TIMEOUT) == b"got request"
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(recorder.done_task, STD_TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()
    with RecordingReader(path) as reader:
        kinds = [(r.kind, r.direction) for r in reader]
    assert kinds[-2:] == [(RecordKind.DATA, S2C), (RecordKind.EOF, S2C)]
    assert (RecordKind.EOF, C2S) in kinds
    assert kinds.index((RecordKind.EOF, C2S)) < kinds.index((RecordKind.DATA, S2C))


async def test_recorder_relays_no_faster_than_the_client_reads(tmp_path: pathlib.Path) -> None:
    """Bounded memory: while the client does not read, the proxy stops
    taking the server's stream (flow control), instead of buffering it."""
    offered = 64 * 2**20
    chunk = bytes(range(256)) * 256

    async def flood(reader: tcpframe.FrameReader, writer: tcpframe.FrameWriter) -> None:
        for _ in range(offered // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        await tcpframe.close_stream_writer(writer)

    server = await tcpframe.start_server(flood, HOST, 0)
    try:
        port = server.sockets[0].getsockname()[1]
        path = tmp_path / "flood.rec"
        async with tcpframe.Recorder(path, HOST, port, listen_port=0, log=log) as recorder:
            reader, writer = await asyncio.open_connection(HOST, recorder.port)
            # Not reading: what the proxy takes stops growing, far short of the flood.
            previous = -1
            while recorder.traffic[S2C].nbytes != previous:
                previous = recorder.traffic[S2C].nbytes
                await asyncio.sleep(0.2)
            assert previous < offered // 2
            received = 0
            while data := await asyncio.wait_for(reader.read(2**20), STD_TIMEOUT):
                received += len(data)
            writer.close()
            await writer.wait_closed()
            await asyncio.wait_for(recorder.done_task, STD_TIMEOUT)
    finally:
        server.close()
        await server.wait_closed()
    assert received == recorder.traffic[S2C].nbytes == offered


# ---------------------------------------------------------------------------
# ReplayServer on recordings written directly.
# ---------------------------------------------------------------------------

MS = 1_000_000  # ns


def write_recording(path: pathlib.Path, records: list[tuple[Direction, int, bytes | None]], end: int) -> None:
    """Write a recording of (direction, timestamp in ns, data or None for EOF)."""
    with RecordingWriter(path) as writer:
        writer.start(server="127.0.0.1:1", client="127.0.0.1:2")
        for direction, timestamp, data in records:
            if data is None:
                writer.write_eof(direction, timestamp)
            else:
                writer.write_data(direction, data, timestamp)
        writer.close(end)


COMMAND_REPLY = [
    (S2C, 1 * MS, b"HELLO\r\n"),
    (C2S, 10 * MS, b"CMD1\r\n"),
    (S2C, 11 * MS, b"REPLY1 part 1;"),
    (S2C, 12 * MS, b"REPLY1 part 2\r\n"),
    (C2S, 20 * MS, b"CMD2"),
    (C2S, 21 * MS, b"\r\n"),
    (S2C, 22 * MS, b"REPLY2\r\n"),
    (C2S, 30 * MS, None),
    (S2C, 31 * MS, None),
]


@pytest.fixture
def command_reply(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "command_reply.rec"
    write_recording(path, COMMAND_REPLY, 40 * MS)
    return path


async def connect_raw(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    return sock


async def recv(sock: socket.socket) -> bytes:
    return await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 65536), STD_TIMEOUT)


async def test_paced_replay_waits_for_each_command_and_keeps_chunks(command_reply: pathlib.Path) -> None:
    loop = asyncio.get_running_loop()
    async with tcpframe.ReplayServer(command_reply, paced=True, check=True, speed=math.inf, log=log) as server:
        sock = await connect_raw(server.port)
        try:
            assert await recv(sock) == b"HELLO\r\n"
            # Nothing more until the command: the replay waits for it.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(loop.sock_recv(sock, 65536), 0.2)
            await loop.sock_sendall(sock, b"CMD")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(loop.sock_recv(sock, 65536), 0.1)
            await loop.sock_sendall(sock, b"1\r\n")
            reply = await recv(sock)
            while not reply.endswith(b"\r\n"):
                reply += await recv(sock)
            assert reply == b"REPLY1 part 1;REPLY1 part 2\r\n"
            await loop.sock_sendall(sock, b"CMD2\r\n")
            assert await recv(sock) == b"REPLY2\r\n"
            assert server.traffic[S2C] == Traffic(nbytes=7 + 29 + 8, chunks=4)
            # The recorded server closed only after the client: so does the replay.
            assert not server.replay_task.done()
            sock.shutdown(socket.SHUT_WR)
            assert await recv(sock) == b""
        finally:
            sock.close()
        assert await asyncio.wait_for(server.replay_task, STD_TIMEOUT) is True
        assert server.traffic[C2S] == Traffic(nbytes=12, chunks=3)


async def test_paced_replay_sends_each_chunk_with_one_write(tmp_path: pathlib.Path) -> None:
    """Chunk boundaries are kept: a chunk released by the client arrives whole and alone."""
    path = tmp_path / "chunks.rec"
    chunks = [bytes([65 + i]) * (100 * (i + 1)) for i in range(10)]
    records: list[tuple[Direction, int, bytes | None]] = []
    for i, chunk in enumerate(chunks):
        records += [(C2S, (2 * i) * MS, b"?"), (S2C, (2 * i + 1) * MS, chunk)]
    write_recording(path, records, 100 * MS)
    loop = asyncio.get_running_loop()
    async with tcpframe.ReplayServer(path, paced=True, speed=math.inf, log=log) as server:
        sock = await connect_raw(server.port)
        try:
            for chunk in chunks:
                await loop.sock_sendall(sock, b"?")
                assert await recv(sock) == chunk
        finally:
            sock.close()


async def test_paced_replay_keeps_recorded_delays_after_the_client(command_reply: pathlib.Path) -> None:
    """At speed 1, REPLY1's second part comes 2 ms after CMD1 completes, as recorded."""
    loop = asyncio.get_running_loop()
    async with tcpframe.ReplayServer(command_reply, paced=True, log=log) as server:
        async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
            assert await client.readuntil(b"\r\n") == b"HELLO\r\n"
            await client.write(b"CMD1\r\n")
            sent = loop.time()
            assert await client.readuntil(b"\r\n") == b"REPLY1 part 1;REPLY1 part 2\r\n"
            assert loop.time() - sent >= 0.002 - 0.001  # event loop clock resolution


async def test_timed_replay_sends_no_chunk_before_its_time(command_reply: pathlib.Path) -> None:
    loop = asyncio.get_running_loop()
    for speed in (1.0, 2.0):
        async with tcpframe.ReplayServer(command_reply, speed=speed, log=log) as server:
            connecting = loop.time()
            async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
                assert await client.readuntil(b"\r\n") == b"HELLO\r\n"
                # Timed: the replies come whatever the client sends.
                assert await client.readuntil(b"\r\n") == b"REPLY1 part 1;REPLY1 part 2\r\n"
                assert await client.readuntil(b"\r\n") == b"REPLY2\r\n"
                # REPLY2 was recorded 22 ms after the connection.
                assert loop.time() - connecting >= 0.022 / speed - 0.001


async def test_check_reports_the_first_difference(command_reply: pathlib.Path) -> None:
    with pytest.raises(tcpframe.ReplayMismatchError) as excinfo:
        async with tcpframe.ReplayServer(command_reply, paced=True, check=True, speed=math.inf, log=log) as server:
            async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
                assert await client.readuntil(b"\r\n") == b"HELLO\r\n"
                await client.write(b"CMD9\r\n")
                # The replay stops and closes the connection.
                assert await asyncio.wait_for(client.reader.read(), STD_TIMEOUT) == b""
            with pytest.raises(tcpframe.ReplayMismatchError):
                await asyncio.wait_for(server.replay_task, STD_TIMEOUT)
    error = excinfo.value
    assert (error.offset, error.expected, error.received) == (3, b"1\r\nCMD2\r\n", b"9\r\n")
    assert "at byte 3 of its stream: expected b'1\\r\\nCMD2\\r\\n', received b'9\\r\\n'" in str(error)


async def test_check_reports_bytes_beyond_the_recording(command_reply: pathlib.Path) -> None:
    with pytest.raises(tcpframe.ReplayMismatchError, match=r"at byte 12 .* nothing more, received b'extra'"):
        async with tcpframe.ReplayServer(command_reply, paced=True, check=True, speed=math.inf, log=log) as server:
            async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
                await client.write(b"CMD1\r\nCMD2\r\n")
                for line in (b"HELLO\r\n", b"REPLY1 part 1;REPLY1 part 2\r\n", b"REPLY2\r\n"):
                    assert await asyncio.wait_for(client.readuntil(b"\r\n"), STD_TIMEOUT) == line
                await client.write(b"extra")
                assert await asyncio.wait_for(client.reader.read(), STD_TIMEOUT) == b""


async def test_without_check_other_bytes_still_pace_the_replay(command_reply: pathlib.Path) -> None:
    async with tcpframe.ReplayServer(command_reply, paced=True, speed=math.inf, log=log) as server:
        async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
            await client.write(b"123456")
            assert await client.readuntil(b"\r\n") == b"HELLO\r\n"
            assert await client.readuntil(b"\r\n") == b"REPLY1 part 1;REPLY1 part 2\r\n"


async def test_a_client_that_leaves_early_ends_its_replay(command_reply: pathlib.Path) -> None:
    async with tcpframe.ReplayServer(command_reply, paced=True, speed=math.inf, log=log) as server:
        async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
            assert await client.readuntil(b"\r\n") == b"HELLO\r\n"
        assert await asyncio.wait_for(server.replay_task, STD_TIMEOUT) is False
        assert server.traffic[S2C] == Traffic(nbytes=7, chunks=1)


async def test_each_client_in_turn_gets_the_whole_replay(command_reply: pathlib.Path) -> None:
    async with tcpframe.ReplayServer(command_reply, paced=True, check=True, speed=math.inf, log=log) as server:
        for _ in range(3):
            async with tcpframe.Client(host=HOST, port=server.port, log=log) as client:
                await client.write(b"CMD1\r\nCMD2\r\n")
                assert await client.readuntil(b"\r\n") == b"HELLO\r\n"
                assert await client.readuntil(b"\r\n") == b"REPLY1 part 1;REPLY1 part 2\r\n"
                assert await client.readuntil(b"\r\n") == b"REPLY2\r\n"
            assert await asyncio.wait_for(server.replay_task, STD_TIMEOUT) is True


async def test_the_recorded_servers_close_closes_the_replay(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "server_closes.rec"
    write_recording(path, [(S2C, 1 * MS, b"bye\r\n"), (S2C, 2 * MS, None), (C2S, 3 * MS, None)], 5 * MS)
    async with tcpframe.ReplayServer(path, speed=math.inf, log=log) as server:
        reader, writer = await asyncio.open_connection(HOST, server.port)
        assert await asyncio.wait_for(reader.read(), STD_TIMEOUT) == b"bye\r\n"
        writer.close()
        await writer.wait_closed()
        assert await asyncio.wait_for(server.replay_task, STD_TIMEOUT) is True


async def test_a_corrupt_recording_replays_up_to_the_bad_record(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "corrupt.rec"
    chunks = [b"one\r\n", b"two\r\n", b"three\r\n"]
    write_recording(path, [(S2C, i * MS, chunk) for i, chunk in enumerate(chunks)], 10 * MS)
    data = bytearray(path.read_bytes())
    bad = data.rindex(b"three")
    data[bad] ^= 0xFF
    path.write_bytes(data)
    with pytest.raises(RecordingError, match="CRC-32 mismatch") as excinfo:
        async with tcpframe.ReplayServer(path, speed=math.inf, log=log) as server:
            reader, writer = await asyncio.open_connection(HOST, server.port)
            assert await asyncio.wait_for(reader.read(), STD_TIMEOUT) == b"one\r\ntwo\r\n"
            writer.close()
            await writer.wait_closed()
    assert excinfo.value.offset < bad


async def test_replay_server_rejects_bad_arguments(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "empty.rec"
    RecordingWriter(path).close()
    for speed in (0, -1.0, math.nan):
        with pytest.raises(ValueError, match="speed"):
            tcpframe.ReplayServer(path, speed=speed)
    path.write_bytes(b"not a recording")
    with pytest.raises(RecordingError, match="not a tcpframe recording"):
        tcpframe.ReplayServer(path)
    with pytest.raises(FileNotFoundError):
        tcpframe.ReplayServer(tmp_path / "missing.rec")


@pytest.mark.parametrize("case", ["deeply nested list", "start_time NaN", "start_time 1e300", "client a number"])
async def test_replay_server_refuses_a_crafted_header(tmp_path: pathlib.Path, case: str) -> None:
    header, message = BAD_HEADERS[case]
    path = header_file(tmp_path / "crafted.rec", header)
    with pytest.raises(RecordingError, match=rf"bad header.*at offset {HEADER_OFFSET}") as excinfo:
        tcpframe.ReplayServer(path, log=log)
    assert message in excinfo.value.problem
