"""Scenario runs for the asyncio clients: tcpframe, the streams baseline and the floor.

Every client offers the lsst.ts.tcpip read/write API, so each scenario is
one coroutine, a loop shaped like a user's (it takes a value from each
message it receives, sets the counter of each frame it sends), that runs
unchanged against any of them. A `Flavour` supplies the few things that
differ: how to connect, how to read a batch of numpy records, how to
compute the round-trip checksums, and whether the run is checked.
"""

from __future__ import annotations

__all__ = ["Flavour", "floor_flavour", "measure", "streams_flavour", "tcpframe_flavour"]

import ctypes
import dataclasses
import json
import logging
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np

from . import push_client
from .baseline import StreamsClient
from .floor import FloorClient
from .scenarios import (
    BUSY_POLL_US,
    COMMAND_TERMINATOR,
    COMMANDS,
    DEVICE_PREFIX,
    HOST,
    LINE_TERMINATOR,
    RECORD,
    RECORDS_PER_READ,
    TELEMETRY_RECORD,
    TELEMETRY_RECORDS_PER_READ,
    BenchmarkError,
    Header,
    Payload,
    Scenario,
    Telemetry32,
    command_frame,
    reply_checksum_ok,
)

Client = typing.Any  # tcpframe.Client, StreamsClient or FloorClient

# What a run ended with (the last message, the peer's answer or the last
# reply), and the sum of the values its loop took from the messages (None
# if it takes none).
Outcome = tuple[bytes, float | None]


@dataclasses.dataclass(frozen=True)
class Flavour:
    """What differs between the asyncio clients.

    Parameters
    ----------
    connect : coroutine function
        ``await connect(host, port)`` returns a connected client.
    read_records : coroutine function
        ``await read_records(client, records)`` fills a numpy array.
    command_frame : callable
        ``command_frame(command)`` returns the framed, checksummed command.
    reply_checksum_ok : callable
        ``reply_checksum_ok(reply)`` checks a ``\\r``-terminated reply.
    checked : `bool`, optional
        Check what each run ended with (False for the floor, which
        receives nothing).
    use_orjson : callable, optional
        ``use_orjson(client)`` makes the client's `read_json` decode with
        orjson, where it can (tcpframe's ``json_codec``); by default it
        leaves the client as it is (the baseline decodes with
        `json.loads`, as lsst.ts.tcpip does).
    use_busy_poll : callable, optional
        ``use_busy_poll(client)`` turns on the client's busy polling
        (tcpframe's ``busy_poll_us``); by default it leaves the client as
        it is.
    pushes : `bool`, optional
        The client has tcpframe's push API (`benchmarks.push_client`):
        the push scenarios use it; otherwise they run the per-message
        await loop of the same stream.
    iterates : `bool`, optional
        The client has ``iter_structs(struct)`` and ``iter_lines()``, and
        the ``iter_*`` scenarios loop over them with ``async for``; else
        (the baseline: lsst.ts.tcpip has no iterators) those scenarios
        await ``read_into`` or ``read_str`` per message.
    """

    connect: Callable[[str, int], Awaitable[Client]]
    read_records: Callable[[Client, np.ndarray], Awaitable[None]]
    command_frame: Callable[[bytes], bytes]
    reply_checksum_ok: Callable[[bytes], bool]
    checked: bool = True
    use_orjson: Callable[[Client], None] = lambda client: None
    use_busy_poll: Callable[[Client], None] = lambda client: None
    pushes: bool = False
    iterates: bool = True


def tcpframe_flavour() -> Flavour:
    """Return the flavour of `tcpframe.Client`, with tcpframe's checksums."""
    import tcpframe
    from tcpframe.checksums import format_hex2, sum8, verify_hex2

    log = logging.getLogger("benchmark")

    async def connect(host: str, port: int) -> tcpframe.Client:
        client = tcpframe.Client(host, port, log)
        await client.start_task
        return client

    async def read_records(client: tcpframe.Client, records: np.ndarray) -> None:
        await client.read_many_into(records)

    def tcpframe_command_frame(command: bytes) -> bytes:
        body = DEVICE_PREFIX + command
        return body + format_hex2(sum8(body)).encode() + COMMAND_TERMINATOR

    def tcpframe_reply_checksum_ok(reply: bytes) -> bool:
        return verify_hex2(sum8(reply[:-3]), reply[-3:-1])

    def use_orjson(client: tcpframe.Client) -> None:
        client.json_codec = "orjson"

    def use_busy_poll(client: tcpframe.Client) -> None:
        client.busy_poll_us = BUSY_POLL_US

    return Flavour(
        connect,
        read_records,
        tcpframe_command_frame,
        tcpframe_reply_checksum_ok,
        use_orjson=use_orjson,
        use_busy_poll=use_busy_poll,
        pushes=True,
    )


def streams_flavour() -> Flavour:
    """Return the flavour of the streams baseline, with plain-Python checksums."""

    async def read_records(client: StreamsClient, records: np.ndarray) -> None:
        data = await client.readexactly(records.nbytes)
        records[:] = np.frombuffer(data, records.dtype)

    return Flavour(StreamsClient.connect, read_records, command_frame, reply_checksum_ok, iterates=False)


def floor_flavour() -> Flavour:
    """Return the flavour of the await floor: tcpframe's, over `FloorClient`.

    The loops then do their user work (and the round trips tcpframe's
    checksums) around awaits of coroutines that return at once.
    """
    return dataclasses.replace(
        tcpframe_flavour(),
        connect=FloorClient.connect,
        checked=False,
        use_orjson=lambda client: None,
        use_busy_poll=lambda client: None,
        pushes=False,
    )


async def measure(flavour: Flavour, scenario: Scenario, count: int, port: int) -> float:
    """Run ``count`` messages of ``scenario`` against the peer.

    Returns
    -------
    seconds : `float`
        From sending the control line to the end of the last message (for
        a send: to the peer's answer, which it sends once it has every
        byte).

    Raises
    ------
    BenchmarkError
        If the run did not end with what the peer sent, or the values the
        loop took from the messages add up wrong.
    """
    client = await flavour.connect(HOST, port)
    try:
        start = time.perf_counter()
        await client.write(scenario.control_line(count))
        result, total = await _RUNS[scenario.name](client, flavour, scenario, count)
        seconds = time.perf_counter() - start
    finally:
        await client.close()
    if flavour.checked:
        scenario.check_result(count, result)
        if total is not None:
            scenario.check_total(count, total)
    return seconds


# Each run returns its `Outcome`, for `measure` to check.


async def _recv_struct_pairs(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    header, payload = Header(), Payload()
    total = 0.0
    for _ in range(count):
        await client.read_into(header)
        await client.read_into(payload)
        total += payload.samples[0]
    return bytes(header) + bytes(payload), total


async def _recv_structs_32(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    telemetry = Telemetry32()
    total = 0
    for _ in range(count):
        await client.read_into(telemetry)
        total += telemetry.seq
    return bytes(telemetry), total


async def _recv_lines(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    line = ""
    total = 0
    for _ in range(count):
        line = await client.read_str()
        total += len(line)
    return line.encode() + LINE_TERMINATOR, total


async def _iter_structs_32(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    if not flavour.iterates:
        return await _recv_structs_32(client, flavour, scenario, count)
    telemetry = Telemetry32()
    total = 0
    left = count
    steps: AsyncIterator[Telemetry32] = client.iter_structs(telemetry)
    async for message in steps:
        total += message.seq
        left -= 1
        if not left:
            break
    return bytes(telemetry), total


async def _iter_lines(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    if not flavour.iterates:
        return await _recv_lines(client, flavour, scenario, count)
    line = ""
    total = 0
    left = count
    lines: AsyncIterator[str] = client.iter_lines()
    async for line in lines:
        total += len(line)
        left -= 1
        if not left:
            break
    return line.encode() + LINE_TERMINATOR, total


async def _recv_json(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    data = None
    total = 0
    for _ in range(count):
        data = await client.read_json()
        total += data["seq"]
    return json.dumps(data).encode() + LINE_TERMINATOR, total


async def _recv_json_orjson(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    flavour.use_orjson(client)
    return await _recv_json(client, flavour, scenario, count)


async def _send_struct_pairs(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    frame = scenario.message(0)
    header = Header.from_buffer_copy(frame)
    payload = Payload.from_buffer_copy(frame, ctypes.sizeof(Header))
    for index in range(count):
        header.frame_id = index
        await client.write_from(header, payload)
    return await client.readuntil(b"\n"), None


async def _send_lines(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    line = scenario.message(0).removesuffix(LINE_TERMINATOR).decode()
    for _ in range(count):
        await client.write_str(line)
    return await client.readuntil(b"\n"), None


async def _roundtrip(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    frame_command = flavour.command_frame
    checksum_ok = flavour.reply_checksum_ok
    reply = b""
    for index in range(count):
        await client.write(frame_command(COMMANDS[index % len(COMMANDS)]))
        reply = await client.readuntil(COMMAND_TERMINATOR)
        if not checksum_ok(reply):
            raise BenchmarkError(f"bad checksum in reply {reply!r}")
    return reply, None


async def _roundtrip_busy_poll(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    flavour.use_busy_poll(client)
    return await _roundtrip(client, flavour, scenario, count)


async def _batch_numpy(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    records = np.empty(RECORDS_PER_READ, RECORD)
    read_records = flavour.read_records
    for _ in range(count // RECORDS_PER_READ):
        await read_records(client, records)
    return records[-1:].tobytes(), None


async def _push_structs_32(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    if flavour.pushes:
        return await push_client.push_structs_32(client, scenario, count)
    return await _recv_structs_32(client, flavour, scenario, count)


async def _push_lines(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    if flavour.pushes:
        return await push_client.push_lines(client, scenario, count)
    return await _recv_lines(client, flavour, scenario, count)


async def _push_records_32(client: Client, flavour: Flavour, scenario: Scenario, count: int) -> Outcome:
    if flavour.pushes:
        return await push_client.push_records_32(client, scenario, count)
    # Without a push API: 1 MiB of records per read, the same sum.
    records = np.empty(TELEMETRY_RECORDS_PER_READ, TELEMETRY_RECORD)
    read_records = flavour.read_records
    total = 0
    for _ in range(count // TELEMETRY_RECORDS_PER_READ):
        await read_records(client, records)
        total += int(records["seq"].sum())
    return records[-1:].tobytes(), total


_RUNS: dict[str, Callable[[Client, Flavour, Scenario, int], Awaitable[Outcome]]] = {
    "recv_struct_pairs": _recv_struct_pairs,
    "recv_structs_32": _recv_structs_32,
    "recv_lines": _recv_lines,
    "iter_structs_32": _iter_structs_32,
    "iter_lines": _iter_lines,
    "recv_json": _recv_json,
    "recv_json_orjson": _recv_json_orjson,
    "send_struct_pairs": _send_struct_pairs,
    "send_lines": _send_lines,
    "roundtrip": _roundtrip,
    "roundtrip_busy_poll": _roundtrip_busy_poll,
    "batch_numpy": _batch_numpy,
    "push_structs_32": _push_structs_32,
    "push_lines": _push_lines,
    "push_records_32": _push_records_32,
}
