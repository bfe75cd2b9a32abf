"""The recording file format: one TCP session, both directions, timestamped.

`RecordingWriter` writes a recording record by record and `RecordingReader`
reads one back record by record, so neither holds more than one record in
memory however long the session was. `tcpframe.Recorder` makes recordings
and `tcpframe.ReplayServer` plays them back.

File format, version 1
----------------------
A file is a preamble followed by records::

    preamble  MAGIC (8 bytes, b"TCPFREC\\n") + format version (uint16)
    record    length (uint32) + CRC-32 (uint32) + kind (uint8)
              + direction (uint8) + timestamp (uint64) + data

All integers are big-endian. Each record is a length-prefixed frame
(`RECORD_PREFIX`: a 4-byte length that counts the bytes after it, at most
`MAX_RECORD_SIZE`), read with tcpframe's frame kernel. The CRC-32
(`tcpframe.checksums.crc32`) covers everything after itself: kind,
direction, timestamp and data. The timestamp is in nanoseconds since the
start of the recording, on a monotonic clock. The kinds (`RecordKind`):

- ``HEADER`` (0), first and only once: the data is a UTF-8 JSON object
  with ``start_time`` (Unix time of timestamp 0, from the wall clock: a
  number from 0 to `MAX_START_TIME`), ``server`` (``"host:port"`` of the
  recorded server) and ``client`` (``"host:port"`` of the client, or null
  if the recorder itself was the client); other fields are ignored.
- ``DATA`` (1): bytes sent in ``direction`` (`Direction`): 0 from client to
  server, 1 from server to client; one record per chunk, as it arrived
  (at least one byte).
- ``EOF`` (2): the sender in ``direction`` closed its side, or its
  connection ended. No data.
- ``END`` (3), last: the recording was stopped and the file closed
  cleanly; its timestamp is the recording's duration. No data.

A file that ends without an ``END`` record is truncated, and a record
whose CRC-32 does not match is corrupt: `RecordingReader` raises
`RecordingError`, naming the offset of the bad record, after it has
delivered every good record before it. So does any other departure from
the format, however crafted (a record with a valid CRC-32 but a length,
kind, direction, data or header the format does not allow): never
another exception.
"""

from __future__ import annotations

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "MAX_RECORD_SIZE",
    "MAX_START_TIME",
    "RECORD_PREFIX",
    "Direction",
    "Record",
    "RecordKind",
    "RecordingError",
    "RecordingHeader",
    "RecordingReader",
    "RecordingSummary",
    "RecordingWriter",
    "Traffic",
    "format_bytes",
    "summarize",
]

import dataclasses
import enum
import io
import json
import os
import struct
import time
import types
import typing
from collections.abc import Iterator

from .._kernels import frames, receive_buffer
from ..checksums import crc32
from ..errors import FrameError
from ..framing import LengthPrefix

# The first bytes of every recording.
MAGIC = b"TCPFREC\n"

# The version of the format this module writes, and the only one it reads.
FORMAT_VERSION = 1

# Largest record, in bytes after its length prefix (a chunk of data can be
# up to this size minus the record head).
MAX_RECORD_SIZE = 2**24

# Latest start time of a recording (Unix time, s): the end of the year 9999,
# the last that `time.localtime` and `datetime` represent everywhere.
MAX_START_TIME = 253_402_300_799

# The length prefix of every record.
RECORD_PREFIX = LengthPrefix(size=4, byteorder="big", max_frame_size=MAX_RECORD_SIZE)

_PREAMBLE = struct.Struct(">8sH")
_CHECKSUM = struct.Struct(">I")
# Kind, direction and timestamp: what follows the CRC-32, before the data.
_RECORD_HEAD = struct.Struct(">BBQ")
_RECORD_OVERHEAD = RECORD_PREFIX.size + _CHECKSUM.size + _RECORD_HEAD.size

# Bytes read from the file at a time.
READ_BLOCK_SIZE = 2**16
# Bytes buffered before a write to the file.
WRITE_BUFFER_SIZE = 2**20
# A record written this long (ns, by timestamp) after the last flush
# flushes the buffer: a recorder that is killed loses about this much.
FLUSH_INTERVAL = 1_000_000_000

PathType = str | os.PathLike[str]


class RecordKind(enum.IntEnum):
    """What a record holds."""

    HEADER = 0
    """The recording's `RecordingHeader`, as JSON."""
    DATA = 1
    """Bytes sent in one direction."""
    EOF = 2
    """The sender in one direction closed its side."""
    END = 3
    """The recording was stopped cleanly."""


class Direction(enum.IntEnum):
    """Which way recorded bytes went."""

    CLIENT_TO_SERVER = 0
    """Sent by the client to the server."""
    SERVER_TO_CLIENT = 1
    """Sent by the server to the client."""

    @property
    def label(self) -> str:
        """``"client->server"`` or ``"server->client"``."""
        return "client->server" if self is Direction.CLIENT_TO_SERVER else "server->client"


class RecordingError(ValueError):
    """A recording file is truncated, corrupt or not a recording.

    Parameters
    ----------
    path : `str`
        The file.
    offset : `int`
        Offset in the file of the bad record (or preamble).
    problem : `str`
        What is wrong there.

    Attributes
    ----------
    path, offset, problem
        The parameters.
    """

    def __init__(self, path: str, offset: int, problem: str) -> None:
        super().__init__(f"{path}: {problem} (at offset {offset})")
        self.path = path
        self.offset = offset
        self.problem = problem


@dataclasses.dataclass(frozen=True, slots=True)
class RecordingHeader:
    """What a recording says about itself.

    Parameters
    ----------
    start_time : `float`
        Unix time (wall clock, s) of timestamp 0.
    server : `str`
        ``"host:port"`` of the recorded server.
    client : `str` or None
        ``"host:port"`` of the recorded client; None if the recorder was
        the client.
    version : `int`, optional
        Format version of the file.
    """

    start_time: float
    server: str
    client: str | None
    version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        """Return the header as the data of a ``HEADER`` record."""
        return json.dumps({"start_time": self.start_time, "server": self.server, "client": self.client}).encode()

    @classmethod
    def from_json(cls, data: bytes, version: int) -> RecordingHeader:
        """Parse the data of a ``HEADER`` record.

        Parameters
        ----------
        data : `bytes`
            The record's data.
        version : `int`
            The file's format version.

        Raises
        ------
        ValueError
            If the data is not a UTF-8 JSON object with the fields of a
            header: ``start_time`` a number from 0 to `MAX_START_TIME`,
            ``server`` a string, ``client`` a string or null.
        """
        try:
            fields = json.loads(data)
        except RecursionError:
            raise ValueError("the header's JSON is nested too deeply") from None
        if not isinstance(fields, dict):
            raise ValueError(f"the header is {_json_type(fields)}, not a JSON object")
        start_time, server, client = fields.get("start_time"), fields.get("server"), fields.get("client")
        # A bool is an int to Python, not a number to JSON.
        if isinstance(start_time, bool) or not isinstance(start_time, (int, float)):
            raise ValueError(f"start_time is {_json_type(start_time)}, not a number")
        # NaN fails the comparison; a huge integer is compared exactly.
        if not 0 <= start_time <= MAX_START_TIME:
            # At most 40 characters of the number (an integer may have thousands of digits).
            raise ValueError(f"start_time {start_time!s:.40} is not a Unix time from 0 to {MAX_START_TIME}")
        if not isinstance(server, str):
            raise ValueError(f"server is {_json_type(server)}, not a string")
        if not (client is None or isinstance(client, str)):
            raise ValueError(f"client is {_json_type(client)}, not a string or null")
        return cls(start_time=float(start_time), server=server, client=client, version=version)


def _json_type(value: typing.Any) -> str:
    """Return what ``value``, parsed from JSON, is: ``"a string"``, ``"null (or missing)"``..."""
    if value is None:
        return "null (or missing)"
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number"}
    return names[type(value)]


class Record(typing.NamedTuple):
    """A ``DATA`` or ``EOF`` record of a recording.

    Attributes
    ----------
    kind : `RecordKind`
        ``DATA`` or ``EOF``.
    direction : `Direction`
        Which way the bytes went (or which sender closed).
    timestamp : `int`
        Nanoseconds since the start of the recording.
    data : `bytes`
        The chunk of bytes; empty for ``EOF``.
    offset : `int`
        Offset of the record in the file.
    """

    kind: RecordKind
    direction: Direction
    timestamp: int
    data: bytes
    offset: int

    @property
    def seconds(self) -> float:
        """The timestamp in seconds."""
        return self.timestamp / 1e9


def format_bytes(nbytes: float) -> str:
    """Return a byte count (or rate) with an SI prefix, e.g. ``"12.3 MB"``."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(nbytes) < 1000 or unit == "GB":
            break
        nbytes /= 1000
    return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"


@dataclasses.dataclass(slots=True)
class Traffic:
    """Bytes and chunks that went one way.

    Attributes
    ----------
    nbytes : `int`
        Bytes.
    chunks : `int`
        Chunks (``DATA`` records).
    """

    nbytes: int = 0
    chunks: int = 0

    def add(self, nbytes: int) -> None:
        """Count a chunk of ``nbytes`` bytes."""
        self.nbytes += nbytes
        self.chunks += 1

    def describe(self, seconds: float | None = None) -> str:
        """Return e.g. ``"12.3 MB in 456 chunks, 1.2 MB/s"``, the rate over
        ``seconds`` (none if None)."""
        text = f"{format_bytes(self.nbytes)} in {self.chunks} chunks"
        if seconds is None:
            return text
        rate = self.nbytes / seconds if seconds > 0 else 0.0
        return f"{text}, {format_bytes(rate)}/s"


def _directions() -> dict[Direction, Traffic]:
    return {direction: Traffic() for direction in Direction}


class RecordingWriter:
    """Write a recording, one record at a time.

    Records go to the file through a buffer of `WRITE_BUFFER_SIZE` bytes,
    so memory stays bounded however long the recording; the buffer is
    handed to the operating system when full, by `flush`, and at the
    first record `FLUSH_INTERVAL` after the last flush. Use as a context manager,
    or call `close`, to end the file with its ``END`` record.

    Parameters
    ----------
    path : `str` or path-like
        The file; created, or truncated if it exists.

    Attributes
    ----------
    header : `RecordingHeader` or None
        The header, once `start` has written it.
    traffic : `dict` [`Direction`, `Traffic`]
        What has been written in each direction.

    Raises
    ------
    OSError
        If the file cannot be opened for writing.
    """

    def __init__(self, path: PathType) -> None:
        self.path = os.fspath(path)
        self._file: io.BufferedWriter | None = io.BufferedWriter(
            io.FileIO(self.path, "wb"), buffer_size=WRITE_BUFFER_SIZE
        )
        self._start_ns = 0
        # Timestamp of the last flush.
        self._flushed = 0
        self.header: RecordingHeader | None = None
        self.traffic = _directions()

    def __enter__(self) -> typing.Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Has `close` been called?"""
        return self._file is None

    def start(self, server: str, client: str | None = None) -> RecordingHeader:
        """Write the preamble and the header; timestamps count from now.

        Parameters
        ----------
        server : `str`
            ``"host:port"`` of the recorded server.
        client : `str` or None, optional
            ``"host:port"`` of the recorded client; None if the recorder
            is the client.

        Returns
        -------
        header : `RecordingHeader`
            The header written.

        Raises
        ------
        RuntimeError
            If the header was already written or the file is closed.
        """
        if self.header is not None:
            raise RuntimeError("the recording was already started")
        file = self._open_file()
        self._start_ns = time.monotonic_ns()
        self.header = RecordingHeader(start_time=time.time(), server=server, client=client)
        file.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION))
        self._write_record(RecordKind.HEADER, Direction.CLIENT_TO_SERVER, 0, self.header.to_json())
        return self.header

    def elapsed_ns(self) -> int:
        """Return the nanoseconds since `start`: the timestamp of a record now."""
        return time.monotonic_ns() - self._start_ns

    def write_data(self, direction: Direction, data: bytes, timestamp: int | None = None) -> None:
        """Write a ``DATA`` record: a chunk of bytes sent in ``direction``.

        Parameters
        ----------
        direction : `Direction`
            Which way the bytes went.
        data : `bytes`
            The chunk; not empty, at most `MAX_RECORD_SIZE` minus 14 bytes.
        timestamp : `int` or None, optional
            Nanoseconds since the start; now if None.

        Raises
        ------
        ValueError
            If ``data`` is empty.
        tcpframe.FrameError
            If ``data`` is too large for a record.
        RuntimeError
            If `start` was not called or the file is closed.
        """
        if not data:
            raise ValueError("a DATA record needs at least one byte")
        self._write_record(RecordKind.DATA, direction, timestamp, data)
        self.traffic[direction].add(len(data))

    def write_eof(self, direction: Direction, timestamp: int | None = None) -> None:
        """Write an ``EOF`` record: the sender in ``direction`` closed.

        Parameters
        ----------
        direction : `Direction`
            Whose sender closed.
        timestamp : `int` or None, optional
            Nanoseconds since the start; now if None.
        """
        self._write_record(RecordKind.EOF, direction, timestamp, b"")

    def flush(self) -> None:
        """Hand the buffered records to the operating system."""
        if self._file is not None:
            self._file.flush()

    def close(self, timestamp: int | None = None) -> None:
        """Write the ``END`` record and close the file. Safe to call twice.

        A recording never started gets a header first (server ``""``),
        so that the file is a complete, empty recording.

        Parameters
        ----------
        timestamp : `int` or None, optional
            Nanoseconds since the start (the recording's duration); now
            if None.
        """
        if self._file is None:
            return
        try:
            if self.header is None:
                self.start(server="")
            self._write_record(RecordKind.END, Direction.CLIENT_TO_SERVER, timestamp, b"")
        finally:
            file, self._file = self._file, None
            file.close()

    def _open_file(self) -> io.BufferedWriter:
        if self._file is None:
            raise RuntimeError(f"the recording {self.path} is closed")
        return self._file

    def _write_record(self, kind: RecordKind, direction: Direction, timestamp: int | None, data: bytes) -> None:
        file = self._open_file()
        if self.header is None:
            raise RuntimeError("start the recording before writing records")
        if timestamp is None:
            timestamp = self.elapsed_ns()
        head = _RECORD_HEAD.pack(kind, direction, timestamp)
        prefix = RECORD_PREFIX.encode(_CHECKSUM.size + len(head) + len(data))
        file.write(prefix + _CHECKSUM.pack(crc32(data, crc32(head))) + head)
        file.write(data)
        if timestamp - self._flushed >= FLUSH_INTERVAL:
            file.flush()
            self._flushed = timestamp


class RecordingReader:
    """Read a recording, one record at a time.

    Opening reads and checks the preamble and the header; iterating
    yields the ``DATA`` and ``EOF`` records in file order, and stops after
    the ``END`` record. Reading goes through a receive buffer in blocks
    of `READ_BLOCK_SIZE` bytes, with records parsed by the frame kernel,
    so memory stays bounded by the largest record.

    Parameters
    ----------
    path : `str` or path-like
        The file.

    Attributes
    ----------
    path : `str`
        The file.
    header : `RecordingHeader`
        The recording's header.
    end_timestamp : `int` or None
        Timestamp of the ``END`` record (the duration, ns), once
        iteration has reached it.

    Raises
    ------
    OSError
        If the file cannot be opened.
    RecordingError
        If the file is not a recording of a supported version, or its
        header is truncated or corrupt.
    """

    def __init__(self, path: PathType) -> None:
        self.path = os.fspath(path)
        self._file: io.BufferedReader = open(self.path, "rb")  # closed by close()
        self._buffer = receive_buffer.ReceiveBuffer(READ_BLOCK_SIZE)
        # Offset in the file of the first byte in the buffer.
        self._offset = 0
        self._file_eof = False
        self.end_timestamp: int | None = None
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> typing.Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        self._file.close()

    def __iter__(self) -> Iterator[Record]:
        """Yield the ``DATA`` and ``EOF`` records, then stop after ``END``.

        Raises
        ------
        RecordingError
            At the first record that is truncated or corrupt, after every
            record before it has been yielded; also if the file ends
            without an ``END`` record or goes on after it.
        """
        while self.end_timestamp is None:
            record = self._read_record()
            if record.kind is RecordKind.END:
                self.end_timestamp = record.timestamp
                if self._fill(1):
                    raise self._error(self._offset, "the file goes on after its END record")
                return
            if record.kind is RecordKind.HEADER:
                raise self._error(record.offset, "a second HEADER record")
            yield record

    def _error(self, offset: int, problem: str) -> RecordingError:
        return RecordingError(self.path, offset, problem)

    def _fill(self, nbytes: int) -> bool:
        """Read until ``nbytes`` are buffered; return False at the end of the file."""
        while len(self._buffer) < nbytes and not self._file_eof:
            view = self._buffer.get_buffer(max(READ_BLOCK_SIZE, nbytes - len(self._buffer)))
            with view:
                count = self._file.readinto(view)
            self._buffer.buffer_updated(count)
            self._file_eof = count == 0
        return len(self._buffer) >= nbytes

    def _read_header(self) -> RecordingHeader:
        if not self._fill(_PREAMBLE.size) or self._buffer.peek(len(MAGIC)) != MAGIC:
            raise self._error(0, f"not a tcpframe recording: it does not start with {MAGIC!r}")
        _, version = _PREAMBLE.unpack(self._buffer.take(_PREAMBLE.size))
        if version != FORMAT_VERSION:
            raise self._error(len(MAGIC), f"format version {version} is not supported (only {FORMAT_VERSION})")
        self._offset = _PREAMBLE.size
        record = self._read_record()
        if record.kind is not RecordKind.HEADER:
            raise self._error(record.offset, f"the first record is {record.kind.name}, not HEADER")
        try:
            return RecordingHeader.from_json(record.data, version)
        except ValueError as e:
            raise self._error(record.offset, f"bad header: {e}") from None

    def _read_record(self) -> Record:
        """Return the next record, of any kind."""
        offset = self._offset
        try:
            while (payload := frames.take_length_prefixed(self._buffer, RECORD_PREFIX)) is None:
                needed = frames.length_prefixed_nbytes(self._buffer, RECORD_PREFIX)
                if not self._fill(needed):
                    if not len(self._buffer):
                        raise self._error(offset, "truncated: the file ends without an END record")
                    raise self._error(
                        offset,
                        f"truncated record (or corrupt length): {needed} bytes needed, "
                        f"{len(self._buffer)} left in the file",
                    )
        except FrameError as e:
            raise self._error(offset, f"corrupt record length: {e}") from None
        self._offset += RECORD_PREFIX.size + len(payload)
        return self._parse_record(payload, offset)

    def _parse_record(self, payload: bytes, offset: int) -> Record:
        head_end = _CHECKSUM.size + _RECORD_HEAD.size
        if len(payload) < head_end:
            raise self._error(offset, f"corrupt record: {len(payload)} bytes, fewer than a record head")
        (stored,) = _CHECKSUM.unpack_from(payload)
        with memoryview(payload) as view:
            computed = crc32(view[_CHECKSUM.size :])
        if stored != computed:
            raise self._error(
                offset, f"corrupt record: CRC-32 mismatch (stored 0x{stored:08x}, computed 0x{computed:08x})"
            )
        kind, direction, timestamp = _RECORD_HEAD.unpack_from(payload, _CHECKSUM.size)
        try:
            kind, direction = RecordKind(kind), Direction(direction)
        except ValueError as e:
            raise self._error(offset, f"corrupt record: {e}") from None
        data = payload[head_end:]
        if data and kind is not RecordKind.DATA and kind is not RecordKind.HEADER:
            raise self._error(offset, f"corrupt record: {kind.name} with data")
        if not data and kind is RecordKind.DATA:
            raise self._error(offset, "corrupt record: DATA without data")
        return Record(kind, direction, timestamp, data, offset)


@dataclasses.dataclass(slots=True)
class RecordingSummary:
    """Duration, bytes and chunks per direction of a recording.

    Build one with `summarize`, or add records as they are read.

    Parameters
    ----------
    header : `RecordingHeader`
        The recording's header.

    Attributes
    ----------
    traffic : `dict` [`Direction`, `Traffic`]
        Bytes and chunks in each direction.
    eof_seconds : `dict` [`Direction`, `float`]
        When each direction's sender closed, for those that did (s).
    duration : `float`
        Timestamp of the last record added (s); set to the ``END``
        record's by `summarize`.
    """

    header: RecordingHeader
    traffic: dict[Direction, Traffic] = dataclasses.field(default_factory=_directions)
    eof_seconds: dict[Direction, float] = dataclasses.field(default_factory=dict)
    duration: float = 0.0

    def add(self, record: Record) -> None:
        """Count a record."""
        if record.kind is RecordKind.DATA:
            self.traffic[record.direction].add(len(record.data))
        else:
            self.eof_seconds.setdefault(record.direction, record.seconds)
        self.duration = record.seconds

    def format(self) -> str:
        """Return the summary as lines of text."""
        start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.header.start_time))
        client = self.header.client or "the recorder"
        lines = [
            (
                f"client {client}, server {self.header.server or '(none)'}, "
                f"started {start}, format version {self.header.version}"
            ),
            f"duration {self.duration:.3f} s",
        ]
        for direction, traffic in self.traffic.items():
            closed = self.eof_seconds.get(direction)
            eof = "" if closed is None else f"; closed at {closed:.3f} s"
            lines.append(f"{direction.label}: {traffic.describe(self.duration)}{eof}")
        return "\n".join(lines)


def summarize(path: PathType) -> RecordingSummary:
    """Read a whole recording and return its summary.

    Parameters
    ----------
    path : `str` or path-like
        The recording.

    Raises
    ------
    RecordingError
        If the file is truncated or corrupt.
    """
    with RecordingReader(path) as reader:
        summary = RecordingSummary(reader.header)
        for record in reader:
            summary.add(record)
        assert reader.end_timestamp is not None
        summary.duration = reader.end_timestamp / 1e9
    return summary
