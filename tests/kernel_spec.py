"""The kernel spec: what every implementation of the four kernel families does.

As uvloop writes its TCP tests once, as a mixin, and runs them on two
event loops, `KernelSpec` is written once and run on each implementation
of the kernels (``receive_buffer``, ``structs``, ``checksums``,
``frames``): against reference models, for fixed inputs, random inputs
and random chunkings of a stream.

* ``tests/test_kernels_twin.py`` runs it on the pure-Python twins, in
  every run of the suite.
* ``tests/test_kernels_compiled.py`` runs it on the compiled kernels and
  compares them with the twins (names, signatures, docstrings, results and
  errors for the same random operations). It is collected only where
  `tcpframe._kernels.load_compiled` succeeds; ``conftest.py`` says so when
  it is not.

A subclass sets `KernelSpec.kernels` to a `tcpframe._kernels.Kernels`.
The strategies and reference models here are shared with the comparisons.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import itertools
import operator
import typing
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tcpframe import ChecksumFrame, FrameError, LengthPrefix
from tcpframe._kernels import Kernels
from tcpframe.framing import CHECKSUM_SIZES
from tcpframe.receive_sizes import MAX_RECEIVE_SIZE, MIN_RECEIVE_SIZE

# --- Streams, chunkings and separators ----------------------------------------------------

SEPARATORS = [b"\n", b"\r\n", b"XYZZY", b"Z", b"ZY", b"ZZ"]
# Streams are made of separators, pieces of them, non-UTF-8 bytes and
# filler, so that matches, near misses and separators split across chunks
# all turn up often.
TOKENS = [b"a", b"bc", b"\r", b"\n", b"\r\n", b"X", b"XYZ", b"ZY", b"XYZZY", b"Z", "é".encode(), b"\xff", b"\xc3"]


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    """Split ``stream`` at the offsets ``cuts`` (taken modulo its length + 1)."""
    edges = sorted({cut % (len(stream) + 1) for cut in cuts} | {0, len(stream)})
    return [stream[start:stop] for start, stop in itertools.pairwise(edges)]


def chunkings(stream: bytes, data: st.DataObject) -> dict[str, list[bytes]]:
    """The ways a stream may arrive: a byte at a time, at random cuts, whole."""
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(stream))), label="cuts")
    return {
        "one byte": [stream[i : i + 1] for i in range(len(stream))],
        "random": chunked(stream, cuts),
        "whole": [stream],
    }


def deliver(buffer: typing.Any, chunk: bytes, through_get_buffer: bool) -> None:
    """Put ``chunk`` into ``buffer`` as a transport does, or with ``feed``."""
    if through_get_buffer:
        view = buffer.get_buffer(len(chunk))
        view[: len(chunk)] = chunk
        view.release()
        buffer.buffer_updated(len(chunk))
    else:
        buffer.feed(chunk)


def receive(buffer: typing.Any, nbytes: int) -> int:
    """Receive ``nbytes`` zero bytes as a transport does; return the offer."""
    with buffer.get_buffer() as view:
        offered = len(view)
        view[:nbytes] = bytes(nbytes)
    buffer.buffer_updated(nbytes)
    return offered


def split_at(stream: bytes, separator: bytes) -> list[bytes]:
    """Reference framing: the frames through each separator, then the rest."""
    frames = []
    start = 0
    while (index := stream.find(separator, start)) >= 0:
        frames.append(stream[start : index + len(separator)])
        start = index + len(separator)
    return frames + [stream[start:]]


# --- The receive buffer's reference model ---------------------------------------------------


class ReferenceBuffer:
    """What a receive buffer must do, spelled out over a `bytes` object."""

    def __init__(self) -> None:
        self.data = b""

    def consume(self, n: int) -> bytes:
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk

    @staticmethod
    def check_separator(separator: object) -> bytes:
        if not isinstance(separator, (bytes, bytearray, memoryview)):
            raise TypeError("separator must be bytes")
        if not separator:
            raise ValueError("empty separator")
        return bytes(separator)

    def locate(self, separator: object, limit: int) -> int | None:
        """The separator's offset, None to wait, or LimitOverrunError (as
        `asyncio.StreamReader.readuntil`)."""
        if limit < 0:
            raise ValueError("negative limit")
        separator = self.check_separator(separator)
        index = self.data.find(separator)
        if index < 0:
            offset = len(self.data) + 1 - len(separator)
            if offset > limit:
                raise asyncio.LimitOverrunError("not found", offset)
            return None
        if index > limit:
            raise asyncio.LimitOverrunError("found beyond the limit", index)
        return index

    def take(self, n: int) -> bytes:
        return self.consume(len(self.data) if n < 0 else n)

    def take_exactly(self, n: int) -> bytes | None:
        if n < 0:
            raise ValueError("negative size")
        return self.consume(n) if len(self.data) >= n else None

    def take_until(self, separator: object, limit: int) -> bytes | None:
        index = self.locate(separator, limit)
        return None if index is None else self.consume(index + len(bytes(separator)))

    def separator_arrived(self, separator: object, limit: int) -> bool:
        try:
            return self.locate(separator, limit) is not None
        except asyncio.LimitOverrunError:
            return True

    def take_line(self, separator: object, limit: int, encoding: str) -> str | None:
        index = self.locate(separator, limit)
        if index is None:
            return None
        return self.consume(index + len(bytes(separator)))[:index].decode(encoding)

    def copy_into(self, size: int) -> tuple[bool, bytes]:
        if len(self.data) < size:
            return False, b"." * size
        return True, self.consume(size)

    def peek(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("negative size")
        return self.data[:n]

    def skip(self, n: int) -> int:
        if n < 0:
            raise ValueError("negative size")
        return len(self.consume(n))

    def find(self, separator: object) -> int:
        return self.data.find(self.check_separator(separator))


def model_outcome(call: typing.Callable[[], object]) -> tuple:
    """What ``call`` returned or raised, as far as the model can tell."""
    try:
        return ("result", call())
    except asyncio.LimitOverrunError as error:
        return ("LimitOverrunError", error.consumed)
    except UnicodeDecodeError as error:
        return ("UnicodeDecodeError", error.object)
    except (ValueError, TypeError) as error:
        return (type(error).__name__,)


payloads = st.one_of(st.lists(st.sampled_from(TOKENS), max_size=10).map(b"".join), st.binary(max_size=50))
machine_separators = st.one_of(
    st.sampled_from([b"\n", b"\r\n", b"XYZZY", b"ZZ", b"Z"]), st.binary(min_size=1, max_size=3)
)
bad_separators = st.sampled_from([b"", bytearray(), "\n", None, 10])
machine_sizes = st.integers(min_value=-3, max_value=70)
machine_limits = st.integers(min_value=0, max_value=70)


class ReceiveBufferMachine(RuleBasedStateMachine):
    """Random feeds and requests on one receive buffer, each checked
    against `ReferenceBuffer`."""

    implementation: typing.Any = None

    def __init__(self) -> None:
        super().__init__()
        self.model = ReferenceBuffer()
        self.buffer: typing.Any = None
        # The receive size the memory rule (tcpframe.receive_sizes) gives.
        self.receive_size = self.min_receive_size = self.max_receive_size = 1

    @initialize(min_receive_size=st.integers(min_value=1, max_value=40), growth=st.integers(min_value=0, max_value=80))
    def make_buffer(self, min_receive_size: int, growth: int) -> None:
        self.receive_size = self.min_receive_size = min_receive_size
        self.max_receive_size = min_receive_size + growth
        self.buffer = self.implementation.ReceiveBuffer(self.min_receive_size, self.max_receive_size)

    def check(self, call: typing.Callable[[typing.Any], object]) -> None:
        expected = model_outcome(lambda: call(self.model))
        actual = model_outcome(lambda: call(self.buffer))
        assert actual == expected

    @rule(data=payloads, kind=st.sampled_from([bytes, bytearray, memoryview]))
    def feed(self, data: bytes, kind: type) -> None:
        self.buffer.feed(kind(data))
        self.model.data += data

    @rule(data=payloads, sizehint=st.integers(min_value=-1, max_value=80), keep=st.integers(0, 50))
    def receive(self, data: bytes, sizehint: int, keep: int) -> None:
        """The transport's way in: write into get_buffer's view, commit
        (perhaps fewer bytes than written)."""
        view = self.buffer.get_buffer(sizehint)
        offered = len(view)
        assert offered == max(sizehint, self.receive_size)
        data = data[:offered]
        view[: len(data)] = data
        view.release()
        committed = min(keep, len(data))
        self.buffer.buffer_updated(committed)
        self.model.data += data[:committed]
        if committed == offered:
            self.receive_size = min(2 * self.receive_size, self.max_receive_size)
        elif 2 * committed <= offered:
            self.receive_size = max(self.receive_size // 2, self.min_receive_size)

    @rule(extra=st.integers(min_value=1, max_value=5))
    def commit_more_than_offered(self, extra: int) -> None:
        view = self.buffer.get_buffer(-1)
        size = len(view)
        view.release()
        for nbytes in (size + extra, -extra):
            with pytest.raises(ValueError):
                self.buffer.buffer_updated(nbytes)

    @rule(n=machine_sizes)
    def take(self, n: int) -> None:
        self.check(lambda b: b.take(n))

    @rule(n=machine_sizes)
    def take_exactly(self, n: int) -> None:
        self.check(lambda b: b.take_exactly(n))

    @rule(separator=machine_separators, limit=machine_limits)
    def take_until(self, separator: bytes, limit: int) -> None:
        self.check(lambda b: b.take_until(separator, limit))

    @rule(separator=machine_separators, limit=machine_limits, encoding=st.sampled_from(["utf-8", "latin-1", None]))
    def separated_takes(self, separator: bytes, limit: int, encoding: str | None) -> None:
        """`SeparatedTakes` with a fixed limit: take_line if an encoding
        is given, else take_until."""

        def take(b: typing.Any) -> object:
            if b is self.model:
                if encoding is None:
                    return self.model.take_until(separator, limit)
                return self.model.take_line(separator, limit, encoding)
            takes = self.implementation.SeparatedTakes(b, limit)
            assert takes.limit == limit
            return takes.take_until(separator) if encoding is None else takes.take_line(separator, encoding)

        self.check(take)

    @rule(separator=st.one_of(machine_separators, bad_separators), limit=machine_limits)
    def separator_arrived(self, separator: object, limit: int) -> None:
        self.check(lambda b: b.separator_arrived(separator, limit))

    @rule(separator=machine_separators, limit=machine_limits, encoding=st.sampled_from(["utf-8", "ascii", "latin-1"]))
    def take_line(self, separator: bytes, limit: int, encoding: str) -> None:
        self.check(lambda b: b.take_line(separator, limit, encoding))

    @rule(separator=machine_separators, delta=st.integers(-1, 1))
    def take_until_at_the_limit(self, separator: bytes, delta: int) -> None:
        """A limit right next to the offset that decides between a frame,
        None and LimitOverrunError, where an off-by-one would show."""
        index = self.model.data.find(separator)
        offset = index if index >= 0 else len(self.model.data) + 1 - len(separator)
        self.check(lambda b: b.take_until(separator, max(0, offset + delta)))

    @rule(separator=st.one_of(machine_separators, bad_separators), limit=st.integers(-2, 70))
    def take_until_with_bad_arguments(self, separator: object, limit: int) -> None:
        if limit < 0 and not isinstance(separator, bytes):
            limit = 0  # one bad argument at a time: the order of checks is not specified
        self.check(lambda b: b.take_until(separator, limit))

    @rule(size=st.integers(min_value=0, max_value=40))
    def copy_into(self, size: int) -> None:
        def copy(b: typing.Any) -> tuple[bool, bytes]:
            if b is self.model:
                return self.model.copy_into(size)
            target = bytearray(b"." * size)
            return b.copy_into(target), bytes(target)

        self.check(copy)

    @rule(n=machine_sizes)
    def peek(self, n: int) -> None:
        self.check(lambda b: b.peek(n))

    @rule(n=machine_sizes)
    def skip(self, n: int) -> None:
        self.check(lambda b: b.skip(n))

    @rule(separator=st.one_of(machine_separators, bad_separators))
    def find(self, separator: object) -> None:
        self.check(lambda b: b.find(separator))

    @rule()
    def clear(self) -> None:
        self.buffer.clear()
        self.model.data = b""

    @invariant()
    def holds_exactly_the_unread_bytes(self) -> None:
        if self.buffer is not None:
            assert len(self.buffer) == len(self.model.data)
            assert self.buffer.peek(len(self.model.data) + 1) == self.model.data

    @invariant()
    def receives_are_sized_by_the_memory_rule(self) -> None:
        if self.buffer is not None:
            assert self.buffer.receive_size == self.receive_size
            assert self.buffer.allocated >= len(self.buffer)


MACHINE_SETTINGS = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- Checksum references ----------------------------------------------------------------------

CHECK_INPUT = b"123456789"
CHECK_VALUES = {
    "sum8": 0xDD,
    "xor8": 0x31,
    "crc16_modbus": 0x4B37,
    "crc16_ccitt": 0x29B1,
    "crc16_xmodem": 0x31C3,
    "crc32": 0xCBF43926,
}
CHECKSUMS = list(CHECK_VALUES)
CRCS = [name for name in CHECKSUMS if name.startswith("crc")]
CRC16S = [name for name in CRCS if name.startswith("crc16")]


def reference_crc(data: bytes, width: int, polynomial: int, init: int, reflected: bool, xorout: int) -> int:
    """Compute a CRC one bit at a time, straight from its definition."""
    top = 1 << (width - 1)
    mask = (1 << width) - 1
    if reflected:
        polynomial = int(f"{polynomial:0{width}b}"[::-1], 2)
    crc = init
    for byte in data:
        if reflected:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ (polynomial if crc & 1 else 0)
        else:
            crc ^= byte << (width - 8)
            for _ in range(8):
                crc = ((crc << 1) ^ (polynomial if crc & top else 0)) & mask
    return crc ^ xorout


# The CRC-16s by name: polynomial, reflected; each starts from a value.
CRC16_PARAMETERS = {"crc16_modbus": (0x8005, True), "crc16_ccitt": (0x1021, False), "crc16_xmodem": (0x1021, False)}

REFERENCES = {
    "sum8": lambda data: sum(data) % 256,
    "xor8": lambda data: functools.reduce(operator.xor, data, 0),
    "crc16_modbus": lambda data: reference_crc(data, 16, 0x8005, 0xFFFF, True, 0),
    "crc16_ccitt": lambda data: reference_crc(data, 16, 0x1021, 0xFFFF, False, 0),
    "crc16_xmodem": lambda data: reference_crc(data, 16, 0x1021, 0, False, 0),
    "crc32": lambda data: reference_crc(data, 32, 0x04C11DB7, 0xFFFFFFFF, True, 0xFFFFFFFF),
}

# --- Frames -------------------------------------------------------------------------------------

length_prefixes = st.builds(
    LengthPrefix,
    size=st.sampled_from([1, 2, 4, 8]),
    byteorder=st.sampled_from(["big", "little"]),
    includes_prefix=st.booleans(),
    max_frame_size=st.integers(min_value=0, max_value=40),
)
framings = st.builds(
    ChecksumFrame,
    checksum=st.sampled_from(CHECKSUMS),
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


class Reading(ctypes.Structure):
    _fields_ = [("sequence", ctypes.c_uint32), ("value", ctypes.c_double)]


def struct_items(pieces: list[bytes]) -> list[object]:
    """The pieces as the kinds of buffer a struct kernel takes, in turn."""
    kinds = [
        bytes,
        bytearray,
        memoryview,
        lambda piece: np.frombuffer(piece, dtype=np.uint8).copy(),
        lambda piece: (ctypes.c_char * len(piece)).from_buffer_copy(piece),
    ]
    return [kinds[i % len(kinds)](piece) for i, piece in enumerate(pieces)]


# --- The spec ---------------------------------------------------------------------------------


def spec_settings(**changes: typing.Any) -> settings:
    """Hypothesis settings for a property of the spec.

    Every property runs once per implementation, from a different class,
    which Hypothesis's ``differing_executors`` health check would refuse.
    Here that is the point: an example that failed on one implementation
    is replayed on the other too.
    """
    return settings(deadline=None, suppress_health_check=[HealthCheck.differing_executors], **changes)


class KernelSpec:
    """What every implementation of the kernels must do; a subclass sets
    `kernels` (and pytest collects it as ``Test...``)."""

    kernels: Kernels

    # receive_buffer

    @spec_settings(max_examples=200)
    @given(
        stream=st.lists(st.sampled_from(TOKENS), max_size=100).map(b"".join),
        separator=st.sampled_from(SEPARATORS),
        data=st.data(),
    )
    def test_lines_do_not_depend_on_chunking(self, stream: bytes, separator: bytes, data: st.DataObject) -> None:
        expected = split_at(stream, separator)
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            lines = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while (line := buffer.take_until(separator, len(stream) + 1)) is not None:
                    lines.append(line)
            assert lines + [buffer.take()] == expected, label

    @spec_settings(max_examples=200)
    @given(stream=st.binary(max_size=300), record_size=st.integers(min_value=1, max_value=40), data=st.data())
    def test_records_do_not_depend_on_chunking(self, stream: bytes, record_size: int, data: st.DataObject) -> None:
        whole = len(stream) - len(stream) % record_size
        expected = [stream[i : i + record_size] for i in range(0, whole, record_size)] + [stream[whole:]]
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            records: list[bytes] = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while True:  # take_exactly and copy_into in turn
                    if len(records) % 2:
                        record = bytearray(record_size)
                        if not buffer.copy_into(record):
                            break
                        records.append(bytes(record))
                    elif (taken := buffer.take_exactly(record_size)) is not None:
                        records.append(taken)
                    else:
                        break
            assert records + [buffer.take()] == expected, label

    # receive_buffer: the memory rule of tcpframe.receive_sizes

    def test_a_new_buffer_holds_no_memory(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        assert buffer.allocated == 0
        assert buffer.receive_size == MIN_RECEIVE_SIZE

    @pytest.mark.parametrize("sizes", [(0, 8), (-1, 8), (8, 7)])
    def test_receive_sizes_must_be_positive_and_ordered(self, sizes: tuple[int, int]) -> None:
        with pytest.raises(ValueError, match="min_receive_size"):
            self.kernels.receive_buffer.ReceiveBuffer(*sizes)

    def test_a_lightly_used_buffer_holds_kilobytes_and_nothing_once_read(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        assert receive(buffer, 300) == MIN_RECEIVE_SIZE
        assert buffer.allocated <= 2 * MIN_RECEIVE_SIZE
        buffer.get_buffer().release()  # the receive that finds the peer's EOF
        assert buffer.allocated <= 2 * (MIN_RECEIVE_SIZE + 300)
        assert buffer.take() == bytes(300)
        assert buffer.allocated == 0
        assert buffer.receive_size == MIN_RECEIVE_SIZE

    def test_receives_double_while_they_fill_their_offer_up_to_the_maximum(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        offers = []
        for _ in range(8):
            offers.append(receive(buffer, buffer.receive_size))
            buffer.clear()
            assert 0 < buffer.allocated <= 2 * MAX_RECEIVE_SIZE  # kept while data flows fast
        assert offers == [MIN_RECEIVE_SIZE << i for i in range(7)] + [MAX_RECEIVE_SIZE]

    def test_receive_size_halves_after_a_receive_of_at_most_half_its_offer(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16, 64)
        for nbytes, size in [(16, 32), (32, 64), (64, 64), (33, 64), (32, 32), (1, 16), (1, 16)]:
            receive(buffer, nbytes)
            assert buffer.receive_size == size

    @pytest.mark.parametrize("unread", [0, 1, 16])
    def test_memory_is_given_back_when_receives_stop_filling(self, unread: int) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16, 64)
        for _ in range(4):
            receive(buffer, buffer.receive_size)
        receive(buffer, 10)  # the socket had no more
        assert buffer.receive_size == 32
        buffer.skip(len(buffer) - unread)
        assert buffer.allocated <= (2 * 16 if unread else 0)
        assert buffer.take() == bytes(unread)
        assert buffer.allocated == 0

    @pytest.mark.parametrize("through_get_buffer", [True, False])
    def test_memory_is_given_back_after_one_large_message(self, through_get_buffer: bool) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer()
        message = 4 * MAX_RECEIVE_SIZE + 5
        if through_get_buffer:
            while len(buffer) < message:
                receive(buffer, buffer.receive_size)  # each fills its offer
        else:
            buffer.feed(bytes(message))
        assert buffer.allocated >= message
        assert buffer.take_exactly(len(buffer) - 5) is not None
        assert buffer.allocated <= MIN_RECEIVE_SIZE
        buffer.skip(5)
        assert buffer.allocated == 0

    def test_a_view_kept_past_a_release_does_not_write_into_the_buffer(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        view = buffer.get_buffer()
        view[:3] = b"abc"
        buffer.buffer_updated(3)
        assert buffer.take() == b"abc"  # releases: the receive did not fill its offer
        view[:3] = b"xyz"
        view.release()
        assert len(buffer) == 0
        buffer.feed(b"def")
        assert buffer.take() == b"def"

    def test_scan_restarts_when_the_separator_changes(self) -> None:
        # Not random: a stale scan offset from another separator would skip a match.
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        buffer.feed(b"ZZZZZZY\r\n")
        assert buffer.find(b"\r\n") == 7
        assert buffer.find(b"ZY") == 5
        assert buffer.find(b"Z") == 0
        assert buffer.find(bytearray(b"Z")) == 0

    def test_receive_buffer_follows_the_reference_model(self) -> None:
        machine = type("ReceiveBufferMachine", (ReceiveBufferMachine,), {"implementation": self.kernels.receive_buffer})
        run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)

    # checksums

    @pytest.mark.parametrize("name", CHECKSUMS)
    def test_checksum_check_value(self, name: str) -> None:
        result = getattr(self.kernels.checksums, name)(CHECK_INPUT)
        assert type(result) is int
        assert result == CHECK_VALUES[name] == REFERENCES[name](CHECK_INPUT)

    @pytest.mark.parametrize("name", CHECKSUMS)
    def test_checksum_of_nothing_is_the_initial_value(self, name: str) -> None:
        assert getattr(self.kernels.checksums, name)(b"") == REFERENCES[name](b"")

    def test_checksums_of_an_empty_strided_view_are_the_start_value(self) -> None:
        """Found by the checksum fuzz target: ``memoryview(b"")[::2]`` has
        strides, but no bytes; it is empty, not an error (the twin raised
        ValueError, the compiled crc32 BufferError)."""
        checksums = self.kernels.checksums
        empty = memoryview(b"")[::2]
        assert checksums.sum8(empty) == 0
        assert checksums.xor8(empty) == 0
        assert checksums.crc16_modbus(empty) == 0xFFFF
        assert checksums.crc16_ccitt(empty, 0x1234) == 0x1234
        assert checksums.crc16_xmodem(empty) == 0
        assert checksums.crc32(empty, 0xDEADBEEF) == 0xDEADBEEF

    def test_sum8_discards_carries(self) -> None:
        assert self.kernels.checksums.sum8(b"\xff\x01") == 0
        assert self.kernels.checksums.sum8(b"\xff" * 1000) == (255 * 1000) % 256

    @pytest.mark.parametrize("name", CHECKSUMS)
    @spec_settings()
    @given(data=st.binary(max_size=300))
    def test_checksum_agrees_with_its_definition(self, name: str, data: bytes) -> None:
        assert getattr(self.kernels.checksums, name)(data) == REFERENCES[name](data)

    @pytest.mark.parametrize("name", CHECKSUMS)
    @spec_settings()
    @given(data=st.binary(min_size=8, max_size=100), offset=st.integers(1, 7))
    def test_checksum_of_an_unaligned_view(self, name: str, data: bytes, offset: int) -> None:
        view = memoryview(data)[offset:]
        assert getattr(self.kernels.checksums, name)(view) == REFERENCES[name](data[offset:])

    @pytest.mark.parametrize("name", CRCS)
    @spec_settings()
    @given(first=st.binary(max_size=100), second=st.binary(max_size=100))
    def test_running_crc_equals_crc_of_the_whole(self, name: str, first: bytes, second: bytes) -> None:
        crc = getattr(self.kernels.checksums, name)
        assert crc(second, crc(first)) == crc(first + second)

    @pytest.mark.parametrize("name", CRC16S)
    @spec_settings()
    @given(data=st.binary(max_size=100), value=st.integers(0, 0xFFFF))
    def test_crc16_from_any_value_agrees_with_its_definition(self, name: str, data: bytes, value: int) -> None:
        polynomial, reflected = CRC16_PARAMETERS[name]
        expected = reference_crc(data, 16, polynomial, value, reflected, 0)
        assert getattr(self.kernels.checksums, name)(data, value) == expected

    @spec_settings()
    @given(data=st.binary(max_size=100), value=st.integers(-(2**40), 2**40))
    def test_crc32_value_is_taken_modulo_2_to_the_32_like_zlib(self, data: bytes, value: int) -> None:
        assert self.kernels.checksums.crc32(data, value) == zlib.crc32(data, value)

    @pytest.mark.parametrize("name", ["sum8", "xor8"])
    def test_large_input_agrees_with_its_definition(self, name: str) -> None:
        # Past 64 KiB the compiled kernels run without the GIL.
        data = np.random.default_rng(seed=2).integers(0, 256, 300_001, np.uint8)
        assert getattr(self.kernels.checksums, name)(data) == REFERENCES[name](data.tobytes())

    # structs

    @spec_settings()
    @given(pieces=st.lists(st.binary(max_size=40), max_size=8))
    def test_join_structs_concatenates_any_buffers(self, pieces: list[bytes]) -> None:
        joined = self.kernels.structs.join_structs(struct_items(pieces))
        assert type(joined) is bytes
        assert joined == b"".join(pieces)

    @spec_settings()
    @given(head=st.binary(max_size=20), pieces=st.lists(st.binary(max_size=40), max_size=8))
    def test_append_structs_appends_any_buffers(self, head: bytes, pieces: list[bytes]) -> None:
        dest = bytearray(head)
        self.kernels.structs.append_structs(dest, struct_items(pieces))
        assert dest == head + b"".join(pieces)

    @spec_settings()
    @given(
        pieces=st.lists(st.binary(max_size=20), max_size=5),
        bad=st.sampled_from(["text", 7, None, memoryview(bytes(8))[::2]]),
        position=st.integers(0, 5),
    )
    def test_a_bad_struct_leaves_dest_unchanged(self, pieces: list[bytes], bad: object, position: int) -> None:
        items = struct_items(pieces)
        items.insert(position, bad)
        dest = bytearray(b"head")
        with pytest.raises((TypeError, ValueError)):
            self.kernels.structs.append_structs(dest, items)
        assert dest == b"head"
        with pytest.raises((TypeError, ValueError)):
            self.kernels.structs.join_structs(items)

    def test_an_empty_buffer_with_strides_is_empty_not_an_error(self) -> None:
        """``memoryview(b"")[::2]`` has strides but no bytes: C-contiguous,
        as ``PyBuffer_IsContiguous`` says (the twins' memoryview checks
        said otherwise, and raised ValueError)."""
        structs = self.kernels.structs
        empty = memoryview(b"")[::2]
        assert structs.join_structs([b"a", empty, b"b"]) == b"ab"
        dest = bytearray(b"x")
        structs.append_structs(dest, [empty, b"y"])
        assert dest == b"xy"
        writable = memoryview(bytearray())[::2]
        assert structs.writable_nbytes(writable) == 0
        assert structs.writable_view(writable).nbytes == 0
        buffer = self.kernels.receive_buffer.ReceiveBuffer(8)
        buffer.feed(b"abc")
        assert buffer.copy_into(writable) is True
        assert buffer.take() == b"abc"

    @spec_settings()
    @given(shape=st.lists(st.integers(0, 5), min_size=1, max_size=3), dtype=st.sampled_from(["u1", "<f8", ">i4"]))
    def test_writable_nbytes_is_the_size_of_a_writable_buffer(self, shape: list[int], dtype: str) -> None:
        array = np.zeros(shape, dtype=dtype)
        assert self.kernels.structs.writable_nbytes(array) == array.nbytes
        assert self.kernels.structs.writable_nbytes(Reading()) == ctypes.sizeof(Reading)

    # frames

    @spec_settings(max_examples=150)
    @given(
        prefix=length_prefixes.map(lambda p: LengthPrefix(p.size, p.byteorder, p.includes_prefix, 300)),
        payloads=st.lists(st.binary(max_size=60), max_size=10),
        data=st.data(),
    )
    def test_length_prefixed_frames_do_not_depend_on_chunking(
        self, prefix: LengthPrefix, payloads: list[bytes], data: st.DataObject
    ) -> None:
        frames = self.kernels.frames
        stream = b"".join(prefix.encode(len(p)) + p for p in payloads)
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            received = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while len(buffer) >= frames.length_prefixed_nbytes(buffer, prefix):
                    received.append(frames.take_length_prefixed(buffer, prefix))
                assert frames.take_length_prefixed(buffer, prefix) is None
            assert received == payloads, label
            assert len(buffer) == 0

    @spec_settings(max_examples=150)
    @given(framing=framings, bodies=st.lists(st.binary(max_size=30), max_size=8), data=st.data())
    def test_checksummed_frames_do_not_depend_on_chunking(
        self, framing: ChecksumFrame, bodies: list[bytes], data: st.DataObject
    ) -> None:
        encoded = [(body, encode_safely(framing, body)) for body in bodies]
        encoded = [(body, frame) for body, frame in encoded if frame is not None]
        stream = b"".join(frame for _, frame in encoded)
        for label, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            received = []
            for index, chunk in enumerate(chunks):
                deliver(buffer, chunk, through_get_buffer=index % 2 == 0)
                while (body := self.kernels.frames.take_checksummed(buffer, framing, 1000)) is not None:
                    received.append(body)
            assert received == [body for body, _ in encoded], label
            assert len(buffer) == 0

    @spec_settings()
    @given(framing=framings, body=st.binary(max_size=30))
    def test_encode_checksummed_writes_the_frame_that_take_checksummed_reads(
        self, framing: ChecksumFrame, body: bytes
    ) -> None:
        covered = framing.start + body if framing.covers_start else body
        value = getattr(self.kernels.checksums, framing.checksum)(covered)
        size = CHECKSUM_SIZES[framing.checksum]
        if framing.encoding == "hex":
            field = f"{value:0{2 * size}{'X' if framing.uppercase else 'x'}}".encode()
        else:
            field = value.to_bytes(size, framing.byteorder)
        frame = framing.start + body + framing.separator + field + framing.terminator
        if frame.find(framing.terminator) != len(frame) - len(framing.terminator):
            with pytest.raises(FrameError, match="holds its terminator"):
                self.kernels.frames.encode_checksummed(framing, bytearray(body))
            return
        assert self.kernels.frames.encode_checksummed(framing, bytearray(body)) == frame
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        buffer.feed(frame)
        assert self.kernels.frames.take_checksummed(buffer, framing, 1000) == body

    @spec_settings()
    @given(prefix=length_prefixes, declared=st.integers(0, 60))
    def test_a_bad_length_prefix_raises_and_consumes_nothing(self, prefix: LengthPrefix, declared: int) -> None:
        payload = declared - prefix.size if prefix.includes_prefix else declared
        assume(not 0 <= payload <= prefix.max_frame_size)  # good prefixes: the chunking tests read those
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        buffer.feed(declared.to_bytes(prefix.size, prefix.byteorder) + b"rest")
        with pytest.raises(FrameError, match="length prefix declares"):
            self.kernels.frames.take_length_prefixed(buffer, prefix)
        with pytest.raises(FrameError, match="length prefix declares"):
            self.kernels.frames.length_prefixed_nbytes(buffer, prefix)
        assert len(buffer) == prefix.size + 4

    @spec_settings()
    @given(framing=framings, body=st.binary(max_size=20), flip=st.integers(0, 7))
    def test_a_corrupt_checksummed_frame_raises_and_the_next_one_reads(
        self, framing: ChecksumFrame, body: bytes, flip: int
    ) -> None:
        frame = encode_safely(framing, body)
        assume(frame is not None)
        corrupt = bytearray(frame)
        position = len(framing.start)  # the body's first byte, or the separator or checksum
        corrupt[position] ^= 1 << flip
        # A flip that makes an early terminator makes another frame boundary, not a corrupt frame.
        assume(framing.terminator not in corrupt[: -len(framing.terminator)])
        width = CHECKSUM_SIZES[framing.checksum] * (2 if framing.encoding == "hex" else 1)
        in_checksum = position >= len(frame) - len(framing.terminator) - width
        # A hex digit whose case changed spells the same checksum.
        assume(not (in_checksum and framing.encoding == "hex" and corrupt.lower() == frame.lower()))
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        buffer.feed(bytes(corrupt) + frame)
        with pytest.raises(FrameError) as raised:  # a ChecksumMismatchError is a FrameError
            self.kernels.frames.take_checksummed(buffer, framing, 1000)
        assert raised.value.frame == bytes(corrupt)
        assert self.kernels.frames.take_checksummed(buffer, framing, 1000) == body
        assert len(buffer) == 0

    # push

    def push_all(self, pusher: typing.Any, buffer: typing.Any, chunks: list[bytes]) -> None:
        """Deliver ``chunks`` one at a time, walking after each, as a reader does."""
        for chunk in chunks:
            buffer.feed(chunk)
            assert pusher.run() is None

    @spec_settings(max_examples=100)
    @given(count=st.integers(min_value=0, max_value=20), tail=st.integers(min_value=0, max_value=15), data=st.data())
    def test_pushed_structs_and_records_do_not_depend_on_chunking(
        self, count: int, tail: int, data: st.DataObject
    ) -> None:
        records = [Reading(i, i / 4) for i in range(count)]
        stream = b"".join(map(bytes, records)) + bytes(range(tail))
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            target = Reading()
            seen: list[tuple[int, float]] = []
            pusher = self.kernels.push.StructPusher(
                buffer, target, target, lambda s, seen=seen: seen.append((s.sequence, s.value))
            )
            self.push_all(pusher, buffer, chunks)
            assert seen == [(r.sequence, r.value) for r in records], name
            assert pusher.delivered == count and pusher.size == ctypes.sizeof(Reading)
            assert buffer.peek(100) == bytes(range(tail))

            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            batches: list[list[int]] = []
            dtype = np.dtype([("sequence", "<u4"), ("value", "<f8")], align=True)
            pusher = self.kernels.push.RecordPusher(
                buffer,
                dtype.itemsize,
                lambda data, n, dtype=dtype: np.frombuffer(data, dtype, n),
                lambda batch, batches=batches: batches.append(batch["sequence"].tolist()),
            )
            self.push_all(pusher, buffer, chunks)
            assert all(batches) and [n for batch in batches for n in batch] == list(range(count)), name
            assert pusher.delivered == count
            assert buffer.peek(100) == bytes(range(tail))

    @spec_settings(max_examples=100)
    @given(
        stream=st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join),
        separator=st.sampled_from(SEPARATORS),
        data=st.data(),
    )
    def test_pushed_lines_do_not_depend_on_chunking(self, stream: bytes, separator: bytes, data: st.DataObject) -> None:
        *lines, rest = stream.split(separator)
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            seen: list[bytes] = []
            pusher = self.kernels.push.LinePusher(buffer, separator, 1000, None, seen.append)
            self.push_all(pusher, buffer, chunks)
            assert seen == lines, name
            assert buffer.peek(1000) == rest

    def test_pushed_lines_are_decoded_and_a_bad_one_raises_consumed(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        seen: list[str] = []
        pusher = self.kernels.push.LinePusher(buffer, b"\r\n", 1000, "utf-8", seen.append)
        buffer.feed("é\r\n\xff\r\nb\r\n".encode("latin-1").replace(b"\xe9", "é".encode()))
        with pytest.raises(UnicodeDecodeError):
            pusher.run()
        assert seen == ["é"]
        assert pusher.run() is None
        assert seen == ["é", "b"] and pusher.delivered == 2

    def test_a_line_beyond_the_limit_raises_and_consumes_nothing(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        pusher = self.kernels.push.LinePusher(buffer, b"\n", 4, "utf-8", print)
        buffer.feed(b"abcdefgh")
        with pytest.raises(asyncio.LimitOverrunError):
            pusher.run()
        assert len(buffer) == 8

    @spec_settings(max_examples=100)
    @given(
        prefix=length_prefixes,
        payloads=st.lists(st.binary(max_size=40), max_size=8),
        data=st.data(),
    )
    def test_pushed_frames_do_not_depend_on_chunking(
        self, prefix: LengthPrefix, payloads: list[bytes], data: st.DataObject
    ) -> None:
        assume(all(len(p) <= prefix.max_frame_size for p in payloads))
        try:
            stream = b"".join(prefix.encode(len(p)) + p for p in payloads)
        except ValueError:
            assume(False)
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            seen: list[bytes] = []
            pusher = self.kernels.push.FramePusher(buffer, prefix, seen.append)
            self.push_all(pusher, buffer, chunks)
            assert seen == payloads, name
            assert len(buffer) == 0

    @spec_settings(max_examples=100)
    @given(framing=framings, bodies=st.lists(st.binary(max_size=20), max_size=6), data=st.data())
    def test_pushed_checksummed_frames_do_not_depend_on_chunking(
        self, framing: ChecksumFrame, bodies: list[bytes], data: st.DataObject
    ) -> None:
        frames = [encode_safely(framing, body) for body in bodies]
        assume(all(frame is not None for frame in frames))
        stream = b"".join(typing.cast(list[bytes], frames))
        for name, chunks in chunkings(stream, data).items():
            buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
            seen: list[bytes] = []
            pusher = self.kernels.push.ChecksummedPusher(buffer, framing, 1000, seen.append)
            self.push_all(pusher, buffer, chunks)
            assert seen == bodies, name

    @pytest.mark.parametrize("kind", ["structs", "lines", "records"])
    def test_a_walk_stops_at_a_result_a_cleared_active_and_an_exception(self, kind: str) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        seen: list[int] = []
        actions: dict[int, typing.Any] = {}

        def callback(message: typing.Any) -> typing.Any:
            number = int(message[0]) if kind == "records" else message.value if kind == "structs" else int(message)
            seen.append(number)
            action = actions.get(number)
            if isinstance(action, Exception):
                raise action
            if action == "stop":
                pusher.active = False
                return None
            return action

        if kind == "structs":
            target = ctypes.c_uint32()
            pusher = self.kernels.push.StructPusher(buffer, target, target, callback)
            encode: typing.Callable[[int], bytes] = lambda n: bytes(ctypes.c_uint32(n))  # noqa: E731
        elif kind == "lines":
            pusher = self.kernels.push.LinePusher(buffer, b"\n", 100, "ascii", callback)
            encode = lambda n: b"%d\n" % n  # noqa: E731
        else:
            pusher = self.kernels.push.RecordPusher(buffer, 4, lambda d, n: np.frombuffer(d, "<u4", n), callback)
            encode = lambda n: bytes(ctypes.c_uint32(n))  # noqa: E731
        token = object()
        actions.update({1: token, 3: "stop", 5: ValueError("five")})
        buffer.feed(b"".join(encode(n) for n in range(8)))
        if kind == "records":
            # One call per walk, with every record: its result stops nothing more.
            actions[0] = token
            assert pusher.run() is token
            assert seen == [0] and pusher.delivered == 8 and len(buffer) == 0
            return
        assert pusher.run() is token
        assert seen == [0, 1]
        assert pusher.run() is None  # stopped after 3
        assert seen == [0, 1, 2, 3] and not pusher.active
        assert pusher.run() is None and seen == [0, 1, 2, 3]
        pusher.active = True
        with pytest.raises(ValueError, match="five"):
            pusher.run()
        assert seen == [0, 1, 2, 3, 4, 5] and pusher.delivered == 6
        assert pusher.run() is None
        assert seen == list(range(8)) and len(buffer) == 0

    def test_a_struct_pusher_refuses_a_target_it_cannot_fill(self) -> None:
        buffer = self.kernels.receive_buffer.ReceiveBuffer(16)
        with pytest.raises(TypeError):
            self.kernels.push.StructPusher(buffer, b"abcd", None, print)
        with pytest.raises(ValueError):
            self.kernels.push.StructPusher(buffer, bytearray(), None, print)
        with pytest.raises(ValueError):
            self.kernels.push.RecordPusher(buffer, 0, print, print)
