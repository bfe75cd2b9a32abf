"""The compiled receive buffer and its pure-Python twin agree, operation by operation.

These tests import ``tcpframe._compiled.receive_buffer`` and
``tcpframe._pure.receive_buffer`` directly, so both implementations are
checked in every run of the suite.
"""

import asyncio
import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpframe._compiled import receive_buffer as compiled
from tcpframe._pure import receive_buffer as pure

IMPLEMENTATIONS = [compiled, pure]

SEPARATORS = [b"\n", b"\r\n", b"XYZZY", b"Z", b"ZY", b"ZZ"]
# Streams are made of separators, pieces of them and filler, so that
# matches, near misses and separators split across chunks all turn up often.
TOKENS = [b"a", b"bc", b"\r", b"\n", b"\r\n", b"X", b"XYZ", b"ZY", b"XYZZY", b"Z", b"\xc3\xa9", b"\xff"]
# Codecs for take_line: valid, strict ones that fail on some tokens, and
# unusable ones.
ENCODINGS = ["utf-8", "ascii", "latin-1", "utf-16", "no-such-codec", 8]

payloads = st.lists(st.sampled_from(TOKENS), max_size=12).map(b"".join)
sizes = st.integers(min_value=-3, max_value=60)
separators = st.sampled_from(SEPARATORS + [bytearray(b"\r\n"), memoryview(b"XYZZY")])
bad_separators = st.sampled_from([b"", bytearray(), "\n", None, 10])
limits = st.integers(min_value=-1, max_value=60)

operations = st.one_of(
    st.tuples(st.just("feed"), payloads),
    st.tuples(st.just("receive"), payloads, st.integers(min_value=-1, max_value=80)),
    st.tuples(st.just("buffer_updated"), st.integers(min_value=-1, max_value=2)),
    st.tuples(st.just("take"), sizes),
    st.tuples(st.just("take_exactly"), sizes),
    st.tuples(st.just("take_until"), separators, limits),
    st.tuples(st.just("take_until"), bad_separators, limits),
    st.tuples(st.just("take_until_near_limit"), separators, st.integers(-1, 1)),
    st.tuples(st.just("take_line"), separators, limits, st.sampled_from(ENCODINGS)),
    st.tuples(st.just("copy_into"), st.integers(min_value=0, max_value=40)),
    st.tuples(st.just("peek"), sizes),
    st.tuples(st.just("skip"), sizes),
    st.tuples(st.just("find"), separators),
    st.tuples(st.just("find"), bad_separators),
    st.tuples(st.just("clear")),
)


def apply(buffer: object, operation: tuple, chunk_size: int) -> object:
    """Run one operation; return a comparable record of its outcome."""
    name, *args = operation
    try:
        if name == "receive":
            data, extra = args
            if extra < 0:
                # The transport's default request: chunk_size bytes at least.
                sizehint = -1
                data = data[:chunk_size]
            else:
                sizehint = len(data) + extra
            view = buffer.get_buffer(sizehint)
            assert len(view) >= max(sizehint, len(data))
            view[: len(data)] = data
            view.release()
            result = buffer.buffer_updated(len(data))
        elif name == "take_until_near_limit":
            # A limit next to the offset that decides between a frame, None
            # and LimitOverrunError, where an off-by-one would show.
            separator, delta = args
            index = buffer.find(separator)
            offset = index if index >= 0 else len(buffer) + 1 - len(separator)
            result = buffer.take_until(separator, max(0, offset + delta))
        elif name == "copy_into":
            target = bytearray(b"." * args[0])
            result = (buffer.copy_into(target), bytes(target))
        else:
            result = getattr(buffer, name)(*args)
    except AssertionError:
        raise
    except asyncio.LimitOverrunError as error:
        return ("raised", type(error), str(error), error.consumed)
    except Exception as error:
        return ("raised", type(error), str(error))
    return ("returned", result, len(buffer))


@settings(max_examples=500, deadline=None)
@given(
    chunk_size=st.integers(min_value=1, max_value=32),
    sequence=st.lists(operations, max_size=60),
)
def test_random_operation_sequences_agree(chunk_size: int, sequence: list[tuple]) -> None:
    compiled_buffer = compiled.ReceiveBuffer(chunk_size)
    pure_buffer = pure.ReceiveBuffer(chunk_size)
    for step, operation in enumerate(sequence):
        outcome = apply(compiled_buffer, operation, chunk_size)
        assert outcome == apply(pure_buffer, operation, chunk_size), (step, operation)
        assert compiled_buffer.peek(1000) == pure_buffer.peek(1000), (step, operation)


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(cuts)), len(stream)]
    return [stream[start:stop] for start, stop in itertools.pairwise(edges)]


def chunkings(stream: bytes, data: st.DataObject) -> dict[str, list[bytes]]:
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream))), label="cuts")
    return {
        "one byte": [stream[i : i + 1] for i in range(len(stream))],
        "random": chunked(stream, cuts),
        "whole": [stream],
    }


def deliver(buffer: object, chunk: bytes, through_get_buffer: bool) -> None:
    if through_get_buffer:
        view = buffer.get_buffer(len(chunk))
        view[: len(chunk)] = chunk
        view.release()
        buffer.buffer_updated(len(chunk))
    else:
        buffer.feed(chunk)


def frames_from(
    implementation: object,
    chunks: list[bytes],
    read_frames: Callable[[object], list[bytes]],
) -> list[bytes]:
    buffer = implementation.ReceiveBuffer(16)
    frames = []
    for index, chunk in enumerate(chunks):
        deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
        frames += read_frames(buffer)
    return frames + [buffer.take()]


def split_at(stream: bytes, separator: bytes) -> list[bytes]:
    """Reference framing: the frames through each separator, then the rest."""
    frames = []
    start = 0
    while (index := stream.find(separator, start)) >= 0:
        frames.append(stream[start : index + len(separator)])
        start = index + len(separator)
    return frames + [stream[start:]]


@settings(max_examples=200, deadline=None)
@given(
    stream=st.lists(st.sampled_from(TOKENS), max_size=100).map(b"".join),
    separator=st.sampled_from(SEPARATORS),
    data=st.data(),
)
def test_lines_do_not_depend_on_chunking(stream: bytes, separator: bytes, data: st.DataObject) -> None:
    def read_lines(buffer: object) -> list[bytes]:
        lines = []
        while (line := buffer.take_until(separator, len(stream) + 1)) is not None:
            lines.append(line)
        return lines

    expected = split_at(stream, separator)
    for label, chunks in chunkings(stream, data).items():
        for implementation in IMPLEMENTATIONS:
            assert frames_from(implementation, chunks, read_lines) == expected, (
                label,
                implementation.__name__,
            )


@settings(max_examples=200, deadline=None)
@given(
    stream=st.binary(max_size=300),
    record_size=st.integers(min_value=1, max_value=40),
    data=st.data(),
)
def test_records_do_not_depend_on_chunking(stream: bytes, record_size: int, data: st.DataObject) -> None:
    def read_records(buffer: object) -> list[bytes]:
        records = []
        while True:
            if len(records) % 2:
                record = bytearray(record_size)
                if not buffer.copy_into(record):
                    return records
                records.append(bytes(record))
            else:
                record = buffer.take_exactly(record_size)
                if record is None:
                    return records
                records.append(record)

    whole = len(stream) - len(stream) % record_size
    expected = [stream[i : i + record_size] for i in range(0, whole, record_size)]
    expected.append(stream[whole:])
    for label, chunks in chunkings(stream, data).items():
        for implementation in IMPLEMENTATIONS:
            assert frames_from(implementation, chunks, read_records) == expected, (
                label,
                implementation.__name__,
            )


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=["compiled", "pure"])
def test_scan_restarts_when_the_separator_changes(implementation: object) -> None:
    # Not random: a stale scan offset from another separator would skip a match.
    buffer = implementation.ReceiveBuffer(8)
    buffer.feed(b"ZZZZZZY\r\n")
    assert buffer.find(b"\r\n") == 7
    assert buffer.find(b"ZY") == 5
    assert buffer.find(b"Z") == 0
    assert buffer.find(bytearray(b"Z")) == 0
