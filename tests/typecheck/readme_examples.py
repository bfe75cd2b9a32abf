"""The README's examples as one typed user program.

``scripts/check_package.sh`` type-checks this file with ``mypy --strict``
against the installed package (as a user's program sees it) and runs it.
``typing.assert_type`` pins the types a user relies on, e.g. that
``async with EchoServer(...) as server`` gives an `EchoServer`.
"""

import asyncio
import contextlib
import ctypes
import logging
import math
import tempfile
import typing
from pathlib import Path

import numpy as np

import tcpframe
from tcpframe.examples import (
    ChillerClient,
    EchoServer,
    MockChiller,
    MockCommandHandler,
    SocketServer,
    TelemetryProducer,
    TelemetryStats,
    consume_telemetry,
)
from tcpframe.stream.push import Push


class Sample(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("time", ctypes.c_double), ("value", ctypes.c_int32)]


sample_dtype = np.dtype([("time", "<f8"), ("value", "<i4")])


async def socket_server_example() -> None:
    """README: JSON command server with telemetry."""
    log = logging.getLogger("ess")
    server = SocketServer(name="ess", host=tcpframe.LOCALHOST_IPV4, port=0, log=log, simulation_mode=1)
    server.set_command_handler(MockCommandHandler(callback=server.write_json, simulation_mode=1))
    await server.start_task

    async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log) as client:
        typing.assert_type(client, tcpframe.Client)
        await client.write_json({"command": "start", "parameters": {"interval": 0.1, "num_sensors": 2}})
        print(await client.read_json())  # {'response': 0}
        for _ in range(4):
            print(await client.read_json())  # {'telemetry': {'name': 'sensor1', ...}}
        await client.write_json({"command": "exit", "parameters": {}})
    await server.done_task


async def chiller_example() -> None:
    """README: checksummed device protocol."""
    log = logging.getLogger("chiller")
    async with MockChiller(log=log) as chiller:
        typing.assert_type(chiller, MockChiller)
        client = ChillerClient(device_id="01", host=tcpframe.LOCALHOST_IPV4, port=chiller.port, log=log)
        async with client:
            command: str = client.format_full_command("01WatchDog")
            print(command)  # '.0101WatchDog01\r'
            reply: str = await client.run_command("01WatchDog")
            print(reply)  # '#01001WatchDog'


async def echo_example() -> None:
    """README: echo server."""
    async with EchoServer(port=0) as server:
        typing.assert_type(server, EchoServer)
        async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=server.log) as client:
            await client.write_str("hello")
            print(await client.read_str())  # hello


async def telemetry_api_example() -> None:
    """README: batch structs, length-prefixed and checksummed frames, iteration."""
    log = logging.getLogger("telemetry")
    async with tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log) as server:
        async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=server.port, log=log) as client:
            await server.connected_task

            # Batch structs.
            sent = np.zeros(256, dtype=sample_dtype)
            sent["value"] = np.arange(256)
            await server.write_records(sent)
            await server.write_from(sent[:10])
            await server.write_records((Sample * 100)())
            records = np.empty(256, dtype=sample_dtype)
            await client.read_many_into(records)
            await client.read_many_into(records, 10)
            samples = await client.read_records(Sample, 100)
            assert len(samples) == 100 and records["value"][255] == 255

            # Length-prefixed frames.
            prefix = tcpframe.LengthPrefix(size=2, byteorder="little")
            await client.write_frame(b"payload", prefix)
            await client.write_frame(Sample(time=1.0, value=2))
            frame: bytes = await server.read_frame(prefix)
            assert frame == b"payload"
            assert len(await server.read_frame(tcpframe.DEFAULT_LENGTH_PREFIX)) == ctypes.sizeof(Sample)

            # Checksummed frames.
            await client.write_checksummed(b"GPGGA,123519,4807.038,N")
            body: bytes = await server.read_checksummed()
            assert body == b"GPGGA,123519,4807.038,N"
            chiller = tcpframe.ChecksumFrame(
                checksum="sum8", start=b".", separator=b"", terminator=b"\r", covers_start=True, uppercase=False
            )
            await client.write_checksummed(b"0101WatchDog", chiller)
            assert await server.read_checksummed(chiller) == b"0101WatchDog"
            await client.write(b"$GPGGA*00\r\n")
            try:
                await server.read_checksummed(tcpframe.NMEA)
            except tcpframe.ChecksumMismatchError as error:
                expected: int = error.expected
                received: int = error.received
                print(f"checksum {received:02x} received, {expected:02x} expected in {error.frame!r}")

            # Async iteration: three frames, then JSON messages until EOF.
            for _ in range(3):
                await server.write_frame(b"frame")
            for value in range(3):
                await server.write_json({"value": value})
            await server.write_from(Sample(time=3.0, value=4))
            await server.write_str("last line")
            frames: list[bytes] = []
            async for frame in client.iter_frames():
                frames.append(frame)
                if len(frames) == 3:
                    break
            async for message in client.iter_json():
                print(message)  # {'value': 0} ...
                if message == {"value": 2}:
                    break
            async for sample in client.iter_structs(Sample):
                print(sample.time, sample.value)  # 3.0 4
                break
            await server.close_client()
            async for line in client.iter_lines():
                typing.assert_type(line, str)
                print(line)  # last line


async def json_codec_example() -> None:
    """README: faster JSON with orjson."""
    log = logging.getLogger("json")
    tcpframe.set_default_json_codec("orjson")
    try:
        async with tcpframe.OneClientServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log) as server:
            client = tcpframe.Client(tcpframe.LOCALHOST_IPV4, server.port, log, json_codec="orjson")
            async with client:
                await server.connected_task
                await client.write_json({"a": 1})
                client.json_codec = "json"
                codec = client.json_codec
                typing.assert_type(codec, tcpframe.JsonCodec)
                await client.write_json({"a": 1})
                assert [await server.readuntil(b"\r\n") for _ in range(2)] == [b'{"a":1}\r\n', b'{"a": 1}\r\n']
                print(type(server.json_codec).__name__)  # OrjsonCodec: the default, for now
    finally:
        tcpframe.set_default_json_codec("json")


async def telemetry_producer_example() -> None:
    """README: a telemetry producer and consumer."""
    async with TelemetryProducer(rate=200, port=0) as producer:
        stats = await consume_telemetry(tcpframe.LOCALHOST_IPV4, producer.port, seconds=0.5)
        typing.assert_type(stats, TelemetryStats)


async def busy_poll_example() -> None:
    """README: command/reply with busy polling."""
    log = logging.getLogger("busy_poll")
    async with EchoServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log) as server:
        client = tcpframe.Client(tcpframe.LOCALHOST_IPV4, server.port, log, busy_poll_us=50)
        async with client:
            typing.assert_type(client.busy_poll_us, float)
            await client.write_str("ping")
            assert await client.read_str() == "ping"
            client.busy_poll_us = 0
            assert client.reader is not None
            client.reader.busy_poll_us = 50
            budget: float = client.reader.busy_poll_us
            assert budget == 50


async def push_example() -> None:
    """README: the push API (callbacks instead of an await per message)."""
    log = logging.getLogger("push")
    samples = b"".join(bytes(Sample(time=index, value=index)) for index in range(10))

    async def send_samples(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(samples + samples[:5])  # ten samples, then one cut by EOF
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(send_samples, tcpframe.LOCALHOST_IPV4, 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        # One callback per struct: the struct is refilled for each message.
        async with tcpframe.Client(tcpframe.LOCALHOST_IPV4, port, log) as client:
            kept: list[Sample] = []

            def on_sample(sample: Sample) -> None:
                kept.append(Sample.from_buffer_copy(sample))  # copy what you keep

            push = client.push_structs(Sample, on_sample)
            typing.assert_type(push, Push)
            try:
                await push.done
            except asyncio.IncompleteReadError as cut:  # a record cut by EOF
                assert len(cut.partial) == 5
            assert [sample.value for sample in kept] == list(range(10)) and push.delivered == 10
        # One batch view per receive, valid until the callback returns.
        async with tcpframe.Client(tcpframe.LOCALHOST_IPV4, port, log) as client:
            total = 0

            def on_records(records: np.ndarray) -> None:
                nonlocal total
                total += int(records["value"].sum())

            push = client.push_records(sample_dtype, on_records)
            with contextlib.suppress(asyncio.IncompleteReadError):
                await push.done
            assert total == sum(range(10))
    # Back-pressure: return an awaitable; stop() switches back to reads.
    async with EchoServer(host=tcpframe.LOCALHOST_IPV4, port=0, log=log) as echo:
        async with tcpframe.Client(tcpframe.LOCALHOST_IPV4, echo.port, log) as client:
            queue: asyncio.Queue[str] = asyncio.Queue(maxsize=2)
            push = client.push_lines(queue.put)  # reading pauses while the queue is full
            for word in ("one", "two", "three", "four"):
                await client.write_str(word)
            assert [await queue.get() for _ in range(4)] == ["one", "two", "three", "four"]
            push.stop()
            await push.done
            await client.write_str("five")
            assert await client.read_str() == "five"


async def session(port: int | None) -> bytes:
    """README, record and replay: start telemetry, read a few messages,
    disconnect; return every byte received."""
    log = logging.getLogger("client")
    async with tcpframe.Client(host=tcpframe.LOCALHOST_IPV4, port=port, log=log) as client:
        await client.write_json({"command": "start", "parameters": {"interval": 0.05, "num_sensors": 2}})
        received = [await client.readuntil(b"\r\n") for _ in range(5)]
        await client.write_json({"command": "disconnect", "parameters": {}})
        assert client.reader is not None
        received.append(await client.reader.read())  # the rest, until the server closes
    return b"".join(received)


async def record_and_replay_example() -> None:
    """README: record and replay."""
    path = Path(tempfile.mkdtemp()) / "ess.rec"
    log = logging.getLogger("ess")
    server = SocketServer(name="ess", host=tcpframe.LOCALHOST_IPV4, port=0, log=log, simulation_mode=1)
    server.set_command_handler(MockCommandHandler(callback=server.write_json, simulation_mode=1))
    async with server:
        assert server.port is not None  # an int once a TCP server has started
        async with tcpframe.Recorder(path, tcpframe.LOCALHOST_IPV4, server.port, listen_port=0) as recorder:
            typing.assert_type(recorder, tcpframe.Recorder)
            original = await session(recorder.port)
            await recorder.done_task
    async with tcpframe.ReplayServer(path, paced=True, check=True, speed=math.inf) as mock:
        typing.assert_type(mock, tcpframe.ReplayServer)
        replayed = await session(mock.port)
    print(f"{len(original)} bytes recorded; the replay sent the same bytes: {replayed == original}")
    assert replayed == original
    with tcpframe.RecordingReader(path) as reader:
        for record in reader:
            direction: tcpframe.Direction = record.direction
            print(direction.name, record.timestamp, len(record.data))
            break


async def main() -> None:
    print(f"tcpframe {tcpframe.__version__}, compiled kernels: {tcpframe.ACCELERATED}")
    await socket_server_example()
    await chiller_example()
    await echo_example()
    await telemetry_api_example()
    await json_codec_example()
    await telemetry_producer_example()
    await busy_poll_example()
    await push_example()
    await record_and_replay_example()


if __name__ == "__main__":
    asyncio.run(main())
