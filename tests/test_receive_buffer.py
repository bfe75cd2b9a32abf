"""Tests for the receive buffer kernel, through whichever implementation is active.

``tcpframe._kernels.receive_buffer`` is the compiled module, or its
pure-Python twin under ``TCPFRAME_PURE_PYTHON=1``; the suite runs both
ways. Behaviour only the compiled buffer has is tested in
``test_kernels_compiled.py``.
"""

import asyncio
import ctypes

import numpy as np
import pytest

from tcpframe._kernels import receive_buffer, structs

ReceiveBuffer = receive_buffer.ReceiveBuffer

SEPARATORS = [b"\n", b"\r\n", b"XYZZY"]


class Header(ctypes.Structure):
    _pack_ = 1
    _fields_ = [
        ("sync", ctypes.c_uint8),
        ("sequence", ctypes.c_uint32),
        ("value", ctypes.c_double),
    ]


def filled(*chunks: bytes, min_receive_size: int = 16) -> ReceiveBuffer:
    buffer = ReceiveBuffer(min_receive_size)
    for chunk in chunks:
        buffer.feed(chunk)
    return buffer


def receive(buffer: ReceiveBuffer, data: bytes, sizehint: int = -1) -> None:
    """Deliver ``data`` as a transport does, through get_buffer/buffer_updated."""
    view = buffer.get_buffer(sizehint)
    assert len(view) >= len(data)
    view[: len(data)] = data
    view.release()
    buffer.buffer_updated(len(data))


# construction, feed, len, clear


def test_new_buffer_is_empty() -> None:
    buffer = ReceiveBuffer()
    assert len(buffer) == 0
    assert buffer.take() == b""
    assert buffer.find(b"\n") == -1


@pytest.mark.parametrize("min_receive_size", [0, -1])
def test_min_receive_size_must_be_positive(min_receive_size: int) -> None:
    with pytest.raises(ValueError, match="min_receive_size must be positive"):
        ReceiveBuffer(min_receive_size)


def test_feed_appends_bytes_like_objects() -> None:
    header = Header(0xA5, 7, 1.5)
    buffer = filled(
        b"ab",
        bytearray(b"cd"),
        memoryview(b"xefx")[1:3],
        np.array([0x6867], dtype="<u2"),
        header,
    )
    assert len(buffer) == 8 + ctypes.sizeof(Header)
    assert buffer.take(8) == b"abcdefgh"
    assert buffer.take() == bytes(header)


def test_feed_copies_the_data() -> None:
    data = bytearray(b"abc")
    buffer = filled(data)
    data[0] = ord("z")
    assert buffer.take() == b"abc"


def test_feed_rejects_str() -> None:
    buffer = ReceiveBuffer()
    with pytest.raises(TypeError, match="data must be bytes-like, not str"):
        buffer.feed("text")
    assert len(buffer) == 0


@pytest.mark.parametrize("data", [12, None, np.arange(8, dtype=np.uint8)[::2]])
def test_feed_rejects_non_buffers_and_non_contiguous_buffers(data: object) -> None:
    buffer = ReceiveBuffer()
    with pytest.raises(TypeError):
        buffer.feed(data)
    assert len(buffer) == 0


def test_feed_of_nothing_changes_nothing() -> None:
    buffer = filled(b"ab", b"")
    assert len(buffer) == 2


def test_clear_discards_everything() -> None:
    buffer = filled(b"line\nrest")
    assert buffer.find(b"\n") == 4
    buffer.clear()
    assert len(buffer) == 0
    buffer.feed(b"ab\n")
    assert buffer.find(b"\n") == 2


# peek, skip, take, take_exactly


def test_peek_does_not_consume() -> None:
    buffer = filled(b"abcdef")
    assert buffer.peek(3) == b"abc"
    assert buffer.peek(100) == b"abcdef"
    assert buffer.peek(0) == b""
    assert len(buffer) == 6


def test_skip_discards_up_to_n_bytes() -> None:
    buffer = filled(b"abcdef")
    assert buffer.skip(2) == 2
    assert buffer.peek(2) == b"cd"
    assert buffer.skip(100) == 4
    assert buffer.skip(1) == 0
    assert len(buffer) == 0


@pytest.mark.parametrize("method", ["peek", "skip"])
def test_negative_sizes_are_rejected(method: str) -> None:
    buffer = filled(b"abc")
    with pytest.raises(ValueError, match="n must not be negative, not -1"):
        getattr(buffer, method)(-1)
    assert buffer.take() == b"abc"


def test_take_returns_up_to_n_bytes() -> None:
    buffer = filled(b"abc", b"def")
    assert buffer.take(2) == b"ab"
    assert buffer.take(0) == b""
    assert buffer.take(100) == b"cdef"
    assert buffer.take(5) == b""


@pytest.mark.parametrize("n", [-1, -100])
def test_take_negative_takes_everything(n: int) -> None:
    buffer = filled(b"abc", b"def")
    assert type(buffer.take(n)) is bytes
    assert len(buffer) == 0


def test_take_exactly_waits_for_enough_bytes() -> None:
    buffer = filled(b"abc")
    assert buffer.take_exactly(4) is None
    assert len(buffer) == 3
    buffer.feed(b"de")
    assert buffer.take_exactly(4) == b"abcd"
    assert buffer.take_exactly(0) == b""
    assert buffer.take_exactly(1) == b"e"
    assert buffer.take_exactly(1) is None


def test_take_exactly_rejects_negative_size() -> None:
    buffer = filled(b"abc")
    with pytest.raises(ValueError, match="readexactly size can not be less than zero"):
        buffer.take_exactly(-1)
    assert len(buffer) == 3


# find and take_until


@pytest.mark.parametrize("separator", SEPARATORS)
def test_find_returns_offset_of_first_separator(separator: bytes) -> None:
    buffer = filled(b"ab" + separator + b"cd" + separator)
    assert buffer.find(separator) == 2
    assert buffer.find(separator) == 2
    assert len(buffer) == 4 + 2 * len(separator)


@pytest.mark.parametrize("separator", SEPARATORS)
def test_find_returns_minus_one_without_separator(separator: bytes) -> None:
    buffer = filled(b"no separator here")
    assert buffer.find(separator) == -1


@pytest.mark.parametrize("separator", [bytearray(b"\r\n"), memoryview(b"\r\n")])
def test_find_accepts_bytearray_and_memoryview_separators(separator: object) -> None:
    buffer = filled(b"a\r\nb")
    assert buffer.find(separator) == 1
    assert buffer.take_until(separator, 10) == b"a\r\n"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_find_finds_separator_split_across_feeds(separator: bytes) -> None:
    data = b"0123456789" + separator + b"tail"
    for split in range(len(data) + 1):
        buffer = filled(min_receive_size=4)
        found = -1
        for chunk in (data[:split], data[split:]):
            buffer.feed(chunk)
            found = buffer.find(separator)
            if found >= 0:
                break
        assert found == 10, split


def test_find_resumes_after_a_partial_match() -> None:
    buffer = filled(b"aXYZZ")
    assert buffer.find(b"XYZZY") == -1
    buffer.feed(b"XYZZY")
    assert buffer.find(b"XYZZY") == 5


@pytest.mark.parametrize(
    ("data", "separator", "index"),
    [
        (b"XYZZXYZZYY", b"XYZZY", 4),
        (b"YXYZZXYZZY", b"XYZZY", 5),
        (b"\n\n\r\r\n", b"\r\n", 3),
        (b"abaababab", b"abab", 3),
        (b"aaaab", b"aab", 2),
        (b"baa", b"aa", 1),
        (b"abaaa", b"aa", 2),
    ],
)
def test_find_skips_near_misses(data: bytes, separator: bytes, index: int) -> None:
    assert filled(data).find(separator) == index
    assert data.find(separator) == index


def test_find_restarts_for_a_different_separator() -> None:
    buffer = filled(b"one XYZZY two\n")
    assert buffer.find(b"\n") == 13
    assert buffer.find(b"XYZZY") == 4
    assert buffer.find(b"\n") == 13


def test_find_rescans_nothing_after_consumption() -> None:
    buffer = filled(b"aa\nbb\ncc")
    assert buffer.take_until(b"\n", 10) == b"aa\n"
    assert buffer.find(b"\n") == 2
    buffer.skip(1)
    assert buffer.find(b"\n") == 1
    assert buffer.take_until(b"\n", 10) == b"b\n"
    assert buffer.find(b"\n") == -1
    buffer.feed(b"\n")
    assert buffer.find(b"\n") == 2


@pytest.mark.parametrize("separator", [b"", bytearray(), memoryview(b"")])
def test_empty_separator_is_rejected(separator: object) -> None:
    buffer = filled(b"abc")
    with pytest.raises(ValueError, match="Separator should be at least one-byte string"):
        buffer.find(separator)
    with pytest.raises(ValueError, match="Separator should be at least one-byte string"):
        buffer.take_until(separator, 10)
    assert len(buffer) == 3


@pytest.mark.parametrize(
    ("separator", "type_name"), [("\n", "str"), (10, "int"), (None, "NoneType")]
)
def test_non_bytes_separator_is_rejected(separator: object, type_name: str) -> None:
    buffer = filled(b"a\nb")
    with pytest.raises(TypeError, match=f"separator must be bytes, not {type_name}"):
        buffer.find(separator)
    with pytest.raises(TypeError, match=f"separator must be bytes, not {type_name}"):
        buffer.take_until(separator, 10)
    assert buffer.take_until(b"\n", 10) == b"a\n"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_take_until_returns_frames_through_the_separator(separator: bytes) -> None:
    buffer = filled(b"first" + separator + separator + b"third" + separator + b"par")
    assert buffer.take_until(separator, 100) == b"first" + separator
    assert buffer.take_until(separator, 100) == separator
    assert buffer.take_until(separator, 100) == b"third" + separator
    assert buffer.take_until(separator, 100) is None
    assert buffer.take() == b"par"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_take_until_joins_separator_split_across_feeds(separator: bytes) -> None:
    frame = b"payload" + separator
    for split in range(1, len(frame)):
        buffer = filled(frame[:split])
        assert buffer.take_until(separator, 100) is None
        buffer.feed(frame[split:] + b"next")
        assert buffer.take_until(separator, 100) == frame
        assert buffer.take() == b"next"


@pytest.mark.parametrize("separator", SEPARATORS)
def test_take_until_accepts_separator_starting_at_limit(separator: bytes) -> None:
    buffer = filled(b"12345" + separator)
    assert buffer.take_until(separator, 5) == b"12345" + separator


@pytest.mark.parametrize("separator", SEPARATORS)
def test_take_until_overrun_when_separator_found_beyond_limit(separator: bytes) -> None:
    buffer = filled(b"123456" + separator)
    with pytest.raises(asyncio.LimitOverrunError) as raised:
        buffer.take_until(separator, 5)
    assert str(raised.value) == "Separator is found, but chunk is longer than limit"
    assert raised.value.consumed == 6
    assert len(buffer) == 6 + len(separator)
    assert buffer.take_until(separator, 6) == b"123456" + separator


@pytest.mark.parametrize("separator", SEPARATORS)
def test_take_until_overrun_when_not_found_and_over_limit(separator: bytes) -> None:
    buffer = filled(b"x" * 20)
    with pytest.raises(asyncio.LimitOverrunError) as raised:
        buffer.take_until(separator, 10)
    assert str(raised.value) == "Separator is not found, and chunk exceed the limit"
    assert raised.value.consumed == 21 - len(separator)
    assert buffer.peek(100) == b"x" * 20
    buffer.feed(separator)
    assert buffer.take_until(separator, 20) == b"x" * 20 + separator


def test_take_until_waits_while_within_limit() -> None:
    buffer = filled(b"x" * 10)
    # Offset 10 + 1 - 2 = 9 does not exceed the limit: wait for more bytes.
    assert buffer.take_until(b"\r\n", 9) is None
    with pytest.raises(asyncio.LimitOverrunError):
        buffer.take_until(b"\r\n", 8)


def test_take_until_rejects_negative_limit() -> None:
    buffer = filled(b"a\n")
    with pytest.raises(ValueError, match="limit must not be negative, not -1"):
        buffer.take_until(b"\n", -1)
    assert len(buffer) == 2


@pytest.mark.parametrize("separator", SEPARATORS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_take_line_returns_decoded_lines_without_the_separator(separator: bytes, encoding: str) -> None:
    lines = ["température", "", "ok"]
    buffer = filled(b"".join(line.encode(encoding) + separator for line in lines))
    assert [buffer.take_line(separator, 1000, encoding) for _ in lines] == lines
    assert buffer.take_line(separator, 1000, encoding) is None
    assert len(buffer) == 0


def test_take_line_waits_for_the_separator() -> None:
    buffer = filled(b"partial\r")
    assert buffer.take_line(b"\r\n", 100, "utf-8") is None
    buffer.feed(b"\nrest")
    assert buffer.take_line(b"\r\n", 100, "utf-8") == "partial"
    assert buffer.take() == b"rest"


def test_take_line_overrun_consumes_nothing() -> None:
    buffer = filled(b"x" * 20 + b"\n")
    with pytest.raises(asyncio.LimitOverrunError) as error:
        buffer.take_line(b"\n", 10, "utf-8")
    assert error.value.consumed == 20
    assert buffer.take_line(b"\n", 20, "utf-8") == "x" * 20


def test_take_line_consumes_an_undecodable_line() -> None:
    buffer = filled(b"\xff\xfe\n", b"next\n")
    with pytest.raises(UnicodeDecodeError):
        buffer.take_line(b"\n", 100, "utf-8")
    assert buffer.take_line(b"\n", 100, "utf-8") == "next"


def test_take_line_rejects_an_unknown_codec_and_consumes_nothing() -> None:
    buffer = filled(b"line\n")
    with pytest.raises(LookupError):
        buffer.take_line(b"\n", 100, "no-such-codec")
    with pytest.raises(TypeError):
        buffer.take_line(b"\n", 100, None)
    assert buffer.take() == b"line\n"


# copy_into


def test_copy_into_fills_a_packed_ctypes_structure() -> None:
    source = Header(0xA5, 123456, -2.25)
    buffer = filled(bytes(source) + b"rest")
    target = Header()
    assert ctypes.sizeof(target) == 13
    assert buffer.copy_into(target) is True
    assert (target.sync, target.sequence, target.value) == (0xA5, 123456, -2.25)
    assert buffer.take() == b"rest"


def test_copy_into_fills_a_bytearray() -> None:
    buffer = filled(b"abc", b"def")
    target = bytearray(4)
    assert buffer.copy_into(target) is True
    assert target == b"abcd"
    assert buffer.take() == b"ef"


def test_copy_into_fills_a_numpy_structured_array() -> None:
    dtype = np.dtype([("sequence", "<u4"), ("value", "<f8")])
    records = np.array([(1, 0.5), (2, -1.0), (3, 8.0)], dtype=dtype)
    buffer = filled(records.tobytes())
    target = np.zeros(3, dtype=dtype)
    assert buffer.copy_into(target) is True
    np.testing.assert_array_equal(target, records)
    assert len(buffer) == 0


def test_copy_into_fills_a_c_contiguous_2d_array() -> None:
    buffer = filled(bytes(range(6)))
    target = np.zeros((2, 3), dtype=np.uint8)
    assert buffer.copy_into(target) is True
    assert target.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_copy_into_follows_a_resized_ctypes_object() -> None:
    target = (ctypes.c_char * 4)()
    buffer = filled(b"abcd", bytes(range(64)))
    assert buffer.copy_into(target)
    ctypes.resize(target, 64)
    assert buffer.copy_into(target)
    assert ctypes.string_at(ctypes.addressof(target), 64) == bytes(range(64))


def test_copy_into_is_all_or_nothing() -> None:
    buffer = filled(b"abc")
    target = bytearray(b"....")
    assert buffer.copy_into(target) is False
    assert target == b"...."
    assert len(buffer) == 3


@pytest.mark.parametrize("target", [bytearray(), np.zeros(0, dtype=np.uint8)])
def test_copy_into_zero_size_target(target: object) -> None:
    buffer = filled(b"abc")
    assert buffer.copy_into(target) is True
    assert len(buffer) == 3
    assert ReceiveBuffer().copy_into(target) is True


@pytest.mark.parametrize(
    ("target", "type_name"), [(b"abcd", "bytes"), (memoryview(bytearray(4)).toreadonly(), "memoryview")]
)
def test_copy_into_rejects_read_only_target(target: object, type_name: str) -> None:
    buffer = filled(b"abcdef")
    with pytest.raises(TypeError, match=f"cannot read into a read-only {type_name}"):
        buffer.copy_into(target)
    assert len(buffer) == 6


def test_copy_into_rejects_non_contiguous_target() -> None:
    buffer = filled(b"abcdef")
    target = np.zeros(8, dtype=np.uint8)[::2]
    with pytest.raises(ValueError, match="cannot read into a non-C-contiguous ndarray"):
        buffer.copy_into(target)
    assert len(buffer) == 6


@pytest.mark.parametrize(("target", "type_name"), [("text", "str"), (12, "int")])
def test_copy_into_rejects_non_buffer_target(target: object, type_name: str) -> None:
    buffer = filled(b"abcdef")
    with pytest.raises(TypeError, match=f"{type_name} does not support the buffer protocol"):
        buffer.copy_into(target)
    assert len(buffer) == 6


def test_writable_view_checks_the_target() -> None:
    target = bytearray(3)
    with structs.writable_view(target) as view:
        view[0] = 1
    assert target == b"\x01\x00\x00"
    with pytest.raises(TypeError, match="cannot read into a read-only bytes"):
        structs.writable_view(b"abc")
    with pytest.raises(ValueError, match="non-C-contiguous"):
        structs.writable_view(np.zeros(4)[::2])


def test_check_separator_returns_bytes() -> None:
    assert receive_buffer.check_separator(bytearray(b"\r\n")) == b"\r\n"
    assert type(receive_buffer.check_separator(memoryview(b"XYZZY"))) is bytes


# get_buffer / buffer_updated


@pytest.mark.parametrize(("sizehint", "minimum"), [(-1, 16), (0, 16), (5, 16), (100, 100)])
def test_get_buffer_offers_at_least_receive_size_or_sizehint(sizehint: int, minimum: int) -> None:
    buffer = ReceiveBuffer(16)
    view = buffer.get_buffer(sizehint)
    assert isinstance(view, memoryview)
    assert not view.readonly
    assert len(view) >= minimum


def test_buffer_updated_commits_received_bytes() -> None:
    buffer = ReceiveBuffer(8)
    receive(buffer, b"ab\ncd")
    assert len(buffer) == 5
    assert buffer.take_until(b"\n", 10) == b"ab\n"
    receive(buffer, b"e\n")
    assert buffer.take_until(b"\n", 10) == b"cde\n"


def test_buffer_updated_of_zero_bytes() -> None:
    buffer = filled(b"ab")
    buffer.get_buffer()
    buffer.buffer_updated(0)
    assert buffer.take() == b"ab"


@pytest.mark.parametrize("excess", [1, 1000])
def test_buffer_updated_rejects_more_than_offered(excess: int) -> None:
    buffer = ReceiveBuffer(8)
    offered = len(buffer.get_buffer())
    with pytest.raises(ValueError, match="is outside the offered buffer"):
        buffer.buffer_updated(offered + excess)
    assert len(buffer) == 0


def test_buffer_updated_rejects_negative_size() -> None:
    buffer = ReceiveBuffer(8)
    buffer.get_buffer()
    with pytest.raises(ValueError, match="nbytes=-1 is outside the offered buffer"):
        buffer.buffer_updated(-1)


def test_buffer_updated_needs_a_fresh_get_buffer() -> None:
    buffer = ReceiveBuffer(8)
    with pytest.raises(ValueError, match="outside the offered buffer"):
        buffer.buffer_updated(1)
    receive(buffer, b"ab")
    with pytest.raises(ValueError, match="outside the offered buffer"):
        buffer.buffer_updated(1)
    buffer.get_buffer()
    buffer.feed(b"cd")
    with pytest.raises(ValueError, match="outside the offered buffer"):
        buffer.buffer_updated(1)
    assert buffer.take() == b"abcd"


def test_receiving_keeps_unread_bytes_through_growth_and_compaction() -> None:
    # Frames of varying size arrive in pieces larger and smaller than the
    # receive size, and are read while others are still partly buffered.
    buffer = ReceiveBuffer(8)
    frames = [bytes([65 + i % 26]) * (i * 7 % 50) + b"\n" for i in range(200)]
    stream = b"".join(frames)
    received = []
    position = 0
    step = 1
    while position < len(stream):
        piece = stream[position : position + step]
        receive(buffer, piece, sizehint=len(piece))
        position += len(piece)
        step = step * 3 % 61 + 1
        while (frame := buffer.take_until(b"\n", 1000)) is not None:
            received.append(frame)
    assert received == frames
    assert len(buffer) == 0


def test_receiving_a_large_message_grows_the_buffer() -> None:
    buffer = filled(b"head", min_receive_size=8)
    message = bytes(range(256)) * 4096
    receive(buffer, message, sizehint=len(message))
    assert len(buffer) == 4 + len(message)
    assert buffer.take(4) == b"head"
    assert buffer.take_exactly(len(message)) == message


@pytest.mark.parametrize("sizehint", [-1, 0, 5, 8, 100, 5000])
def test_get_buffer_offers_exactly_the_wanted_size_however_much_is_free(sizehint: int) -> None:
    # One receive can then add at most max(sizehint, receive_size) bytes: what
    # bounds the bytes buffered past the reader's high-water mark.
    buffer = filled(b"x" * 10_000, min_receive_size=8)
    buffer.take(9_990)
    for _ in range(3):
        view = buffer.get_buffer(sizehint)
        assert len(view) == max(sizehint, 8)
        view.release()
    buffer.buffer_updated(0)
    assert buffer.take() == b"x" * 10


def test_a_view_held_while_the_next_is_asked_for_is_left_alone_and_nothing_is_lost() -> None:
    # asyncio's TLS layer commits bytes received into one view and, while
    # still holding it (at the peer's close_notify), asks for the next.
    buffer = ReceiveBuffer(8)
    first = buffer.get_buffer()
    first[:8] = b"ABCDEFGH"
    buffer.buffer_updated(8)
    nested = buffer.get_buffer(100)  # must grow while `first` is alive
    assert len(nested) == 100
    nested[:100] = bytes(range(100))
    buffer.buffer_updated(100)
    buffer.feed(b"z" * 1000)  # grows again, both views still alive
    third = buffer.get_buffer()
    third[:3] = b"end"
    buffer.buffer_updated(3)
    first.release()
    nested.release()
    third.release()
    assert buffer.take() == b"ABCDEFGH" + bytes(range(100)) + b"z" * 1000 + b"end"
    receive(buffer, b"after", sizehint=5000)
    assert buffer.take() == b"after"

