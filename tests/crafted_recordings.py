"""Recording files built byte by byte, with valid CRC-32s, to test how
tcpframe's readers take malformed ones (see tcpframe.recording)."""

import json
import math
import pathlib
import struct
import zlib

from tcpframe.recording import FORMAT_VERSION, MAGIC, MAX_START_TIME

# The preamble of every recording.
PREAMBLE = MAGIC + struct.pack(">H", FORMAT_VERSION)

# Leaves a field out of header_json.
MISSING = object()


def raw_record(kind: int, direction: int, timestamp: int, data: bytes) -> bytes:
    """A record as the format lays it out, its CRC-32 right whatever its content."""
    body = struct.pack(">BBQ", kind, direction, timestamp) + data
    payload = struct.pack(">I", zlib.crc32(body)) + body
    return struct.pack(">I", len(payload)) + payload


def header_json(**fields: object) -> bytes:
    """A header's JSON: a valid one, with ``fields`` replaced (a value of
    `MISSING` leaves the field out)."""
    valid: dict[str, object] = {"start_time": 0.0, "server": "h:1", "client": None}
    valid.update(fields)
    return json.dumps({key: value for key, value in valid.items() if value is not MISSING}).encode()


def raw_file(*records: bytes, header: bytes = header_json()) -> bytes:
    """A recording: the preamble, a HEADER record of ``header``, then ``records``."""
    return PREAMBLE + raw_record(0, 0, 0, header) + b"".join(records)


def header_file(path: pathlib.Path, header: bytes) -> pathlib.Path:
    """Write a recording of just a HEADER record of ``header`` to ``path``; return ``path``."""
    path.write_bytes(raw_file(header=header))
    return path


# Crafted headers, each in a record with a valid CRC-32, and what the
# error says about it.
BAD_HEADERS = {
    "not json": (b"not json", "Expecting value"),
    "empty": (b"", "Expecting value"),
    "not utf-8": (b"\xff\xfe\xfd", "codec can't decode"),
    "deeply nested list": (b"[" * 100_000, "nested too deeply"),
    "deeply nested object": (b'{"a": ' * 100_000, "nested too deeply"),
    "a list": (b"[1, 2]", "not a JSON object"),
    "a string": (b'"header"', "not a JSON object"),
    "null": (b"null", "not a JSON object"),
    "no server": (b'{"start_time": 0}', "server"),
    "start_time missing": (header_json(start_time=MISSING), "start_time"),
    "start_time a string": (header_json(start_time="x"), "start_time"),
    "start_time a bool": (header_json(start_time=True), "start_time"),
    "start_time null": (header_json(start_time=None), "start_time"),
    "start_time NaN": (header_json(start_time=math.nan), "start_time"),
    "start_time Infinity": (header_json(start_time=math.inf), "start_time"),
    "start_time -Infinity": (header_json(start_time=-math.inf), "start_time"),
    "start_time 1e300": (header_json(start_time=1e300), "start_time"),
    "start_time -1e300": (header_json(start_time=-1e300), "start_time"),
    "start_time negative": (header_json(start_time=-1), "start_time"),
    "start_time a huge integer": (header_json(start_time=10**400), "start_time"),
    "start_time past year 9999": (header_json(start_time=MAX_START_TIME + 1), "start_time"),
    "server a number": (header_json(server=5), "server"),
    "server null": (header_json(server=None), "server"),
    "client a number": (header_json(client=5), "client"),
    "client a list": (header_json(client=["h", 1]), "client"),
}

# The offset of the HEADER record: right after the preamble.
HEADER_OFFSET = len(PREAMBLE)
