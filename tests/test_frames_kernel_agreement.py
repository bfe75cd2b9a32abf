"""The compiled frame kernels and their pure-Python twin agree, call by call.

These tests import ``tcpframe._compiled`` and ``tcpframe._pure`` directly,
so both implementations are checked in every run of the suite.
"""

import itertools
import typing

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpframe import ChecksumFrame, LengthPrefix
from tcpframe._compiled import frames as compiled_frames
from tcpframe._compiled import receive_buffer as compiled_receive_buffer
from tcpframe._pure import frames as pure_frames
from tcpframe._pure import receive_buffer as pure_receive_buffer

IMPLEMENTATIONS = [
    pytest.param((compiled_frames, compiled_receive_buffer), id="compiled"),
    pytest.param((pure_frames, pure_receive_buffer), id="pure"),
]

length_prefixes = st.builds(
    LengthPrefix,
    size=st.sampled_from([1, 2, 4, 8]),
    byteorder=st.sampled_from(["big", "little"]),
    includes_prefix=st.booleans(),
    max_frame_size=st.integers(min_value=0, max_value=40),
)
framings = st.builds(
    ChecksumFrame,
    checksum=st.sampled_from(["sum8", "xor8", "crc16_modbus", "crc16_ccitt", "crc16_xmodem", "crc32"]),
    encoding=st.sampled_from(["hex", "binary"]),
    start=st.sampled_from([b"", b"$", b".", b"\x02"]),
    separator=st.sampled_from([b"", b"*", b"|"]),
    terminator=st.sampled_from([b"\r\n", b"\r", b"\n", b"\x03"]),
    covers_start=st.booleans(),
    byteorder=st.sampled_from(["big", "little"]),
    uppercase=st.booleans(),
)


def encode_safely(framing: ChecksumFrame, body: bytes) -> bytes | None:
    """Return ``framing.encode(body)``, or None if it cannot be encoded."""
    try:
        return framing.encode(body)
    except ValueError:
        return None


def raw_frame(prefix: LengthPrefix, payload_size: int) -> bytes:
    """Return a length-prefixed frame, ignoring ``prefix.max_frame_size``."""
    length = payload_size + prefix.size if prefix.includes_prefix else payload_size
    return length.to_bytes(prefix.size, prefix.byteorder) + bytes(range(payload_size))


# Operation sequences draw framings from short lists as well as at random,
# so that the frames in a stream often match the framing a later call
# reads them with.
FEW_PREFIXES = [
    LengthPrefix(),
    LengthPrefix(1, max_frame_size=10),
    LengthPrefix(2, "little", includes_prefix=True, max_frame_size=30),
    LengthPrefix(8, "little", max_frame_size=20),
]
FEW_FRAMINGS = [
    ChecksumFrame(),
    ChecksumFrame(checksum="sum8", start=b".", separator=b"", terminator=b"\r", covers_start=True, uppercase=False),
    ChecksumFrame(checksum="crc16_modbus", encoding="binary", start=b"", separator=b"", terminator=b"\n"),
    ChecksumFrame(checksum="crc32", separator=b"|", terminator=b"\x03"),
]
# Streams mix real frames with their pieces and with markers, so that
# complete, partial, bad and oversize frames all turn up often.
TOKENS = [
    b"$", b"*", b"\r\n", b"\r", b"\n", b"\x03", b".", b"|", b"GP", b"4B", b"4b", b"zz", b"\x00", b"\xff\xff", b"\x05"
]
BODIES = [b"", b"GPGGA,1", b"ab", b"0101WatchDog"]
some_prefixes = st.one_of(st.sampled_from(FEW_PREFIXES), length_prefixes)
some_framings = st.one_of(st.sampled_from(FEW_FRAMINGS), framings)
tokens = st.one_of(
    st.sampled_from(TOKENS),
    st.builds(raw_frame, some_prefixes, st.integers(0, 40)),
    st.builds(encode_safely, some_framings, st.sampled_from(BODIES)).map(lambda frame: frame or b""),
)
streams = st.lists(tokens, max_size=12).map(b"".join)

operations = st.one_of(
    st.tuples(st.just("feed"), streams),
    st.tuples(st.just("take_length_prefixed"), some_prefixes),
    st.tuples(st.just("length_prefixed_nbytes"), some_prefixes),
    st.tuples(st.just("take_checksummed"), some_framings, st.integers(min_value=-1, max_value=60)),
)


def outcome(call: typing.Callable[[], object]) -> tuple:
    """Return what ``call`` returned, or what it raised, comparably."""
    try:
        return ("returned", call())
    except Exception as e:  # every outcome is compared
        details = {name: getattr(e, name) for name in ("frame", "expected", "received", "consumed") if hasattr(e, name)}
        return ("raised", type(e).__name__, str(e), details)


def apply(frames: object, buffer: object, operation: tuple) -> tuple:
    name, *args = operation
    if name == "feed":
        buffer.feed(args[0])
        return ("fed",)
    if name == "take_checksummed":
        framing, limit = args
        return outcome(lambda: frames.take_checksummed(buffer, framing, limit))
    return outcome(lambda: getattr(frames, name)(buffer, args[0]))


@settings(max_examples=400, deadline=None)
@given(st.lists(operations, max_size=30))
def test_random_operation_sequences_agree(sequence: list[tuple]) -> None:
    compiled_buffer = compiled_receive_buffer.ReceiveBuffer(chunk_size=16)
    pure_buffer = pure_receive_buffer.ReceiveBuffer(chunk_size=16)
    for operation in sequence:
        compiled_outcome = apply(compiled_frames, compiled_buffer, operation)
        pure_outcome = apply(pure_frames, pure_buffer, operation)
        assert compiled_outcome == pure_outcome, operation
        assert compiled_buffer.peek(1 << 20) == pure_buffer.peek(1 << 20)


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(stream) + 1) for cut in cuts} | {0, len(stream)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=150, deadline=None)
@given(
    prefix=length_prefixes.map(lambda p: LengthPrefix(p.size, p.byteorder, p.includes_prefix, 300)),
    payloads=st.lists(st.binary(max_size=60), max_size=10),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_length_prefixed_frames_do_not_depend_on_chunking(
    implementation: tuple, prefix: LengthPrefix, payloads: list[bytes], cuts: list[int]
) -> None:
    frames, receive_buffer = implementation
    stream = b"".join(prefix.encode(len(p)) + p for p in payloads)
    buffer = receive_buffer.ReceiveBuffer(chunk_size=16)
    received = []
    for chunk in split(stream, cuts):
        buffer.feed(chunk)
        while len(buffer) >= frames.length_prefixed_nbytes(buffer, prefix):
            received.append(frames.take_length_prefixed(buffer, prefix))
        assert frames.take_length_prefixed(buffer, prefix) is None
    assert received == payloads
    assert len(buffer) == 0


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@settings(max_examples=150, deadline=None)
@given(
    framing=framings,
    bodies=st.lists(st.binary(max_size=30), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_checksummed_frames_do_not_depend_on_chunking(
    implementation: tuple, framing: ChecksumFrame, bodies: list[bytes], cuts: list[int]
) -> None:
    frames, receive_buffer = implementation
    encoded = [(body, encode_safely(framing, body)) for body in bodies]
    encoded = [(body, frame) for body, frame in encoded if frame is not None]
    stream = b"".join(frame for _, frame in encoded)
    buffer = receive_buffer.ReceiveBuffer(chunk_size=16)
    received = []
    for chunk in split(stream, cuts):
        buffer.feed(chunk)
        while (body := frames.take_checksummed(buffer, framing, 1000)) is not None:
            received.append(body)
    assert received == [body for body, _ in encoded]
    assert len(buffer) == 0
