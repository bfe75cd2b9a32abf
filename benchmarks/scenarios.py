"""The benchmark scenarios and the bytes they exchange.

Shared by the peer, which sends, receives and checks the bytes, and by the
workers, which read and write them through the implementation under test.

A receive scenario's stream is its first `Scenario.messages_per_chunk`
messages repeated: the peer keeps that chunk prebuilt, and a worker knows
which message comes last in a run of any length, so it can check it, and
what the values its loop takes from each message add up to.

A send scenario's messages are all the same, but for a counter the
client sets in each (the struct pairs' ``header.frame_id``, see
`Scenario.counted`); the peer checks every byte it receives.
"""

from __future__ import annotations

__all__ = [
    "BUSY_POLL_US",
    "CHUNK_BYTES",
    "COMMANDS",
    "COMMAND_TERMINATOR",
    "DEVICE_PREFIX",
    "FRAME_SIZE",
    "HOST",
    "LINE_TERMINATOR",
    "RECORD",
    "RECORDS_PER_READ",
    "RUN_TIMEOUT",
    "SCENARIOS",
    "TELEMETRY_RECORD",
    "TELEMETRY_RECORDS_PER_READ",
    "BenchmarkError",
    "Header",
    "Payload",
    "Scenario",
    "Telemetry32",
    "command_frame",
    "reply_checksum_ok",
    "reply_frame",
]

import ctypes
import dataclasses
import functools
import json
from collections.abc import Callable

import numpy as np

HOST = "127.0.0.1"

# Terminator of the text lines and JSON lines (tcpframe's default).
LINE_TERMINATOR = b"\r\n"

# Terminator of round-trip commands and replies.
COMMAND_TERMINATOR = b"\r"

# Size of the prebuilt chunk the peer sends again and again.
CHUNK_BYTES = 2**16

# Seconds a client's run may take before it fails.
RUN_TIMEOUT = 120


class BenchmarkError(Exception):
    """A run received something other than what the peer sent."""


class Header(ctypes.Structure):
    """16-byte frame header."""

    _fields_ = [
        ("frame_id", ctypes.c_uint32),
        ("payload_size", ctypes.c_uint32),
        ("timestamp", ctypes.c_double),
    ]


class Payload(ctypes.Structure):
    """240-byte frame payload: 30 samples."""

    _fields_ = [("samples", ctypes.c_double * 30)]


class Telemetry32(ctypes.Structure):
    """32-byte telemetry struct."""

    _fields_ = [
        ("seq", ctypes.c_uint32),
        ("status", ctypes.c_uint32),
        ("x", ctypes.c_double),
        ("y", ctypes.c_double),
        ("z", ctypes.c_double),
    ]


FRAME_SIZE = ctypes.sizeof(Header) + ctypes.sizeof(Payload)

# One frame (`Header` then `Payload`) as a numpy record.
RECORD = np.dtype(
    [("frame_id", "u4"), ("payload_size", "u4"), ("timestamp", "f8"), ("samples", "f8", (30,))]
)
assert RECORD.itemsize == FRAME_SIZE

# Records read per call in the batch scenario (1 MiB).
RECORDS_PER_READ = 4096

# `Telemetry32` as a numpy record (the push_records_32 scenario's batch views).
TELEMETRY_RECORD = np.dtype([("seq", "u4"), ("status", "u4"), ("x", "f8"), ("y", "f8"), ("z", "f8")])
assert TELEMETRY_RECORD.itemsize == ctypes.sizeof(Telemetry32)

# Records per read of the push_records_32 scenario's baseline and raw rows (1 MiB).
TELEMETRY_RECORDS_PER_READ = 2**20 // TELEMETRY_RECORD.itemsize

# The roundtrip_busy_poll scenario's tcpframe.Client.busy_poll_us (µs).
BUSY_POLL_US = 50

# Round-trip commands: 12 ASCII characters after the ``.01`` prefix.
COMMANDS = tuple(b"SETPOINT%04d" % (index * 37) for index in range(16))
# Start of every command: ``.`` then the device ID.
DEVICE_PREFIX = b".01"
_REPLY_PREFIX = b"#01"


def _frame(index: int) -> bytes:
    header = Header(index, ctypes.sizeof(Payload), 1.7e9 + index / 1000)
    payload = Payload((ctypes.c_double * 30)(*(index + k / 8 for k in range(30))))
    return bytes(header) + bytes(payload)


def _counted_frame(index: int) -> bytes:
    """Frame 0 with its header's ``frame_id`` set to ``index``.

    What the struct-pair sender writes: it sets the header counter, and
    nothing else, before each write.
    """
    header = Header.from_buffer_copy(_frame(0))
    header.frame_id = index
    return bytes(header) + _frame(0)[ctypes.sizeof(Header) :]


def _telemetry(index: int) -> bytes:
    return bytes(Telemetry32(index, index % 4, index / 2, -index / 4, 1.0))


def _telemetry_seq(message: bytes) -> int:
    """What the loops of the telemetry streams take from a message."""
    return Telemetry32.from_buffer_copy(message).seq


def _line_length(message: bytes) -> int:
    """What the loops of the line streams take from a line: its length."""
    return len(message) - len(LINE_TERMINATOR)


def _nmea_line(index: int) -> bytes:
    seconds = index % 86400
    clock = f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"
    body = f"GPGGA,{clock},{4000 + index % 1000 / 2:08.3f},N".encode()
    checksum = functools.reduce(int.__xor__, body)
    return b"$%s*%02X" % (body, checksum) + LINE_TERMINATOR


def _json_line(index: int) -> bytes:
    telemetry = {
        "id": "ESS-04-TEMP",
        "seq": 10_000_000 + index,
        "time": 1.7e9 + index / 1000,
        "temperature": [20 + index % 40 / 8, 21.5],
        "status": "OK",
    }
    return json.dumps(telemetry).encode() + LINE_TERMINATOR


def _checksum_hex(body: bytes) -> bytes:
    return b"%02X" % (sum(body) & 0xFF)


def command_frame(command: bytes) -> bytes:
    """Frame a round-trip command: ``.01{command}{checksum}\\r``.

    The checksum is the 8-bit sum of everything before it, in two hex
    digits. Plain Python, as a streams-based client computes it.
    """
    body = DEVICE_PREFIX + command
    return body + _checksum_hex(body) + COMMAND_TERMINATOR


def reply_frame(command_frame: bytes) -> bytes:
    """Return the peer's checksummed reply to a framed command."""
    body = _REPLY_PREFIX + command_frame[len(DEVICE_PREFIX) : -3] + b"OK"
    return body + _checksum_hex(body) + COMMAND_TERMINATOR


def reply_checksum_ok(frame: bytes) -> bool:
    """Return whether a ``\\r``-terminated frame carries the right checksum."""
    return int(frame[-3:-1], 16) == sum(frame[:-3]) & 0xFF


@dataclasses.dataclass(frozen=True)
class Scenario:
    """A benchmark scenario.

    Parameters
    ----------
    name : `str`
        Name on the command line and in results.
    direction : `str`
        ``"recv"`` (the peer sends), ``"send"`` (the peer receives, then
        answers ``OK``) or ``"roundtrip"`` (command and reply).
    description : `str`
        What is measured, for the report.
    count : `int`
        Messages in a full measurement: enough for the fastest
        implementation (the floor aside) to take about 0.3 s.
    message : callable
        ``message(index)`` returns the bytes of message ``index``.
    touch : callable, optional
        For a receive scenario whose loop takes one value from each message
        (as users' loops do), ``touch(message_bytes)`` returns that value;
        the run returns the sum and `check_total` checks it.
    counted : `bool`, optional
        For a send scenario: message ``index`` is message 0 with its first
        four bytes, a native `ctypes.c_uint32` (the header's
        ``frame_id``), set to ``index``. Otherwise every message sent is
        message 0.
    messages_per_call : `int`, optional
        Messages that one read call returns; counts are rounded to it.
    ceiling : `str`, optional
        What the rows are measured against besides the baseline:
        ``"floor"`` (the same loop over coroutines that return at once) or
        ``"raw"`` (a blocking socket's ``recv_into`` loop).
    """

    name: str
    direction: str
    description: str
    count: int
    message: Callable[[int], bytes]
    touch: Callable[[bytes], float] | None = None
    counted: bool = False
    messages_per_call: int = 1
    ceiling: str = "floor"

    def round_count(self, count: int) -> int:
        """Round ``count`` down to whole read calls (at least one)."""
        return max(1, count // self.messages_per_call) * self.messages_per_call

    @functools.cached_property
    def chunk(self) -> bytes:
        """The first `messages_per_chunk` messages, concatenated."""
        return b"".join(self._chunk_messages)

    @property
    def messages_per_chunk(self) -> int:
        """Messages in `chunk`: as many as fit in `CHUNK_BYTES`."""
        return len(self._chunk_messages)

    def last_message(self, count: int) -> bytes:
        """Return the last message of a run of ``count`` messages."""
        if self.direction in ("send", "roundtrip"):
            return self.message(count - 1)
        return self.message((count - 1) % self.messages_per_chunk)

    def expected_result(self, count: int) -> bytes:
        """Return what a client's run of ``count`` messages must end with.

        The last message received, the peer's ``OK`` for a send, or the
        last reply of a round trip.
        """
        if self.direction == "send":
            return b"OK\n"
        if self.direction == "roundtrip":
            return reply_frame(self.last_message(count))
        return self.last_message(count)

    def check_result(self, count: int, result: bytes) -> None:
        """Check what a client's run of ``count`` messages ended with.

        Raises
        ------
        BenchmarkError
            If ``result`` is not `expected_result`.
        """
        expected = self.expected_result(count)
        if result != expected:
            raise BenchmarkError(f"{self.name}: run ended with {result!r}, not {expected!r}")

    def expected_total(self, count: int) -> float:
        """Return the sum of `touch` over a run of ``count`` messages."""
        if self.touch is None:
            raise ValueError(f"{self.name}: its loop takes no value from the messages")
        values = [self.touch(message) for message in self._chunk_messages]
        chunks, rest = divmod(count, self.messages_per_chunk)
        return chunks * sum(values) + sum(values[:rest])

    def check_total(self, count: int, total: float) -> None:
        """Check what the values a run took from its messages add up to.

        Raises
        ------
        BenchmarkError
            If ``total`` is not `expected_total`.
        """
        expected = self.expected_total(count)
        if total != expected:
            raise BenchmarkError(f"{self.name}: the loop's values add up to {total!r}, not {expected!r}")

    def stream_bytes(self, count: int) -> int:
        """Return the bytes in a run of ``count`` messages."""
        if self.direction == "send":
            return count * len(self.message(0))
        if self.direction == "roundtrip":
            command = command_frame(COMMANDS[0])
            return count * (len(command) + len(reply_frame(command)))
        chunks, rest = divmod(count, self.messages_per_chunk)
        return chunks * len(self.chunk) + sum(map(len, self._chunk_messages[:rest]))

    def control_line(self, count: int) -> bytes:
        """Return the line that tells the peer to run ``count`` messages."""
        return f"{self.name} {count}\n".encode()

    @functools.cached_property
    def _chunk_messages(self) -> list[bytes]:
        messages: list[bytes] = []
        size = 0
        while True:
            message = self.message(len(messages))
            if size + len(message) > CHUNK_BYTES and messages:
                return messages
            size += len(message)
            messages.append(message)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "recv_struct_pairs",
            "recv",
            "16-byte header then 240-byte payload struct: two read_into calls, then total += payload.samples[0]",
            count=600_000,
            message=_frame,
            touch=lambda message: Payload.from_buffer_copy(message, ctypes.sizeof(Header)).samples[0],
        ),
        Scenario(
            "recv_structs_32",
            "recv",
            "32-byte ctypes struct: read_into, then total += telemetry.seq",
            count=1_600_000,
            message=_telemetry,
            touch=_telemetry_seq,
        ),
        Scenario(
            "recv_lines",
            "recv",
            "29-byte NMEA-like lines: read_str, then total += len(line)",
            count=1_000_000,
            message=_nmea_line,
            touch=_line_length,
        ),
        Scenario(
            "iter_structs_32",
            "recv",
            "the recv_structs_32 stream: async for telemetry in iter_structs(telemetry), total += telemetry.seq "
            "(the baseline, with no iterators in lsst.ts.tcpip, awaits read_into per message)",
            count=2_400_000,
            message=_telemetry,
            touch=_telemetry_seq,
        ),
        Scenario(
            "iter_lines",
            "recv",
            "the recv_lines stream: async for line in iter_lines(), total += len(line) "
            "(the baseline awaits read_str per message)",
            count=1_600_000,
            message=_nmea_line,
            touch=_line_length,
        ),
        Scenario(
            "recv_json",
            "recv",
            "~110-byte JSON lines: read_json, then total += data['seq']",
            count=150_000,
            message=_json_line,
            touch=lambda message: json.loads(message)["seq"],
        ),
        Scenario(
            "recv_json_orjson",
            "recv",
            "the recv_json lines, tcpframe decoding with json_codec='orjson' (the baseline with json.loads)",
            count=300_000,
            message=_json_line,
            touch=lambda message: json.loads(message)["seq"],
        ),
        Scenario(
            "send_struct_pairs",
            "send",
            "header.frame_id = i, then write_from(header, payload) of a 16 + 240-byte frame",
            count=500_000,
            message=_counted_frame,
            counted=True,
        ),
        Scenario(
            "send_lines",
            "send",
            "write_str of a 29-byte NMEA-like line",
            count=600_000,
            message=lambda index: _nmea_line(0),
        ),
        Scenario(
            "roundtrip",
            "roundtrip",
            "checksummed command .01{12 chars}{hh}\\r, then readuntil \\r and verify the reply",
            count=20_000,
            message=lambda index: command_frame(COMMANDS[index % len(COMMANDS)]),
        ),
        Scenario(
            "roundtrip_busy_poll",
            "roundtrip",
            f"the roundtrip commands, tcpframe's client made with busy_poll_us={BUSY_POLL_US} (the baseline as is)",
            count=20_000,
            message=lambda index: command_frame(COMMANDS[index % len(COMMANDS)]),
        ),
        Scenario(
            "batch_numpy",
            "recv",
            f"256-byte records into a numpy structured array, {RECORDS_PER_READ} (1 MiB) per call",
            count=2_500 * RECORDS_PER_READ,
            message=_frame,
            messages_per_call=RECORDS_PER_READ,
            ceiling="raw",
        ),
        # The push API (issue 22): the same streams as recv_structs_32 and
        # recv_lines, delivered to a callback; the rows without a push API
        # (streams, floor) run their per-message await loop.
        Scenario(
            "push_structs_32",
            "recv",
            "the recv_structs_32 stream; tcpframe: push_structs(Telemetry32, callback), the callback "
            "does total += telemetry.seq (streams and floor: the recv_structs_32 await loop)",
            count=2_000_000,
            message=_telemetry,
            touch=_telemetry_seq,
        ),
        Scenario(
            "push_lines",
            "recv",
            "the recv_lines stream; tcpframe: push_lines(callback), the callback does total += len(line) "
            "(streams and floor: the recv_lines await loop)",
            count=1_500_000,
            message=_nmea_line,
            touch=_line_length,
        ),
        Scenario(
            "push_records_32",
            "recv",
            "the recv_structs_32 stream as batch views; tcpframe: push_records(dtype, callback), one numpy "
            "view of every complete record per receive, the callback does total += view['seq'].sum() "
            f"(streams: readexactly {TELEMETRY_RECORDS_PER_READ} records (1 MiB), copied into an array, "
            "the same sum; raw: recv_into the array's memory)",
            count=300 * TELEMETRY_RECORDS_PER_READ,
            message=_telemetry,
            touch=_telemetry_seq,
            messages_per_call=TELEMETRY_RECORDS_PER_READ,
            ceiling="raw",
        ),
    )
}
