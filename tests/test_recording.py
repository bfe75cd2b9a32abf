"""The recording file format (tcpframe.recording): writing, reading, and bad files."""

import json
import pathlib
import struct
import tracemalloc
import zlib

import pytest

import tcpframe
from crafted_recordings import BAD_HEADERS, HEADER_OFFSET, PREAMBLE, header_file, header_json, raw_file, raw_record
from tcpframe.recording.format import (
    FLUSH_INTERVAL,
    FORMAT_VERSION,
    MAGIC,
    MAX_RECORD_SIZE,
    MAX_START_TIME,
    Direction,
    Record,
    RecordingError,
    RecordingHeader,
    RecordingReader,
    RecordingWriter,
    RecordKind,
    Traffic,
    format_bytes,
    summarize,
)

C2S, S2C = Direction.CLIENT_TO_SERVER, Direction.SERVER_TO_CLIENT

# (direction, timestamp in ns, data or None for EOF), as written by write_sample.
SAMPLE = [
    (C2S, 1_000, b'{"command": "start"}\r\n'),
    (S2C, 2_500, b'{"response": 0}\r\n'),
    (S2C, 1_000_000_000, bytes(range(256)) * 300),  # spans read blocks
    (C2S, 1_500_000_000, None),
    (S2C, 1_600_000_000, None),
]
END_TIMESTAMP = 2_000_000_000


def write_sample(path: pathlib.Path) -> None:
    with RecordingWriter(path) as writer:
        writer.start(server="127.0.0.1:5000", client="127.0.0.1:40000")
        for direction, timestamp, data in SAMPLE:
            if data is None:
                writer.write_eof(direction, timestamp)
            else:
                writer.write_data(direction, data, timestamp)
        writer.close(END_TIMESTAMP)


def read_all(path: pathlib.Path) -> list[Record]:
    with RecordingReader(path) as reader:
        return list(reader)


def record_offsets(path: pathlib.Path) -> list[int]:
    """Offsets of every record in the file, found independently of the reader."""
    data = path.read_bytes()
    offsets, offset = [], len(MAGIC) + 2
    while offset < len(data):
        offsets.append(offset)
        offset += 4 + int.from_bytes(data[offset : offset + 4], "big")
    return offsets


@pytest.fixture
def sample(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "sample.rec"
    write_sample(path)
    return path


def test_records_read_back_as_written(sample: pathlib.Path) -> None:
    with RecordingReader(sample) as reader:
        assert reader.header.server == "127.0.0.1:5000"
        assert reader.header.client == "127.0.0.1:40000"
        assert reader.header.version == FORMAT_VERSION
        records = list(reader)
        assert reader.end_timestamp == END_TIMESTAMP
    expected = [
        (RecordKind.EOF if data is None else RecordKind.DATA, direction, timestamp, data or b"")
        for direction, timestamp, data in SAMPLE
    ]
    assert [(r.kind, r.direction, r.timestamp, r.data) for r in records] == expected
    assert records[2].seconds == 1.0
    assert [r.offset for r in records] == record_offsets(sample)[1:-1]


def test_file_layout_is_the_documented_one(sample: pathlib.Path) -> None:
    """Preamble, then length-prefixed records with a CRC-32 of kind, direction,
    timestamp and data; checked with struct and zlib, not with tcpframe."""
    data = sample.read_bytes()
    assert data[:8] == b"TCPFREC\n"
    assert struct.unpack(">H", data[8:10]) == (1,)
    records = []
    for offset in record_offsets(sample):
        (length,) = struct.unpack_from(">I", data, offset)
        payload = data[offset + 4 : offset + 4 + length]
        (crc,) = struct.unpack_from(">I", payload)
        assert crc == zlib.crc32(payload[4:])
        kind, direction, timestamp = struct.unpack_from(">BBQ", payload, 4)
        records.append((kind, direction, timestamp, payload[14:]))
    kind, direction, timestamp, header = records[0]
    assert (kind, direction, timestamp) == (0, 0, 0)
    fields = json.loads(header)
    assert fields.pop("start_time") == header_time(sample)
    assert fields == {"server": "127.0.0.1:5000", "client": "127.0.0.1:40000"}
    assert records[1] == (1, 0, 1_000, SAMPLE[0][2])
    assert records[4] == (2, 0, 1_500_000_000, b"")
    assert records[-1] == (3, 0, END_TIMESTAMP, b"")


def header_time(path: pathlib.Path) -> float:
    with RecordingReader(path) as reader:
        return reader.header.start_time


def test_writer_stamps_records_with_monotonic_time_since_start(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "stamped.rec"
    with RecordingWriter(path) as writer:
        header = writer.start(server="h:1")
        for i in range(5):
            writer.write_data(S2C, b"x" * i + b"y")
        writer.write_eof(S2C)
        assert writer.traffic[S2C] == Traffic(nbytes=15, chunks=5)
        assert writer.traffic[C2S] == Traffic()
    assert header.client is None
    with RecordingReader(path) as reader:
        records = list(reader)
        end = reader.end_timestamp
    timestamps = [r.timestamp for r in records]
    assert timestamps == sorted(timestamps) and timestamps[0] >= 0
    assert end is not None and end >= timestamps[-1]


def test_records_reach_the_file_within_a_flush_interval(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "flushed.rec"
    with RecordingWriter(path) as writer:
        writer.start(server="h:1")
        writer.write_data(S2C, b"soon", 10)
        assert b"soon" not in path.read_bytes()  # buffered
        writer.write_data(S2C, b"a second later", FLUSH_INTERVAL + 10)
        on_disk = path.read_bytes()
        assert b"soon" in on_disk and on_disk.endswith(b"a second later")
        writer.flush()


def test_a_writer_closed_before_start_leaves_an_empty_complete_recording(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "empty.rec"
    writer = RecordingWriter(path)
    writer.close()
    writer.close()  # safe twice
    assert writer.closed
    assert read_all(path) == []
    summary = summarize(path)
    assert all(traffic == Traffic() for traffic in summary.traffic.values())


def test_writer_rejects_bad_use(tmp_path: pathlib.Path) -> None:
    writer = RecordingWriter(tmp_path / "bad.rec")
    with pytest.raises(RuntimeError, match="start"):
        writer.write_data(C2S, b"early")
    writer.start(server="h:1")
    with pytest.raises(RuntimeError, match="already"):
        writer.start(server="h:1")
    with pytest.raises(ValueError, match="at least one byte"):
        writer.write_data(C2S, b"")
    with pytest.raises(tcpframe.FrameError, match="max_frame_size"):
        writer.write_data(C2S, bytes(MAX_RECORD_SIZE))
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.write_data(C2S, b"late")
    # What was written before the errors is a complete recording.
    assert read_all(tmp_path / "bad.rec") == []


def test_writer_cannot_open_a_missing_folder(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        RecordingWriter(tmp_path / "no such folder" / "x.rec")


# ---------------------------------------------------------------------------
# Bad files: a clear RecordingError naming the offset, after every good record.
# ---------------------------------------------------------------------------


def read_until_error(path: pathlib.Path) -> tuple[list[Record], RecordingError]:
    """Return the records delivered before the RecordingError, and the error."""
    delivered: list[Record] = []
    with RecordingReader(path) as reader, pytest.raises(RecordingError) as excinfo:
        delivered.extend(reader)
    return delivered, excinfo.value


def good_records(sample: pathlib.Path) -> list[Record]:
    return read_all(sample)


def test_every_truncation_is_detected_after_the_records_before_it(sample: pathlib.Path, tmp_path: pathlib.Path) -> None:
    data = sample.read_bytes()
    records = good_records(sample)
    offsets = record_offsets(sample)
    truncated = tmp_path / "truncated.rec"
    # Every cut inside a record, and at every record boundary; a cut in the
    # header makes opening fail.
    cuts = sorted({*range(offsets[1] + 1, offsets[2] + 20), *offsets[2:], *range(len(data) - 20, len(data))})
    for cut in cuts:
        truncated.write_bytes(data[:cut])
        delivered, error = read_until_error(truncated)
        bad_offset = max(offset for offset in offsets if offset <= cut) if cut not in offsets else cut
        assert error.offset == bad_offset, cut
        assert f"at offset {bad_offset}" in str(error)
        assert "truncated" in str(error)
        assert delivered == [r for r in records if r.offset < bad_offset], cut


def test_a_truncated_header_fails_on_open(sample: pathlib.Path, tmp_path: pathlib.Path) -> None:
    data = sample.read_bytes()
    header_end = record_offsets(sample)[1]
    truncated = tmp_path / "truncated.rec"
    for cut in range(header_end):
        truncated.write_bytes(data[:cut])
        with pytest.raises(RecordingError) as excinfo:
            RecordingReader(truncated)
        assert excinfo.value.offset in (0, 10), cut
        assert excinfo.value.path == str(truncated)


def test_a_flipped_bit_anywhere_in_a_record_is_detected(sample: pathlib.Path, tmp_path: pathlib.Path) -> None:
    data = sample.read_bytes()
    records = good_records(sample)
    offsets = record_offsets(sample)
    corrupt = tmp_path / "corrupt.rec"
    for index, offset in enumerate(offsets[1:], start=1):
        end = offsets[index + 1] if index + 1 < len(offsets) else len(data)
        # Bits of the CRC, the kind/direction/timestamp and the data (the
        # length prefix is tested below).
        for position in (offset + 4, offset + 8, offset + 9, offset + 17, end - 1):
            damaged = bytearray(data)
            damaged[position] ^= 0x10
            corrupt.write_bytes(damaged)
            delivered, error = read_until_error(corrupt)
            assert error.offset == offset, (index, position)
            assert "CRC-32 mismatch" in str(error)
            assert delivered == [r for r in records if r.offset < offset]


def test_a_corrupt_length_prefix_is_detected(sample: pathlib.Path, tmp_path: pathlib.Path) -> None:
    data = sample.read_bytes()
    offset = record_offsets(sample)[2]
    corrupt = tmp_path / "corrupt.rec"
    cases = {
        (MAX_RECORD_SIZE + 1).to_bytes(4, "big"): "corrupt record length",  # beyond the largest record
        (3).to_bytes(4, "big"): "fewer than a record head",  # too short for the head
        (2**23).to_bytes(4, "big"): "truncated record",  # past the end of the file
    }
    for prefix, message in cases.items():
        corrupt.write_bytes(data[:offset] + prefix + data[offset + 4 :])
        delivered, error = read_until_error(corrupt)
        assert error.offset == offset
        assert message in str(error)
        assert delivered == good_records(sample)[:1]


def test_not_a_recording(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "text.txt"
    for content in (b"", b"hello world\n", b"TCPFREC"):
        path.write_bytes(content)
        with pytest.raises(RecordingError, match=r"not a tcpframe recording.*offset 0"):
            RecordingReader(path)


def test_another_format_version_is_refused(sample: pathlib.Path) -> None:
    data = bytearray(sample.read_bytes())
    data[8:10] = (2).to_bytes(2, "big")
    sample.write_bytes(data)
    with pytest.raises(RecordingError, match=r"format version 2 is not supported \(only 1\) \(at offset 8\)"):
        RecordingReader(sample)


@pytest.mark.parametrize(
    ("records", "index", "message"),
    [
        ((raw_record(1, 0, 5, b"ok"), raw_record(9, 0, 6, b"")), 1, "9 is not a valid RecordKind"),
        ((raw_record(1, 0, 5, b"ok"), raw_record(1, 7, 6, b"x")), 1, "7 is not a valid Direction"),
        ((raw_record(2, 1, 5, b"data"),), 0, "EOF with data"),
        ((raw_record(1, 0, 5, b"ok"), raw_record(0, 0, 6, b"{}")), 1, "a second HEADER record"),
        ((raw_record(1, 0, 5, b"ok"), raw_record(3, 0, 7, b""), b"late"), 2, "goes on after its END record"),
        ((raw_record(1, 0, 5, b"ok"), raw_record(3, 0, 7, b"data")), 1, "END with data"),
        ((raw_record(1, 0, 5, b"ok"), raw_record(1, 1, 6, b"")), 1, "DATA without data"),
        ((raw_record(1, 0, 5, b"ok"), struct.pack(">I", 0)), 1, "0 bytes, fewer than a record head"),
        ((raw_record(1, 0, 5, b"ok"), struct.pack(">I", 13) + bytes(13)), 1, "13 bytes, fewer than a record head"),
        ((raw_record(1, 0, 5, b"ok"), struct.pack(">I", 2**32 - 1)), 1, "corrupt record length"),
        ((raw_record(1, 0, 5, b"ok"), struct.pack(">I", MAX_RECORD_SIZE)), 1, "truncated record"),
        ((raw_record(1, 0, 5, b"ok"), raw_record(1, 0, 6, b"x")[:9]), 1, "truncated record"),
        ((raw_record(1, 0, 5, b"ok"), b"\x00\x00"), 1, "truncated record"),
        ((raw_record(1, 0, 5, b"ok"),), 1, "the file ends without an END record"),
    ],
)
def test_records_out_of_the_format_are_errors(
    tmp_path: pathlib.Path, records: tuple[bytes, ...], index: int, message: str
) -> None:
    path = tmp_path / "odd.rec"
    path.write_bytes(raw_file(*records))
    delivered, error = read_until_error(path)
    assert error.offset == len(raw_file(*records[:index]))
    assert message in str(error)
    # The good DATA records before the bad one were delivered.
    assert [r.data for r in delivered] == [b"ok"] * (index > 0)


@pytest.mark.parametrize(("header", "message"), list(BAD_HEADERS.values()), ids=list(BAD_HEADERS))
def test_a_bad_header_is_an_error(tmp_path: pathlib.Path, header: bytes, message: str) -> None:
    path = header_file(tmp_path / "header.rec", header)
    with pytest.raises(RecordingError, match=rf"bad header.*at offset {HEADER_OFFSET}") as excinfo:
        RecordingReader(path)
    assert excinfo.value.offset == HEADER_OFFSET
    assert message in excinfo.value.problem
    # One short line, however large the header.
    assert "\n" not in str(excinfo.value) and len(str(excinfo.value)) < 300, str(excinfo.value)
    with pytest.raises(RecordingError):
        summarize(path)


@pytest.mark.parametrize("start_time", [0, 1, 1.5, MAX_START_TIME])
def test_every_start_time_in_range_is_read_and_summarized(tmp_path: pathlib.Path, start_time: float) -> None:
    path = tmp_path / "header.rec"
    path.write_bytes(raw_file(raw_record(3, 0, 0, b""), header=header_json(start_time=start_time)))
    summary = summarize(path)
    assert summary.header.start_time == start_time
    assert "started " in summary.format()


def test_the_largest_timestamps_are_read_and_summarized(tmp_path: pathlib.Path) -> None:
    """Timestamps are unsigned 64-bit: the largest is 584 years, not an error."""
    largest = 2**64 - 1
    path = tmp_path / "late.rec"
    path.write_bytes(
        raw_file(raw_record(1, 1, largest, b"x"), raw_record(2, 1, largest, b""), raw_record(3, 0, largest, b""))
    )
    summary = summarize(path)
    assert summary.duration == largest / 1e9
    assert "server->client: 1 B in 1 chunks" in summary.format()


def test_a_file_that_starts_with_data_is_an_error(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "noheader.rec"
    path.write_bytes(PREAMBLE + raw_record(1, 0, 0, b"x"))
    with pytest.raises(RecordingError, match="the first record is DATA, not HEADER"):
        RecordingReader(path)


def test_reading_a_large_recording_keeps_memory_bounded(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "large.rec"
    chunk = bytes(range(256)) * 256  # 64 KiB
    count = 320  # 20 MiB
    with RecordingWriter(path) as writer:
        writer.start(server="h:1")
        for i in range(count):
            writer.write_data(S2C, chunk, timestamp=i)
    tracemalloc.start()
    try:
        total = 0
        with RecordingReader(path) as reader:
            for record in reader:
                assert record.data == chunk
                total += len(record.data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == count * len(chunk)
    assert peak < 2**20, peak  # a few records' worth, not the 20 MiB file


def test_summary_counts_each_direction(sample: pathlib.Path) -> None:
    summary = summarize(sample)
    assert summary.duration == END_TIMESTAMP / 1e9
    assert summary.traffic[C2S] == Traffic(nbytes=len(SAMPLE[0][2]), chunks=1)
    assert summary.traffic[S2C] == Traffic(nbytes=len(SAMPLE[1][2]) + len(SAMPLE[2][2]), chunks=2)
    assert summary.eof_seconds == {C2S: 1.5, S2C: 1.6}
    text = summary.format()
    assert "client 127.0.0.1:40000, server 127.0.0.1:5000" in text
    assert "duration 2.000 s" in text
    assert "client->server: 22 B in 1 chunks, 11 B/s; closed at 1.500 s" in text
    assert "server->client: 76.8 kB in 2 chunks, 38.4 kB/s; closed at 1.600 s" in text


def test_summary_of_a_bad_file_raises(sample: pathlib.Path) -> None:
    data = sample.read_bytes()
    sample.write_bytes(data[:-3])
    with pytest.raises(RecordingError, match="truncated"):
        summarize(sample)


def test_format_bytes() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(999) == "999 B"
    assert format_bytes(1000) == "1.0 kB"
    assert format_bytes(12_345_678) == "12.3 MB"
    assert format_bytes(5e12) == "5000.0 GB"


def test_header_round_trips_through_json() -> None:
    header = RecordingHeader(start_time=1.5, server="[::1]:5000", client=None)
    assert RecordingHeader.from_json(header.to_json(), FORMAT_VERSION) == header
